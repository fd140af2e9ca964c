package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/capstone-pms/capstone/infra/pubsub"
)

// pubsubSetup creates the Pub/Sub topics and subscriptions the service uses,
// or brings the settings of existing ones back, as an identity allowed to
// (whoever sets the project up). The processes then run with
// CAPSTONE_PUBSUB_CREATE=false and only check that their subscriptions
// exist, so that no running component can create, change or delete one.
// Run it again when a release adds a projection.
func pubsubSetup(ctx context.Context, args []string, stdout, stderr io.Writer, env func(string) string) error {
	fs := flag.NewFlagSet("pubsub-setup", flag.ContinueOnError)
	cfg, _ := pubsub.ConfigFromEnv(env)
	fs.StringVar(&cfg.ProjectID, "project", cfg.ProjectID, "Google Cloud project of the topics and subscriptions (env PUBSUB_PROJECT_ID or GOOGLE_CLOUD_PROJECT)")
	fs.StringVar(&cfg.EmulatorHost, "emulator", cfg.EmulatorHost, "host:port of a Pub/Sub emulator instead of Google Cloud (env PUBSUB_EMULATOR_HOST)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: capstone pubsub-setup [flags]\n\n"+
			"Creates the topic %s, its dead-letter topic and one subscription per projection, or brings their\n"+
			"settings back, with Application Default Credentials. Then run the service with CAPSTONE_PUBSUB_CREATE=false.\n\nFlags:\n",
			pubsub.CommitsTopic)
		fs.PrintDefaults()
	}
	if err := parseFlags(stdout, stderr, func(w io.Writer) error { fs.SetOutput(w); return fs.Parse(args) }); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if cfg.ProjectID == "" {
		return errors.New("pubsub-setup: no project: set PUBSUB_PROJECT_ID or --project")
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for _, g := range projectionGroups {
		if err := pubsub.EnsureSubscription(ctx, cfg, g); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "subscription %s: ready\n", pubsub.SubscriptionName(pubsub.CommitsTopic, g))
	}
	fmt.Fprintf(stdout, "Pub/Sub in project %s is set up: topics %s and %s%s, and the subscriptions above\n",
		cfg.ProjectID, pubsub.CommitsTopic, pubsub.CommitsTopic, pubsub.DeadLetterSuffix)
	return nil
}
