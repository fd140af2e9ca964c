package keylock

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestLocks: over random ids, taken one at a time and several at once
// by concurrent goroutines, no two hold one document's lock together,
// nobody deadlocks, and no lock is left behind once all are released.
func TestLocks(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	l := New()
	var holders [12]atomic.Int32
	hold := func(ids ...int) {
		for _, i := range ids {
			if n := holders[i].Add(1); n != 1 {
				t.Errorf("document %d held by %d at once", i, n)
			}
		}
		runtime.Gosched() // let another in while this one holds them, if it can
		for _, i := range ids {
			holders[i].Add(-1)
		}
	}
	var wg sync.WaitGroup
	for g := range 16 {
		rng := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Go(func() {
			for range 2000 {
				if rng.IntN(3) == 0 {
					var ids []int
					var names []string
					for range 1 + rng.IntN(5) {
						i := rng.IntN(len(holders))
						ids, names = append(ids, i), append(names, fmt.Sprint("d", i))
					}
					unlock := l.LockAll(names) // the same id twice among them, too
					seen := map[int]bool{}
					var distinct []int
					for _, i := range ids {
						if !seen[i] {
							seen[i] = true
							distinct = append(distinct, i)
						}
					}
					hold(distinct...)
					unlock()
					continue
				}
				i := rng.IntN(len(holders))
				id := fmt.Sprint("d", i)
				h := l.Lock(id)
				hold(i)
				h.Unlock()
			}
		})
	}
	wg.Wait()
	if n := l.Len(); n != 0 {
		t.Errorf("%d locks left behind after every release", n)
	}
}
