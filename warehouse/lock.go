package warehouse

import (
	"errors"
	"time"
)

// LockOptions say who takes a run lock and how.
type LockOptions struct {
	// Holder: who holds the names. Runners that name the same holder hold
	// them together (the pods of one Job hold the date's stages as the Job);
	// a runner alone names itself (the pod, or host, process and command).
	Holder string
	TTL    time.Duration // a holder that stops renewing (it crashed) loses the lock after this long
	Wait   time.Duration // how long to wait for a lock another holder has; 0: fail at once
	Poll   time.Duration // how often a waiting runner looks again
}

// ErrLocked is wrapped by the error of a lock another runner holds.
var ErrLocked = errors.New("another run holds the lock")
