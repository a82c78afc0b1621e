//go:build unix

package parquetdir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tessera-cdp/tessera/warehouse"
)

// Lock takes the run lock of every name for the date as advisory locks
// (flock) on files of the folder's locks/: the kernel frees them when the
// holder exits, however it dies, so they have no expiry. A name is held by
// one holder at a time, and by every runner of that holder together (the
// pods of one Job): each runner holds a shared lock on its holder's file of
// the name; a runner of another holder that finds such a file locked waits
// up to o.Wait, then fails naming the holder. Looking and taking happen
// under an exclusive lock of the name's gate file, held for a moment.
func (p *Dir) Lock(ctx context.Context, names []string, asOf time.Time, o warehouse.LockOptions) (func(context.Context) error, string, error) {
	dir := filepath.Join(p.dir, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("embedded lock: %w", err)
	}
	var held []*os.File
	unlock := func(context.Context) error {
		var errs []error
		for _, f := range held {
			errs = append(errs, syscall.Flock(int(f.Fd()), syscall.LOCK_UN), f.Close())
		}
		return errors.Join(errs...)
	}
	deadline := time.Now().Add(o.Wait)
	poll := o.Poll
	if poll <= 0 {
		poll = time.Second
	}
	var paths []string
	for _, n := range names {
		base := filepath.Join(dir, n+"-"+asOf.Format("20060102"))
		for {
			f, other, err := hold(base, o.Holder)
			if err != nil {
				unlock(ctx)
				return nil, "", fmt.Errorf("embedded lock %s: %w", base, err)
			}
			if f != nil {
				held = append(held, f)
				paths = append(paths, f.Name())
				break
			}
			if o.Wait <= 0 || time.Now().After(deadline) {
				unlock(ctx)
				return nil, "", fmt.Errorf("embedded lock %s: %w: held by %s", base, warehouse.ErrLocked, other)
			}
			select {
			case <-ctx.Done():
				unlock(ctx)
				return nil, "", fmt.Errorf("embedded lock %s still held by %s: %w", base, other, ctx.Err())
			case <-time.After(poll):
			}
		}
	}
	return unlock, "embedded lock " + strings.Join(paths, ", ") + " held by " + o.Holder, nil
}

// hold takes holder's share of the name whose files start with base, or
// says which other holder has it. Under the gate, another holder's file
// that nobody locks is left from a runner that exited, and goes.
func hold(base, holder string) (mine *os.File, other string, err error) {
	gate, err := os.OpenFile(base+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, "", err
	}
	defer gate.Close() // frees the gate
	if err := syscall.Flock(int(gate.Fd()), syscall.LOCK_EX); err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256([]byte(holder))
	path := base + "." + hex.EncodeToString(sum[:8]) + ".held"
	files, err := filepath.Glob(base + ".*.held")
	if err != nil {
		return nil, "", err
	}
	for _, f := range files {
		if f == path {
			continue
		}
		h, err := os.OpenFile(f, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		err = syscall.Flock(int(h.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EWOULDBLOCK) {
			h.Close()
			return nil, holderOf(f), nil
		}
		if err == nil {
			err = os.Remove(f)
		}
		h.Close()
		if err != nil {
			return nil, "", err
		}
	}
	mine, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, "", err
	}
	if err := syscall.Flock(int(mine.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		mine.Close()
		return nil, "", err
	}
	mine.Truncate(0)
	mine.WriteAt([]byte(holder+"\n"), 0) // who holds it, for the next runner's message
	return mine, "", nil
}

// holderOf reads who holds a lock.
func holderOf(path string) string {
	if b, _ := os.ReadFile(path); len(bytes.TrimSpace(b)) > 0 {
		return strings.TrimSpace(string(b))
	}
	return "a runner that has not said who it is"
}
