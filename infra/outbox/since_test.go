package outbox_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/infra/outbox"
)

// TestCommitLogSince, over random logs, marks, floors, windows and trims:
// when Since answers, it lists every id after the mark and every id
// before it and after the floor listed from notBefore on, each once, in
// the log's order, and nothing that was never in the log; it declines only
// when the log no longer reaches back to what is asked for (trimmed past
// the mark, or past the floor with no entry left before the window to show
// where the window begins). The floor is a trim made before the mark, as a
// rebuild finds it (CommitLog.Mark), or 0; a trim after it is the catch-up
// trimming while the rebuild runs.
func TestCommitLogSince(t *testing.T) {
	ctx := context.Background()
	for round := range 60 {
		db := newDB(t)
		l := outbox.NewCommitLog(db)
		base := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
		n := rand.IntN(40)
		created := []time.Time{{}} // by position, from 1
		ids := [][]string{nil}
		at := base
		for pos := 1; pos <= n; pos++ {
			at = at.Add(time.Duration(rand.IntN(3000)) * time.Millisecond)
			var group []string
			for k := range 1 + rand.IntN(3) {
				group = append(group, fmt.Sprintf("s%d:%012d", pos, k+1))
			}
			if _, err := l.Append(ctx, group, at); err != nil {
				t.Fatal(err)
			}
			created, ids = append(created, at), append(ids, group)
		}
		trim := func(upTo int64) int64 {
			t.Helper()
			got, err := l.Trim(ctx, upTo, n)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		trimmed := int64(0)
		if n > 0 && rand.IntN(2) == 0 {
			trimmed = trim(int64(rand.IntN(n + 1)))
		}
		floor := trimmed
		if rand.IntN(3) == 0 {
			floor = 0 // a rebuild that knew no floor
		}
		mark := trimmed + int64(rand.IntN(int(int64(n)-trimmed)+1))
		notBefore := base.Add(time.Duration(rand.IntN(int(at.Sub(base)/time.Millisecond)+2000)-1000) * time.Millisecond)
		if n > 0 && rand.IntN(2) == 0 {
			trimmed = trim(trimmed + int64(rand.IntN(int(int64(n)-trimmed)+1)))
		}
		got, ok, err := l.Since(ctx, mark, floor, notBefore)
		if err != nil {
			t.Fatal(err)
		}
		where := fmt.Sprintf("round %d: %d entries, mark %d, floor %d, trimmed to %d, notBefore +%v", round, n, mark, floor, trimmed, notBefore.Sub(base))
		if !ok {
			// Declined: the log was trimmed past the mark, or past the
			// floor with every entry left up to the mark in the window.
			inWindow := true
			for pos := trimmed + 1; pos <= mark; pos++ {
				inWindow = inWindow && !created[pos].Before(notBefore)
			}
			if !(trimmed > mark || (trimmed > floor && inWindow)) {
				t.Fatalf("%s: declined", where)
			}
			continue
		}
		var want, all []string
		for pos := 1; pos <= n; pos++ {
			all = append(all, ids[pos]...)
			if int64(pos) > mark || (int64(pos) > floor && !created[pos].Before(notBefore)) {
				want = append(want, ids[pos]...)
			}
		}
		for _, id := range want {
			if !slices.Contains(got, id) {
				t.Fatalf("%s: %s missing from %v", where, id, got)
			}
		}
		last := -1
		for _, id := range got {
			i := slices.Index(all, id)
			if i <= last {
				t.Fatalf("%s: %v is not the log's order, or not from the log", where, got)
			}
			last = i
		}
	}
}

// TestCommitLogSinceTrimmedToTheMark: a quiet log trimmed to its end, as
// the catch-up leaves it, answers for a mark taken then, with what came
// after the mark, though every entry up to it was listed in the window:
// what was trimmed before the mark needs no listing.
func TestCommitLogSinceTrimmedToTheMark(t *testing.T) {
	ctx := context.Background()
	l := outbox.NewCommitLog(newDB(t))
	now := time.Now()
	for i := range 5 {
		if _, err := l.Append(ctx, []string{fmt.Sprintf("a%d:%012d", i, 1)}, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Trim(ctx, 5, 5); err != nil {
		t.Fatal(err)
	}
	mark, floor, err := l.Mark(ctx)
	if err != nil || mark != 5 || floor != 5 {
		t.Fatalf("Mark = %d, %d, %v; want 5, 5", mark, floor, err)
	}
	if _, err := l.Append(ctx, []string{"late:000000000001"}, now); err != nil {
		t.Fatal(err)
	}
	notBefore := now.Add(-5 * time.Second)
	got, ok, err := l.Since(ctx, mark, floor, notBefore)
	if err != nil || !ok || !slices.Equal(got, []string{"late:000000000001"}) {
		t.Fatalf("Since = %v, %v, %v; want the late commit alone", got, ok, err)
	}
	// Without the floor it cannot tell what the trim took before the mark.
	if _, ok, err := l.Since(ctx, mark, 0, notBefore); err != nil || ok {
		t.Fatalf("Since without a floor = %v, %v; want declined", ok, err)
	}
}
