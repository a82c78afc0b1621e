package warehouse

import "errors"

// ErrNoPartition is returned when a published table has nothing for a date.
var ErrNoPartition = errors.New("nothing published for this date")
