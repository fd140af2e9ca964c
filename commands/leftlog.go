package commands

import (
	"hash/maphash"
	"sync/atomic"
)

// leftLog records when entries left the cache of stream states (evicted,
// or forgotten), closely enough to tell whether a given stream's entry may
// have left since a load began: each stream hashes to one of leftBuckets
// buckets, which holds the sequence number of the last departure from it.
// Streams sharing a bucket only make a load cache nothing now and then;
// one global count made every load cache nothing once the cache was full
// and evicting with every entry added (past 20,000 streams: a 25,000-row
// import read the event store 2.2 times a row, against 1 below that).
type leftLog struct {
	seq     atomic.Int64
	buckets [leftBuckets]atomic.Int64
}

const leftBuckets = 4096

var leftSeed = maphash.MakeSeed()

// now is the sequence number a load notes as it begins.
func (l *leftLog) now() int64 { return l.seq.Load() }

// left records that the stream's entry left the cache.
func (l *leftLog) left(stream string) {
	s := l.seq.Add(1)
	b := &l.buckets[maphash.String(leftSeed, stream)%leftBuckets]
	for {
		old := b.Load()
		if old >= s || b.CompareAndSwap(old, s) {
			return
		}
	}
}

// since reports whether the stream's entry may have left the cache after
// the sequence number begun.
func (l *leftLog) since(stream string, begun int64) bool {
	return l.buckets[maphash.String(leftSeed, stream)%leftBuckets].Load() > begun
}
