package imports

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capstone-pms/capstone/commands"
)

// A chunk's last row still running does not hold back the rows after it:
// they fill its place, so the rows in flight stay at rowsAtOnce across a
// chunk's end.
func TestRowsGoOnPastAChunksEnd(t *testing.T) {
	rows := make([]int, 3*chunkRows)
	last := chunkRows - 1
	release := make(chan struct{})
	next := make(chan struct{}, len(rows))
	a := applyRows(context.Background(), rows, func(ctx context.Context, i int, _ int) (outcome, int, error) {
		if i == last {
			<-release
		}
		if i >= chunkRows {
			next <- struct{}{}
		}
		return created, i + 2, nil
	})
	defer a.stop()
	select {
	case <-next:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("no row of the second chunk began while the first chunk's last row ran")
	}
	close(release)
	outcomes, refused, err := a.upTo(len(rows))
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if outcomes[i] != created || refused[i] != nil {
			t.Fatalf("row %d: %v %v", i, outcomes[i], refused[i])
		}
	}
}

// Each row's outcome or refusal lands at its own place, whatever order
// the rows end in; an error that is not a refusal stops the rows not yet
// begun and is what the chunk of its row and every chunk not yet whole
// when it came report, while the chunks whole before it keep their
// outcomes.
func TestRowsKeepTheirPlacesAndStopAtAStoreError(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0))
	for round := range 20 {
		n := 1 + r.IntN(4*chunkRows)
		failAt := -1
		if round%2 == 1 {
			failAt = r.IntN(n)
		}
		refuse := make([]bool, n)
		for i := range refuse {
			refuse[i] = r.IntN(5) == 0
		}
		delays := make([]time.Duration, n)
		for i := range delays {
			delays[i] = time.Duration(r.IntN(200)) * time.Microsecond
		}
		storeErr := errors.New("store down")
		var begun atomic.Int64
		// Rows after the failing one wait for the stop, so that the rows
		// that begin are those before it and at most rowsAtOnce after.
		a := applyRows(context.Background(), make([]struct{}, n), func(ctx context.Context, i int, _ struct{}) (outcome, int, error) {
			begun.Add(1)
			if failAt >= 0 && i > failAt {
				<-ctx.Done()
				return unchanged, i + 2, ctx.Err()
			}
			time.Sleep(delays[i])
			switch {
			case i == failAt:
				return unchanged, i + 2, storeErr
			case refuse[i]:
				return unchanged, i + 2, commands.ErrNotFound
			}
			return outcome(1 + i%2), i + 2, nil
		})
		stopped := false
		for first := 0; first < n; first += chunkRows {
			last := min(first+chunkRows, n)
			outcomes, refused, err := a.upTo(last)
			if stopped && err == nil {
				t.Fatalf("round %d: chunk ending at %d applied whole after an earlier chunk was stopped", round, last)
			}
			stopped = stopped || err != nil
			if failAt >= 0 && failAt < last {
				if !errors.Is(err, storeErr) {
					t.Fatalf("round %d: chunk ending at %d (row %d failed): %v, want the store's error", round, last, failAt, err)
				}
				continue
			}
			if failAt >= 0 && errors.Is(err, storeErr) {
				continue // rows of this chunk were still running when a later one failed
			}
			if err != nil {
				t.Fatalf("round %d: chunk ending at %d: %v", round, last, err)
			}
			for i := first; i < last; i++ {
				want, wantErr := outcome(1+i%2), error(nil)
				if refuse[i] {
					want, wantErr = unchanged, commands.ErrNotFound
				}
				if outcomes[i] != want || !errors.Is(refused[i], wantErr) {
					t.Fatalf("round %d: row %d: %v %v, want %v %v", round, i, outcomes[i], refused[i], want, wantErr)
				}
			}
		}
		a.stop()
		if failAt >= 0 && begun.Load() > int64(failAt+rowsAtOnce+1) {
			t.Fatalf("round %d: %d rows began, though row %d failed with at most %d in flight", round, begun.Load(), failAt, rowsAtOnce)
		}
		if failAt < 0 && begun.Load() != int64(n) {
			t.Fatalf("round %d: %d of %d rows began", round, begun.Load(), n)
		}
	}
}
