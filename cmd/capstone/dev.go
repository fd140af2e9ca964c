package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"

	"github.com/capstone-pms/capstone/infra/config"
	"github.com/capstone-pms/capstone/infra/embedded"
	"github.com/capstone-pms/capstone/infra/pubsub"
)

// pubsubEmulator serves Google's Pub/Sub fake (pstest) over gRPC until
// interrupted, for running API, relay and projectors as separate processes.
func pubsubEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pubsub-emulator", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "gRPC listen address; the default picks a free loopback port, not the 8085 of a real emulator (processes use PUBSUB_EMULATOR_HOST=<addr>)")
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
// several processes can share it (each given MONGODB_URI). By default it
// listens on a Unix socket in its data dir that only this user can reach;
// on TCP it has no authentication at all, so it says so loudly and keeps to
// loopback unless told otherwise (a container network, for trying out).
func devStore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev-store", flag.ContinueOnError)
	addr := fs.String("addr", "", "TCP listen address (host:port); empty: a Unix socket in --data-dir that only this user can reach")
	remote := config.Bool(fs, "allow-remote", false, "allow a --addr that is not loopback (e.g. a local cluster's network; never a shared or public one)")
	dir := fs.String("data-dir", "./data", "directory of the SQLite files")
	db := fs.String("database", "capstone", "database whose collections are prepared (CAPSTONE_DATABASE of the processes)")
	if err := parseFlags(stdout, stderr, func(w io.Writer) error { fs.SetOutput(w); return fs.Parse(args) }); err != nil {
		return err
	}
	if *addr != "" {
		if err := checkDevStoreAddr(*addr, *remote); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "WARNING: dev-store on TCP %s has NO AUTHENTICATION: whoever can connect reads and changes everything, "+
			"password hashes included. For development only; without --addr it listens on a Unix socket only you can reach.\n", *addr)
	}
	st, err := embedded.Start(ctx, embedded.Options{DataDir: *dir, Addr: *addr})
	if err != nil {
		return dataDirInUse(err, nil)
	}
	defer st.Close()
	// Index every collection the service uses, now and (for rebuild targets)
	// whenever asked again by a restart of this command.
	if err := st.PrepareCollections(ctx, *db, embeddedCollections()...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "embedded store ready; give the processes MONGODB_URI=%s\n", st.URI())
	<-ctx.Done()
	return nil
}

// checkDevStoreAddr keeps the unauthenticated store on loopback unless
// allowRemote says the network is the caller's own.
func checkDevStoreAddr(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want host:port", addr)
	}
	ip := net.ParseIP(host)
	if host == "localhost" || ip != nil && ip.IsLoopback() || allowRemote {
		return nil
	}
	return fmt.Errorf("--addr %s is not loopback: the store has no authentication, so anyone on that network could read every password hash; "+
		"use a loopback address, or --allow-remote on a network that is yours alone", addr)
}
