package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/capstone-pms/capstone/infra/embedded"
	"github.com/capstone-pms/capstone/infra/pubsub"
)

// pubsubEmulator serves Google's Pub/Sub fake (pstest) over gRPC until
// interrupted, for running API, relay and projectors as separate processes.
func pubsubEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pubsub-emulator", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8085", "gRPC listen address (processes use PUBSUB_EMULATOR_HOST=<addr>)")
	if err := parseFlags(stdout, stderr, func(w io.Writer) error { fs.SetOutput(w); return fs.Parse(args) }); err != nil {
		return err
	}
	em, err := pubsub.StartEmulator(*addr)
	if err != nil {
		return err
	}
	defer em.Close()
	fmt.Fprintf(stdout, "Pub/Sub emulator on %s: export PUBSUB_EMULATOR_HOST=%s PUBSUB_PROJECT_ID=capstone-local\n", em.Addr(), em.Addr())
	<-ctx.Done()
	return nil
}

// devStore serves the embedded MongoDB-compatible store on its own, so
// several processes can share it (each given MONGODB_URI).
func devStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev-store", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:27017", "listen address (loopback unless you mean it)")
	dir := fs.String("data-dir", "./data", "directory of the SQLite files")
	db := fs.String("database", "capstone", "database whose collections are prepared (CAPSTONE_DATABASE of the processes)")
	if err := parseFlags(stdout, stderr, func(w io.Writer) error { fs.SetOutput(w); return fs.Parse(args) }); err != nil {
		return err
	}
	st, err := embedded.Start(ctx, embedded.Options{DataDir: *dir, Addr: *addr})
	if err != nil {
		return err
	}
	defer st.Close()
	// Index every collection the service uses, now and (for rebuild targets)
	// whenever asked again by a restart of this command.
	if err := st.PrepareCollections(ctx, *db, collections...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "embedded store on %s: export MONGODB_URI=%s\n", *addr, st.URI())
	<-ctx.Done()
	return nil
}
