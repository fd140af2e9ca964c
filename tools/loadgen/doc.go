// Package loadgen drives a running Capstone service over HTTP with a
// realistic mix of requests from concurrent clients and reports throughput,
// latency percentiles per operation, errors by status and the projection lag;
// optionally it measures the same store with the raw MongoDB driver, so that
// each report puts the service next to the database work it cannot avoid.
//
// # What a run does
//
// Setup (not measured): sign in as the coordinator given in [Options]; create,
// with e-mails unique to the run, [Options.Supervisors] supervisors with a
// capacity and one student per client, each with a random password; sign
// each in; give each student one draft project of its own and one proposal
// submitted to a supervisor (so decisions have something to decide from the
// start).
//
// Measured phase: each client is one student and loops, picking an operation
// by the weights of [Options.Mix] (see [DefaultMix]): list supervisors, GET its
// own project, list projects, PATCH its own project (with If-Match), create a
// project submitted to a random supervisor, have a supervisor decide the
// oldest waiting proposal (reject mostly, accept with [Options.AcceptRate]; a
// 409 capacity-reached or student-already-placed is an expected outcome, not
// an error, as is a proposal's 409 too-many-open-projects against a service
// whose limit the run reaches), or sign in again. It stops after
// [Options.Duration], or after [Options.Count] operations in all.
//
// Projection lag: one write in [Options.LagEvery] is handed to a poller (there
// are max(2, Clients/8); if none is idle, the sample is skipped and counted),
// which GETs the resource without min_version until the answer's "version"
// reaches the write's, and records the time from the write's response to
// that GET's response. It polls every 5 ms, or every 10% of the lag so far
// once that is longer, so that a backlog of seconds is measured to about 10%
// without the pollers adding a client's worth of GETs each; the resolution
// is one GET plus that interval. A write not seen within a minute is a
// timeout. The pollers' GETs are counted apart (LagStats.Polls), not as
// operations. After the measured phase, the run waits until every client's
// last write shows (LagStats.Drain): the backlog the phase left.
//
// Baseline (with [Options.MongoURI]): as many goroutines as clients run
// InsertOne of a ~300-byte document, then FindOne by _id on a prefilled
// scratch collection "bench_raw" in the service's database, each for
// [Options.BaselineDuration]; the collection is dropped afterwards.
//
// Then, as many goroutines GET /healthz (no database, no authentication)
// for as long: the HTTP floor under every request. "get-project/http+findOne"
// compares a GET with that floor plus findOne (their mean latencies added,
// since client, server and store share the cores): the service's own cost.
//
// Ratios compare the service with the raw driver at the same concurrency, as
// throughputs by Little's law (clients / mean latency): "get-project/findOne"
// is (clients / mean GET-project latency) / (clients / mean findOne latency),
// and "write-commands/insertOne" does the same for PATCH, create+submit and
// decisions together (each one also has its own ratio). 1.0 means as fast as
// the database alone; the service's figures are measured under the whole mix.
//
// Cleanup: the users a run created are deleted at the end (best effort, also
// after a failure), unless [Options.KeepUsers]; their projects remain in the
// history, as everything does.
package loadgen
