package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/event"
)

// storeMetrics count the database commands a process sends: how many
// round trips each request, command and projected commit really costs is
// the first question when the service is slower than its store.
type storeMetrics struct {
	commands *prometheus.CounterVec
	failed   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newStoreMetrics(reg *prometheus.Registry) storeMetrics {
	s := storeMetrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capstone_store_commands_total",
			Help: "Database commands sent, by command name (find, insert, update, ...) and collection.",
		}, []string{"command", "collection"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capstone_store_command_failures_total",
			Help: "Database commands that failed (including expected ones such as duplicate keys), by command name.",
		}, []string{"command"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "capstone_store_command_duration_seconds",
			Help:    "Round-trip time of a database command, by command name.",
			Buckets: latencyBuckets,
		}, []string{"command"}),
	}
	reg.MustRegister(s.commands, s.failed, s.duration)
	return s
}

// StoreMonitor returns a driver command monitor that feeds the store
// metrics; give it to options.Client().SetMonitor. Handshakes and
// heartbeats are not commands the service chose and are not counted.
func (m *Metrics) StoreMonitor() *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if ignoredCommand(e.CommandName) {
				return
			}
			// The collection is the value of the command's first element
			// ({find: "projects", ...}); commands on the database have none.
			coll := ""
			if el, err := e.Command.IndexErr(0); err == nil {
				coll, _ = el.Value().StringValueOK()
			}
			m.store.commands.WithLabelValues(e.CommandName, coll).Inc()
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			if !ignoredCommand(e.CommandName) {
				m.store.duration.WithLabelValues(e.CommandName).Observe(e.Duration.Seconds())
			}
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			if !ignoredCommand(e.CommandName) {
				m.store.failed.WithLabelValues(e.CommandName).Inc()
				m.store.duration.WithLabelValues(e.CommandName).Observe(e.Duration.Seconds())
			}
		},
	}
}

func ignoredCommand(name string) bool {
	switch name {
	case "hello", "isMaster", "ismaster", "ping", "buildInfo", "saslStart", "saslContinue", "endSessions":
		return true
	}
	return false
}

// StoreTransaction counts a write the service makes in the embedded store
// other than by a driver command (a staged move, an emptying of a
// collection: a transaction of its own; imongo.CountStaged), under command
// name, beside the driver's commands, so the writes a request costs are
// all counted.
func (m *Metrics) StoreTransaction(name, collection string, d time.Duration, err error) {
	m.store.commands.WithLabelValues(name, collection).Inc()
	if err != nil {
		m.store.failed.WithLabelValues(name).Inc()
	}
	m.store.duration.WithLabelValues(name).Observe(d.Seconds())
}
