package clickhouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/tessera-cdp/tessera/warehouse"
)

// lockSettle is how long a claimant waits between making its claims and
// reading who holds each name: long enough for a claim made at the same
// moment by another runner to be there to read (one server answers both).
const lockSettle = 300 * time.Millisecond

// Lock takes the run lock of every name for the date in the locks table, on
// the server's clock. A claimant inserts a claim and waits lockSettle; if no
// other claim of a name is held and its own is the first (by claimed_at, then
// token), it marks its claims held, waits again, and holds the names if its
// claims are still the first held ones (two claimants that both marked theirs
// agree on which is first; the other withdraws). Claims of the same holder
// (the pods of one Job) are one: each pod claims, renews and releases its
// own, and the names stay the holder's while any of them is live. Otherwise it withdraws, and
// waits or fails naming the holder. A holder renews its claims every TTL/3;
// one that dies stops renewing and loses them after TTL. unlock releases them.
func (w *DB) Lock(ctx context.Context, names []string, asOf time.Time, o warehouse.LockOptions) (func(context.Context) error, string, error) {
	full := make([]string, len(names))
	for i, n := range names {
		full[i] = n + "-" + asOf.Format("20060102")
	}
	deadline := time.Now().Add(o.Wait)
	poll := o.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	for {
		l := &whLock{w: w, names: full, token: newToken(), holder: o.Holder, ttl: o.TTL}
		other, err := l.try(ctx)
		if err != nil {
			return nil, "", err
		}
		if other == "" {
			l.stop, l.done = make(chan struct{}), make(chan error, 1)
			go l.keep()
			return l.release, fmt.Sprintf("warehouse lock %s held by %s", strings.Join(full, ", "), o.Holder), nil
		}
		if o.Wait <= 0 || time.Now().After(deadline) {
			return nil, "", fmt.Errorf("warehouse lock: %w: %s", warehouse.ErrLocked, other)
		}
		select {
		case <-ctx.Done():
			return nil, "", fmt.Errorf("warehouse lock still held (%s): %w", other, ctx.Err())
		case <-time.After(poll):
		}
	}
}

func newToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// whLock is one acquisition of a set of names.
type whLock struct {
	w             *DB
	names         []string
	token, holder string
	ttl           time.Duration
	version       uint64
	stop          chan struct{}
	done          chan error
}

// claim writes the claims' next version: live for ttl (held or not yet), or
// released.
func (l *whLock) claim(ctx context.Context, live, held bool) error {
	l.version++
	expires := fmt.Sprintf("now() + %d", int(l.ttl/time.Second))
	if !live {
		expires = "toDateTime(0)"
	}
	// Every name is claimed at the same second of the server's clock: claims
	// made name by name across a second's turn put two claimants in opposite
	// orders on two names, and each withdrew for the other.
	var now uint32
	if l.version == 1 {
		if err := l.w.conn.QueryRow(ctx, "SELECT toUInt32(now())").Scan(&now); err != nil {
			return fmt.Errorf("warehouse lock: %w", err)
		}
	}
	for _, n := range l.names {
		claimed := fmt.Sprintf("toDateTime(%d)", now)
		if l.version > 1 { // a renewal or the release keeps the claim's place
			claimed = "(SELECT any(claimed_at) FROM {db}.locks WHERE name = ? AND token = ? AND version = 1)"
		}
		q := fmt.Sprintf("INSERT INTO {db}.locks (name, token, holder, claimed_at, expires_at, held, version) SELECT ?, ?, ?, %s, %s, %d, ?", claimed, expires, b2i(held))
		args := []any{n, l.token, l.holder}
		if l.version > 1 {
			args = append(args, n, l.token)
		}
		if err := l.w.Exec(ctx, q, append(args, l.version)...); err != nil {
			return fmt.Errorf("warehouse lock: %w", err)
		}
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// try claims every name and says who holds one that is not ours ("" when
// all are ours); it withdraws its claims when not all are ours.
func (l *whLock) try(ctx context.Context) (other string, err error) {
	defer func() {
		if err != nil || other != "" {
			if werr := l.claim(context.WithoutCancel(ctx), false, false); err == nil {
				err = werr
			}
		}
	}()
	if err := l.claim(ctx, true, false); err != nil {
		return "", err
	}
	time.Sleep(lockSettle)
	if other, err := l.firstOther(ctx, false); err != nil || other != "" {
		return other, err
	}
	if err := l.claim(ctx, true, true); err != nil {
		return "", err
	}
	time.Sleep(lockSettle)
	return l.firstOther(ctx, true)
}

// firstOther names the holder of the first of the names that is not ours,
// "" when every one is ours. Before ours is held (heldOnly false), a name is
// another's when another claim is held or comes first; once ours is held,
// when another held claim comes first.
func (l *whLock) firstOther(ctx context.Context, heldOnly bool) (string, error) {
	rows, err := l.w.conn.Query(ctx, l.w.expand(`SELECT name, token, holder, held, toString(expires_at) FROM (
    SELECT name, token, argMax(holder, version) AS holder, argMax(claimed_at, version) AS claimed_at,
        argMax(expires_at, version) AS expires_at, argMax(held, version) AS held
    FROM {db}.locks WHERE has(?, name) GROUP BY name, token
) WHERE expires_at > now() ORDER BY name, held DESC, claimed_at, token`), l.names)
	if err != nil {
		return "", fmt.Errorf("warehouse lock: %w", err)
	}
	defer rows.Close()
	first := map[string]bool{} // names whose first claim was read
	for rows.Next() {
		var name, token, holder, until string
		var held uint8
		if err := rows.Scan(&name, &token, &holder, &held, &until); err != nil {
			return "", fmt.Errorf("warehouse lock: %w", err)
		}
		if first[name] {
			continue
		}
		first[name] = true
		// A claim of our holder (another pod of our Job) is ours to share.
		if token != l.token && holder != l.holder && (held == 1 || !heldOnly) {
			return fmt.Sprintf("%s is held by %s until %s UTC at the latest", name, holder, until), nil
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("warehouse lock: %w", err)
	}
	for _, n := range l.names {
		if !first[n] { // our own claim is not there: it lapsed
			return n + " was not claimed in time", nil
		}
	}
	return "", nil
}

// keep renews the claims every ttl/3 while they are still the first.
func (l *whLock) keep() {
	t := time.NewTicker(l.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			l.done <- nil
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
			other, err := l.firstOther(ctx, true)
			if err == nil && other != "" {
				err = fmt.Errorf("lost: %s", other)
			}
			if err == nil {
				err = l.claim(ctx, true, true)
			}
			cancel()
			if err != nil {
				l.done <- fmt.Errorf("warehouse lock %s: %w", strings.Join(l.names, ", "), err)
				return
			}
		}
	}
}

// release stops renewing and releases the claims.
func (l *whLock) release(ctx context.Context) error {
	close(l.stop)
	kerr := <-l.done
	if err := l.claim(ctx, false, false); err != nil {
		return err
	}
	return kerr
}
