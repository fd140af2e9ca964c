package pubsub

import (
	"context"
	"fmt"
	"net"
	"sync"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Emulator serves Google's in-memory Pub/Sub fake (pstest) over gRPC, for
// `capstone pubsub-emulator` and for tests of the real Pub/Sub path: point a
// Config's EmulatorHost (or PUBSUB_EMULATOR_HOST) at Addr. It keeps every
// message in memory and loses everything on Close. It is a fake for
// correctness, not for performance figures (it delivers at most about 900
// messages/s, and about 10 per second per ordering key). Known differences
// from Pub/Sub: it checks none of the limits on ack deadlines and
// dead-letter delivery attempts, ignores retry policies (a nacked message is
// redelivered at once), adds no dead-letter attributes, counts delivery
// attempts per message across all subscriptions rather than per
// subscription, and has no IAM.
type Emulator struct {
	srv       *pstest.Server
	gsrv      *grpc.Server
	lis       net.Listener
	closeOnce sync.Once
}

// StartEmulator listens on addr (host:port; port 0 picks a free one) and
// serves the fake until Close.
//
// The fake is served through a gRPC server of our own, not pstest's: pstest
// crashes the whole process on a modack of a message it never published
// (it indexes its messages by ack id without a check), which is exactly what
// a subscriber that lived through an emulator restart sends next. Our server
// takes such ids out, as Pub/Sub ignores an expired ack id, and passes
// everything else to the fake unchanged.
func StartEmulator(addr string) (e *Emulator, err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pubsub emulator on %s: %w", addr, err)
	}
	// pstest panics when it cannot listen; its own listener, on a loopback
	// port of its choosing, is never dialled.
	defer func() {
		if r := recover(); r != nil {
			_ = lis.Close()
			e, err = nil, fmt.Errorf("pubsub emulator on %s: %v", addr, r)
		}
	}()
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	fake := &fakeServer{GServer: &srv.GServer, srv: srv}
	gsrv := grpc.NewServer()
	pb.RegisterPublisherServer(gsrv, fake)
	pb.RegisterSubscriberServer(gsrv, fake)
	pb.RegisterSchemaServiceServer(gsrv, fake)
	go func() { _ = gsrv.Serve(lis) }()
	return &Emulator{srv: srv, gsrv: gsrv, lis: lis}, nil
}

// fakeServer is pstest's fake with its one crash taken out.
type fakeServer struct {
	*pstest.GServer
	srv *pstest.Server
}

// ModifyAckDeadline drops the ack ids of messages this fake never published
// (ids from before a restart), then modifies the rest as pstest does.
func (f *fakeServer) ModifyAckDeadline(ctx context.Context, req *pb.ModifyAckDeadlineRequest) (*emptypb.Empty, error) {
	known := make([]string, 0, len(req.GetAckIds()))
	for _, id := range req.GetAckIds() {
		if f.srv.Message(id) != nil {
			known = append(known, id)
		}
	}
	if len(known) == len(req.GetAckIds()) {
		return f.GServer.ModifyAckDeadline(ctx, req)
	}
	r := proto.Clone(req).(*pb.ModifyAckDeadlineRequest)
	r.AckIds = known
	return f.GServer.ModifyAckDeadline(ctx, r)
}

// Addr is the host:port the emulator listens on.
func (e *Emulator) Addr() string { return e.lis.Addr().String() }

// Server is the fake itself, for tests that inspect what was published
// (Messages gives each message's attributes, ordering key and delivery
// count).
func (e *Emulator) Server() *pstest.Server { return e.srv }

// Close stops serving and drops every topic, subscription and message. It is
// safe to call more than once.
func (e *Emulator) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.gsrv.Stop() // closes the listener and every stream
		err = e.srv.Close()
	})
	return err
}
