package commands_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
)

// TestWritesForgetWhatIsShown: a request's writes that are told what the
// read models show let go of it as they record more, and keep every commit
// not shown, in the order stored; they hold a bounded number of shown ones,
// however many were stored, and say they are no longer complete. Untold,
// they keep every commit.
func TestWritesForgetWhatIsShown(t *testing.T) {
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 1))
		f := newFixture(t)
		n := 600 + rng.IntN(1500)     // each request stores half
		keepEvery := 2 + rng.IntN(20) // one command in keepEvery is on a stream never shown
		ctx, writes := commands.TrackWrites(context.Background())
		ctx2, all := commands.TrackWrites(context.Background())
		writes.ForgetShown(func(c events.Commit) bool { return !strings.HasPrefix(c.StreamID, "keep-") })
		var kept, stored []string
		for i := range n {
			id := fmt.Sprintf("shown-%d", rng.IntN(50))
			if i%keepEvery == 0 {
				id = fmt.Sprintf("keep-%d", rng.IntN(50))
			}
			c := ctx
			if i%2 == 1 {
				c = ctx2 // the untold writes of another request
			}
			res, err := counterDecider.Execute(c, f.x, id, add{By: []int{1}}, meta)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 1 {
				stored = append(stored, res.Commit.ID())
			} else if strings.HasPrefix(id, "keep-") {
				kept = append(kept, res.Commit.ID())
			}
		}
		var gotKept, gotAll []string
		shownHeld := 0
		for _, c := range writes.Commits() {
			if strings.HasPrefix(c.StreamID, "keep-") {
				gotKept = append(gotKept, c.ID())
			} else {
				shownHeld++
			}
		}
		for _, c := range all.Commits() {
			gotAll = append(gotAll, c.ID())
		}
		if fmt.Sprint(gotKept) != fmt.Sprint(kept) {
			t.Errorf("seed %d: the writes kept %d commits not shown, want the %d stored, in order", seed, len(gotKept), len(kept))
		}
		if shownHeld >= 256 || writes.Complete() {
			t.Errorf("seed %d: %d commands: the writes hold %d commits shown (complete: %v), want fewer than 256 and not complete", seed, n, shownHeld, writes.Complete())
		}
		if fmt.Sprint(gotAll) != fmt.Sprint(stored) || !all.Complete() {
			t.Errorf("seed %d: untold writes hold %d of %d commits (complete: %v), want all", seed, len(gotAll), len(stored), all.Complete())
		}
	}
}

// TestWritesSeeNoOps: a command that stores nothing records its stream at
// the version it was decided on, each stream once at the latest version;
// one on a stream that does not exist yet, or refused, records nothing; and
// past seenAtMost streams the request records none at all.
func TestWritesSeeNoOps(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 2))
		f := newFixture(t)
		streams, ops := 1+rng.IntN(300), 0
		ops = 3 * streams
		if seed == 0 { // past the bound
			streams, ops = 400, 4000
		}
		ctx, writes := commands.TrackWrites(context.Background())
		want := map[string]int64{}
		for range ops {
			id := fmt.Sprintf("s%d-%d", seed, rng.IntN(streams))
			switch rng.IntN(4) {
			case 0: // stored by another request
				if _, err := counterDecider.Execute(context.Background(), f.x, id, add{By: []int{1}}, meta); err != nil {
					t.Fatal(err)
				}
			case 1: // refused
				if _, err := counterDecider.Execute(ctx, f.x, id, add{By: []int{-1000}}, meta); err == nil {
					t.Fatal("a refusal went through")
				}
			default: // nothing to store
				res, err := counterDecider.Execute(ctx, f.x, id, add{}, meta)
				if err != nil || res.Commit != nil {
					t.Fatalf("a no-op: %+v, %v", res, err)
				}
				if res.Version > 0 {
					want[id] = res.Version
				}
			}
		}
		got := map[string]int64{}
		for _, s := range writes.Seen() {
			if _, twice := got[s.StreamID]; twice || s.StreamType != "counter" {
				t.Fatalf("seed %d: %+v listed twice, or of the wrong type", seed, s)
			}
			got[s.StreamID] = s.Version
		}
		if seed == 0 && len(want) <= 256 {
			t.Fatalf("seed 0 saw only %d streams, not past the bound", len(want))
		}
		if len(want) > 256 {
			want = map[string]int64{}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d (%d streams): seen %v, want %v", seed, streams, got, want)
		}
		if len(writes.Commits()) != 0 {
			t.Fatalf("seed %d: no-ops recorded commits", seed)
		}
	}
}
