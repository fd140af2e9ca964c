package embedded

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestPageCacheBounded: SQLite's memory does not grow with the data. A
// collection of 4 MB is read whole by 16 clients at once, so that each of
// FerretDB's SQLite connections fills its page cache; the resident memory
// outside Go's own heap grows by about what pageCacheKiB allows those
// connections, where SQLite's default cache came to 4 MiB a connection.
func TestPageCacheBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 4 MiB and reads it 16 times")
	}
	if raceDetector {
		t.Skip("the race detector's memory would be counted as SQLite's")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("reads the resident memory from /proc")
	}
	ctx := context.Background()
	_, client := startStore(t, t.TempDir(), nil)
	coll := client.Database(testDB).Collection("big")
	blob := strings.Repeat("x", 2000)
	const docs, clients = 2000, 16 // 4 MB: more than SQLite's default cache holds
	before := outsideGoHeap(t)
	for start := 0; start < docs; start += 500 {
		batch := make([]any, 500)
		for i := range batch {
			batch[i] = bson.D{{Key: "_id", Value: start + i}, {Key: "n", Value: start + i}, {Key: "blob", Value: blob}}
		}
		if _, err := coll.InsertMany(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	// Each client reads the whole table (a filter on a field other than
	// _id does), on a connection of its own: every cache fills.
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			cur, err := coll.Find(ctx, bson.D{{Key: "n", Value: -1}})
			if err == nil {
				err = cur.All(ctx, new([]bson.M))
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	grew := outsideGoHeap(t) - before
	t.Logf("%d clients read %d MB each: %d MiB more resident outside Go's heap", clients, docs*len(blob)/1e6, grew>>20)
	if limit := int64(clients)*2*pageCacheKiB<<10 + 16<<20; grew > limit {
		t.Fatalf("%d MiB more resident outside Go's heap, over %d MiB: the page caches of %d connections are not bounded to %d KiB",
			grew>>20, limit>>20, clients, pageCacheKiB)
	}
}

// outsideGoHeap is the process's anonymous resident memory less what Go's
// runtime has mapped and not given back: SQLite's, mostly.
func outsideGoHeap(t *testing.T) int64 {
	runtime.GC()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var anon int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			anon = kb << 10
		}
	}
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	return anon - int64(s[0].Value.Uint64()-s[1].Value.Uint64())
}
