package mongo

import (
	"github.com/capstone-pms/capstone/infra/outbox"
	"github.com/capstone-pms/capstone/projections"
)

// Collections are every collection the service uses; the embedded store
// creates and indexes them at start-up.
func Collections() []string {
	return []string{CollRevisionTokens, CollProjectionStatus, outbox.Collection, outbox.LogCollection, outbox.LeaseCollection,
		CollReadModelNames, CollRebuildCatchUps, CollStaging, CollEvents, CollSnapshots, CollCredentials, CollIdempotency, CollPasswordTokens, CollSessions, CollSettings,
		projections.CollUsers, projections.CollProjects, projections.CollSupervisors, projections.CollStudents, projections.CollEmails}
}
