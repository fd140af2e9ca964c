package bus

import (
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/capstone-pms/capstone/events"
)

// Decodings shares the decoding of each message between the consumers of
// one process. Every projection has a consumer, and every consumer is
// handed every commit: decoding it from JSON was most of a projector's
// work, done once per projection for the same bytes. With Decodings the
// first consumer to take a message decodes it and the others take that
// commit, which they only read.
//
// A message is known by its UUID, which every subscription's copy keeps.
// What it holds is in flight: an entry goes once every sharer took it, and
// at most maxDecodings are held (a consumer that never takes a message,
// stopped or far behind, decodes for itself what was let go).
type Decodings struct {
	sharers int
	mu      sync.Mutex
	held    *simplelru.LRU[string, *decoding]
}

type decoding struct {
	once   sync.Once
	commit events.Commit
	err    error
	taken  int
}

// maxDecodings bounds the decoded commits held: the messages in flight
// between the in-process bus and its consumers are a few thousand at most.
const maxDecodings = 4096

// NewDecodings returns what sharers consumers, each handed every message,
// share.
func NewDecodings(sharers int) *Decodings {
	held, _ := simplelru.NewLRU[string, *decoding](maxDecodings, nil)
	return &Decodings{sharers: sharers, held: held}
}

// decode returns msg's commit, decoded once for all sharers. A message
// handed to one consumer alone (Deliver's) is decoded by it.
func (d *Decodings) decode(msg *message.Message, reg *events.Registry) (events.Commit, error) {
	if d == nil || d.sharers < 2 || msg.Metadata.Get(metaCatchUp) != "" {
		return events.UnmarshalCommit(msg.Payload, reg)
	}
	d.mu.Lock()
	e, ok := d.held.Get(msg.UUID)
	if !ok {
		e = &decoding{}
		d.held.Add(msg.UUID, e)
	}
	if e.taken++; e.taken >= d.sharers {
		d.held.Remove(msg.UUID)
	}
	d.mu.Unlock()
	e.once.Do(func() { e.commit, e.err = events.UnmarshalCommit(msg.Payload, reg) })
	return e.commit, e.err
}
