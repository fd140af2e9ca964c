package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/queries"
)

// HeaderBookmark carries a write's bookmark: give it to a later read as
// ?after= and the read shows the write, on any replica.
const HeaderBookmark = "Capstone-Bookmark"

// Consistency is how reads come to show the caller's own writes.
type Consistency struct {
	Catchup *queries.Catchup
	// Key signs bookmarks; every replica of a deployment has the same.
	Key []byte
	// Settle makes every write answer only once every read model shows it:
	// the all-in-one service, whose projectors run in the process, so that
	// a read right after a write shows it with nothing to ask for.
	Settle bool
	// SettleWait bounds how long a write's answer waits for the read models;
	// ReadWait how long a read given ?after= waits.
	SettleWait time.Duration
	ReadWait   time.Duration
}

// settleWrites records what each write stores, and the versions its
// no-ops found (commands.Seen). Its answer then carries a bookmark of them;
// on the all-in-one service, or when there is too much to name (an
// import), the answer also waits until the read models show them. Reads
// pass through untouched. It is installed in the router after Observe, so
// the access log line and the HTTP metrics time the request as the client
// sees it, wait included.
func (s *Server) settleWrites(next http.Handler) http.Handler {
	return s.settle(next, false)
}

// SettleEvery is settleWrites for routes whose every write answers only
// once the read models show it, whatever the topology: those of a client
// that reads right after a write and knows nothing of bookmarks (the
// original frontend, which reloads the page).
func (s *Server) SettleEvery(next http.Handler) http.Handler {
	return s.settle(next, true)
}

// AwaitWrites waits until the read models show what the request has stored
// so far (inside SettleEvery), so that a handler may read what it has just
// written before it answers.
func (s *Server) AwaitWrites(r *http.Request) {
	if writes := commands.WritesIn(r.Context()); writes != nil && s.Consistency != nil {
		// A client gone fails what the handler does next.
		if s.awaitCommits(r, writes.Commits()) == nil {
			_ = s.awaitSeen(r, writes.Seen())
		}
	}
}

// awaitCommits waits until the read models show commits, for at most
// SettleWait (past it, the answer goes out all the same, with a warning).
// It returns the error of a wait cut short by the client going away.
func (s *Server) awaitCommits(r *http.Request, commits []events.Commit) error {
	if len(commits) == 0 {
		return nil
	}
	err := s.Consistency.Catchup.WaitCommits(r.Context(), commits, s.Consistency.SettleWait)
	return s.waited(r, "commits", len(commits), err)
}

// awaitSeen is awaitCommits for the streams the request's commands decided
// on without storing anything (commands.Seen): the versions they found may
// be another request's writes, not yet shown.
func (s *Server) awaitSeen(r *http.Request, seen []commands.Seen) error {
	if len(seen) == 0 {
		return nil
	}
	positions := make([]queries.Position, len(seen))
	for i, v := range seen {
		positions[i] = queries.Position{StreamType: v.StreamType, StreamID: v.StreamID, First: v.Version, Last: v.Version}
	}
	err := s.Consistency.Catchup.Wait(r.Context(), positions, s.Consistency.SettleWait)
	return s.waited(r, "seen", len(seen), err)
}

// waited is the outcome of a write's wait for the read models: the error
// of a client gone, or nothing (a wait that ran out is logged).
func (s *Server) waited(r *http.Request, what string, n int, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	if err != nil {
		s.Log.WarnContext(r.Context(), "a write answers before the read models show it", what, n, "err", err)
	}
	return nil
}

func (s *Server) settle(next http.Handler, always bool) http.Handler {
	if s.Consistency == nil {
		return next
	}
	marks := bookmarks{key: s.Consistency.Key}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		ctx, writes := commands.TrackWrites(r.Context())
		if s.Consistency.Catchup.Log != nil {
			// A long request (an import) holds only what its answer
			// must still wait for.
			writes.ForgetShown(s.Consistency.Catchup.Shown)
		}
		buf := bufferFor(w, w)
		defer buf.release()
		next.ServeHTTP(buf, r.WithContext(ctx))
		// The bookmark names what was stored and what the no-ops found;
		// what it cannot name is waited for before the answer.
		commits, seen := writes.Commits(), writes.Seen()
		bookmark, named := marks.encode(positionsOf(commits, seen))
		if named = named && writes.Complete(); named {
			w.Header().Set(HeaderBookmark, bookmark)
		}
		wait := always || s.Consistency.Settle || !named
		if wait && len(commits) > 0 {
			if err := s.awaitCommits(r, commits); err != nil {
				// The write is stored, but its client left before the
				// answer: recorded as any request whose client went
				// away (499, at Info), not as the handler's status that
				// nobody received.
				writeError(w, r, fmt.Errorf("waiting for the read models to show a stored write: %w", err))
				return
			}
		}
		if wait {
			if err := s.awaitSeen(r, seen); err != nil {
				writeError(w, r, fmt.Errorf("waiting for the read models to show what a write found done: %w", err))
				return
			}
		}
		answerWithin(w)
		buf.flush(w)
	})
}

// AnswerTimeout is how long an answer may take to be written once its
// request's work is done.
var AnswerTimeout = time.Minute

// answerWithin gives the answer of a request that worked past the server's
// write timeout (a large file's import, then the wait for the read models
// to show it) its own AnswerTimeout to be written: the work is done and
// stored, and its report is what the client waits for.
func answerWithin(w http.ResponseWriter) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(AnswerTimeout))
}

// bookmarkOf is the bookmark of what the request has stored (and found
// done) so far, as settleWrites will give it ("" for none): for a handler
// inside it that keeps the answer's headers (an idempotent request's
// record).
func (s *Server) bookmarkOf(r *http.Request) string {
	writes := commands.WritesIn(r.Context())
	if s.Consistency == nil || writes == nil || !writes.Complete() {
		return ""
	}
	b, named := bookmarks{key: s.Consistency.Key}.encode(positionsOf(writes.Commits(), writes.Seen()))
	if !named {
		return ""
	}
	return b
}

// bufferedResponse holds a response back until the write it answers is
// settled, or until its entity tag is known (conditional). Headers go
// straight to the real writer's map. Its body comes from a pool: every
// read of the read models passes through one, and a fresh buffer grown to
// each answer's size was a third of the bytes a busy service allocated
// while serving reads. Whoever makes one calls release once it is flushed
// or dropped.
type bufferedResponse struct {
	header http.Header
	status int
	body   *bytes.Buffer
	// under is the writer the answer goes to, when known: what an
	// http.ResponseController of the handler acts on (a write deadline).
	under http.ResponseWriter
}

// bodies holds the buffers of answers already sent.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// bufferFor holds back the answer that goes to w (to under, for an
// http.ResponseController of the handler, when given).
func bufferFor(w, under http.ResponseWriter) *bufferedResponse {
	return &bufferedResponse{header: w.Header(), body: bodies.Get().(*bytes.Buffer), under: under}
}

// bodyKeptUpTo is the largest buffer given back to the pool: an export's
// buffer of many MiB is left to the collector rather than held for a small
// answer.
const bodyKeptUpTo = 256 << 10

// Unwrap is the writer under the buffer, for http.ResponseController.
func (b *bufferedResponse) Unwrap() http.ResponseWriter { return b.under }

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) flush(w http.ResponseWriter) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}

// release gives the body's buffer back to the pool: nothing may use what
// it wrote after this.
func (b *bufferedResponse) release() {
	if b.body.Cap() <= bodyKeptUpTo {
		b.body.Reset()
		bodies.Put(b.body)
	}
	b.body = nil
}

// readsFromStore marks a read served from the event store itself (history,
// past states): it shows every stored write, so ?after= has nothing to wait for.
const readsFromStore = ""

// reads wraps a read of the read models named: given ?after=<bookmark>
// (repeatable, or comma-separated) it first waits until they show the
// writes named, and answers 503 not-caught-up if they do not in time. Its
// answer carries an ETag, and If-None-Match is answered (conditional).
func (s *Server) reads(h handlerFunc, readModels ...string) handlerFunc {
	return conditional(func(w http.ResponseWriter, r *http.Request, a actor) error {
		if err := s.awaitAfter(r, readModels); err != nil {
			return err
		}
		return h(w, r, a)
	})
}

func (s *Server) awaitAfter(r *http.Request, readModels []string) error {
	var values []string
	for _, v := range r.URL.Query()["after"] {
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				values = append(values, b)
			}
		}
	}
	if len(values) == 0 {
		return nil
	}
	if s.Consistency == nil {
		return errBadBookmark
	}
	marks := bookmarks{key: s.Consistency.Key}
	var positions []queries.Position
	for _, v := range values {
		ps, err := marks.decode(v)
		if err != nil {
			return err
		}
		positions = append(positions, ps...)
	}
	if len(readModels) == 1 && readModels[0] == readsFromStore {
		return nil
	}
	err := s.Consistency.Catchup.Wait(r.Context(), positions, s.Consistency.ReadWait, readModels...)
	if errors.Is(err, queries.ErrNotCaughtUp) {
		s.Log.WarnContext(r.Context(), "a read's bookmark is not shown by the read models yet", "waited", s.Consistency.ReadWait)
		p := problem(http.StatusServiceUnavailable, "not-caught-up",
			"the read models do not show the write named by after yet; retry in a moment")
		p.RetryAfter = 1
		return p
	}
	return err
}
