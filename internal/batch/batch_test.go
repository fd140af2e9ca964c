package batch

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTake: for random queue lengths and bounds, Take returns first and then
// the queued items in order, as many as max allows, and leaves the rest
// queued; it stops at a closed queue without blocking.
func TestTake(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		queued, max, closed := rng.IntN(20), 1+rng.IntN(10), rng.IntN(2) == 0
		q := make(chan int, queued)
		for i := range queued {
			q <- i + 1
		}
		if closed {
			close(q)
		}
		got := Take(0, q, max)
		n := min(queued+1, max)
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(got, want) {
			t.Fatalf("queued %d, max %d, closed %v: took %v, want %v", queued, max, closed, got, want)
		}
		if left := len(q); left != queued-(n-1) {
			t.Fatalf("queued %d, max %d: %d left in the queue, want %d", queued, max, left, queued-(n-1))
		}
	}
}
