//go:build unix

package parquetdir

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tessera-cdp/tessera/warehouse"
)

// Lock takes the run lock of every name for the date as an advisory lock
// (flock) on a file of the folder's locks/: the kernel frees it when the
// holder exits, however it dies, so it has no expiry. A runner that finds one
// held waits up to o.Wait, then fails naming the holder.
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
		path := filepath.Join(dir, n+"-"+asOf.Format("20060102")+".lock")
		paths = append(paths, path)
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			unlock(ctx)
			return nil, "", fmt.Errorf("embedded lock: %w", err)
		}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(err, syscall.EWOULDBLOCK) || o.Wait <= 0 || time.Now().After(deadline) {
				break
			}
			select {
			case <-ctx.Done():
				err = ctx.Err()
			case <-time.After(poll):
				continue
			}
			break
		}
		if err != nil {
			holder := holderOf(path)
			f.Close()
			unlock(ctx)
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, "", fmt.Errorf("embedded lock %s: %w: held by %s", path, warehouse.ErrLocked, holder)
			}
			return nil, "", fmt.Errorf("embedded lock %s: %w", path, err)
		}
		f.Truncate(0)
		f.WriteAt([]byte(o.Holder+"\n"), 0) // who holds it, for the next runner's message
		held = append(held, f)
	}
	return unlock, "embedded lock " + strings.Join(paths, ", ") + " held by " + o.Holder, nil
}

// holderOf reads who holds a lock, giving a holder that has just taken it a
// moment to write its name.
func holderOf(path string) string {
	for range 20 {
		if b, _ := os.ReadFile(path); len(bytes.TrimSpace(b)) > 0 {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "a runner that has not said who it is"
}
