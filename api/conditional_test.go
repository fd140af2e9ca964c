package api

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// TestConditionalAnswersEachItsOwnBody: answers buffered at once by many
// requests (from the pool of bodies, some too large to go back to it) each
// reach their client whole, with the tag of their own bytes, and a second
// request naming that tag gets 304 with no body.
func TestConditionalAnswersEachItsOwnBody(t *testing.T) {
	body := func(seed uint64, size int) []byte {
		r := rand.New(rand.NewPCG(seed, 7))
		b := make([]byte, size)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return b
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seed, _ := strconv.ParseUint(r.URL.Query().Get("seed"), 10, 64)
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		err := conditional(func(w http.ResponseWriter, r *http.Request, _ actor) error {
			b := body(seed, size)
			w.Header().Set("Content-Type", "text/plain")
			for len(b) > 0 { // in pieces, as an encoder writes
				n := min(len(b), 1+int(seed%5000))
				_, _ = w.Write(b[:n])
				b = b[n:]
			}
			return nil
		})(w, r, actor{})
		if err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()

	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 40 {
				seed := rand.Uint64()
				size := rand.IntN(2 * bodyKeptUpTo)
				if rand.IntN(3) == 0 {
					size = rand.IntN(64)
				}
				url := fmt.Sprintf("%s/?seed=%d&size=%d", srv.URL, seed, size)
				resp, err := http.Get(url)
				if err != nil {
					t.Error(err)
					return
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := body(seed, size)
				if resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
					t.Errorf("%d bytes asked: %d with %d bytes, %d of them as made", size, resp.StatusCode, len(got), commonPrefix(got, want))
					return
				}
				if tag := resp.Header.Get("ETag"); tag != contentTag(want) {
					t.Errorf("ETag %s, want the tag of the body, %s", tag, contentTag(want))
					return
				}
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
				again, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				rest, _ := io.ReadAll(again.Body)
				again.Body.Close()
				if again.StatusCode != http.StatusNotModified || len(rest) != 0 {
					t.Errorf("If-None-Match of the tag just given: %d with %d bytes, want 304 and none", again.StatusCode, len(rest))
					return
				}
			}
		})
	}
	wg.Wait()
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
