package outbox_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/capstone-pms/capstone/infra/outbox"
)

// TestMarksTellWhatWasApplied: commits noted at random by two processes,
// whose projections are listed in different orders and each has one the
// other lacks, and by the reader itself, are known to the reader once
// written and read, exactly: a commit for a projection that applied it,
// never another commit of its stream, never for a projection that did
// not; what it read is deleted.
func TestMarksTellWhatWasApplied(t *testing.T) {
	for round := range 5 {
		seed := rand.Uint64()
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, seed))
			ctx := context.Background()
			db := newDB(t)
			readerList := []string{"users", "emails", "projects", "cohort"}
			reader := outbox.NewMarks(db, "reader", readerList, quiet)
			lists := [][]string{{"cohort", "users", "emails", "settings"}, {"projects", "emails", "users"}}
			all := []*outbox.Marks{outbox.NewMarks(db, "a", lists[0], quiet), outbox.NewMarks(db, "b", lists[1], quiet), reader}
			projections := []string{"users", "emails", "projects", "cohort", "settings"}
			type key struct {
				projection, stream string
				first              int64
			}
			want := map[key]bool{} // by the writers, of the projections they and the reader know
			for batch := range 1 + rng.IntN(4) {
				for range rng.IntN(300) {
					w := rng.IntN(3) // 2: the reader's own
					k := key{projections[rng.IntN(len(projections))], fmt.Sprintf("stream-%d", rng.IntN(60)), 1 + rng.Int64N(20)}
					list := readerList
					if w < 2 {
						list = lists[w]
					}
					all[w].Note(k.projection, k.stream, k.first)
					if slices.Contains(list, k.projection) && slices.Contains(readerList, k.projection) {
						want[k] = true
					}
				}
				for _, m := range all {
					if err := m.Write(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if batch%2 == 1 || rng.IntN(2) == 0 {
					if err := reader.Refresh(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := reader.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			for _, p := range projections {
				for s := range 60 {
					for v := int64(0); v <= 21; v++ {
						k := key{p, fmt.Sprintf("stream-%d", s), v}
						if got := reader.Has(p, k.stream, v); got != want[k] {
							t.Fatalf("Has(%s, %s, %d) = %v, want %v", p, k.stream, v, got, want[k])
						}
					}
				}
			}
			if n, err := db.Collection(outbox.MarksCollection).CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
				t.Fatalf("%d mark documents left after the reader read them (%v)", n, err)
			}
		})
	}
}

// TestMarksAreKeptForAWhile: a mark read is known for markKeep (30 s) at
// least and forgotten by twice that, as the reader reads on.
func TestMarksAreKeptForAWhile(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	now := time.Now()
	reader := outbox.NewMarks(db, "reader", []string{"users"}, quiet)
	outbox.MarksClock(reader, func() time.Time { return now })
	writer := outbox.NewMarks(db, "writer", []string{"users"}, quiet)
	step := func(d time.Duration, stream string) {
		t.Helper()
		now = now.Add(d)
		writer.Note("users", stream, 1)
		if err := writer.Write(ctx); err != nil {
			t.Fatal(err)
		}
		if err := reader.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	step(0, "first")
	for k, d := range []time.Duration{10, 10, 9} {
		step(d*time.Second, fmt.Sprint("later", k))
		if !reader.Has("users", "first", 1) {
			t.Fatalf("a mark read is forgotten after %v", now.Sub(time.Time{}))
		}
	}
	step(2*time.Second, "turn") // 31 s: the first generation turns old
	if !reader.Has("users", "first", 1) {
		t.Fatal("a mark read 31 s ago is forgotten: it is kept 30 s at least")
	}
	step(30*time.Second, "again") // 61 s: it turns out
	if reader.Has("users", "first", 1) {
		t.Fatal("a mark read 61 s ago is still known: it is kept at most twice 30 s")
	}
	if !reader.Has("users", "again", 1) || !reader.Has("users", "turn", 1) {
		t.Fatal("the marks read since are forgotten")
	}
}

// TestMarksBoundWhatTheyHold: past the commits one write holds, the marks
// of more commits are dropped (another projection's mark of a commit held
// is kept), and the next write starts afresh.
func TestMarksBoundWhatTheyHold(t *testing.T) {
	ctx := context.Background()
	db := newDB(t)
	writer := outbox.NewMarks(db, "writer", []string{"users", "emails"}, quiet)
	reader := outbox.NewMarks(db, "reader", []string{"users", "emails"}, quiet)
	const bound = 20000
	for i := range bound + 10 {
		writer.Note("users", fmt.Sprint("s", i), 1)
	}
	writer.Note("emails", "s0", 1)
	if err := writer.Write(ctx); err != nil {
		t.Fatal(err)
	}
	writer.Note("users", "after", 2)
	if err := writer.Write(ctx); err != nil {
		t.Fatal(err)
	}
	if err := reader.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range bound + 10 {
		if got, want := reader.Has("users", fmt.Sprint("s", i), 1), i < bound; got != want {
			t.Fatalf("commit %d of %d noted at once: marked %v, want %v", i, bound+10, got, want)
		}
	}
	if !reader.Has("emails", "s0", 1) || !reader.Has("users", "after", 2) {
		t.Fatal("a mark of a commit held, or one noted after the write, is lost")
	}
}
