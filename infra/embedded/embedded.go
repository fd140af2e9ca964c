// Package embedded runs FerretDB in-process, backed by SQLite files, as the
// default local MongoDB-compatible store, so that a developer or a single-node
// deployment needs no external MongoDB server.
//
// Clients talk to it with the ordinary MongoDB driver through [Store.URI]; this
// package only starts and stops the server and repairs its indexing.
//
// # The _id index fix
//
// FerretDB v1.24's SQLite backend stores each collection as a table with one
// JSON column, _ferretdb_sjson, and creates its _id index on the expression
// _ferretdb_sjson->"_id". Its queries, however, filter on
// _ferretdb_sjson->'$._id' (metadata.IDColumn in FerretDB). SQLite only uses an
// expression index when the expressions are written identically, so every
// findOne/update/delete by _id scans the whole table. [Store.PrepareCollections]
// and [Store.FixIndexes] add a unique index on the exact expression the queries
// use, through a second SQLite connection to the same file. FerretDB does not
// know about that index: it is not listed by listIndexes, it survives
// dropIndexes, and it disappears with its table when the collection is dropped.
// A collection created implicitly (by a first insert) is not fixed until one of
// those methods is called for it.
//
// # Limits
//
// FerretDB's update command keeps the SQLite connection of each of its
// statements open until the whole command has finished, and it allows 100
// connections per database. So an update command with 100 or more statements
// (UpdateMany/UpdateOne/ReplaceOne take one; BulkWrite sends consecutive
// update models as one command) deadlocks, and so do concurrent update
// commands on one database whose statements add up to about 100 (two
// concurrent 60-statement bulk writes were measured to hang). The stuck command
// never releases its connections: the database then hangs for every client
// until the Store is closed. Callers must send updates in batches of well under
// 100 statements (say 50) and must not run such batches concurrently on the
// same database. Inserts and deletes are not affected.
//
// # Memory
//
// Each of FerretDB's SQLite connections keeps a page cache of its own, and
// FerretDB keeps every connection it opens: the caches are bounded to
// pageCacheKiB each, so that the store's memory stops growing once its
// connections are open rather than growing with the data.
package embedded

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", the one FerretDB uses too
)

const (
	// idExpr is the expression FerretDB's SQLite queries use for _id
	// (metadata.IDColumn); the index must use exactly this text to be used.
	idExpr = `_ferretdb_sjson->'$._id'`

	// idIndexSuffix names our index "<table>_id_expr". FerretDB names its own
	// indexes "<table>_<mongo index name>", so this only clashes with a Mongo
	// index named "id_expr", which we do not create.
	idIndexSuffix = "_id_expr"

	// namespaceExists is the MongoDB error code of create on an existing collection.
	namespaceExists = 48

	// startTimeout bounds the ping in Start when ctx has no earlier deadline.
	startTimeout = 10 * time.Second
)

// dbNameRe is FerretDB's rule for database names; checking it also keeps a
// name from escaping DataDir.
var dbNameRe = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,63}$`)

// Options configures the embedded store.
type Options struct {
	// DataDir is the directory for the SQLite files, one "<db>.sqlite" per
	// database; it is created if missing. It is made owner-only (0700, its
	// files 0600): it holds every password hash. Required.
	DataDir string
	// Addr, if set, serves on this TCP address instead of the Unix socket.
	// FerretDB has no authentication: whoever can connect reads and writes
	// everything, password hashes included. Leave it empty unless other
	// machines or containers must connect (the dev-store), and then keep it
	// on loopback or a private network.
	Addr string
	// ServiceAddr is the address of the API this process serves, if any. It
	// is noted in the data dir's lock, so that a second process refused the
	// data dir can say where the running service is.
	ServiceAddr string
	// Logger receives the store's messages; nil means slog.Default().
	// FerretDB gets a copy restricted to Error level, as it is noisy below.
	Logger *slog.Logger
}

// Store is a running in-process FerretDB server. Create it with [Start] and
// stop it with [Store.Close]. Its methods are safe for concurrent use.
type Store struct {
	dataDir string
	uri     string
	lock    *dirLock
	socket  string // the Unix socket's path ("" on TCP)
	sockDir string // a private directory made for the socket, if the data dir's path was too long
	log     *slog.Logger
	cancel  context.CancelFunc // stops FerretDB's Run
	done    chan struct{}      // closed when FerretDB's Run has returned
	client  *mongo.Client      // used by PrepareCollections

	mu     sync.Mutex
	closed bool
	dbs    map[string]*sql.DB // second SQLite connections, by database name

	gate *WriteGate
}

// WriteGate is the store's write gate: install its Monitor on every client
// of this process that writes (see WriteGate).
func (s *Store) WriteGate() *WriteGate { return s.gate }

// unusableInPath are the characters a data dir's path cannot hold. FerretDB
// finds its databases with a glob of the path (where * ? [ and \ are
// patterns: it would miss its own files, or list another directory's), and
// hands each file's path to SQLite inside a URI without escaping it (where
// ? and # end the path and % begins an escape): either way it opens files
// other than it means to, and the service fails to start.
const unusableInPath = `?#%*[\`

// UnusablePathError is Start's answer for a data dir whose path holds a
// character the store cannot open (unusableInPath). Nothing is created.
type UnusablePathError struct {
	Dir  string
	Char byte
}

func (e *UnusablePathError) Error() string {
	return fmt.Sprintf("embedded: the data dir %q has %q in its path, which the embedded store cannot open files under: choose a path without any of %s", e.Dir, e.Char, strings.Join(strings.Split(unusableInPath, ""), " "))
}

// Start starts FerretDB in-process and returns once it accepts connections.
// ctx bounds only the start-up (at most 10 s); the server runs until Close.
//
// By default the server listens on a Unix socket in the data dir, which only
// the data dir's owner can reach (the dir is 0700, the socket 0600): other
// users of the machine can neither connect nor read the files. Start takes
// the data dir's lock first (see LockedError), which also makes it safe to
// remove a socket left behind by a process that was killed.
//
// With a TCP port of 0 in Addr, the kernel picks a free port: FerretDB binds
// its listener synchronously in ferretdb.New, so the real address is known
// before Run starts and there is no race between picking and binding a port.
func Start(ctx context.Context, opts Options) (*Store, error) {
	if opts.DataDir == "" {
		return nil, errors.New("embedded: Options.DataDir is required")
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if i := strings.IndexAny(dir, unusableInPath); i >= 0 {
		return nil, &UnusablePathError{Dir: dir, Char: dir[i]}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ownerOnly(dir, logger)
	lock, err := lockDir(dir, Holder{PID: os.Getpid(), ServiceAddr: opts.ServiceAddr})
	if err != nil {
		return nil, err
	}
	s := &Store{dataDir: dir, lock: lock, log: logger, done: make(chan struct{}), dbs: map[string]*sql.DB{}, gate: NewWriteGate()}
	listener := ferretdb.ListenerConfig{TCP: opts.Addr}
	if opts.Addr == "" {
		if err := s.makeSocketPath(); err != nil {
			_ = lock.release()
			return nil, err
		}
		listener.Unix = s.socket
	}

	installBusyHandler() // before FerretDB opens its first connection
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listener,
		Logger:    slog.New(errorOnly{Handler: logger.With("component", "ferretdb").Handler()}),
		Handler:   "sqlite",
		SQLiteURL: sqliteURL(dir),
	})
	if err != nil {
		s.removeSocket()
		_ = lock.release()
		return nil, fmt.Errorf("embedded: start FerretDB: %w", err)
	}
	s.uri = f.MongoDBURI()
	if s.socket != "" {
		// The directory already keeps others out; the socket's own mode
		// says so too, whatever the umask was.
		if err := os.Chmod(s.socket, 0o600); err != nil {
			logger.Warn("embedded: cannot make the store's socket owner-only", "socket", s.socket, "err", err)
		}
		s.uri = SocketURI(s.socket)
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	go func() {
		defer close(s.done)
		_ = f.Run(runCtx) // always returns nil
	}()

	if s.client, err = mongo.Connect(options.Client().ApplyURI(s.uri)); err == nil {
		pingCtx, cancelPing := context.WithTimeout(ctx, startTimeout)
		err = s.client.Ping(pingCtx, readpref.Primary())
		cancelPing()
	}
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("embedded: FerretDB at %s not reachable: %w", s.uri, err)
	}
	logger.Info("embedded FerretDB started", "uri", s.uri, "dir", dir)
	return s, nil
}

// socketName is the Unix socket's name in the data dir. The driver takes a
// host ending in "sock" as a socket path.
const socketName = "store.sock"

// maxSocketPath is the longest socket path used in the data dir: sun_path
// holds 104 bytes on macOS (108 on Linux), terminator included.
const maxSocketPath = 100

// makeSocketPath picks the socket's path: in the data dir, or in an
// owner-only directory of its own (socketDir) when the data dir's path is
// too long for a socket or holds a colon (the driver, having unescaped the
// host, takes what follows the last colon for a port). A socket left in the
// data dir by a killed process is removed (the caller holds the lock, so no
// live process is listening on it).
func (s *Store) makeSocketPath() error {
	s.socket = filepath.Join(s.dataDir, socketName)
	if len(s.socket) > maxSocketPath || strings.Contains(s.socket, ":") {
		dir, err := socketDir(s.dataDir)
		if err != nil {
			return fmt.Errorf("embedded: %w", err)
		}
		s.sockDir, s.socket = dir, filepath.Join(dir, socketName)
	}
	if err := os.Remove(s.socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("embedded: remove a stale socket: %w", err)
	}
	return nil
}

// socketDir makes the directory of the socket of a data dir whose path
// cannot hold it, under the system's temporary directory and named after
// the data dir: a process killed with -9 leaves its directory behind, and
// the next start on the data dir (which holds its lock, so no live process
// uses the directory) removes it rather than leave one more in /tmp at
// every crash. A name it cannot take (another user's directory, a symlink)
// is left alone for a fresh one of MkdirTemp's: a process run as root,
// which may remove anything, must not empty the socket directory of
// another user's service whose data dir has the same path.
func socketDir(dataDir string) (string, error) {
	sum := sha256.Sum256([]byte(dataDir))
	dir := filepath.Join(os.TempDir(), "capstone-store-"+hex.EncodeToString(sum[:8]))
	if info, err := os.Lstat(dir); err == nil && info.IsDir() && ownedByMe(info) {
		_ = os.RemoveAll(dir) // another user's stays, and Mkdir refuses it below
	}
	if err := os.Mkdir(dir, 0o700); err == nil {
		return dir, nil
	}
	return os.MkdirTemp("", "capstone-store-") // 0700
}

func (s *Store) removeSocket() {
	if s.socket != "" {
		_ = os.Remove(s.socket)
	}
	if s.sockDir != "" {
		_ = os.RemoveAll(s.sockDir)
	}
}

// SocketURI is the connection string of a MongoDB server on the Unix socket
// at path: the path, escaped, in the host part. The driver reads the host
// back with a query's unescaping (a + is a space), and an @ or a , left
// as they are would end the user or the host: so every character but
// letters, digits and -_.~ is escaped, as a query's are.
func SocketURI(path string) string {
	return "mongodb://" + url.QueryEscape(path) + "/"
}

// ownerOnly makes dir 0700 and its files 0600 where they are more open, so
// that another user of the machine can read neither the SQLite files (with
// every password hash) nor the generated secrets, even in a data dir made
// before this was enforced. A directory the process may not chmod (e.g. a
// volume owned by root with a group for the process) is only warned about.
func ownerOnly(dir string, log *slog.Logger) {
	tighten := func(path string, mode os.FileMode) {
		info, err := os.Lstat(path)
		if err != nil || info.Mode().Perm()&0o077 == 0 || info.Mode()&os.ModeSymlink != 0 {
			return
		}
		if err := os.Chmod(path, mode); err != nil {
			log.Warn("embedded: the data dir is readable by other users and cannot be made owner-only", "path", path, "err", err)
		}
	}
	tighten(dir, 0o700)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Type().IsRegular() {
			tighten(filepath.Join(dir, e.Name()), 0o600)
		}
	}
}

// URI returns the connection string to give to mongo.Connect: the Unix
// socket's (mongodb://%2F...%2Fstore.sock/), or mongodb://HOST:PORT/ with
// Options.Addr.
func (s *Store) URI() string { return s.uri }

// Close stops FerretDB, waits until it has closed its connections and SQLite
// files, and closes the store's own connections, so that the files can be
// reopened or copied. It is idempotent. FerretDB gives clients still connected
// 3 seconds to disconnect: disconnect them first for a fast Close.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true

	var errs []error
	if s.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, s.client.Disconnect(ctx))
		cancel()
	}
	s.cancel()
	<-s.done
	for _, db := range s.dbs {
		errs = append(errs, db.Close())
	}
	s.dbs = nil
	s.removeSocket()
	errs = append(errs, s.lock.release())
	return errors.Join(errs...)
}

// PrepareCollections creates each named collection in database db if it does
// not exist yet, then applies the _id index fix to each of them. Call it at
// start-up and whenever a new collection is created (e.g. a rebuild target),
// so that no collection is left with full-scan _id lookups. It is idempotent
// and safe to call concurrently.
func (s *Store) PrepareCollections(ctx context.Context, db string, names ...string) error {
	for _, name := range names {
		err := s.client.Database(db).CreateCollection(ctx, name)
		var se mongo.ServerError
		if err != nil && !(errors.As(err, &se) && se.HasErrorCode(namespaceExists)) {
			return fmt.Errorf("embedded: create %s.%s: %w", db, name, err)
		}
	}
	if len(names) == 0 {
		return nil
	}
	err := s.fixIndexes(ctx, db, names)
	ownerOnly(s.dataDir, s.log) // the database's file may be new
	return err
}

// FixIndexes applies the _id index fix to every collection of database db,
// including those created implicitly or by other clients. It is idempotent;
// a database that does not exist yet has nothing to fix.
func (s *Store) FixIndexes(ctx context.Context, db string) error {
	return s.fixIndexes(ctx, db, nil)
}

// fixIndexes creates the _id index on the tables of the named collections of
// db, or of all its collections if names is nil.
func (s *Store) fixIndexes(ctx context.Context, db string, names []string) error {
	conn, err := s.sqlite(db, names != nil)
	if err != nil || conn == nil {
		return err
	}

	tables, err := tableNames(ctx, conn)
	if err != nil {
		return fmt.Errorf("embedded: list collections of %s: %w", db, err)
	}
	if names == nil {
		for name := range tables {
			names = append(names, name)
		}
	}
	for _, name := range names {
		table, ok := tables[name]
		if !ok {
			return fmt.Errorf("embedded: collection %s.%s has no table", db, name)
		}
		q := fmt.Sprintf("CREATE UNIQUE INDEX IF NOT EXISTS %s ON %s (%s)",
			quoteIdent(table+idIndexSuffix), quoteIdent(table), idExpr)
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("embedded: index %s.%s: %w", db, name, err)
		}
	}
	return nil
}

// tableNames maps the collections of a database to their tables, from
// _ferretdb_collections (name, table_name, settings); see FerretDB's
// sqlite/metadata registry.
func tableNames(ctx context.Context, conn *sql.DB) (map[string]string, error) {
	tables := map[string]string{}
	rows, err := conn.QueryContext(ctx, `SELECT name, table_name FROM _ferretdb_collections`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			rows.Close()
			return nil, err
		}
		tables[name] = table
	}
	return tables, errors.Join(rows.Err(), rows.Close())
}

// sqlite returns the store's own connection to database db's file, opening it
// on first use. If the file does not exist, it returns nil, or an error if
// mustExist. It never creates the file: only FerretDB may create databases.
func (s *Store) sqlite(db string, mustExist bool) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("embedded: store is closed")
	}
	if conn := s.dbs[db]; conn != nil {
		return conn, nil
	}
	if !dbNameRe.MatchString(db) {
		return nil, fmt.Errorf("embedded: invalid database name %q", db)
	}
	path := filepath.Join(s.dataDir, db+".sqlite")
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) && !mustExist {
			return nil, nil
		}
		return nil, fmt.Errorf("embedded: %w", err)
	}
	// FerretDB keeps the file open and writes to it concurrently: wait for
	// its locks instead of failing with SQLITE_BUSY. A transaction takes
	// the write lock as it begins (ApplyStaged reads, then writes: begun
	// deferred, it could not wait for the lock once another write ended
	// its snapshot).
	// Its page cache is bounded as FerretDB's are (pageCacheKiB), and one
	// connection is enough: its statements run one at a time, under the
	// write gate or at start-up.
	q := fmt.Sprintf("mode=rw&_pragma=busy_timeout(10000)&_pragma=cache_size(-%d)&_txlock=immediate", pageCacheKiB)
	dsn := (&url.URL{Scheme: "file", Path: path, RawQuery: q}).String()
	conn, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("embedded: open %s: %w", path, err)
	}
	conn.SetMaxOpenConns(1)
	s.dbs[db] = conn
	return conn, nil
}

// pageCacheKiB bounds each SQLite connection's page cache (SQLite's default
// is 2,000 KiB). FerretDB keeps every connection it opened, up to 100 per
// database, each with its own cache, and the allocator under SQLite rounds a
// cached page up to twice its size: on a store larger than the caches, the
// dozen or two connections of a busy process held 4 MiB each, so resident
// memory grew with the data for as long as it did. Lookups by _id read
// little besides the indexes' upper pages, which stay cached; the rest comes
// from the kernel's file cache, shared by all. At 512 KiB, the 15 to 20
// connections of a service that had served 64 clients held some 13 MiB
// between them, at 128 KiB some 10 MiB.
const pageCacheKiB = 128

// sqliteURL is FerretDB's SQLite URL for a data dir: each connection opened
// runs the pragmas given. temp_store(memory) keeps each statement's journal
// (FerretDB's inserts are statements of up to 100 documents inside a
// transaction) in memory in small pieces: at SQLite's default, each began
// with a 64 KiB buffer that the allocator under SQLite maps from the kernel
// and unmaps again, some 3 to 7% of the service's CPU in an import.
func sqliteURL(dir string) string {
	q := url.Values{"_pragma": {fmt.Sprintf("cache_size(-%d)", pageCacheKiB), "temp_store(memory)"}}
	return (&url.URL{Scheme: "file", Path: dir + "/", RawQuery: q.Encode()}).String()
}

// quoteIdent quotes an SQLite identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// errorOnly is a slog.Handler that drops records below Error level, to keep
// FerretDB's chatty Info/Debug/Warn messages out of the application's logs.
//
// FerretDB derives a logger with the statement's arguments (whole
// documents) twice for every SQL statement it runs, only to log it at
// Debug. Formatting those attributes cost more CPU than a statement's
// SQLite work on a bulk insert, so they are kept aside as given and
// applied only to a record that is logged.
type errorOnly struct {
	slog.Handler
	derive []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
}

func (h errorOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError && h.Handler.Enabled(ctx, l)
}

func (h errorOnly) Handle(ctx context.Context, r slog.Record) error {
	inner := h.Handler
	for _, d := range h.derive {
		inner = d(inner)
	}
	return inner.Handle(ctx, r)
}

func (h errorOnly) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.then(func(inner slog.Handler) slog.Handler { return inner.WithAttrs(attrs) })
}

func (h errorOnly) WithGroup(name string) slog.Handler {
	return h.then(func(inner slog.Handler) slog.Handler { return inner.WithGroup(name) })
}

func (h errorOnly) then(d func(slog.Handler) slog.Handler) slog.Handler {
	return errorOnly{Handler: h.Handler, derive: append(slices.Clip(h.derive), d)}
}
