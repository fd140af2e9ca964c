package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/commands/project"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/projections"
	"github.com/capstone-pms/capstone/projections/rebuild"
	"github.com/capstone-pms/capstone/queries"
)

// The benchmarks below put the service's paths next to the raw driver doing
// the database work they cannot avoid, on the same embedded store in the same
// run, so the ratio means something on a shared, noisy machine:
//
//	go test ./cmd/capstone -run XXX -bench . -benchtime 3s
//
// A command on a stream this process wrote last costs no read and one
// commit insert (shared with concurrent commands), a share of an outbox
// write, a snapshot every 16 versions, and the projector's write (its read
// is served from what it stored); the raw baseline is one insertOne. A GET
// costs one findOne on the read model plus the authentication's cached user
// lookup; the raw baseline is one findOne.

func opsPerSec(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

var benchMeta = commands.Meta{Actor: events.Actor{UserID: "bench", Roles: []string{events.RoleStudent}}, CorrelationID: "bench"}

func BenchmarkCommandPath(b *testing.B) {
	s := startService(b)
	ctx := context.Background()
	b.Run("raw-insertOne", func(b *testing.B) {
		coll := s.app.store.DB.Collection("bench_raw")
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				doc := bson.D{{Key: "_id", Value: uuid.Must(uuid.NewV7()).String()}, {Key: "title", Value: "A project title"},
					{Key: "description", Value: strings.Repeat("d", 200)}, {Key: "version", Value: 1}}
				if _, err := coll.InsertOne(ctx, doc); err != nil {
					b.Error(err)
					return
				}
			}
		})
		opsPerSec(b)
	})
	b.Run("create-project", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				// Owners as in a cohort: each student's overview lists a
				// handful of projects, not every one the benchmark creates.
				owner := fmt.Sprint("bench-student-", n.Add(1)%256)
				cmd := project.Create{OwnerID: owner, Fields: project.Fields{Title: "A project title", Description: strings.Repeat("d", 200)}}
				if _, err := project.Decider.ExecuteNew(ctx, s.app.Exec, uuid.Must(uuid.NewV7()).String(), cmd, benchMeta); err != nil {
					b.Error(err)
					return
				}
			}
		})
		opsPerSec(b)
	})
	b.Run("edit-project", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			id := uuid.Must(uuid.NewV7()).String() // one project per goroutine: no lost races
			cmd := project.Create{OwnerID: "bench", Fields: project.Fields{Title: "Edited"}}
			if _, err := project.Decider.Execute(ctx, s.app.Exec, id, cmd, benchMeta); err != nil {
				b.Error(err)
				return
			}
			for pb.Next() {
				title := fmt.Sprint("Edited ", n.Add(1))
				if _, err := project.Decider.Execute(ctx, s.app.Exec, id, project.Edit{By: benchMeta.Actor, Title: &title}, benchMeta); err != nil {
					b.Error(err)
					return
				}
			}
		})
		opsPerSec(b)
	})
}

func BenchmarkQueryPath(b *testing.B) {
	s := startService(b)
	ctx := context.Background()
	admin := s.admin()
	var ids []string
	for i := range 200 {
		cmd := project.Create{OwnerID: "bench", Fields: project.Fields{Title: fmt.Sprint("Project ", i), Description: strings.Repeat("d", 200)}}
		res, err := project.Decider.Execute(ctx, s.app.Exec, uuid.Must(uuid.NewV7()).String(), cmd, benchMeta)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, res.State.ID)
	}
	q := queries.Projects{Reader: newReadModels(s)}
	waitFor(b, "the projection", func() bool {
		_, err := q.Get(ctx, benchMeta.Actor, ids[len(ids)-1], 0)
		return err == nil
	})
	var next atomic.Int64
	pick := func() string { return ids[next.Add(1)%int64(len(ids))] }
	b.Run("raw-findOne", func(b *testing.B) {
		coll := s.app.store.DB.Collection(projections.CollProjects)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var doc bson.M
				if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: pick()}}).Decode(&doc); err != nil {
					b.Error(err)
					return
				}
			}
		})
		opsPerSec(b)
	})
	b.Run("query-get-project", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := q.Get(ctx, benchMeta.Actor, pick(), 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
		opsPerSec(b)
	})
	b.Run("http-get-project", func(b *testing.B) {
		h := s.app.http.Handler
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest(http.MethodGet, "/v1/projects/"+pick(), nil)
				req.Header.Set("Authorization", "Bearer "+admin)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Errorf("status %d: %s", rec.Code, rec.Body.String())
					return
				}
			}
		})
		opsPerSec(b)
	})
}

// BenchmarkProjectionApply folds one commit into a read-model document (a
// load and a store by _id), next to the raw driver doing that database work
// (findOne and replaceOne by _id).
func BenchmarkProjectionApply(b *testing.B) {
	s := startService(b)
	ctx := context.Background()
	rm := newReadModels(s)
	p := projections.NewProjects(rm, imongoEventStore(s))
	var seq atomic.Int64
	b.Run("raw-findOne+replaceOne", func(b *testing.B) {
		coll := s.app.store.DB.Collection(projections.CollProjects)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := fmt.Sprint("raw-", seq.Add(1))
				_ = coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Err()
				doc := bson.D{{Key: "_id", Value: id}, {Key: "title", Value: "A project title"}, {Key: "version", Value: 1}}
				if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		opsPerSec(b)
	})
	b.Run("projection", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := fmt.Sprint("proj-", seq.Add(1))
				c := events.Commit{StreamID: id, StreamType: events.StreamProject, FirstVersion: 1, RecordedAt: time.Now().UTC(),
					Events: []events.Envelope{{StreamID: id, StreamType: events.StreamProject, Version: 1, Type: "ProjectCreated",
						Data: &events.ProjectCreated{OwnerID: "u", Title: "A project title"}}}}
				if err := p.Handle(ctx, c); err != nil {
					b.Error(err)
					return
				}
			}
		})
		opsPerSec(b)
	})
}

// BenchmarkReplay rebuilds every read model from the event store (commits/s),
// next to the raw driver bulk-writing as many read-model documents in
// batches of 50.
func BenchmarkReplay(b *testing.B) {
	s := startService(b)
	ctx := context.Background()
	const n = 2000
	for i := range n {
		cmd := project.Create{OwnerID: "bench", Fields: project.Fields{Title: fmt.Sprint("Project ", i)}}
		if _, err := project.Decider.Execute(ctx, s.app.Exec, uuid.Must(uuid.NewV7()).String(), cmd, benchMeta); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("raw-insertMany", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			coll := s.app.store.DB.Collection(fmt.Sprint("bench_replay_raw_", uuid.NewString()[:8]))
			start := time.Now()
			for j := 0; j < n; j += 50 {
				docs := make([]any, 0, 50)
				for k := j; k < j+50; k++ {
					docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprint(k)}, {Key: "title", Value: "A project title"}, {Key: "version", Value: 1}})
				}
				if _, err := coll.InsertMany(ctx, docs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "docs/s")
		}
	})
	// rawScan reads the events back without decoding them: the floor under
	// a replay. It returns the commits read per second.
	rawScan := func(b *testing.B) float64 {
		start := time.Now()
		cur, err := s.app.store.DB.Collection("events").Find(ctx, bson.D{})
		if err != nil {
			b.Fatal(err)
		}
		defer cur.Close(ctx)
		docs := 0
		for cur.Next(ctx) {
			docs++
		}
		if err := cur.Err(); err != nil || docs < n {
			b.Fatalf("scanned %d commits: %v", docs, err)
		}
		return float64(docs) / time.Since(start).Seconds()
	}
	b.Run("raw-scan", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.ReportMetric(rawScan(b), "docs/s")
		}
	})
	b.Run("replay", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			start := time.Now()
			var folded time.Duration
			res, err := s.app.Rebuild(ctx, []string{"projects"}, true, func(p rebuild.Progress) {
				if p.Phase == "rebuild-done" {
					folded = time.Since(start)
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			// The scan and fold; the bulk write and the comparison with the live
			// read model (verify mode) come after it.
			b.ReportMetric(float64(res.Commits)/folded.Seconds(), "folded/s")
			b.ReportMetric(float64(res.Commits)/time.Since(start).Seconds(), "commits/s")
		}
	})
	b.Run("rebuild", func(b *testing.B) {
		// A rebuild as capstone replay runs it: fold, flush, switch, catch up
		// (with no other process projecting, without waiting for one to see
		// the switch), each between two raw scans, so that the ratio
		// compares the two under the same load: against the scan just
		// before alone, a shared machine's load moving between them swung
		// the ratio by a fifth either way.
		var ratio float64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			before := rawScan(b)
			b.StartTimer()
			start := time.Now()
			res, err := s.app.Rebuild(ctx, []string{"projects"}, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			rate := float64(res.Commits) / time.Since(start).Seconds()
			b.StopTimer()
			after := rawScan(b)
			b.StartTimer()
			b.ReportMetric(rate, "commits/s")
			ratio += rate / ((before + after) / 2)
		}
		b.ReportMetric(ratio/float64(b.N), "of-raw-scan")
	})
}
