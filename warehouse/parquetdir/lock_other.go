//go:build !unix

package parquetdir

import (
	"context"
	"errors"
	"time"

	"github.com/tessera-cdp/tessera/warehouse"
)

// Lock is not there where the system has no flock: set kube.lock to off.
func (p *Dir) Lock(context.Context, []string, time.Time, warehouse.LockOptions) (func(context.Context) error, string, error) {
	return nil, "", errors.New("the embedded warehouse's run lock needs flock (Unix): set kube.lock to off")
}
