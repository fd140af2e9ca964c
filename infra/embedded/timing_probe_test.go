package embedded

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestProbeHang(t *testing.T) {
	s, client := startStore(t, t.TempDir(), nil)
	ctx := context.Background()
	s.PrepareCollections(ctx, "app", "x")
	c := client.Database("app").Collection("x")
	var docs []any
	for i := range 300 {
		docs = append(docs, bson.M{"_id": fmt.Sprint(i), "n": i})
	}
	if _, err := c.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, fail := 0, 0
	for k := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				_, err := c.UpdateOne(tctx, bson.M{"_id": fmt.Sprint((k*7 + j) % 300)}, bson.M{"$inc": bson.M{"n": 1}})
				mu.Lock()
				if err != nil {
					fail++
				} else {
					ok++
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Log("ok", ok, "fail", fail)
}
