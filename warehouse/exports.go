package warehouse

import "time"

// ExportFile is one file an export wrote: a row of the exports table.
type ExportFile struct {
	AsOf         time.Time `json:"as_of"`
	ExportedAt   time.Time `json:"exported_at"`
	File         string    `json:"file"`
	Kind         string    `json:"kind"` // segment, joined, left, manifest
	SegmentID    string    `json:"segment_id,omitempty"`
	Rows         uint64    `json:"rows"`
	SHA256       string    `json:"sha256"`
	PreviousAsOf time.Time `json:"previous_as_of"`
	RunID        string    `json:"run_id"`
}
