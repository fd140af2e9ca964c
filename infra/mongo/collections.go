package mongo

import (
	"github.com/capstone-pms/capstone/infra/outbox"
	"github.com/capstone-pms/capstone/projections"
)

// Collections are every collection the service uses; the embedded store
// creates and indexes them at start-up. Each projection's read model is
// one of them by its name, so that a new projection is never left to be
// created by its first write, in the middle of a cohort's first import.
func Collections() []string {
	return append([]string{CollRevisionTokens, CollProjectionStatus, outbox.Collection, outbox.LogCollection, outbox.LeaseCollection, outbox.MarksCollection,
		CollReadModelNames, CollRebuildCatchUps, CollStaging, CollEvents, CollSnapshots, CollCredentials, CollIdempotency, CollPasswordTokens, CollSessions, CollSettings},
		projections.Names()...)
}
