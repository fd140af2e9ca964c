package api

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/capstone-pms/capstone/commands"
	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/queries"
)

// randomCommits is a write's commits: a few streams with awkward ids, each
// with one or more consecutive commits.
func randomCommits(rng *rand.Rand, streams int) []events.Commit {
	var out []events.Commit
	for s := range streams {
		id := fmt.Sprintf("%s:%d@x.y,é\"%d", []string{"email", "project", "cohort"}[rng.IntN(3)], s, rng.Int64())
		v := 1 + rng.Int64N(1<<40)
		for range 1 + rng.IntN(3) {
			n := 1 + rng.IntN(3)
			c := events.Commit{StreamID: id, StreamType: "project", FirstVersion: v, Events: make([]events.Envelope, n)}
			out = append(out, c)
			v += int64(n)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestBookmarkRoundTrip: a bookmark names, per stream, the versions the
// write stored; only what this key signed is accepted, and any change to
// it is refused.
func TestBookmarkRoundTrip(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 4))
	b := bookmarks{key: []byte("a key of this deployment")}
	other := bookmarks{key: []byte("another deployment's key")}
	for range 200 {
		commits := randomCommits(rng, 1+rng.IntN(maxBookmarkStreams))
		positions := positionsOf(commits, nil)
		s, ok := b.encode(positions)
		if !ok {
			t.Fatalf("seed %d: %d streams not named", seed, len(positions))
		}
		got, err := b.decode(s)
		if err != nil || !reflect.DeepEqual(got, positions) {
			t.Fatalf("seed %d: decode(encode) = %v, %v; want %v", seed, got, err, positions)
		}
		for _, p := range got {
			if p.Last < p.First {
				t.Fatalf("seed %d: position %+v ends before it starts", seed, p)
			}
		}
		if _, err := other.decode(s); err == nil {
			t.Fatalf("seed %d: another key accepted the bookmark", seed)
		}
		i := rng.IntN(len(s))
		tampered := s[:i] + string(s[i]^byte(1+rng.IntN(127))) + s[i+1:]
		if _, err := b.decode(tampered); err == nil {
			t.Fatalf("seed %d: a bookmark changed at byte %d was accepted", seed, i)
		}
	}
	if _, ok := b.encode(positionsOf(randomCommits(rng, maxBookmarkStreams+1), nil)); ok {
		t.Fatal("a write over more streams than a bookmark names got one")
	}
	if _, ok := b.encode(positionsOf(nil, nil)); ok {
		t.Fatal("a write that stored nothing and found nothing done got a bookmark")
	}
}

// TestBookmarkNamesWhatNoOpsFound: the streams a request decided on without
// a write are named at the version they were decided on, after the streams
// it wrote; a stream it also wrote is named once, by its commits.
func TestBookmarkNamesWhatNoOpsFound(t *testing.T) {
	seed := rand.Uint64()
	rng := rand.New(rand.NewPCG(seed, 5))
	for range 200 {
		commits := randomCommits(rng, rng.IntN(8))
		written := positionsOf(commits, nil)
		var seen []commands.Seen
		var want []queries.Position
		for i := range rng.IntN(8) {
			if len(written) > 0 && rng.IntN(3) == 0 { // also written: named by its commits
				w := written[rng.IntN(len(written))]
				seen = append(seen, commands.Seen{StreamType: w.StreamType, StreamID: w.StreamID, Version: w.Last + rng.Int64N(3) - 1})
				continue
			}
			v := 1 + rng.Int64N(1<<40)
			id := fmt.Sprintf("user:%d-%d", i, rng.Int64())
			seen = append(seen, commands.Seen{StreamType: "user", StreamID: id, Version: v})
			want = append(want, queries.Position{StreamType: "user", StreamID: id, First: v, Last: v})
		}
		want = append(written, want...)
		if got := positionsOf(commits, seen); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: positionsOf(%d commits, seen %v) = %v, want %v", seed, len(commits), seen, got, want)
		}
	}
}
