package clickhouse

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	chgo "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/tessera-cdp/tessera/warehouse"
)

// transient tells a lost, refused or dropped connection (worth a retry once
// the server is back) from an error of the statement itself, by the error's
// type: a network error, a connection refused, reset or broken, an EOF where a
// reply was due, or no connection to be had from the pool in time.
func transient(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, chgo.ErrAcquireConnTimeout)
}

// unavailable marks an error of a connection that failed as
// warehouse.ErrUnavailable, worth a retry once the server is back.
func unavailable(err error) error {
	if transient(err) {
		return fmt.Errorf("%w: %w", warehouse.ErrUnavailable, err)
	}
	return err
}
