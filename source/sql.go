package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tessera-cdp/tessera/canon"
)

// SQL reads one entity from a query on a database/sql connection (PostgreSQL
// through pgx, MySQL and MariaDB through go-sql-driver/mysql). The query's result
// columns are named after canonical columns (`SELECT id AS customer_id, ...`), so
// any schema maps onto the canonical model in the config, not in code. Values are
// read as text and go through the same validation as files. A result column
// whose name starts with an underscore is not canonical and does not land: it
// serves the query (a watermark column such as the order's updated_at for its
// lines, or a sort key).
type SQL struct {
	name   string
	tx     *sql.Tx
	rows   *sql.Rows
	names  []string
	cols   []int // canonical column -> result column, -1 when absent
	raw    []sql.RawBytes
	dest   []any
	fields [][]byte
	pos    int64
	err    error
}

// QuerySQL runs query and streams its rows as records of table t; name names
// the source in rejected_rows (e.g. "postgres:customers"). The query runs in
// a read-only transaction: Tessera reads a shop's database and never writes
// it, so a configured query that would (DELETE … RETURNING) fails saying so
// and changes nothing.
func QuerySQL(ctx context.Context, db *sql.DB, name, query string, t *canon.Table, args ...any) (*SQL, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("%s: begin a read-only transaction: %w", name, err)
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("%s (queries run read-only: a query that writes fails): %w", name, err)
	}
	names, err := rows.Columns()
	if err != nil {
		rows.Close()
		tx.Rollback()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &SQL{name: name, tx: tx, rows: rows, names: names, cols: make([]int, len(t.Columns)), raw: make([]sql.RawBytes, len(names)),
		dest: make([]any, len(names)), fields: make([][]byte, len(t.Columns))}
	for k := range s.cols {
		s.cols[k] = -1
	}
	for i, n := range names {
		s.dest[i] = &s.raw[i]
		if strings.HasPrefix(n, "_") {
			continue
		}
		k := t.Index(strings.ToLower(n))
		if k < 0 {
			s.Close()
			return nil, fmt.Errorf("%s: result column %q is not a column of %s (name columns with AS: %s)", name, n, t.Entity, columnNames(t))
		}
		s.cols[k] = i
	}
	for k, c := range t.Columns {
		if c.Required && s.cols[k] < 0 {
			s.Close()
			return nil, fmt.Errorf("%s: the query lacks required column %s of %s", name, c.Name, t.Entity)
		}
	}
	return s, nil
}

// Next reads the next row.
func (s *SQL) Next() bool {
	if s.err != nil || !s.rows.Next() {
		if s.err == nil {
			s.err = s.rows.Err()
		}
		return false
	}
	if err := s.rows.Scan(s.dest...); err != nil {
		s.err = fmt.Errorf("%s row %d: %w", s.name, s.pos+1, err)
		return false
	}
	s.pos++
	for k, i := range s.cols {
		if i < 0 {
			s.fields[k] = nil
		} else {
			s.fields[k] = s.raw[i]
		}
	}
	return true
}

func (s *SQL) Fields() [][]byte              { return s.fields }
func (s *SQL) Problem() (canon.Rule, string) { return "", "" }
func (s *SQL) Position() int64               { return s.pos }
func (s *SQL) Name() string                  { return s.name }
func (s *SQL) Err() error                    { return s.err }

// Raw is the row's values joined by commas.
func (s *SQL) Raw() string {
	parts := make([]string, len(s.raw))
	for i, b := range s.raw {
		parts[i] = string(b)
	}
	return strings.Join(parts, ",")
}

// Column is the position of a result column by name, or -1.
func (s *SQL) Column(name string) int {
	for i, n := range s.names {
		if strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

// Value is the current row's value of result column i.
func (s *SQL) Value(i int) []byte { return s.raw[i] }

// Close ends the query and its read-only transaction.
func (s *SQL) Close() error {
	err := s.rows.Close()
	if rerr := s.tx.Rollback(); err == nil && !errors.Is(rerr, sql.ErrTxDone) {
		err = rerr
	}
	return err
}
