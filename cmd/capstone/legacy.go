package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/api/legacy"
	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/netlimit"
)

// legacyFace is the original frontend's face of the service
// (docs/legacy.md): its API routes (--legacy-addr) and its built pages
// (--legacy-ui), each on a listener of its own, bound with the API's so
// that a busy port is reported before anything starts.
type legacyFace struct {
	api, ui         net.Listener
	apiHTTP, uiHTTP *http.Server
	server          *legacy.Server
}

// bindLegacy binds the listeners the config asks for (none: an empty face).
func bindLegacy(cfg config.Config) (*legacyFace, error) {
	f := &legacyFace{}
	var err error
	if cfg.Legacy.Addr != "" && cfg.Has("api") {
		if f.api, err = listen(cfg.Legacy.Addr, "--legacy-addr or CAPSTONE_LEGACY_ADDR"); err != nil {
			return nil, err
		}
	}
	if cfg.Legacy.UI != "" {
		if f.ui, err = listen(cfg.Legacy.UIAddr, "--legacy-ui-addr or CAPSTONE_LEGACY_UI_ADDR"); err != nil {
			f.closeListeners()
			return nil, err
		}
	}
	return f, nil
}

// serve starts serving what was bound: the original routes through srv's
// use cases, and the pages. The routes keep within the API's connection
// limits, on their own count.
func (f *legacyFace) serve(cfg config.Config, srv *api.Server, m connRefused, log *slog.Logger) {
	errLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	lim := cfg.Limits
	limited := func(ln net.Listener, header func([]byte) http.Header) net.Listener {
		return netlimit.Listen(ln, netlimit.Limits{Max: lim.MaxConnections, PerClient: lim.MaxConnectionsPerClient,
			Exempt: cfg.TrustedProxies, OnRefuse: m.ConnectionRefused, Header: header})
	}
	if f.api != nil {
		f.server = &legacy.Server{API: srv, Origins: cfg.Legacy.Origins, Log: log}
		f.apiHTTP = &http.Server{Handler: f.server.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
			WriteTimeout: writeTimeout, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: errLog}
		go serveOn(f.apiHTTP, limited(f.api, f.server.RefusalHeader), "the original routes", log)
		log.Info("serving the original frontend's routes", "addr", f.api.Addr().String())
	}
	if f.ui != nil {
		f.uiHTTP = &http.Server{Handler: legacy.UI(cfg.Legacy.UI), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
			WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10, ErrorLog: errLog}
		go serveOn(f.uiHTTP, limited(f.ui, nil), "the pages", log)
		log.Info("serving the original frontend's pages", "addr", f.ui.Addr().String(), "dir", cfg.Legacy.UI)
	}
}

// connRefused counts connections refused past the limits (the metrics).
type connRefused interface{ ConnectionRefused(reason string) }

func serveOn(srv *http.Server, ln net.Listener, what string, log *slog.Logger) {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		log.Error("a listener stopped", "serving", what, "err", err)
	}
}

// shutdown drains the requests in flight within ctx, as the API's are.
func (f *legacyFace) shutdown(ctx context.Context, log *slog.Logger) {
	for _, s := range []*http.Server{f.apiHTTP, f.uiHTTP} {
		if s == nil {
			continue
		}
		if err := s.Shutdown(ctx); err != nil {
			log.Warn("HTTP shutdown of the original frontend's face", "err", err)
			_ = s.Close()
		}
	}
	if f.apiHTTP == nil && f.uiHTTP == nil {
		f.closeListeners()
	}
}

func (f *legacyFace) closeListeners() {
	for _, l := range []net.Listener{f.api, f.ui} {
		if l != nil {
			_ = l.Close()
		}
	}
}

func (f *legacyFace) addr(l net.Listener) string {
	if f == nil || l == nil {
		return ""
	}
	return l.Addr().String()
}

// LegacyAddr is where the original routes are served ("" when they are not).
func (a *App) LegacyAddr() string { return a.legacy.addr(a.legacy.api) }

// LegacyUIAddr is where the original pages are served ("" when they are not).
func (a *App) LegacyUIAddr() string { return a.legacy.addr(a.legacy.ui) }

// LegacyRoutes lists the original routes served (none when they are not).
func (a *App) LegacyRoutes() []api.Route {
	if a.legacy == nil || a.legacy.server == nil {
		return nil
	}
	return a.legacy.server.Routes()
}
