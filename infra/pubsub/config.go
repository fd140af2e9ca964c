// Package pubsub carries the bus (package bus) over Google Cloud Pub/Sub, and
// serves Google's Pub/Sub fake (pstest) as a local emulator.
//
// The publisher and subscriber are Watermill's Google Cloud adapter
// (watermill-googlecloud/v2, over cloud.google.com/go/pubsub/v2) with the
// settings this service relies on, which the adapter's defaults do not give:
//
//   - The publisher sends each message without the client's 10 ms batching
//     delay: the adapter's Publish waits for each message in turn, so with the
//     default batching one publishing goroutine managed about 90 messages/s.
//   - The ordering key of a message is its commit's stream id, and
//     subscriptions have message ordering enabled, so the commits of one
//     aggregate arrive in order (the projections still tolerate reordering).
//   - One explicit subscription per projection group: every group receives
//     every commit; the replicas of one group share the group's subscription.
//   - Subscriptions have an ack deadline, a dead-letter topic after a bounded
//     number of deliveries, and never expire.
//   - After an outage the publishers are back within about a second of
//     Pub/Sub (retryAtMost), where the library's own back-off grows to a
//     minute.
//
// Pub/Sub gives a subscription only the messages published after it exists,
// and the adapter creates a subscription only when Subscribe is called. A
// deployment that may publish before its projectors first start calls
// EnsureSubscription for each group beforehand.
package pubsub

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	vkit "cloud.google.com/go/pubsub/v2/apiv1"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// Environment variables read by ConfigFromEnv. PUBSUB_EMULATOR_HOST is also
// the variable Google's client library honours by itself.
const (
	EnvProjectID    = "PUBSUB_PROJECT_ID"
	EnvCloudProject = "GOOGLE_CLOUD_PROJECT"
	EnvEmulatorHost = "PUBSUB_EMULATOR_HOST"
)

// CommitsTopic is the topic commits are published on. It equals bus.Topic (a
// test checks); it is repeated here so that package bus may depend on this
// package without an import cycle. EnsureSubscription creates subscriptions
// to it.
const CommitsTopic = "capstone-commits"

// Config says which Pub/Sub to use.
type Config struct {
	// ProjectID is the Google Cloud project that holds the topics and
	// subscriptions (PUBSUB_PROJECT_ID or GOOGLE_CLOUD_PROJECT).
	ProjectID string
	// EmulatorHost is the host:port of a Pub/Sub emulator (PUBSUB_EMULATOR_HOST),
	// reached without TLS or credentials; empty means the real Pub/Sub with the
	// ambient Google credentials.
	EmulatorHost string
	// Logger receives the adapter's logs; nil means slog.Default().
	Logger *slog.Logger
	// CheckOnly says that the topics and subscriptions were created
	// beforehand (`capstone pubsub-setup`): the process then only checks
	// that a subscription exists, and never creates or changes a topic or a
	// subscription, so its identity needs no right to (reading a
	// subscription is enough, and publishing needs only publish on the
	// topic). What is missing is reported as ErrNotSetUp.
	CheckOnly bool
	// Groups are the projection groups whose subscriptions a publisher
	// makes sure of before it publishes (and again when they are gone), so
	// that no commit is published where no subscription receives it; not
	// with CheckOnly, where a publish to a missing topic fails and the
	// projectors catch up from the event store.
	Groups []string
	// Subscriptions are the settings of those subscriptions (zero: defaults).
	Subscriptions SubscriberOptions
	// SetUpWithin bounds each try to set up (or check) a subscription, as
	// EnsureSubscription and a subscriber's Subscribe do (zero:
	// DefaultSetUpWithin): the client library keeps retrying a Pub/Sub out
	// of reach for a minute, and a caller that tries again (see
	// Unreachable) should hear of it sooner.
	SetUpWithin time.Duration
}

// DefaultSetUpWithin is ample for calls that take milliseconds.
const DefaultSetUpWithin = 10 * time.Second

// setUpContext bounds one try to set up or check subscriptions.
func (c Config) setUpContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, cmp.Or(c.SetUpWithin, DefaultSetUpWithin))
}

// Unreachable says whether err is Pub/Sub out of reach (or not answering
// within Config.SetUpWithin), which may pass, rather than a refusal
// (ErrNotSetUp, a permission, a bad name), which a retry would meet again.
func Unreachable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// ErrNotSetUp is returned, with CheckOnly, for a subscription that does not
// exist (or whose topic was deleted): the process may not create it, and
// whoever set Pub/Sub up has to run the set-up again.
var ErrNotSetUp = errors.New("pubsub: not set up")

// ConfigFromEnv reads PUBSUB_PROJECT_ID (or else GOOGLE_CLOUD_PROJECT) and
// PUBSUB_EMULATOR_HOST. ok is false when no project is set: the caller then
// keeps the in-process bus.
func ConfigFromEnv(getenv func(string) string) (cfg Config, ok bool) {
	cfg.ProjectID = getenv(EnvProjectID)
	if cfg.ProjectID == "" {
		cfg.ProjectID = getenv(EnvCloudProject)
	}
	cfg.EmulatorHost = getenv(EnvEmulatorHost)
	return cfg, cfg.ProjectID != ""
}

func (c Config) validate() error {
	if c.ProjectID == "" {
		return errors.New("pubsub: no project id")
	}
	return nil
}

// clientOptions points the client at the emulator when one is configured.
// They are the options the client library itself applies when it finds
// PUBSUB_EMULATOR_HOST, so a Config and the environment behave alike; passed
// last, they win over that variable.
// Every client also reconnects with retryAtMost between its tries.
func (c Config) clientOptions() []option.ClientOption {
	reconnect := option.WithGRPCDialOption(grpc.WithConnectParams(grpc.ConnectParams{
		Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: retryAtMost},
		MinConnectTimeout: 5 * time.Second,
	}))
	if c.EmulatorHost == "" {
		return []option.ClientOption{reconnect}
	}
	return []option.ClientOption{
		option.WithEndpoint(c.EmulatorHost),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithoutAuthentication(),
		option.WithTelemetryDisabled(),
		reconnect,
	}
}

// retryAtMost bounds the pause between two tries of a publish, of opening
// a subscription's stream, and of a connection. The client library's own
// pauses grow fourfold up to a minute, and gRPC's to two: after Pub/Sub had
// been out of reach for ten seconds, the first publish to succeed came up to
// 30 s after it was back, with every commit meanwhile left in the outbox.
// A try a second is nothing to Pub/Sub. (The library reopens a broken
// subscription's stream with pauses of its own too, up to 30 s, which no
// setting reaches: meanwhile the catch-up applies from the event store what
// is published.)
const retryAtMost = time.Second

// clientConfig is the client library's configuration with the retries of
// publishes, and of opening subscriptions' streams, paused at most
// retryAtMost; the rest of the library's call options are kept (it merges
// these over them).
func (c Config) clientConfig() *gpubsub.ClientConfig {
	retry := func(on ...codes.Code) gax.CallOption {
		return gax.WithRetry(func() gax.Retryer {
			return gax.OnCodes(on, gax.Backoff{Initial: 100 * time.Millisecond, Max: retryAtMost, Multiplier: 2})
		})
	}
	// The codes are the library's own for each call.
	return &gpubsub.ClientConfig{
		TopicAdminCallOptions: &vkit.TopicAdminCallOptions{Publish: []gax.CallOption{retry(
			codes.Aborted, codes.Canceled, codes.Internal, codes.ResourceExhausted, codes.Unknown, codes.Unavailable, codes.DeadlineExceeded)}},
		SubscriptionAdminCallOptions: &vkit.SubscriptionAdminCallOptions{StreamingPull: []gax.CallOption{retry(
			codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Unavailable)}},
	}
}

func (c Config) logger() watermill.LoggerAdapter {
	return watermillLogger{c.slog()}
}

// watermillLogger is Watermill's logger on the service's (as Watermill's
// own slog adapter), but for a subscription's stream that failed as
// Pub/Sub does when it restarts or is out of reach for a while (NotFound:
// the subscription is gone until it is made again; Unavailable): Watermill
// retries it by itself, and the service says at WARN what it does
// meanwhile (the subscription made again, the catch-up from the event
// store), so it is logged at WARN too. At ERROR, every restart of Pub/Sub
// logged errors that needed nobody.
type watermillLogger struct{ log *slog.Logger }

// receiveRetrying is Watermill's message for a subscription's stream that
// failed and is opened again.
const receiveRetrying = "Receiving messages failed, retrying"

func (l watermillLogger) Error(msg string, err error, fields watermill.LogFields) {
	level := slog.LevelError
	if code := status.Code(err); msg == receiveRetrying && (code == codes.NotFound || code == codes.Unavailable) {
		level = slog.LevelWarn
	}
	l.log.Log(context.Background(), level, msg, append(slogArgs(fields), "error", err)...)
}

func (l watermillLogger) Info(msg string, fields watermill.LogFields) {
	l.log.Info(msg, slogArgs(fields)...)
}

func (l watermillLogger) Debug(msg string, fields watermill.LogFields) {
	l.log.Debug(msg, slogArgs(fields)...)
}

func (l watermillLogger) Trace(msg string, fields watermill.LogFields) {
	l.log.Log(context.Background(), watermill.LevelTrace, msg, slogArgs(fields)...)
}

func (l watermillLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return watermillLogger{l.log.With(slogArgs(fields)...)}
}

// slogArgs are Watermill's fields as slog's key-value arguments.
func slogArgs(fields watermill.LogFields) []any {
	args := make([]any, 0, 2*len(fields)+2)
	for k, v := range fields {
		args = append(args, k, v)
	}
	return args
}

func (c Config) slog() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}
