package embedded

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The busy handler of the store's SQLite connections.
//
// SQLite lets one connection write at a time. A connection that finds the
// write lock taken calls its busy handler and tries again when it returns.
// FerretDB gives its connections SQLite's default handler (busy_timeout),
// which sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries: a writer that
// finds the lock held by a transaction of a millisecond or two sleeps past
// its end, and the lock stays unused meanwhile. The write gate lets two
// inserts into FerretDB at once (WriteGate), so the second often finds the
// first's transaction still running: it tries again every busyPoll for the
// first busyPolls tries, then every millisecond, and gives up (SQLITE_BUSY,
// as SQLite's own handler does) after busyTimeout.
//
// SQLite takes a busy handler only through its C API, which the database/sql
// driver does not expose: the handler is set when each connection opens (the
// driver's connection hook), on the SQLite handle the driver keeps in an
// unexported field, read by reflection. The driver's version is pinned in
// go.mod, and TestBusyHandlerInstalled fails if a new one keeps its handle
// elsewhere; the store then still works, with SQLite's default handler
// (busyHandlerInstalled says which).

const (
	busyPoll  = 50 * time.Microsecond
	busyPolls = 200 // busyPoll apart: the first 10 ms
)

// busyTimeout is how long a write waits for SQLite's lock before it fails:
// FerretDB's busy_timeout (a variable for tests).
var busyTimeout = 10 * time.Second

// busyWaits counts the tries that found the lock taken (for tests).
var busyWaits atomic.Int64

// busyWait is the busy handler: count is the number of times it has been
// called for this wait; it returns 1 to try again, 0 to give up.
func busyWait(_ *libc.TLS, _ uintptr, count int32) int32 {
	busyWaits.Add(1)
	switch {
	case count < busyPolls:
		time.Sleep(busyPoll)
	case time.Duration(count-busyPolls)*time.Millisecond+busyPolls*busyPoll < busyTimeout:
		time.Sleep(time.Millisecond)
	default:
		return 0
	}
	return 1
}

// busyWaitC is busyWait as the C function pointer SQLite calls: the address
// of the function value of a function declaration, which does not move.
var busyWaitC = *(*uintptr)(unsafe.Pointer(&struct {
	f func(*libc.TLS, uintptr, int32) int32
}{busyWait}))

var (
	busyHookOnce sync.Once
	busyHandled  atomic.Bool // a connection has had busyWait set
	busyMissed   atomic.Bool // a connection's handle could not be found
)

// installBusyHandler makes every SQLite connection the process opens from
// now on use busyWait (once per process: the hook is the driver's, not a
// store's).
func installBusyHandler() {
	busyHookOnce.Do(func() { sqlite.RegisterConnectionHook(setBusyHandler) })
}

// busyHandlerInstalled reports whether the connections opened so far use
// the store's busy handler (false if none has opened, or if the driver
// keeps its SQLite handle where setBusyHandler does not look).
func busyHandlerInstalled() bool { return busyHandled.Load() && !busyMissed.Load() }

var tlsType = reflect.TypeFor[*libc.TLS]()

// setBusyHandler is the driver's connection hook: it runs once the
// connection is set up (after its pragmas, so it replaces busy_timeout's
// handler).
func setBusyHandler(c sqlite.ExecQuerierContext, _ string) error {
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		busyMissed.Store(true)
		return nil
	}
	db, tls := v.Elem().FieldByName("db"), v.Elem().FieldByName("tls")
	if db.Kind() != reflect.Uintptr || !tls.IsValid() || tls.Type() != tlsType || db.Uint() == 0 || tls.IsNil() {
		busyMissed.Store(true)
		return nil
	}
	sqlite3.Xsqlite3_busy_handler((*libc.TLS)(tls.UnsafePointer()), uintptr(db.Uint()), busyWaitC, 0)
	busyHandled.Store(true)
	return nil
}
