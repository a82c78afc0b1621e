package warehouse

import "errors"

// ErrNoPartition is returned when a published table has nothing for a date.
var ErrNoPartition = errors.New("nothing published for this date")

// ErrPartGone is returned when a part of a sharded stage went away while it
// was read: its shard, run again, writes it anew.
var ErrPartGone = errors.New("a part was rewritten while it was read")
