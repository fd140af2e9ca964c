package pubsub_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-googlecloud/v2/pkg/googlecloud"
	"github.com/ThreeDotsLabs/watermill/message"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/capstone-pms/capstone/events"
	"github.com/capstone-pms/capstone/infra/bus"
	"github.com/capstone-pms/capstone/infra/pubsub"
)

const project = "test-project"

// env is one emulator with a config pointing at it.
type env struct {
	emu *pubsub.Emulator
	cfg pubsub.Config
	ctx context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	emu, err := pubsub.StartEmulator("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &env{emu: emu, cfg: pubsub.Config{ProjectID: project, EmulatorHost: emu.Addr(), Logger: quiet}, ctx: ctx}
}

func (e *env) publisher(t *testing.T) *bus.Publisher {
	t.Helper()
	p, err := pubsub.NewPublisher(e.ctx, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return &bus.Publisher{Pub: p, Topic: bus.Topic}
}

// subscribe starts a subscriber of group on bus.Topic and records what it
// receives; ack decides, per delivery, whether to ack (nil: always).
func (e *env) subscribe(t *testing.T, group string, opts pubsub.SubscriberOptions, ack func(*message.Message) bool) *inbox {
	t.Helper()
	s, err := pubsub.NewSubscriber(e.ctx, e.cfg, group, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ch, err := s.Subscribe(e.ctx, bus.Topic)
	if err != nil {
		t.Fatal(err)
	}
	return drain(ch, ack)
}

func (e *env) admin(t *testing.T) *gpubsub.Client {
	t.Helper()
	c, err := gpubsub.NewClient(e.ctx, project,
		option.WithEndpoint(e.emu.Addr()), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (e *env) subscription(t *testing.T, name string) (*pubsubpb.Subscription, error) {
	t.Helper()
	return e.admin(t).SubscriptionAdminClient.GetSubscription(e.ctx,
		&pubsubpb.GetSubscriptionRequest{Subscription: "projects/" + project + "/subscriptions/" + name})
}

// inbox records every delivery of a subscription, in arrival order.
type inbox struct {
	mu  sync.Mutex
	got []*message.Message
}

func drain(ch <-chan *message.Message, ack func(*message.Message) bool) *inbox {
	in := &inbox{}
	go func() {
		for msg := range ch {
			in.mu.Lock()
			in.got = append(in.got, msg)
			in.mu.Unlock()
			if ack == nil || ack(msg) {
				msg.Ack()
				continue
			}
			// The client sends the receipt modack and nacks on two 100 ms
			// tickers; a nack sent first is undone by the receipt's deadline
			// extension (the fake's ack ids are message ids, so it applies
			// the stale extension), and redelivery then waits ~10 s. Nack
			// after the receipt has gone out, as a real handler would.
			time.Sleep(250 * time.Millisecond)
			msg.Nack()
		}
	}()
	return in
}

// ids lists the commit ids of the deliveries so far, duplicates included.
func (in *inbox) ids() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]string, len(in.got))
	for i, m := range in.got {
		out[i] = m.Metadata.Get(bus.MetaCommitID)
	}
	return out
}

func (in *inbox) messages() []*message.Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.got)
}

// waitFor polls until cond holds on the ids received so far.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasAll(got []string, want []string) bool {
	set := map[string]bool{}
	for _, id := range got {
		set[id] = true
	}
	for _, id := range want {
		if !set[id] {
			return false
		}
	}
	return true
}

func unique(ids []string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return slices.Compact(s)
}

func commit(stream string, version int64, title string) events.Commit {
	at := time.Now().UTC().Truncate(time.Millisecond)
	return events.Commit{
		StreamID: stream, StreamType: events.StreamProject, FirstVersion: version, RecordedAt: at,
		Events: []events.Envelope{{
			ID: fmt.Sprintf("evt-%s-%d", stream, version), StreamID: stream, StreamType: events.StreamProject,
			Version: version, Type: "ProjectEdited", SchemaVersion: 1, Data: &events.ProjectEdited{Title: title},
			Actor: events.SystemActor, CorrelationID: "req-1", RecordedAt: at,
		}},
	}
}

// publishAll publishes the commits in order and returns their ids.
func publishAll(t *testing.T, ctx context.Context, p *bus.Publisher, cs []events.Commit) []string {
	t.Helper()
	ids := make([]string, len(cs))
	for i, c := range cs {
		if err := p.Publish(ctx, c); err != nil {
			t.Fatalf("publish %s: %v", c.ID(), err)
		}
		ids[i] = c.ID()
	}
	return ids
}

// TestNamesMatchBus: this package repeats bus.Topic and relies on the
// stream-id metadata key bus sets.
func TestNamesMatchBus(t *testing.T) {
	if pubsub.CommitsTopic != bus.Topic {
		t.Errorf("CommitsTopic = %q, bus.Topic = %q", pubsub.CommitsTopic, bus.Topic)
	}
}

func TestConfigFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want pubsub.Config
		ok   bool
	}{
		{env: nil, ok: false},
		{env: map[string]string{"PUBSUB_EMULATOR_HOST": "localhost:8085"}, want: pubsub.Config{EmulatorHost: "localhost:8085"}, ok: false},
		{env: map[string]string{"GOOGLE_CLOUD_PROJECT": "gcp"}, want: pubsub.Config{ProjectID: "gcp"}, ok: true},
		{env: map[string]string{"PUBSUB_PROJECT_ID": "ps", "GOOGLE_CLOUD_PROJECT": "gcp", "PUBSUB_EMULATOR_HOST": "h:1"},
			want: pubsub.Config{ProjectID: "ps", EmulatorHost: "h:1"}, ok: true},
	} {
		got, ok := pubsub.ConfigFromEnv(func(k string) string { return tc.env[k] })
		if !reflect.DeepEqual(got, tc.want) || ok != tc.ok {
			t.Errorf("ConfigFromEnv(%v) = %+v, %v; want %+v, %v", tc.env, got, ok, tc.want, tc.ok)
		}
	}
}

func TestStartEmulatorBusyAddress(t *testing.T) {
	e := newEnv(t)
	if _, err := pubsub.StartEmulator(e.emu.Addr()); err == nil {
		t.Fatal("second emulator on the same address started")
	}
	if err := e.emu.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestNewSubscriberRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	cfg := pubsub.Config{ProjectID: project, EmulatorHost: "127.0.0.1:1"}
	for _, tc := range []struct {
		cfg   pubsub.Config
		group string
		opts  pubsub.SubscriberOptions
	}{
		{cfg: pubsub.Config{}, group: "g"},
		{cfg: cfg, group: ""},
		{cfg: cfg, group: "has space"},
		{cfg: cfg, group: "g", opts: pubsub.SubscriberOptions{MaxDeliveries: 2}},
		{cfg: cfg, group: "g", opts: pubsub.SubscriberOptions{AckDeadline: time.Second}},
	} {
		if s, err := pubsub.NewSubscriber(ctx, tc.cfg, tc.group, tc.opts); err == nil {
			_ = s.Close()
			t.Errorf("NewSubscriber(%+v, %q, %+v) accepted", tc.cfg, tc.group, tc.opts)
		}
	}
	if _, err := pubsub.NewPublisher(ctx, pubsub.Config{}); err == nil {
		t.Error("NewPublisher without a project accepted")
	}
}

// TestPublishAndReceiveCommits sends commits through the bus publisher and
// reads them back as commits, each stream's in publishing order.
func TestPublishAndReceiveCommits(t *testing.T) {
	e := newEnv(t)
	in := e.subscribe(t, "read-models", pubsub.SubscriberOptions{}, nil)
	pub := e.publisher(t)

	var cs []events.Commit
	for v := int64(1); v <= 5; v++ {
		for s := range 4 {
			cs = append(cs, commit(fmt.Sprintf("project-%d", s), v, fmt.Sprintf("title %d", v)))
		}
	}
	want := publishAll(t, e.ctx, pub, cs)
	waitFor(t, "every commit", func() bool { return hasAll(in.ids(), want) })

	reg := events.NewRegistry(events.All()...)
	last := map[string]int64{}
	seen := map[string]bool{}
	for _, m := range in.messages() {
		c, err := events.UnmarshalCommit(m.Payload, reg)
		if err != nil {
			t.Fatalf("UnmarshalCommit: %v", err)
		}
		if c.ID() != m.Metadata.Get(bus.MetaCommitID) || c.StreamID != m.Metadata.Get(bus.MetaStreamID) {
			t.Errorf("commit %s arrived with metadata %v", c.ID(), m.Metadata)
		}
		if title := c.Events[0].Data.(*events.ProjectEdited).Title; title != fmt.Sprintf("title %d", c.FirstVersion) {
			t.Errorf("commit %s has title %q", c.ID(), title)
		}
		if seen[c.ID()] {
			continue // a redelivery
		}
		seen[c.ID()] = true
		if c.FirstVersion <= last[c.StreamID] {
			t.Errorf("stream %s: version %d arrived after %d", c.StreamID, c.FirstVersion, last[c.StreamID])
		}
		last[c.StreamID] = c.FirstVersion
	}
}

// TestOrderingKeyAndSubscriptionSettings checks, on the fake's own records,
// that each message's ordering key is its stream id, and that the group's
// subscription was created with our settings.
func TestOrderingKeyAndSubscriptionSettings(t *testing.T) {
	e := newEnv(t)
	opts := pubsub.SubscriberOptions{MaxDeliveries: 7, AckDeadline: 20 * time.Second, DeadLetterTopic: "projections-dlq"}
	e.subscribe(t, "read-models", opts, nil)
	pub := e.publisher(t)
	publishAll(t, e.ctx, pub, []events.Commit{commit("project-1", 1, "a"), commit("user-9", 1, "b"), commit("project-1", 2, "c")})

	msgs := e.emu.Server().Messages()
	if len(msgs) != 3 {
		t.Fatalf("the fake holds %d messages, want 3", len(msgs))
	}
	for _, m := range msgs {
		if m.OrderingKey == "" || m.OrderingKey != m.Attributes[bus.MetaStreamID] {
			t.Errorf("message %s: ordering key %q, stream id %q", m.ID, m.OrderingKey, m.Attributes[bus.MetaStreamID])
		}
	}

	sub, err := e.subscription(t, pubsub.SubscriptionName(bus.Topic, "read-models"))
	if err != nil {
		t.Fatal(err)
	}
	if !sub.EnableMessageOrdering || sub.AckDeadlineSeconds != 20 {
		t.Errorf("ordering, ack deadline = %v, %d; want true, 20", sub.EnableMessageOrdering, sub.AckDeadlineSeconds)
	}
	if dl := sub.DeadLetterPolicy; dl.GetDeadLetterTopic() != "projects/"+project+"/topics/projections-dlq" || dl.GetMaxDeliveryAttempts() != 7 {
		t.Errorf("dead-letter policy = %v", dl)
	}
	if _, err := e.subscription(t, "projections-dlq"); err != nil {
		t.Errorf("no subscription keeps the dead letters: %v", err)
	}
}

// TestTwoGroupsEachReceiveEverything: two projection groups have two
// subscriptions, and each gets every message.
func TestTwoGroupsEachReceiveEverything(t *testing.T) {
	e := newEnv(t)
	a := e.subscribe(t, "read-models", pubsub.SubscriberOptions{}, nil)
	b := e.subscribe(t, "search-index", pubsub.SubscriberOptions{}, nil)
	pub := e.publisher(t)
	var cs []events.Commit
	for i := range 30 {
		cs = append(cs, commit(fmt.Sprintf("project-%d", i%5), int64(i/5+1), "t"))
	}
	want := publishAll(t, e.ctx, pub, cs)
	waitFor(t, "group read-models to get everything", func() bool { return hasAll(a.ids(), want) })
	waitFor(t, "group search-index to get everything", func() bool { return hasAll(b.ids(), want) })
}

// TestReplicasOfAGroupShareMessages: two subscribers of one group share its
// subscription: every message reaches one of them (at least once), and both
// get a share.
func TestReplicasOfAGroupShareMessages(t *testing.T) {
	e := newEnv(t)
	a := e.subscribe(t, "read-models", pubsub.SubscriberOptions{}, nil)
	b := e.subscribe(t, "read-models", pubsub.SubscriberOptions{}, nil)
	pub := e.publisher(t)

	// The fake deals out the messages that are ready at each 10 ms tick
	// round-robin over the streams attached at that moment, starting with the
	// first stream every tick. Publish bursts until both replicas are
	// attached and have received something.
	var want []string
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; len(a.ids()) == 0 || len(b.ids()) == 0; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("replica deliveries: %d and %d", len(a.ids()), len(b.ids()))
		}
		var burst []events.Commit
		for j := range 10 {
			burst = append(burst, commit(fmt.Sprintf("warm-%d-%d", i, j), 1, "w"))
		}
		want = append(want, publishAll(t, e.ctx, pub, burst)...)
		time.Sleep(50 * time.Millisecond)
	}
	var cs []events.Commit
	for i := range 100 {
		cs = append(cs, commit(fmt.Sprintf("project-%d", i), 1, "t"))
	}
	want = append(want, publishAll(t, e.ctx, pub, cs)...)
	waitFor(t, "the group to get everything", func() bool { return hasAll(append(a.ids(), b.ids()...), want) })

	ua, ub := unique(a.ids()), unique(b.ids())
	both := 0
	for _, id := range ua {
		if _, ok := slices.BinarySearch(ub, id); ok {
			both++
		}
	}
	t.Logf("%d messages: replica A got %d, replica B got %d, %d reached both (redelivery)", len(want), len(ua), len(ub), both)
	if len(ua)+len(ub)-both != len(want) {
		t.Errorf("replicas got %d distinct messages, want %d", len(ua)+len(ub)-both, len(want))
	}
	if both > len(want)/10 {
		t.Errorf("%d of %d messages reached both replicas: the group's subscription is not shared", both, len(want))
	}
}

// TestNackedMessageIsRedelivered: a nack makes Pub/Sub deliver the message
// again.
func TestNackedMessageIsRedelivered(t *testing.T) {
	e := newEnv(t)
	var once sync.Once
	in := e.subscribe(t, "read-models", pubsub.SubscriberOptions{}, func(*message.Message) bool {
		nack := false
		once.Do(func() { nack = true })
		return !nack
	})
	pub := e.publisher(t)
	id := publishAll(t, e.ctx, pub, []events.Commit{commit("project-1", 1, "t")})[0]
	waitFor(t, "a redelivery", func() bool { return len(in.ids()) >= 2 })
	if ids := in.ids(); ids[0] != id || ids[1] != id {
		t.Errorf("deliveries %v, want %s twice", ids, id)
	}
	msgs := e.emu.Server().Messages()
	waitFor(t, "the ack", func() bool { return e.emu.Server().Message(msgs[0].ID).Acks == 1 })
	if d := e.emu.Server().Message(msgs[0].ID).Deliveries; d != 2 {
		t.Errorf("the fake counts %d deliveries, want 2", d)
	}
}

// TestDeadLetter: a message nacked MaxDeliveries times moves to the
// dead-letter topic, whose subscription keeps it.
func TestDeadLetter(t *testing.T) {
	e := newEnv(t)
	in := e.subscribe(t, "read-models", pubsub.SubscriberOptions{MaxDeliveries: 5, DeadLetterTopic: "projections-dlq"},
		func(*message.Message) bool { return false })
	pub := e.publisher(t)
	id := publishAll(t, e.ctx, pub, []events.Commit{commit("project-1", 1, "poison")})[0]

	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	var dead *gpubsub.Message
	err := e.admin(t).Subscriber("projections-dlq").Receive(ctx, func(_ context.Context, m *gpubsub.Message) {
		m.Ack()
		dead = m
		cancel()
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if dead == nil {
		t.Fatalf("nothing reached the dead-letter topic; deliveries: %v", in.ids())
	}
	if dead.Attributes[bus.MetaCommitID] != id {
		t.Errorf("dead letter has attributes %v, want commit %s", dead.Attributes, id)
	}
	if n := len(in.ids()); n != 5 {
		t.Errorf("the subscriber got %d deliveries before dead-lettering, want 5", n)
	}
}

// TestSubscriptionExistsOnlyFromSubscribeOrEnsure shows why EnsureSubscription
// exists: the adapter creates a group's subscription only when it subscribes,
// and a subscription gets only what is published after it exists.
func TestSubscriptionExistsOnlyFromSubscribeOrEnsure(t *testing.T) {
	e := newEnv(t)

	// The adapter on its own: nothing exists until Subscribe.
	lazy, err := googlecloud.NewSubscriber(googlecloud.SubscriberConfig{
		ProjectID:                e.cfg.ProjectID,
		GenerateSubscriptionName: func(topic string) string { return pubsub.SubscriptionName(topic, "lazy") },
		ClientOptions: []option.ClientOption{option.WithEndpoint(e.emu.Addr()), option.WithoutAuthentication(),
			option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials()))},
	}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lazy.Close() })
	// Ours too: NewSubscriber does not know the topic yet.
	ours, err := pubsub.NewSubscriber(e.ctx, e.cfg, "ours", pubsub.SubscriberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ours.Close() })
	for _, g := range []string{"lazy", "ours", "early"} {
		if _, err := e.subscription(t, pubsub.SubscriptionName(bus.Topic, g)); status.Code(err) != codes.NotFound {
			t.Fatalf("subscription of %s before Subscribe: err %v, want NotFound", g, err)
		}
	}

	// A deployment creates group "early"'s subscription ahead of time.
	for range 2 { // idempotent
		if err := pubsub.EnsureSubscription(e.ctx, e.cfg, "early"); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := e.subscription(t, pubsub.SubscriptionName(bus.Topic, "early"))
	if err != nil || !sub.EnableMessageOrdering || sub.DeadLetterPolicy == nil {
		t.Fatalf("EnsureSubscription made %v, %v; want ordering and a dead-letter policy", sub, err)
	}

	pub := e.publisher(t)
	before := publishAll(t, e.ctx, pub, []events.Commit{commit("project-1", 1, "before")})[0]

	lazyCh, err := lazy.Subscribe(e.ctx, bus.Topic)
	if err != nil {
		t.Fatal(err)
	}
	lazyIn := drain(lazyCh, nil)
	early := e.subscribe(t, "early", pubsub.SubscriberOptions{}, nil)
	after := publishAll(t, e.ctx, pub, []events.Commit{commit("project-1", 2, "after")})[0]

	waitFor(t, "group early to get both commits", func() bool { return hasAll(early.ids(), []string{before, after}) })
	// Same stream, same ordering key: had "before" been in the lazy group's
	// subscription, it would have come first.
	waitFor(t, "the lazy group to get the later commit", func() bool { return hasAll(lazyIn.ids(), []string{after}) })
	if slices.Contains(lazyIn.ids(), before) {
		t.Error("the lazily created subscription got a message published before it existed")
	}
}

// TestEnsureSubscriptionUpdatesSettings: ack deadline and dead-letter policy
// of an existing subscription follow the options; ordering cannot change.
func TestEnsureSubscriptionUpdatesSettings(t *testing.T) {
	e := newEnv(t)
	if err := pubsub.EnsureSubscription(e.ctx, e.cfg, "g"); err != nil {
		t.Fatal(err)
	}
	opts := pubsub.SubscriberOptions{MaxDeliveries: 6, AckDeadline: 45 * time.Second, DeadLetterTopic: "other-dlq"}
	if err := pubsub.EnsureSubscription(e.ctx, e.cfg, "g", opts); err != nil {
		t.Fatal(err)
	}
	sub, err := e.subscription(t, pubsub.SubscriptionName(bus.Topic, "g"))
	if err != nil {
		t.Fatal(err)
	}
	if sub.AckDeadlineSeconds != 45 || sub.DeadLetterPolicy.GetMaxDeliveryAttempts() != 6 ||
		sub.DeadLetterPolicy.GetDeadLetterTopic() != "projects/"+project+"/topics/other-dlq" {
		t.Errorf("subscription after update: ack %d, dead letter %v", sub.AckDeadlineSeconds, sub.DeadLetterPolicy)
	}
}

// TestPublishRate publishes 500 messages from one goroutine. Only a log: the
// setting that makes it fast is checked in TestPublisherConfig (with the
// client's default 10 ms batching delay this took about 5 s).
func TestPublishRate(t *testing.T) {
	e := newEnv(t)
	pub := e.publisher(t)
	var cs []events.Commit
	for i := range 500 {
		cs = append(cs, commit(fmt.Sprintf("project-%d", i%50), int64(i/50+1), "t"))
	}
	publishAll(t, e.ctx, pub, cs[:1]) // creates the topic
	start := time.Now()
	publishAll(t, e.ctx, pub, cs[1:])
	took := time.Since(start)
	t.Logf("published 499 messages from one goroutine in %s: %.0f msgs/s", took.Round(time.Millisecond), 499/took.Seconds())
	if n := len(e.emu.Server().Messages()); n != 500 {
		t.Errorf("the fake holds %d messages, want 500", n)
	}
}

// TestCheckOnlyCreatesNothing: with CheckOnly, a process whose identity may
// not create or change topics and subscriptions never tries to: a missing
// subscription is ErrNotSetUp and nothing appears; once set up (as
// `capstone pubsub-setup` does) it subscribes and publishes, and it leaves
// settings it finds different as they are.
func TestCheckOnlyCreatesNothing(t *testing.T) {
	e := newEnv(t)
	check := e.cfg
	check.CheckOnly = true
	name := pubsub.SubscriptionName(bus.Topic, "g")
	nothing := func(when string) {
		t.Helper()
		if _, err := e.subscription(t, name); status.Code(err) != codes.NotFound {
			t.Errorf("%s: subscription %s: err %v, want NotFound", when, name, err)
		}
		_, err := e.admin(t).TopicAdminClient.GetTopic(e.ctx, &pubsubpb.GetTopicRequest{Topic: "projects/" + project + "/topics/" + bus.Topic})
		if status.Code(err) != codes.NotFound {
			t.Errorf("%s: topic %s: err %v, want NotFound", when, bus.Topic, err)
		}
	}

	if err := pubsub.EnsureSubscription(e.ctx, check, "g"); !errors.Is(err, pubsub.ErrNotSetUp) {
		t.Fatalf("EnsureSubscription before set-up: %v, want ErrNotSetUp", err)
	}
	nothing("after EnsureSubscription")
	s, err := pubsub.NewSubscriber(e.ctx, check, "g", pubsub.SubscriberOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Subscribe(e.ctx, bus.Topic); !errors.Is(err, pubsub.ErrNotSetUp) {
		t.Fatalf("Subscribe before set-up: %v, want ErrNotSetUp", err)
	}
	nothing("after Subscribe")
	p, err := pubsub.NewPublisher(e.ctx, check)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	pub := &bus.Publisher{Pub: p, Topic: bus.Topic}
	if err := pub.Publish(e.ctx, commit("project-1", 1, "lost")); err == nil {
		t.Fatal("publishing to a topic that does not exist succeeded")
	}
	nothing("after Publish")

	// Set up, with an ack deadline other than the default.
	if err := pubsub.EnsureSubscription(e.ctx, e.cfg, "g", pubsub.SubscriberOptions{AckDeadline: 45 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := pubsub.EnsureSubscription(e.ctx, check, "g"); err != nil {
		t.Fatalf("EnsureSubscription after set-up: %v", err)
	}
	checking := &env{emu: e.emu, cfg: check, ctx: e.ctx}
	in := checking.subscribe(t, "g", pubsub.SubscriberOptions{}, nil)
	ids := publishAll(t, e.ctx, checking.publisher(t), []events.Commit{commit("project-1", 1, "delivered")})
	waitFor(t, "the commit published in check-only mode", func() bool { return hasAll(in.ids(), ids) })
	sub, err := e.subscription(t, name)
	if err != nil || sub.AckDeadlineSeconds != 45 {
		t.Errorf("check-only processes changed the subscription: ack deadline %d, %v; want the 45 s it was set up with", sub.GetAckDeadlineSeconds(), err)
	}
}

// TestEmulatorRestartedEmpty: Pub/Sub loses its topic and subscriptions (an
// emulator restarted empty). The next publish finds them gone and creates
// the topic with every group's subscription before it publishes, so the
// message waits in each group's subscription for whoever receives next:
// nothing published after the restart is dropped by a bare topic. (The
// client library of a subscriber that was receiving may take long to
// reconnect; the projectors do not wait for it, they catch up from the
// event store.)
func TestEmulatorRestartedEmpty(t *testing.T) {
	e := newEnv(t)
	addr := e.emu.Addr()
	e.cfg.Groups = []string{"watched", "idle"}
	pub := e.publisher(t)
	// Before the first publish, the publisher creates the subscriptions.
	first := publishAll(t, e.ctx, pub, []events.Commit{commit("project-r", 1, "first")})
	if _, err := e.subscription(t, pubsub.SubscriptionName(bus.Topic, "idle")); err != nil {
		t.Fatalf("the idle group's subscription after the first publish: %v", err)
	}
	in := e.subscribe(t, "watched", pubsub.SubscriberOptions{}, nil)
	waitFor(t, "the first commit", func() bool { return hasAll(in.ids(), first) })

	_ = e.emu.Close()
	var err error
	for range 50 { // the port is free again once the old listener is gone
		if e.emu, err = pubsub.StartEmulator(addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.emu.Close() })

	after := publishAll(t, e.ctx, pub, []events.Commit{commit("project-r", 2, "after the restart")})
	for _, g := range e.cfg.Groups {
		if _, err := e.subscription(t, pubsub.SubscriptionName(bus.Topic, g)); err != nil {
			t.Fatalf("subscription of %s after a publish to the restarted emulator: %v", g, err)
		}
	}
	fresh := e.subscribe(t, "idle", pubsub.SubscriberOptions{}, nil)
	waitFor(t, "the commit published after the restart", func() bool { return hasAll(fresh.ids(), after) })
}

// TestEmulatorTakesStaleAckIDs: a subscriber that lived through an emulator
// restart modacks ack ids the new emulator never issued. The emulator must
// neither crash (pstest alone dereferences a missing message and takes the
// process down) nor drop the ids it does know in the same request: a nack
// (deadline 0) of a pulled message with a stale id beside it redelivers it.
func TestEmulatorTakesStaleAckIDs(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t)
	topic := "projects/" + project + "/topics/stale-acks"
	sub := "projects/" + project + "/subscriptions/stale-acks"
	if _, err := c.TopicAdminClient.CreateTopic(e.ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscriptionAdminClient.CreateSubscription(e.ctx, &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 600}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TopicAdminClient.Publish(e.ctx, &pubsubpb.PublishRequest{Topic: topic, Messages: []*pubsubpb.PubsubMessage{{Data: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	pull := func() []*pubsubpb.ReceivedMessage {
		resp, err := c.SubscriptionAdminClient.Pull(e.ctx, &pubsubpb.PullRequest{Subscription: sub, MaxMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetReceivedMessages()
	}
	got := pull()
	if len(got) != 1 {
		t.Fatalf("pulled %d messages, want 1", len(got))
	}
	for _, ids := range [][]string{
		{"m-never-published"},
		{"m-never-published", got[0].GetAckId(), "m999999"},
	} {
		if err := c.SubscriptionAdminClient.ModifyAckDeadline(e.ctx, &pubsubpb.ModifyAckDeadlineRequest{Subscription: sub, AckIds: ids, AckDeadlineSeconds: 0}); err != nil {
			t.Fatalf("modack %v: %v", ids, err)
		}
	}
	var again []*pubsubpb.ReceivedMessage
	for deadline := time.Now().Add(10 * time.Second); len(again) == 0 && time.Now().Before(deadline); {
		again = pull()
	}
	if len(again) != 1 || string(again[0].GetMessage().GetData()) != "x" {
		t.Fatalf("after a nack beside stale ids, pulled %v, want the message again", again)
	}
}

// TestOutOfReachIsToldWithinSetUpWithin: with Pub/Sub out of reach,
// EnsureSubscription and a subscriber's Subscribe give up within
// SetUpWithin (the client library alone retries for a minute) with an
// error Unreachable recognises, so that a caller tries again; a refusal
// (ErrNotSetUp) is not one.
func TestOutOfReachIsToldWithinSetUpWithin(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := ln.Addr().String()
	ln.Close()
	const within = 300 * time.Millisecond
	cfg := pubsub.Config{ProjectID: project, EmulatorHost: gone, SetUpWithin: within}
	ctx := context.Background()
	for name, try := range map[string]func() error{
		"EnsureSubscription": func() error { return pubsub.EnsureSubscription(ctx, cfg, "read-models") },
		"Subscribe": func() error {
			sub, err := pubsub.NewSubscriber(ctx, cfg, "read-models", pubsub.SubscriberOptions{})
			if err != nil {
				return fmt.Errorf("NewSubscriber: %w", err)
			}
			defer sub.Close()
			_, err = sub.Subscribe(ctx, pubsub.CommitsTopic)
			return err
		},
	} {
		start := time.Now()
		err := try()
		if took := time.Since(start); took > within+5*time.Second {
			t.Errorf("%s took %v, more than SetUpWithin %v", name, took, within)
		}
		if err == nil || !pubsub.Unreachable(err) {
			t.Errorf("%s with Pub/Sub out of reach: %v, want an error Unreachable recognises", name, err)
		}
	}
	if pubsub.Unreachable(fmt.Errorf("x: %w", pubsub.ErrNotSetUp)) || pubsub.Unreachable(nil) {
		t.Error("Unreachable takes a refusal, or no error, for Pub/Sub out of reach")
	}
}
