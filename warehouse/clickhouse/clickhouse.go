// Package clickhouse is the warehouse in ClickHouse (18.16 and current
// releases): migrations, Arrow batches landed through typed columnar inserts,
// point-in-time reads of the raw tables, partitions published by as-of date.
package clickhouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/tessera-cdp/tessera/config"
	tsql "github.com/tessera-cdp/tessera/sql"
	"github.com/tessera-cdp/tessera/warehouse"
)

// DB is a connection to the warehouse database.
type DB struct {
	conn driver.Conn
	db   string
	// Backoff: how long to wait before each new attempt of a write that
	// must land although the server restarts (the record of a run).
	Backoff []time.Duration

	mu    sync.Mutex
	types map[string]map[string]string // column types by table, read once

	cluster *cluster // nil: one server

	owners owners // the customer of each order landed or listed (owners.go)
	byHash *bool  // orders and lines sorted by customer_hash (nil: not read yet)
}

// Open connects and checks that the server answers.
func Open(ctx context.Context, c config.ClickHouse) (*DB, error) {
	opts := &chgo.Options{
		Addr:        []string{c.Addr},
		Auth:        chgo.Auth{Database: "default", Username: c.User, Password: c.Password},
		DialTimeout: c.DialTimeout,
		// 18.16 rejects settings it does not know; send none by default.
		Compression: &chgo.Compression{Method: compression(c.Compression)},
		// A part being written holds a connection until it closes (publish
		// writes three at once) beside reads and the lock's renewals.
		MaxOpenConns:    8,
		ConnMaxLifetime: time.Hour,
	}
	if c.Secure {
		t, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		opts.TLS = t
	}
	if c.Cluster != "" {
		// Inserts land on every shard before they return.
		opts.Settings = chgo.Settings{"insert_distributed_sync": 1}
	}
	conn, err := chgo.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse %s: %w", c.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		var unknownCA x509.UnknownAuthorityError
		switch {
		case c.Secure && errors.As(err, &unknownCA):
			return nil, fmt.Errorf("clickhouse %s does not answer: %w; set clickhouse.ca_file to the CA that signed the server's certificate", c.Addr, err)
		case c.Secure && strings.Contains(err.Error(), "does not look like a TLS handshake"):
			return nil, fmt.Errorf("clickhouse %s does not answer: %w; that port does not speak TLS: with clickhouse.secure, clickhouse.addr needs the secure native port (9440)", c.Addr, err)
		case !c.Secure && speaksTLS(c.Addr, c.DialTimeout):
			return nil, fmt.Errorf("clickhouse %s does not answer: %w; that port speaks TLS: set clickhouse.secure: true (and clickhouse.ca_file unless the system trusts its certificate)", c.Addr, err)
		case answersHTTP(c.Addr, c.DialTimeout):
			return nil, fmt.Errorf("clickhouse %s does not answer: %w; that port speaks HTTP: clickhouse.addr needs the native protocol's port (9000, or 9440 with clickhouse.secure), not the HTTP interface's (8123, 8443)", c.Addr, err)
		}
		return nil, fmt.Errorf("clickhouse %s does not answer: %w", c.Addr, err)
	}
	w := &DB{conn: conn, db: c.Database, Backoff: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}}
	if c.Cluster == "" {
		return w, nil
	}
	addrs, err := shardAddrs(ctx, conn, c.Cluster)
	if err != nil {
		conn.Close()
		return nil, err
	}
	w.cluster = &cluster{name: c.Cluster, local: c.Database + "_local"}
	for _, addr := range addrs {
		o := *opts
		o.Addr = []string{addr}
		sc, err := chgo.Open(&o)
		if err == nil {
			err = sc.Ping(ctx)
		}
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("clickhouse.cluster %s: shard %s: %w", c.Cluster, addr, err)
		}
		w.cluster.shards = append(w.cluster.shards, sc)
	}
	return w, nil
}

// tlsConfig checks the server against the CA file, or the system's roots.
func tlsConfig(c config.ClickHouse) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("clickhouse.addr %q: %w", c.Addr, err)
	}
	t := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("clickhouse.ca_file: %w", err)
		}
		t.RootCAs = x509.NewCertPool()
		if !t.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("clickhouse.ca_file %s: no PEM certificate in it", c.CAFile)
		}
	}
	return t, nil
}

// answersHTTP says whether the address is ClickHouse's HTTP interface (its
// /ping answers 200 "Ok."): the usual mistake of pointing clickhouse.addr at
// it, which the native protocol's handshake reports as an unexpected packet.
// The native port answers HTTP too, with a 400 that names the right port.
func answersHTTP(addr string, timeout time.Duration) bool {
	conn, err := net.DialTimeout("tcp", addr, max(timeout, time.Second))
	if err != nil {
		return false
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(max(timeout, time.Second)))
	if _, err := conn.Write([]byte("GET /ping HTTP/1.0\r\n\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 512)
	n, _ := io.ReadAtLeast(conn, buf, 12)
	status := string(buf[:n])
	return strings.HasPrefix(status, "HTTP/1.") && strings.HasPrefix(status[min(len(status), 9):], "200")
}

// speaksTLS says whether the address completes a TLS handshake (its
// certificate unchecked: only the protocol is asked): the secure native port
// reached without clickhouse.secure, which resets the plain handshake.
func speaksTLS(addr string, timeout time.Duration) bool {
	d := &net.Dialer{Timeout: max(timeout, time.Second)}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only whether it speaks TLS
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// Close closes the connections.
func (w *DB) Close() error {
	w.owners.free()
	if w.cluster != nil {
		for _, c := range w.cluster.shards {
			c.Close()
		}
	}
	return w.conn.Close()
}

// Database is the name of the Tessera database.
func (w *DB) Database() string { return w.db }

// Conn is the underlying connection, for queries of the caller's own.
func (w *DB) Conn() driver.Conn { return w.conn }

// Exec runs one statement with {db} replaced by the database name.
func (w *DB) Exec(ctx context.Context, stmt string, args ...any) error {
	if err := w.conn.Exec(ctx, w.expand(stmt), args...); err != nil {
		return w.failed(stmt, err)
	}
	return nil
}

func (w *DB) expand(s string) string { return strings.ReplaceAll(s, "{db}", w.db) }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return s
}

// Migrate creates the database if needed and applies, in order, each migration
// not yet recorded in schema_migrations. It returns the names it applied.
// Every statement is idempotent (IF NOT EXISTS), so a migration interrupted
// half-way is safely applied again.
//
// Pending migrations are applied under the warehouse's lock "migrate", so
// that two runners (the chart's migration Job and a stage, two stages) never
// apply them at once: some copy, rename and drop tables. The lock's own table
// is made first.
func (w *DB) Migrate(ctx context.Context) ([]string, error) {
	if w.cluster != nil {
		return w.migrateCluster(ctx)
	}
	if err := w.Exec(ctx, "CREATE DATABASE IF NOT EXISTS {db}"); err != nil {
		return nil, err
	}
	if err := w.Exec(ctx, tsql.SchemaMigrations); err != nil {
		return nil, err
	}
	pending, err := w.pending(ctx)
	if err != nil || len(pending) == 0 {
		return nil, err
	}
	locks, err := tsql.Migrations.ReadFile("migrations/" + locksMigration)
	if err != nil {
		return nil, err
	}
	for _, stmt := range Statements(string(locks)) {
		if err := w.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("the lock's table: %w", err)
		}
	}
	// A holder of its own (claims of one holder are shared): two migrations
	// of one process are two holders.
	host, _ := os.Hostname()
	unlock, _, err := w.Lock(ctx, []string{"migrate"}, time.Unix(0, 0).UTC(), warehouse.LockOptions{
		Holder: fmt.Sprintf("%s pid %d migrate %s", host, os.Getpid(), newToken()), TTL: time.Minute, Wait: 10 * time.Minute})
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	defer unlock(context.WithoutCancel(ctx))
	if pending, err = w.pending(ctx); err != nil { // another runner may have applied them while this one waited
		return nil, err
	}
	return w.apply(ctx, pending)
}

// locksMigration creates the table of the warehouse's lock (IF NOT EXISTS).
const locksMigration = "0012_locks.sql"

// pending are the migrations schema_migrations does not record, in order.
func (w *DB) pending(ctx context.Context) ([]string, error) {
	done := map[string]bool{}
	rows, err := w.conn.Query(ctx, w.expand("SELECT name FROM {db}.schema_migrations"))
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		done[n] = true
	}
	rows.Close()
	names, err := fs.Glob(tsql.Migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var pending []string
	for _, path := range names {
		if name := strings.TrimPrefix(path, "migrations/"); !done[name] {
			pending = append(pending, name)
		}
	}
	return pending, nil
}

// apply applies the migrations, each recorded once all its statements ran.
func (w *DB) apply(ctx context.Context, names []string) ([]string, error) {
	var applied []string
	for _, name := range names {
		b, err := tsql.Migrations.ReadFile("migrations/" + name)
		if err != nil {
			return nil, err
		}
		for _, stmt := range Statements(string(b)) {
			if err := w.Exec(ctx, stmt); err != nil && !columnThere(err) {
				return applied, fmt.Errorf("migration %s: %w", name, err)
			}
		}
		if err := w.insertRow(ctx, "INSERT INTO {db}.schema_migrations (name, applied_at) VALUES", name, time.Now().UTC()); err != nil {
			return applied, err
		}
		applied = append(applied, name)
	}
	return applied, nil
}

// insertRow inserts one row through a batch: ClickHouse 18.16 does not answer an
// INSERT whose values are bound into the query text over the native protocol.
func (w *DB) insertRow(ctx context.Context, stmt string, values ...any) error {
	batch, err := w.conn.PrepareBatch(ctx, w.expand(stmt))
	if err != nil {
		return w.failed(stmt, err)
	}
	defer batch.Abort()
	if err := batch.Append(values...); err != nil {
		return w.failed(stmt, err)
	}
	if err := batch.Send(); err != nil {
		return w.failed(stmt, err)
	}
	return nil
}

// failed names the statement that failed, and marks a failure of the
// connection as warehouse.ErrUnavailable (worth a retry).
func (w *DB) failed(stmt string, err error) error {
	return fmt.Errorf("%s: %w", firstLine(stmt), unavailable(err))
}

// Statements splits a SQL file at lines holding only ';' and drops comment lines.
func Statements(src string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for _, line := range strings.Split(src, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == ";":
			flush()
		case strings.HasPrefix(t, "--"):
		default:
			cur.WriteString(line)
			cur.WriteByte('\n')
		}
	}
	flush()
	return out
}

// Where names the database for people.
func (w *DB) Where() string { return "ClickHouse database " + w.db }

// EndExtract returns err: rows land as they are read, and a re-run lands the
// same keys again, which the raw tables keep once.
func (w *DB) EndExtract(err error) error {
	if err != nil {
		return fmt.Errorf("%w (what landed stays landed, each row once by its key, so that a re-run is safe; the rejected rows are in %s.rejected_rows)", err, w.db)
	}
	return nil
}

// OnePerKey: raw tables are ReplacingMergeTrees on the entity's key.
func (w *DB) OnePerKey() bool { return true }

var _ warehouse.Store = (*DB)(nil)

// columnThere says that an ADD COLUMN found its column already there (18.16
// has no ADD COLUMN IF NOT EXISTS): a migration cut short, or run by two
// runners at once, is applied again as if it had not been.
func columnThere(err error) bool {
	var ex *chgo.Exception
	return errors.As(err, &ex) && ex.Code == 44 && strings.Contains(ex.Message, "Cannot add column")
}

// compression is the method of config.ClickHouse.Compression (validated
// there): LZ4 unless none.
func compression(name string) chgo.CompressionMethod {
	if name == "none" {
		return chgo.CompressionNone
	}
	return chgo.CompressionLZ4
}
