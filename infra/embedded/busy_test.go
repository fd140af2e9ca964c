package embedded

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// openBusy opens a connection pool to the SQLite file at path with
// FerretDB's busy_timeout pragma, which the store's handler replaces.
func openBusy(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// holdLock takes SQLite's write lock on db's file and returns the
// connection holding it, in its transaction.
func holdLock(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestBusyHandlerInstalled: a write that finds SQLite's lock taken waits in
// the store's busy handler (not SQLite's default, which sleeps for
// milliseconds at a time), goes once the lock is free, and gives up with
// SQLITE_BUSY after busyTimeout, as SQLite's own does. It fails if the
// driver no longer keeps its SQLite handle where setBusyHandler looks.
func TestBusyHandlerInstalled(t *testing.T) {
	installBusyHandler()
	path := filepath.Join(t.TempDir(), "busy.sqlite")
	holder, waiter := openBusy(t, path), openBusy(t, path)
	ctx := context.Background()
	if _, err := holder.ExecContext(ctx, "CREATE TABLE t (n INTEGER)"); err != nil {
		t.Fatal(err)
	}
	if _, err := waiter.ExecContext(ctx, "SELECT count(*) FROM t"); err != nil { // the waiter's connection is open
		t.Fatal(err)
	}
	if !busyHandlerInstalled() {
		t.Fatal("the connections opened without the store's busy handler")
	}

	conn := holdLock(t, holder)
	before := busyWaits.Load()
	done := make(chan error, 1)
	go func() {
		_, err := waiter.ExecContext(ctx, "INSERT INTO t VALUES (2)")
		done <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); busyWaits.Load() == before; {
		if time.Now().After(deadline) {
			t.Fatal("the waiting write never called the store's busy handler")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("the write went while the lock was held: %v", err)
	default:
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the waiting write failed once the lock was free: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting write did not go once the lock was free")
	}
	var n int
	if err := holder.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows (%v), want 2", n, err)
	}

	// A lock held past busyTimeout fails the write, as SQLite's handler does.
	old := busyTimeout
	busyTimeout = 30 * time.Millisecond
	t.Cleanup(func() { busyTimeout = old })
	conn = holdLock(t, holder)
	go func() {
		_, err := waiter.ExecContext(ctx, "INSERT INTO t VALUES (3)")
		done <- err
	}()
	select {
	case err := <-done:
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
			t.Fatalf("the write waited out busyTimeout with %v, want SQLITE_BUSY", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the write still waited 5 s after busyTimeout")
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}
