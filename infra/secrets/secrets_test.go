package secrets

import (
	"context"
	"errors"
	"hash/crc32"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// fakeSM is Secret Manager reduced to AccessSecretVersion, counting calls.
type fakeSM struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	mu      sync.Mutex
	payload map[string]*secretmanagerpb.SecretPayload
	calls   atomic.Int64
}

func (f *fakeSM) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	f.calls.Add(1)
	f.mu.Lock()
	p, ok := f.payload[req.GetName()]
	f.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found or has no versions.", req.GetName())
	}
	return &secretmanagerpb.AccessSecretVersionResponse{Name: req.GetName(), Payload: p}, nil
}

func (f *fakeSM) put(name string, data string, withCRC bool) {
	p := &secretmanagerpb.SecretPayload{Data: []byte(data)}
	if withCRC {
		sum := int64(crc32.Checksum([]byte(data), crc32.MakeTable(crc32.Castagnoli)))
		p.DataCrc32C = &sum
	}
	f.mu.Lock()
	f.payload[name] = p
	f.mu.Unlock()
}

// countingListener counts the connections the client opens.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

type env struct {
	fake *fakeSM
	lis  *countingListener
	r    *Resolver
}

func start(t *testing.T) env {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lis := &countingListener{Listener: inner}
	fake := &fakeSM{payload: map[string]*secretmanagerpb.SecretPayload{}}
	srv := grpc.NewServer()
	secretmanagerpb.RegisterSecretManagerServiceServer(srv, fake)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	r, err := NewResolver(context.Background(),
		option.WithEndpoint(lis.Addr().String()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return env{fake: fake, lis: lis, r: r}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestResolvesVersion(t *testing.T) {
	e := start(t)
	const name = "projects/p1/secrets/mongodb-uri/versions/latest"
	e.fake.put(name, "mongodb://u:pw@host/\n", true)

	for _, ref := range []string{"sm://" + name, name} {
		got, err := e.r.Resolve(ctx(t), ref)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", ref, err)
		}
		if got != "mongodb://u:pw@host/" {
			t.Fatalf("Resolve(%q) = %q", ref, got)
		}
	}
	if n := e.fake.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
	if e.lis.accepted.Load() == 0 {
		t.Fatal("the client never connected to the fake: the test proves nothing")
	}
}

func TestTrimsOneTrailingNewline(t *testing.T) {
	e := start(t)
	cases := map[string]string{"a": "a", "a\n": "a", "a\r\n": "a", "a\n\n": "a\n", "": "", " a \t": " a \t"}
	i := 0
	for data, want := range cases {
		i++
		name := "projects/p/secrets/s" + string(rune('a'+i)) + "/versions/1"
		e.fake.put(name, data, false)
		got, err := e.r.Resolve(ctx(t), name)
		if err != nil || got != want {
			t.Errorf("payload %q: got %q, %v; want %q", data, got, err, want)
		}
	}
}

func TestPlainValuesPassThroughWithoutRPC(t *testing.T) {
	e := start(t)
	for _, v := range []string{
		"", "hunter2", "mongodb+srv://u:p@cluster0.x.mongodb.net/",
		"projects/p/secrets/s",                           // no version
		"projects/p/secrets/s/versions/1/extra",          // too long
		"projects/p/locations/eu/secrets/s/versions/1",   // regional: not supported, not matched
		" projects/p/secrets/s/versions/1",               // not exactly a name
		"projects/p/secrets/s/versions/1 and then words", // not exactly a name
	} {
		if IsReference(v) {
			t.Errorf("IsReference(%q) = true", v)
		}
		got, err := e.r.Resolve(ctx(t), v)
		if err != nil || got != v {
			t.Errorf("Resolve(%q) = %q, %v; want it unchanged", v, got, err)
		}
	}
	if n := e.fake.calls.Load(); n != 0 {
		t.Fatalf("calls = %d, want 0", n)
	}
	if n := e.lis.accepted.Load(); n != 0 {
		t.Fatalf("the client connected %d times for plain values", n)
	}
}

func TestNotFoundNamesVersion(t *testing.T) {
	e := start(t)
	const name = "projects/p/secrets/missing/versions/3"
	_, err := e.r.Resolve(ctx(t), "sm://"+name)
	if err == nil {
		t.Fatal("want an error")
	}
	if !strings.Contains(err.Error(), name) {
		t.Fatalf("error %q does not name %s", err, name)
	}
	if code := status.Code(err); code != codes.NotFound {
		t.Fatalf("status code = %v, want NotFound (err %v)", code, err)
	}
}

func TestChecksumMismatchRefused(t *testing.T) {
	e := start(t)
	const name = "projects/p/secrets/jwt/versions/2"
	const payload = "the-real-signing-secret-0123456789"
	bad := int64(crc32.Checksum([]byte(payload), crc32.MakeTable(crc32.Castagnoli))) + 1
	e.fake.mu.Lock()
	e.fake.payload[name] = &secretmanagerpb.SecretPayload{Data: []byte(payload), DataCrc32C: &bad}
	e.fake.mu.Unlock()

	got, err := e.r.Resolve(ctx(t), name)
	if err == nil {
		t.Fatalf("a payload with a wrong CRC32C was accepted: %q", got)
	}
	if !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), payload) {
		t.Fatalf("error %q must name the version and not contain the payload", err)
	}

	e.fake.put(name, payload, true) // the right checksum passes
	if got, err := e.r.Resolve(ctx(t), name); err != nil || got != payload {
		t.Fatalf("Resolve with a good checksum = %q, %v", got, err)
	}
}

func TestMalformedPrefixedReferenceFails(t *testing.T) {
	e := start(t)
	for _, v := range []string{"sm://", "sm://projects/p/secrets/s", "sm://my-secret"} {
		if !IsReference(v) {
			t.Errorf("IsReference(%q) = false", v)
		}
		if got, err := e.r.Resolve(ctx(t), v); err == nil {
			t.Errorf("Resolve(%q) = %q, want an error", v, got)
		}
	}
	if n := e.fake.calls.Load(); n != 0 {
		t.Fatalf("calls = %d, want 0", n)
	}
}

// TestNoCredentialsNeededWithoutReferences: with Application Default
// Credentials pointing nowhere, the resolver still starts and passes plain
// values; only an actual reference needs (and reports) credentials.
func TestNoCredentialsNeededWithoutReferences(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/does-not-exist.json")
	r, err := NewResolver(ctx(t))
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	defer r.Close()
	if got, err := r.Resolve(ctx(t), "plain"); err != nil || got != "plain" {
		t.Fatalf("Resolve(plain) = %q, %v", got, err)
	}
	const name = "projects/p/secrets/s/versions/1"
	if _, err := r.Resolve(ctx(t), name); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("Resolve(reference) without credentials: err = %v, want an error naming %s", err, name)
	}
}

func TestResolveAllAndEnv(t *testing.T) {
	e := start(t)
	e.fake.put("projects/p/secrets/a/versions/1", "A\n", true)
	e.fake.put("projects/p/secrets/b/versions/1", "B", true)

	x, y := "sm://projects/p/secrets/a/versions/1", "plain"
	if err := e.r.ResolveAll(ctx(t), &x, &y); err != nil || x != "A" || y != "plain" {
		t.Fatalf("ResolveAll: %q %q %v", x, y, err)
	}

	vars := map[string]string{
		"MONGODB_URI":  "projects/p/secrets/b/versions/1",
		"UNRELATED":    "projects/p/secrets/a/versions/1",
		"CAPSTONE_LOG": "debug",
	}
	getenv := func(k string) string { return vars[k] }
	env, err := e.r.Env(ctx(t), getenv, "MONGODB_URI", "CAPSTONE_JWT_SECRET")
	if err != nil {
		t.Fatal(err)
	}
	if env("MONGODB_URI") != "B" || env("CAPSTONE_JWT_SECRET") != "" || env("CAPSTONE_LOG") != "debug" ||
		env("UNRELATED") != vars["UNRELATED"] {
		t.Fatalf("Env gave %q %q %q %q", env("MONGODB_URI"), env("CAPSTONE_JWT_SECRET"), env("CAPSTONE_LOG"), env("UNRELATED"))
	}

	vars["MONGODB_URI"] = "sm://projects/p/secrets/nope/versions/1"
	if _, err := e.r.Env(ctx(t), getenv, "MONGODB_URI"); err == nil || !strings.Contains(err.Error(), "MONGODB_URI") {
		t.Fatalf("Env with a missing secret: err = %v, want one naming MONGODB_URI", err)
	}
}

func TestClosed(t *testing.T) {
	e := start(t)
	e.fake.put("projects/p/secrets/a/versions/1", "A", false)
	if _, err := e.r.Resolve(ctx(t), "projects/p/secrets/a/versions/1"); err != nil {
		t.Fatal(err)
	}
	if err := e.r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.Resolve(ctx(t), "projects/p/secrets/a/versions/1"); err == nil {
		t.Fatal("Resolve after Close succeeded")
	}
	if got, err := e.r.Resolve(ctx(t), "plain"); err != nil || got != "plain" {
		t.Fatalf("plain value after Close: %q, %v", got, err)
	}
	if err := e.r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestConcurrentResolve(t *testing.T) {
	e := start(t)
	e.fake.put("projects/p/secrets/a/versions/1", "A", true)
	c := ctx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if got, err := e.r.Resolve(c, "projects/p/secrets/a/versions/1"); err != nil || got != "A" {
				errs <- errors.Join(err, errors.New("got "+got))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
