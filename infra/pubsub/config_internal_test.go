package pubsub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestPublisherConfig checks the settings handed to the adapter: without
// DelayThreshold = 0 each Publish waits out the client's 10 ms batching delay
// (about 90 messages/s from one goroutine instead of thousands), and without
// ordering the stream id would not become the ordering key.
func TestPublisherConfig(t *testing.T) {
	pc := publisherConfig(Config{ProjectID: "p", EmulatorHost: "127.0.0.1:1"})
	if pc.PublishSettings == nil {
		t.Fatal("PublishSettings not set: the adapter would keep the client's 10 ms DelayThreshold")
	}
	if got := pc.PublishSettings.DelayThreshold; got != 0 {
		t.Errorf("DelayThreshold = %s, want 0", got)
	}
	// The adapter replaces the client's settings wholesale: the rest must
	// stay at the client's defaults, not zero.
	want := gpubsub.DefaultPublishSettings
	want.DelayThreshold = 0
	if got := *pc.PublishSettings; got.CountThreshold != want.CountThreshold || got.ByteThreshold != want.ByteThreshold ||
		got.Timeout != want.Timeout || got.FlowControlSettings != want.FlowControlSettings {
		t.Errorf("PublishSettings = %+v, want the defaults with DelayThreshold 0 (%+v)", got, want)
	}
	if !pc.EnableMessageOrdering || !pc.EnableMessageOrderingAutoResumePublishOnError {
		t.Errorf("EnableMessageOrdering = %v, AutoResume = %v; want both true", pc.EnableMessageOrdering, pc.EnableMessageOrderingAutoResumePublishOnError)
	}
	if pc.ProjectID != "p" || len(pc.ClientOptions) == 0 {
		t.Errorf("ProjectID = %q, %d client options; want p and the emulator options", pc.ProjectID, len(pc.ClientOptions))
	}
	if !pc.DoNotCreateTopicIfMissing {
		t.Error("the adapter must not create a bare topic: the publisher creates it with its subscriptions")
	}

	msg := message.NewMessage("uuid-1", []byte("{}"))
	msg.Metadata.Set(streamIDKey, "project-7")
	pm, err := pc.Marshaler.Marshal("t", msg)
	if err != nil {
		t.Fatal(err)
	}
	if pm.OrderingKey != "project-7" || pm.Attributes[streamIDKey] != "project-7" {
		t.Errorf("OrderingKey = %q, attributes %v; want project-7 in both", pm.OrderingKey, pm.Attributes)
	}
	if n := len(publisherConfig(Config{ProjectID: "p"}).ClientOptions); n != 1 {
		t.Errorf("%d client options without an emulator, want the reconnection's alone", n)
	}
}

// TestRetriesPauseAtMostRetryAtMost: a publish, and the opening of a
// subscription's stream, that keep failing while Pub/Sub is out of reach are tried again
// at least every retryAtMost: with the library's own settings the pauses
// grow fourfold to a minute, and the first publish to succeed came up to
// 30 s after Pub/Sub was back.
func TestRetriesPauseAtMostRetryAtMost(t *testing.T) {
	cfg := Config{ProjectID: "p"}.clientConfig()
	for name, opts := range map[string][]gax.CallOption{
		"publish":     cfg.TopicAdminCallOptions.Publish,
		"stream pull": cfg.SubscriptionAdminCallOptions.StreamingPull,
	} {
		var cs gax.CallSettings
		for _, o := range opts {
			o.Resolve(&cs)
		}
		if cs.Retry == nil {
			t.Fatalf("%s: no retry", name)
		}
		r := cs.Retry()
		var total time.Duration
		for range 40 { // 40 tries: the library's pauses would reach their minute
			pause, again := r.Retry(status.Error(codes.Unavailable, "connection refused"))
			if !again || pause > retryAtMost {
				t.Fatalf("%s: after %v of retries, paused %v (again %v), want at most %v", name, total, pause, again, retryAtMost)
			}
			total += pause
		}
		if _, again := r.Retry(status.Error(codes.PermissionDenied, "no")); again {
			t.Errorf("%s: a refusal retried", name)
		}
	}
}

func TestSubscriptionSpec(t *testing.T) {
	o, err := SubscriberOptions{MaxDeliveries: 7, AckDeadline: 20 * time.Second}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := subscriptionSpec("p", "commits", "read-models", o)
	if s.Name != "projects/p/subscriptions/commits.read-models" || s.Topic != "projects/p/topics/commits" {
		t.Errorf("name, topic = %s, %s", s.Name, s.Topic)
	}
	if !s.EnableMessageOrdering || s.AckDeadlineSeconds != 20 {
		t.Errorf("ordering, ack deadline = %v, %d; want true, 20", s.EnableMessageOrdering, s.AckDeadlineSeconds)
	}
	if dl := s.DeadLetterPolicy; dl.DeadLetterTopic != "projects/p/topics/commits-dead-letter" || dl.MaxDeliveryAttempts != 7 {
		t.Errorf("dead-letter policy = %v", dl)
	}
	if s.ExpirationPolicy == nil || s.ExpirationPolicy.Ttl != nil {
		t.Errorf("expiration policy = %v; want set, without a TTL (never expires)", s.ExpirationPolicy)
	}
}

func TestSubscriberOptionsDefaultsAndLimits(t *testing.T) {
	o, err := SubscriberOptions{}.withDefaults()
	if err != nil || o.MaxDeliveries != DefaultMaxDeliveries || o.AckDeadline != DefaultAckDeadline || o.deadLetterTopic("x") != "x-dead-letter" {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	for _, bad := range []SubscriberOptions{
		{MaxDeliveries: 4}, {MaxDeliveries: 101}, {AckDeadline: 9 * time.Second},
		{AckDeadline: 601 * time.Second}, {AckDeadline: 10500 * time.Millisecond}, {DeadLetterTopic: "a b"},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted; Pub/Sub would refuse it", bad)
		}
	}
}

// TestSubscriptionRetriesLogAtWarn: Watermill's "retrying" of a
// subscription's stream that failed as a restarting or unreachable Pub/Sub
// fails it (NotFound, Unavailable) is logged at WARN, with its fields and
// those given by With; any other error of it, and any other message, stays
// at ERROR; the other levels are as Watermill's.
func TestSubscriptionRetriesLogAtWarn(t *testing.T) {
	var buf bytes.Buffer
	log := Config{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}.logger().With(watermill.LogFields{"topic": "commits"})
	levels := func() []string {
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatal(err)
			}
			if rec["topic"] != "commits" || rec["subscription_name"] != "s" {
				t.Fatalf("fields lost: %s", line)
			}
			out = append(out, rec["level"].(string))
		}
		buf.Reset()
		return out
	}
	fields := watermill.LogFields{"subscription_name": "s"}
	for _, c := range []struct {
		msg  string
		err  error
		want string
	}{
		{receiveRetrying, status.Error(codes.NotFound, "subscription not found"), "WARN"},
		{receiveRetrying, fmt.Errorf("receive: %w", status.Error(codes.Unavailable, "connection refused")), "WARN"},
		{receiveRetrying, status.Error(codes.PermissionDenied, "no"), "ERROR"},
		{receiveRetrying, errors.New("something else"), "ERROR"},
		{"Could not unmarshal Google Cloud PubSub message", status.Error(codes.NotFound, "x"), "ERROR"},
	} {
		log.Error(c.msg, c.err, fields)
		if got := levels(); len(got) != 1 || got[0] != c.want {
			t.Errorf("%q, %v: logged at %v, want %s", c.msg, c.err, got, c.want)
		}
	}
	// The other levels are Watermill's own; below INFO, the handler's
	// level (INFO) keeps them out.
	log.Info("Subscribing to Google Cloud PubSub topic", fields)
	log.Debug("Closing message consumer", fields)
	log.Trace("Message acked", fields)
	if got := levels(); len(got) != 1 || got[0] != "INFO" {
		t.Errorf("Info, Debug and Trace logged at %v, want [INFO]", got)
	}
}
