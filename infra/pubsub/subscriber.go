package pubsub

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/ThreeDotsLabs/watermill-googlecloud/v2/pkg/googlecloud"
	"github.com/ThreeDotsLabs/watermill/message"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// Defaults of SubscriberOptions.
const (
	DefaultMaxDeliveries = 10
	DefaultAckDeadline   = 30 * time.Second
	// DeadLetterSuffix names a topic's default dead-letter topic: <topic><suffix>.
	DeadLetterSuffix = "-dead-letter"
)

// Limits Pub/Sub itself puts on the settings (pstest checks none of them).
const (
	minMaxDeliveries = 5
	maxMaxDeliveries = 100
	minAckDeadline   = 10 * time.Second
	maxAckDeadline   = 600 * time.Second
)

// SubscriberOptions are the settings of a group's subscription. Zero fields
// take the defaults.
type SubscriberOptions struct {
	// MaxDeliveries is how many times Pub/Sub delivers a message (a nack, or
	// an ack deadline that passes, counts as a failed delivery) before it moves
	// it to the dead-letter topic. Pub/Sub allows 5 to 100; default 10.
	MaxDeliveries int
	// AckDeadline is how long Pub/Sub waits for an ack before delivering the
	// message again, e.g. after a projector crashed; the client extends it
	// while a message is being handled. Whole seconds, 10 s to 600 s; default
	// 30 s.
	AckDeadline time.Duration
	// DeadLetterTopic receives the messages delivered MaxDeliveries times;
	// default "<topic>-dead-letter". It is created with a subscription of the
	// same name, so that dead letters are kept (7 days) for inspection rather
	// than dropped by a topic nobody subscribes to.
	DeadLetterTopic string
}

func (o SubscriberOptions) withDefaults() (SubscriberOptions, error) {
	if o.MaxDeliveries == 0 {
		o.MaxDeliveries = DefaultMaxDeliveries
	}
	if o.AckDeadline == 0 {
		o.AckDeadline = DefaultAckDeadline
	}
	if o.MaxDeliveries < minMaxDeliveries || o.MaxDeliveries > maxMaxDeliveries {
		return o, fmt.Errorf("pubsub: MaxDeliveries %d outside [%d, %d]", o.MaxDeliveries, minMaxDeliveries, maxMaxDeliveries)
	}
	if o.AckDeadline < minAckDeadline || o.AckDeadline > maxAckDeadline || o.AckDeadline%time.Second != 0 {
		return o, fmt.Errorf("pubsub: AckDeadline %s is not whole seconds in [%s, %s]", o.AckDeadline, minAckDeadline, maxAckDeadline)
	}
	if o.DeadLetterTopic != "" && !validName.MatchString(o.DeadLetterTopic) {
		return o, fmt.Errorf("pubsub: invalid dead-letter topic name %q", o.DeadLetterTopic)
	}
	return o, nil
}

func (o SubscriberOptions) deadLetterTopic(topic string) string {
	if o.DeadLetterTopic != "" {
		return o.DeadLetterTopic
	}
	return topic + DeadLetterSuffix
}

// validName is Pub/Sub's rule for topic and subscription ids.
var validName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$`)

// SubscriptionName is the subscription of a projection group on a topic:
// "<topic>.<group>". Every group has its own subscription, so each group
// receives every message; the replicas of one group share it, so each message
// goes to one of them.
func SubscriptionName(topic, group string) string {
	return topic + "." + group
}

func checkNames(topic, group string) error {
	if group == "" {
		return errors.New("pubsub: empty group")
	}
	if name := SubscriptionName(topic, group); !validName.MatchString(name) || strings.HasPrefix(strings.ToLower(name), "goog") {
		return fmt.Errorf("pubsub: invalid subscription name %q (letters, digits and -_.~+%% only)", name)
	}
	return nil
}

// NewSubscriber returns a Watermill subscriber for projection group group.
// Subscribe(ctx, topic) first makes sure that the topic, the dead-letter topic
// and the group's subscription exist with the settings of opts (message
// ordering, ack deadline, dead-letter policy; an existing subscription gets
// its ack deadline and dead-letter policy updated; with cfg.CheckOnly it
// only checks that the subscription exists), then receives from the
// subscription. Call Subscribe once per topic; run one subscriber per replica.
//
// ctx bounds the connection set-up only. Close the subscriber when done.
func NewSubscriber(ctx context.Context, cfg Config, group string, opts SubscriberOptions) (message.Subscriber, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkNames(CommitsTopic, group); err != nil {
		return nil, err
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	admin, err := newClient(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pubsub: client: %w", err)
	}
	inner, err := googlecloud.NewSubscriber(googlecloud.SubscriberConfig{
		GenerateSubscriptionName: func(topic string) string { return SubscriptionName(topic, group) },
		ProjectID:                cfg.ProjectID,
		// Subscribe creates them first, with our settings; the adapter would
		// create a subscription without any (settings such as ordering apply
		// only at creation).
		DoNotCreateSubscriptionIfMissing: true,
		DoNotCreateTopicIfMissing:        true,
		ClientOptions:                    cfg.clientOptions(),
		ClientConfig:                     cfg.clientConfig(),
	}, cfg.logger())
	if err != nil {
		_ = admin.Close()
		return nil, err
	}
	return &subscriber{inner: inner, admin: admin, cfg: cfg, group: group, opts: opts, ready: map[string]bool{},
		closed: make(chan struct{})}, nil
}

// subscriber wraps the adapter's subscriber: it creates the group's
// subscription with our settings before the adapter uses it.
type subscriber struct {
	inner *googlecloud.Subscriber
	admin *gpubsub.Client
	cfg   Config
	group string
	opts  SubscriberOptions

	mu    sync.Mutex
	ready map[string]bool // topics whose subscription is ensured

	closed    chan struct{} // closed by Close: the watchers stop
	closeOnce sync.Once
}

var _ message.SubscribeInitializer = (*subscriber)(nil)

// Subscribe ensures the group's subscription to topic, then returns its
// messages. The channel closes when ctx ends or the subscriber is closed.
// The set-up gives up after cfg.SetUpWithin; an error Unreachable reports
// is worth a later try (bus.Consumer's KeepTrying).
//
// While it receives, it checks every WatchEvery that the subscription still
// exists and creates it again if not (a Pub/Sub emulator restarted empty):
// the adapter only retries receiving from the missing subscription, with a
// back-off that grows to a minute, and would wait for it forever.
func (s *subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := s.ensure(ctx, topic); err != nil {
		return nil, err
	}
	msgs, err := s.inner.Subscribe(ctx, topic)
	if err == nil {
		go s.watch(ctx, topic)
	}
	return msgs, err
}

// WatchEvery is how often a receiving subscriber checks that its
// subscription exists.
const WatchEvery = 2 * time.Second

func (s *subscriber) watch(ctx context.Context, topic string) {
	t := time.NewTicker(WatchEvery)
	defer t.Stop()
	name := subscriptionPath(s.cfg.ProjectID, SubscriptionName(topic, s.group))
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closed:
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := s.admin.SubscriptionAdminClient.GetSubscription(cctx, &pubsubpb.GetSubscriptionRequest{Subscription: name})
		if status.Code(err) == codes.NotFound {
			s.cfg.slog().WarnContext(ctx, "pubsub subscription missing: creating it again", "subscription", name)
			s.mu.Lock()
			err = ensureSubscription(cctx, s.admin, s.cfg, topic, s.group, s.opts)
			s.mu.Unlock()
			if err != nil {
				s.cfg.slog().WarnContext(ctx, "pubsub: create the subscription again", "subscription", name, "err", err)
			}
		}
		cancel()
	}
}

// SubscribeInitialize creates the group's subscription to topic without
// receiving from it.
func (s *subscriber) SubscribeInitialize(topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.ensure(ctx, topic)
}

// Close stops receiving (unacked messages are nacked) and closes the
// connections, giving up after CloseWithin: the adapter waits for its
// receiving goroutine, which the client library can keep reconnecting to a
// Pub/Sub that went away, past any shutdown grace period.
func (s *subscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	done := make(chan error, 1)
	go func() { done <- errors.Join(s.inner.Close(), s.admin.Close()) }()
	select {
	case err := <-done:
		return err
	case <-time.After(CloseWithin):
		return fmt.Errorf("pubsub: subscriber of %s still closing after %s; left behind", s.group, CloseWithin)
	}
}

// CloseWithin bounds a subscriber's Close.
const CloseWithin = 5 * time.Second

func (s *subscriber) ensure(ctx context.Context, topic string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready[topic] {
		return nil
	}
	if err := checkNames(topic, s.group); err != nil {
		return err
	}
	ctx, cancel := s.cfg.setUpContext(ctx)
	defer cancel()
	if err := ensureSubscription(ctx, s.admin, s.cfg, topic, s.group, s.opts); err != nil {
		return err
	}
	s.ready[topic] = true
	return nil
}

// EnsureSubscription creates group's subscription to CommitsTopic (and the
// topic, the dead-letter topic and its subscription) if missing, with the
// settings NewSubscriber would use: opts, if given, else the defaults. It is
// idempotent. Pub/Sub gives a subscription only the messages published after
// it exists, and the adapter creates one only when a projector subscribes;
// a deployment calls this before the first publish (e.g. at start-up of the
// API or a set-up job) so that no commit is missed by a group whose
// projectors start later. With cfg.CheckOnly it creates and changes nothing:
// a missing subscription is ErrNotSetUp.
func EnsureSubscription(ctx context.Context, cfg Config, group string, opts ...SubscriberOptions) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	if len(opts) > 1 {
		return errors.New("pubsub: EnsureSubscription takes at most one SubscriberOptions")
	}
	if err := checkNames(CommitsTopic, group); err != nil {
		return err
	}
	var o SubscriberOptions
	if len(opts) == 1 {
		o = opts[0]
	}
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	client, err := newClient(ctx, cfg)
	if err != nil {
		return fmt.Errorf("pubsub: client: %w", err)
	}
	defer client.Close()
	ctx, cancel := cfg.setUpContext(ctx)
	defer cancel()
	return ensureSubscription(ctx, client, cfg, CommitsTopic, group, o)
}

// subscriptionSpec is the subscription a group gets on topic.
func subscriptionSpec(project, topic, group string, o SubscriberOptions) *pubsubpb.Subscription {
	return &pubsubpb.Subscription{
		Name:                  subscriptionPath(project, SubscriptionName(topic, group)),
		Topic:                 topicPath(project, topic),
		AckDeadlineSeconds:    int32(o.AckDeadline / time.Second),
		EnableMessageOrdering: true,
		DeadLetterPolicy: &pubsubpb.DeadLetterPolicy{
			DeadLetterTopic:     topicPath(project, o.deadLetterTopic(topic)),
			MaxDeliveryAttempts: int32(o.MaxDeliveries),
		},
		// An empty policy means never expire: by default Pub/Sub deletes a
		// subscription after 31 days without subscribers, and the group would
		// then miss commits until its projectors subscribe again.
		ExpirationPolicy: &pubsubpb.ExpirationPolicy{},
	}
}

func ensureSubscription(ctx context.Context, c *gpubsub.Client, cfg Config, topic, group string, o SubscriberOptions) error {
	if cfg.CheckOnly {
		return checkSubscription(ctx, c, cfg, topic, group, o)
	}
	project := cfg.ProjectID
	dlq := o.deadLetterTopic(topic)
	for _, t := range []string{topic, dlq} {
		if err := ensureTopic(ctx, c, project, t); err != nil {
			return err
		}
	}
	// Keep dead letters: a topic without a subscription drops its messages.
	_, err := c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name:             subscriptionPath(project, dlq),
		Topic:            topicPath(project, dlq),
		ExpirationPolicy: &pubsubpb.ExpirationPolicy{},
	})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("pubsub: create dead-letter subscription %s: %w", dlq, err)
	}

	want := subscriptionSpec(project, topic, group, o)
	_, err = c.SubscriptionAdminClient.CreateSubscription(ctx, want)
	if err == nil {
		return nil
	}
	if status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("pubsub: create subscription %s: %w", want.Name, err)
	}
	have, err := c.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: want.Name})
	if err != nil {
		return fmt.Errorf("pubsub: get subscription %s: %w", want.Name, err)
	}
	if have.Topic != want.Topic {
		return fmt.Errorf("pubsub: subscription %s is attached to %s, not %s", want.Name, have.Topic, want.Topic)
	}
	if !have.EnableMessageOrdering {
		// Ordering cannot be changed on an existing subscription; delivery
		// still works, only unordered, which the projections tolerate.
		cfg.slog().WarnContext(ctx, "pubsub subscription has message ordering disabled; recreate it to enable",
			"subscription", want.Name)
	}
	var paths []string
	if have.AckDeadlineSeconds != want.AckDeadlineSeconds {
		paths = append(paths, "ack_deadline_seconds")
	}
	if have.GetDeadLetterPolicy().GetDeadLetterTopic() != want.DeadLetterPolicy.DeadLetterTopic ||
		have.GetDeadLetterPolicy().GetMaxDeliveryAttempts() != want.DeadLetterPolicy.MaxDeliveryAttempts {
		paths = append(paths, "dead_letter_policy")
	}
	if len(paths) == 0 {
		return nil
	}
	_, err = c.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
		Subscription: want,
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: paths},
	})
	if err != nil {
		return fmt.Errorf("pubsub: update subscription %s (%s): %w", want.Name, strings.Join(paths, ", "), err)
	}
	return nil
}

// checkSubscription is ensureSubscription for CheckOnly: it reads the
// group's subscription and changes nothing. A missing subscription, or one
// attached to another (or a deleted) topic, is ErrNotSetUp; settings that
// differ from o are logged, since the subscription still delivers.
func checkSubscription(ctx context.Context, c *gpubsub.Client, cfg Config, topic, group string, o SubscriberOptions) error {
	want := subscriptionSpec(cfg.ProjectID, topic, group, o)
	have, err := c.SubscriptionAdminClient.GetSubscription(ctx, &pubsubpb.GetSubscriptionRequest{Subscription: want.Name})
	if status.Code(err) == codes.NotFound {
		return fmt.Errorf("%w: subscription %s does not exist; create it with `capstone pubsub-setup`", ErrNotSetUp, want.Name)
	}
	if err != nil {
		return fmt.Errorf("pubsub: get subscription %s: %w", want.Name, err)
	}
	if have.Topic != want.Topic {
		return fmt.Errorf("%w: subscription %s is attached to %s, not %s; recreate it with `capstone pubsub-setup`", ErrNotSetUp, want.Name, have.Topic, want.Topic)
	}
	var drift []string
	if !have.EnableMessageOrdering {
		drift = append(drift, "message ordering off")
	}
	if have.AckDeadlineSeconds != want.AckDeadlineSeconds {
		drift = append(drift, fmt.Sprintf("ack deadline %ds, not %ds", have.AckDeadlineSeconds, want.AckDeadlineSeconds))
	}
	if have.GetDeadLetterPolicy().GetDeadLetterTopic() != want.DeadLetterPolicy.DeadLetterTopic ||
		have.GetDeadLetterPolicy().GetMaxDeliveryAttempts() != want.DeadLetterPolicy.MaxDeliveryAttempts {
		drift = append(drift, "another dead-letter policy")
	}
	if len(drift) > 0 {
		cfg.slog().WarnContext(ctx, "pubsub subscription differs from this service's settings; run `capstone pubsub-setup` to bring it back",
			"subscription", want.Name, "differences", strings.Join(drift, "; "))
	}
	return nil
}

// ensureTopic creates topic unless it exists. It looks first, so that a
// service account allowed to read but not to create topics works once they
// exist.
func ensureTopic(ctx context.Context, c *gpubsub.Client, project, topic string) error {
	name := topicPath(project, topic)
	_, err := c.TopicAdminClient.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: name})
	if err == nil {
		return nil
	}
	if status.Code(err) != codes.NotFound {
		return fmt.Errorf("pubsub: get topic %s: %w", topic, err)
	}
	_, err = c.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: name})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		return fmt.Errorf("pubsub: create topic %s: %w", topic, err)
	}
	return nil
}

// newClient connects to Pub/Sub for administration (topics, subscriptions).
// The client outlives ctx, which only bounds the set-up.
func newClient(ctx context.Context, cfg Config) (*gpubsub.Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return gpubsub.NewClientWithConfig(context.WithoutCancel(ctx), cfg.ProjectID, cfg.clientConfig(), cfg.clientOptions()...)
}

func topicPath(project, topic string) string {
	return "projects/" + project + "/topics/" + topic
}

func subscriptionPath(project, sub string) string {
	return "projects/" + project + "/subscriptions/" + sub
}
