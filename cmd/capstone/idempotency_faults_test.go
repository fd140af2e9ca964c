package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/api"
	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// faultyStore fails the appends that fail says, before or after writing:
// "after" is a process that stored the commit and died before answering.
type faultyStore struct {
	commands.EventStore
	fail func(c events.Commit) (before, after bool)
}

var errInjected = errors.New("injected fault")

func (f *faultyStore) Append(ctx context.Context, c events.Commit) error {
	before, after := f.fail(c)
	if before {
		return errInjected
	}
	if err := f.EventStore.Append(ctx, c); err != nil {
		return err
	}
	if after {
		return errInjected
	}
	return nil
}

// faultyIdempotency fails Finish while failFinish is set: a process that
// answered and died before recording the response.
type faultyIdempotency struct {
	api.IdempotencyStore
	failFinish atomic.Bool
}

func (f *faultyIdempotency) Finish(ctx context.Context, key string, rec api.IdempotentRecord) error {
	if f.failFinish.Load() {
		return errInjected
	}
	return f.IdempotencyStore.Finish(ctx, key, rec)
}

// streamsOf counts the streams of a type whose first event matches.
func streamsOf(t *testing.T, s *service, streamType string, match func(events.Envelope) bool) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	_, err := imongoEventStore(s).Scan(context.Background(), time.Time{}, func(c events.Commit) error {
		if c.StreamType == streamType && c.FirstVersion == 1 && match(c.Events[0]) {
			out[c.StreamID] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKeyedCreateExactlyOnceAcrossFaults kills a keyed create at each step
// (before its append, after the append stored it, after the answer but
// before the response was recorded) and retries it, with repeats racing:
// every retry answers 201 with the one id at once, a repeat says so
// (Idempotent-Replayed) with a bookmark of the write, exactly one stream is
// created per key, and the key with another body is still refused.
func TestKeyedCreateExactlyOnceAcrossFaults(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	studentID := s.createUser(admin, "faults.student@uni.example", "Faults Student", []string{"student"}, "faults student password")
	student := s.signIn("faults.student@uni.example", "faults student password")

	var mode atomic.Value // "", "before", "after": the fault of the next append of a new stream
	mode.Store("")
	s.app.Exec.Store = &faultyStore{EventStore: s.app.Exec.Store, fail: func(c events.Commit) (bool, bool) {
		if c.FirstVersion != 1 || (c.StreamType != events.StreamProject && c.StreamType != events.StreamUser) {
			return false, false
		}
		m := mode.Swap("")
		return m == "before", m == "after"
	}}
	idem := &faultyIdempotency{IdempotencyStore: s.app.API.Idempotency}
	s.app.API.Idempotency = idem

	moments := []string{"before-append", "after-append", "before-record", "racing"}
	for i, moment := range moments {
		for _, route := range []string{"/v1/projects", "/v1/users"} {
			key := fmt.Sprintf("k-%d-%d", i, rand.Uint32())
			token, body := student, any(map[string]string{"title": "Exactly once " + key})
			if route == "/v1/users" {
				token, body = admin, map[string]any{"email": key + "@uni.example", "name": "Once " + key,
					"roles": []string{"student"}, "password": "a long enough password"}
			}
			post := func() response { return s.do("POST", route, token, body, "Idempotency-Key", key) }
			var first response
			switch moment {
			case "before-append", "after-append":
				mode.Store(map[string]string{"before-append": "before", "after-append": "after"}[moment])
				first = post()
				if first.Status < 500 {
					t.Fatalf("%s %s: the faulty attempt answered %d %s", moment, route, first.Status, first.Raw)
				}
			case "before-record":
				idem.failFinish.Store(true)
				first = s.expect(post(), 201)
				idem.failFinish.Store(false)
			case "racing":
				var wg sync.WaitGroup
				answers := make([]response, 8)
				for j := range answers {
					wg.Add(1)
					go func() { defer wg.Done(); answers[j] = post() }()
				}
				wg.Wait()
				for _, a := range answers {
					if a.Status != 201 || a.str("id") != answers[0].str("id") {
						t.Fatalf("racing repeats of %s answered %d %s and %d %s", route, a.Status, a.Raw, answers[0].Status, answers[0].Raw)
					}
				}
				first = answers[0]
			}
			start := time.Now()
			again := s.expect(post(), 201)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("%s %s: the retry took %s", moment, route, d)
			}
			if first.Status == 201 && again.str("id") != first.str("id") {
				t.Fatalf("%s %s: the retry created %s, the first attempt %s", moment, route, again.str("id"), first.str("id"))
			}
			if again.Header.Get("Location") == "" || again.num("version") < 1 {
				t.Fatalf("%s %s: the retry's answer lacks Location or version: %v %s", moment, route, again.Header, again.Raw)
			}
			// Every repeat says it is one and names the write for a read to
			// wait for: the retry of a create already stored (found by its
			// stream) and the third attempt (from the recorded answer),
			// which repeats the retry's bookmark.
			if replay := moment != "before-append"; (again.Header.Get("Idempotent-Replayed") == "true") != replay || again.Header.Get(api.HeaderBookmark) == "" {
				t.Fatalf("%s %s: the retry (a repeat: %v) answered Idempotent-Replayed %q, bookmark %q", moment, route, replay,
					again.Header.Get("Idempotent-Replayed"), again.Header.Get(api.HeaderBookmark))
			}
			third := s.expect(post(), 201)
			if third.str("id") != again.str("id") {
				t.Fatalf("%s %s: a third attempt answered %s, not %s", moment, route, third.str("id"), again.str("id"))
			}
			if third.Header.Get("Idempotent-Replayed") != "true" || third.Header.Get(api.HeaderBookmark) != again.Header.Get(api.HeaderBookmark) {
				t.Fatalf("%s %s: the third attempt answered Idempotent-Replayed %q, bookmark %q; want true and the retry's %q", moment, route,
					third.Header.Get("Idempotent-Replayed"), third.Header.Get(api.HeaderBookmark), again.Header.Get(api.HeaderBookmark))
			}
			s.expect(s.do("GET", "/v1/projects?after="+url.QueryEscape(third.Header.Get(api.HeaderBookmark)), student, nil), 200)
			var other any = map[string]string{"title": "Another body"}
			if route == "/v1/users" {
				other = map[string]any{"email": "other-" + key + "@uni.example", "name": "Other", "roles": []string{"student"}}
			}
			s.expect(s.do("POST", route, token, other, "Idempotency-Key", key), 422, "idempotency-key-reused")

			var streams map[string]bool
			if route == "/v1/projects" {
				streams = streamsOf(t, s, events.StreamProject, func(e events.Envelope) bool {
					d, ok := e.Data.(*events.ProjectCreated)
					return ok && d.OwnerID == studentID && d.Title == "Exactly once "+key
				})
			} else {
				streams = streamsOf(t, s, events.StreamUser, func(e events.Envelope) bool {
					d, ok := e.Data.(*events.UserCreated)
					return ok && d.Email == key+"@uni.example"
				})
			}
			if len(streams) != 1 || !streams[again.str("id")] {
				t.Fatalf("%s %s: %d streams created (%v), want exactly %s", moment, route, len(streams), streams, again.str("id"))
			}
		}
	}
	// The student's list shows each project once, the faulty ones included
	// (published by the relay from the outbox).
	waitForLong(t, "every project listed", 15*time.Second, func() bool {
		return len(s.do("GET", "/v1/projects?limit=100", student, nil).items()) == len(moments)
	})
}

// blockingStore holds the append of a new project's stream, while block is
// set, until the request's context ends, and fails with its error: a
// store operation cut off because the client went away.
type blockingStore struct {
	commands.EventStore
	block   atomic.Bool
	entered chan struct{}
}

func (b *blockingStore) Append(ctx context.Context, c events.Commit) error {
	if c.FirstVersion == 1 && c.StreamType == events.StreamProject && b.block.Load() {
		b.entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}
	return b.EventStore.Append(ctx, c)
}

// finishSignal tells of each response recorded for a key.
type finishSignal struct {
	api.IdempotencyStore
	done chan int
}

func (f *finishSignal) Finish(ctx context.Context, key string, rec api.IdempotentRecord) error {
	err := f.IdempotencyStore.Finish(ctx, key, rec)
	f.done <- rec.Status
	return err
}

// TestKeyedCreateClientGoneIsRetried: a keyed create whose client goes
// away while it is in the store (a client's timeout) fails only for that
// client (499, to no one); the key is not bound to that outcome, so the
// client's retry with the same key creates the project, once, and answers
// 201, not a replayed 499.
func TestKeyedCreateClientGoneIsRetried(t *testing.T) {
	s := startService(t)
	admin := s.admin()
	studentID := s.createUser(admin, "gone.student@uni.example", "Gone Student", []string{"student"}, "gone student password")
	student := s.signIn("gone.student@uni.example", "gone student password")
	store := &blockingStore{EventStore: s.app.Exec.Store, entered: make(chan struct{}, 1)}
	s.app.Exec.Store = store
	fin := &finishSignal{IdempotencyStore: s.app.API.Idempotency, done: make(chan int, 4)}
	s.app.API.Idempotency = fin

	key := fmt.Sprintf("gone-%d", rand.Uint32())
	body := map[string]string{"title": "Gone " + key}
	req, err := s.request("POST", "/v1/projects", student, body, "Idempotency-Key", key)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	store.block.Store(true)
	sent := make(chan error, 1)
	go func() {
		resp, err := s.httpClient().Do(req.WithContext(ctx))
		if err == nil {
			resp.Body.Close()
		}
		sent <- err
	}()
	select {
	case <-store.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the create never reached the store")
	}
	cancel() // the client gives up while the append is in flight
	if err := <-sent; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	store.block.Store(false)
	// The server finishes the cut-off request (recording its outcome, if it
	// records one) before the retry: wait for that, or a while.
	select {
	case status := <-fin.done:
		t.Logf("the cut-off attempt recorded %d", status)
	case <-time.After(2 * time.Second):
	}

	again := s.do("POST", "/v1/projects", student, body, "Idempotency-Key", key)
	if again.Status != 201 {
		t.Fatalf("the retry after the client went away answered %d %s (Idempotent-Replayed %q), want 201",
			again.Status, again.Raw, again.Header.Get("Idempotent-Replayed"))
	}
	third := s.expect(s.do("POST", "/v1/projects", student, body, "Idempotency-Key", key), 201)
	if third.str("id") != again.str("id") {
		t.Fatalf("a third attempt answered %s, the retry %s", third.str("id"), again.str("id"))
	}
	streams := streamsOf(t, s, events.StreamProject, func(e events.Envelope) bool {
		d, ok := e.Data.(*events.ProjectCreated)
		return ok && d.OwnerID == studentID && d.Title == "Gone "+key
	})
	if len(streams) != 1 || !streams[again.str("id")] {
		t.Fatalf("%d streams created (%v), want exactly %s", len(streams), streams, again.str("id"))
	}
}
