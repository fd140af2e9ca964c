// Package secrets turns settings that name a Google Secret Manager secret
// version into the secret itself, once, at start-up.
//
// A Deployment in GKE then keeps only references in its environment (for
// example MONGODB_URI=sm://projects/p/secrets/mongodb-uri/versions/latest),
// never the passwords themselves, and the same binary run locally with plain
// values (or none) never talks to Google at all: the client is created on the
// first reference, so a process without references needs no credentials.
//
// Errors name the secret version that failed but never carry a payload, so
// they are safe to log.
package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"strings"
	"sync"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
)

// Prefix marks a value as a Secret Manager reference beyond doubt. Without it
// a value is a reference only when it is exactly a version's resource name.
const Prefix = "sm://"

// versionName is a secret version's resource name. Regional secrets
// (projects/P/locations/L/...) need a regional endpoint and are not matched.
var versionName = regexp.MustCompile(`^projects/[^/\s]+/secrets/[A-Za-z0-9_-]{1,255}/versions/[^/\s]+$`)

// IsReference reports whether Resolve would fetch value from Secret Manager:
// it is "projects/P/secrets/S/versions/V", or starts with "sm://". A value
// with the prefix but not a valid name after it is still a reference (its
// Resolve fails), so a typo in a reference is reported rather than used as
// the secret itself.
func IsReference(value string) bool {
	return strings.HasPrefix(value, Prefix) || versionName.MatchString(value)
}

// crc32c is the checksum Secret Manager reports for a payload.
var crc32c = crc32.MakeTable(crc32.Castagnoli)

// Resolver resolves references through one Secret Manager client, created
// on the first reference and kept until Close. It is safe for concurrent use.
type Resolver struct {
	opts []option.ClientOption

	mu     sync.Mutex
	client *secretmanager.Client
	closed bool
}

// NewResolver returns a Resolver whose client, when one is needed, is built
// with opts (none in production: Application Default Credentials, such as the
// GKE workload identity). It does not connect, so it fails only on a bad
// option, and a process whose settings hold no reference needs neither
// credentials nor network.
func NewResolver(ctx context.Context, opts ...option.ClientOption) (*Resolver, error) {
	_ = ctx // kept for symmetry with the client constructors; nothing is dialled here
	return &Resolver{opts: append([]option.ClientOption(nil), opts...)}, nil
}

// Resolve returns value unchanged unless IsReference(value), in which case it
// returns the payload of the secret version it names, with one trailing
// newline ("\n" or "\r\n") removed, since secrets created with
// `echo ... | gcloud secrets versions add` end with one. The payload's CRC32C,
// when the service reports one, is checked so that a corrupted secret is
// refused instead of used.
func (r *Resolver) Resolve(ctx context.Context, value string) (string, error) {
	if !IsReference(value) {
		return value, nil
	}
	name := strings.TrimPrefix(value, Prefix)
	if !versionName.MatchString(name) {
		return "", fmt.Errorf("secret reference %q: want %sprojects/PROJECT/secrets/SECRET/versions/VERSION", value, Prefix)
	}
	client, err := r.connect(ctx)
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	resp, err := client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	data := resp.GetPayload().GetData()
	if sum := resp.GetPayload().DataCrc32C; sum != nil && int64(crc32.Checksum(data, crc32c)) != *sum {
		return "", fmt.Errorf("secret %s: payload checksum mismatch (corrupted in transit or storage)", name)
	}
	switch {
	case bytes.HasSuffix(data, []byte("\r\n")):
		data = data[:len(data)-2]
	case bytes.HasSuffix(data, []byte("\n")):
		data = data[:len(data)-1]
	}
	return string(data), nil
}

// ResolveAll resolves each of fields in place (for example the secret fields
// of a parsed config), stopping at the first error; a field that is not a
// reference is left as it is.
func (r *Resolver) ResolveAll(ctx context.Context, fields ...*string) error {
	for _, f := range fields {
		v, err := r.Resolve(ctx, *f)
		if err != nil {
			return err
		}
		*f = v
	}
	return nil
}

// Env resolves the variables keys of getenv (such as MONGODB_URI or
// MONGO_CREDS) and returns a lookup that answers them with the resolved
// values and every other variable from getenv, to hand to a config parser
// that takes an env function. Only the listed keys are resolved, so an
// unrelated variable that happens to look like a reference is left alone.
func (r *Resolver) Env(ctx context.Context, getenv func(string) string, keys ...string) (func(string) string, error) {
	resolved := make(map[string]string, len(keys))
	for _, k := range keys {
		v, err := r.Resolve(ctx, getenv(k))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		resolved[k] = v
	}
	return func(k string) string {
		if v, ok := resolved[k]; ok {
			return v
		}
		return getenv(k)
	}, nil
}

// Close releases the client, if one was created. Resolving a reference after
// Close fails; plain values still pass through.
func (r *Resolver) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.client == nil {
		return nil
	}
	err := r.client.Close()
	r.client = nil
	return err
}

// connect creates the client on first use. The client outlives the request
// that created it, so it is not bound to ctx's cancellation.
func (r *Resolver) connect(ctx context.Context) (*secretmanager.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("secrets resolver is closed")
	}
	if r.client == nil {
		c, err := secretmanager.NewClient(context.WithoutCancel(ctx), r.opts...)
		if err != nil {
			return nil, fmt.Errorf("connect to Secret Manager: %w", err)
		}
		r.client = c
	}
	return r.client, nil
}
