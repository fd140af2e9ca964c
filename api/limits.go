package api

import (
	"mime"
	"net/http"
	"time"
)

// bodyDeadline gives a JSON request body BodyTimeout to arrive. The server's
// own timeouts bound the headers (seconds) and the whole request (a minute,
// for CSV uploads); a JSON body is at most 1 MiB and usually one packet, so
// a client sending it a byte at a time is cut off long before that and does
// not hold its connection.
func (s *Server) bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.BodyTimeout > 0 && r.Body != nil && r.Body != http.NoBody {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/json" {
				_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.BodyTimeout))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// metricsGuard serves /metrics on the API's own port only to a client on
// this machine that came through no proxy: a laptop run is scraped with
// curl localhost:8080/metrics, while clients from elsewhere (and anything
// forwarded by a proxy) get the 404 of an unknown route. Deployments give
// metrics a listener of their own (--metrics-addr) and this route is gone.
func metricsGuard(metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := clientFrom(r); !c.Addr.IsLoopback() || r.Header.Get("X-Forwarded-For") != "" {
			writeError(w, r, errNoRoute)
			return
		}
		metrics.ServeHTTP(w, r)
	})
}
