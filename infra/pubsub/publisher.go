package pubsub

import (
	"context"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"github.com/ThreeDotsLabs/watermill-googlecloud/v2/pkg/googlecloud"
	"github.com/ThreeDotsLabs/watermill/message"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// streamIDKey is the metadata key of a commit's stream id (bus.MetaStreamID;
// a test checks they agree).
const streamIDKey = "stream_id"

// NewPublisher returns a Watermill publisher to Pub/Sub that:
//   - uses the message's "stream_id" metadata as its ordering key, so one
//     aggregate's commits are delivered in the order they were published;
//   - sends each message at once (PublishSettings.DelayThreshold = 0): the
//     adapter's Publish waits for each message, and with the client's default
//     10 ms batching delay one publisher managed about 90 messages/s;
//   - creates a topic the first time it publishes to it, if it is missing;
//     with cfg.CheckOnly it neither creates nor looks the topic up (which
//     would need more than the right to publish): publishing to a missing
//     topic fails, and the commit stays in the outbox for the relay.
//
// ctx bounds the connection set-up only. Close the publisher when done.
func NewPublisher(ctx context.Context, cfg Config) (message.Publisher, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pc := publisherConfig(cfg)
	if dl, ok := ctx.Deadline(); ok {
		pc.ConnectTimeout = max(time.Until(dl), time.Millisecond)
	}
	p, err := googlecloud.NewPublisher(pc, cfg.logger())
	if err != nil {
		return nil, err
	}
	return &publisher{Publisher: p}, nil
}

// publisherConfig is the adapter configuration NewPublisher uses; it is a
// separate function so that a test can check the settings.
func publisherConfig(cfg Config) googlecloud.PublisherConfig {
	settings := gpubsub.DefaultPublishSettings
	settings.DelayThreshold = 0 // the adapter replaces the whole struct, so start from the defaults
	return googlecloud.PublisherConfig{
		ProjectID: cfg.ProjectID,
		// Required by the client to publish with an ordering key.
		EnableMessageOrdering: true,
		// After a failed publish the client refuses every later message with
		// the same ordering key until it is resumed; the relay republishes
		// unpublished commits, so resume at once.
		EnableMessageOrderingAutoResumePublishOnError: true,
		PublishSettings:          &settings,
		ClientOptions:            cfg.clientOptions(),
		Marshaler:                googlecloud.NewOrderingMarshaler(orderingKey),
		DoNotCheckTopicExistence: cfg.CheckOnly,
	}
}

// orderingKey is the commit's stream id; a message without one is unordered.
func orderingKey(_ string, msg *message.Message) (string, error) {
	return msg.Metadata.Get(streamIDKey), nil
}

// publisher retries a publish that failed only because another process
// created the topic between the adapter's existence check and its create
// call (the adapter reports AlreadyExists then, before sending anything).
type publisher struct {
	*googlecloud.Publisher
}

// Publish sends the messages, waiting for Pub/Sub to accept each one.
func (p *publisher) Publish(topic string, msgs ...*message.Message) error {
	err := p.Publisher.Publish(topic, msgs...)
	if status.Code(err) == codes.AlreadyExists {
		err = p.Publisher.Publish(topic, msgs...)
	}
	return err
}
