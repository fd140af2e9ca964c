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

// TestCommitLogSince, over random logs, marks, windows and trims: when Since
// answers, it lists every id after the mark and every id before it listed
// from notBefore on, each once, in the log's order, and nothing that was
// never in the log; it declines only when the log no longer reaches back to
// what is asked for (trimmed past the mark, or with no entry left before
// the window to show where the window begins).
func TestCommitLogSince(t *testing.T) {
	ctx := context.Background()
	for round := range 40 {
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
		mark := int64(rand.IntN(n + 1))
		notBefore := base.Add(time.Duration(rand.IntN(int(at.Sub(base)/time.Millisecond)+2000)-1000) * time.Millisecond)
		trimmed := int64(0)
		if n > 0 && rand.IntN(2) == 0 {
			var err error
			if trimmed, err = l.Trim(ctx, int64(rand.IntN(n+1)), n); err != nil {
				t.Fatal(err)
			}
		}
		got, ok, err := l.Since(ctx, mark, notBefore)
		if err != nil {
			t.Fatal(err)
		}
		where := fmt.Sprintf("round %d: %d entries, mark %d, trimmed to %d, notBefore +%v", round, n, mark, trimmed, notBefore.Sub(base))
		if !ok {
			// Declined: the log was trimmed past the mark, or every entry
			// left up to the mark is in the window and entries before them
			// are gone.
			inWindow := true
			for pos := trimmed + 1; pos <= mark; pos++ {
				inWindow = inWindow && !created[pos].Before(notBefore)
			}
			if !(trimmed > mark || (trimmed > 0 && inWindow)) {
				t.Fatalf("%s: declined", where)
			}
			continue
		}
		var want, all []string
		for pos := 1; pos <= n; pos++ {
			all = append(all, ids[pos]...)
			if int64(pos) > mark || !created[pos].Before(notBefore) {
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
