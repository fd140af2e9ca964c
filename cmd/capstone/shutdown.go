package main

import "time"

// shutdownTimeout bounds everything `capstone serve` does after SIGTERM:
// draining the HTTP requests in flight, stopping the projectors and the
// relay, closing the bus and the store. Kubernetes sends SIGTERM once a
// pod's preStop hook ends and kills the process terminationGracePeriodSeconds
// after the pod began terminating, so every Deployment in deploy/k8s gives
// preStop + shutdownTimeout + a margin; the deploy tests read this constant
// from this file and fail when the manifests do not leave that room.
const shutdownTimeout = 20 * time.Second
