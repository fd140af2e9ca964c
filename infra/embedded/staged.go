package embedded

import (
	"context"
	"database/sql"
	"fmt"
)

// FerretDB runs each statement of an update command as a transaction of
// its own, with its own fsync: replacing a cohort's 5,000 documents took
// 5,000 of them, seconds on end, while one insert command stores a
// hundred documents a transaction. ApplyStaged lets a caller have both:
// it inserts the new versions of the documents into a staging collection
// through FerretDB (which encodes them as it encodes every document),
// then moves them over the old ones here, in one transaction.

// ApplyStaged moves every document of collection staging into collection
// target, both of database db, in one SQLite transaction: each document
// replaces the target's document with the same _id, or is added if there is
// none, and staging is left empty. Readers see all of them or none. It
// holds the write gate meanwhile, so FerretDB's writers wait there.
func (s *Store) ApplyStaged(ctx context.Context, db, staging, target string) error {
	return s.inTransaction(ctx, db, func(tx *sql.Tx, tables map[string]string) error {
		st, err := tableOf(tables, db, staging)
		if err != nil {
			return err
		}
		t, err := tableOf(tables, db, target)
		if err != nil {
			return err
		}
		// One upsert: each staged document is inserted, or replaces the
		// document whose _id it has (the one row a uniqueness conflict can
		// name: both unique indexes of a table, FerretDB's and the _id
		// index fix's, are on _id). Found by index, where an UPDATE of the
		// documents present and an INSERT of the others went over the
		// staged ones twice: 1,000 documents, staging included, took 54-59
		// ms instead of 64-73 (BenchmarkStoreMany). (WHERE true tells
		// SQLite's parser that ON CONFLICT is not a join's ON.)
		statements := []string{
			fmt.Sprintf(`INSERT INTO %[1]s (_ferretdb_sjson) SELECT s._ferretdb_sjson FROM %[2]s AS s WHERE true ON CONFLICT DO UPDATE SET _ferretdb_sjson = excluded._ferretdb_sjson`, t, st),
			fmt.Sprintf(`DELETE FROM %s`, st),
		}
		for _, q := range statements {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("embedded: move %s.%s to %s: %w", db, staging, target, err)
			}
		}
		return nil
	})
}

// EmptyCollection deletes every document of collection name of database db
// (what a staging collection holds after a failed attempt), holding the
// write gate.
func (s *Store) EmptyCollection(ctx context.Context, db, name string) error {
	return s.inTransaction(ctx, db, func(tx *sql.Tx, tables map[string]string) error {
		table, err := tableOf(tables, db, name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table); err != nil {
			return fmt.Errorf("embedded: empty %s.%s: %w", db, name, err)
		}
		return nil
	})
}

// inTransaction runs fn in a transaction of the store's own connection to
// database db, holding the write gate, with the tables of db's collections.
func (s *Store) inTransaction(ctx context.Context, db string, fn func(tx *sql.Tx, tables map[string]string) error) error {
	conn, err := s.sqlite(db, true)
	if err != nil {
		return err
	}
	release, err := s.gate.Hold(ctx)
	if err != nil {
		return err
	}
	defer release()
	// Read under the gate: a collection created or dropped meanwhile goes
	// through the gate too.
	tables, err := tableNames(ctx, conn)
	if err != nil {
		return fmt.Errorf("embedded: list collections of %s: %w", db, err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("embedded: begin on %s: %w", db, err)
	}
	if err := fn(tx, tables); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("embedded: commit on %s: %w", db, err)
	}
	return nil
}

// tableOf returns the quoted table of collection name of db.
func tableOf(tables map[string]string, db, name string) (string, error) {
	table, ok := tables[name]
	if !ok {
		return "", fmt.Errorf("embedded: collection %s.%s has no table", db, name)
	}
	return quoteIdent(table), nil
}
