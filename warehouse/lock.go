package warehouse

import (
	"errors"
	"time"
)

// LockOptions say who takes a run lock and how.
type LockOptions struct {
	Holder string        // who: the pod, or host, process and command
	TTL    time.Duration // a holder that stops renewing (it crashed) loses the lock after this long
	Wait   time.Duration // how long to wait for a held lock; 0: fail at once
	Poll   time.Duration // how often a waiting runner looks again
}

// ErrLocked is wrapped by the error of a lock another runner holds.
var ErrLocked = errors.New("another run holds the lock")
