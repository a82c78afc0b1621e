package warehouse

import (
	"encoding/json"
	"fmt"
	"time"
)

// ExportFile is one file an export wrote: a row of the exports table.
type ExportFile struct {
	AsOf       time.Time `json:"as_of"`
	ExportedAt time.Time `json:"exported_at"`
	File       string    `json:"file"`
	Kind       string    `json:"kind"` // segment, segments (the index), joined, left, manifest
	SegmentID  string    `json:"segment_id,omitempty"`
	Rows       uint64    `json:"rows"`
	SHA256     string    `json:"sha256"`
	// PreviousAsOf is the export the deltas compare with; the exports table
	// keeps ClickHouse's smallest Date (1970-01-01) for none, JSON null.
	PreviousAsOf time.Time `json:"previous_as_of"`
	RunID        string    `json:"run_id"`
}

// NoPrevious is the PreviousAsOf of an export without a previous one.
var NoPrevious = time.Unix(0, 0).UTC()

// MarshalJSON writes previous_as_of as a date, or null for none.
func (f ExportFile) MarshalJSON() ([]byte, error) {
	type plain ExportFile
	out := struct {
		plain
		PreviousAsOf *string `json:"previous_as_of"`
	}{plain: plain(f)}
	if !f.PreviousAsOf.IsZero() && !f.PreviousAsOf.Equal(NoPrevious) {
		s := f.PreviousAsOf.Format(time.DateOnly)
		out.PreviousAsOf = &s
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads what MarshalJSON writes, and the full timestamps that
// earlier exports wrote.
func (f *ExportFile) UnmarshalJSON(b []byte) error {
	type plain ExportFile
	var in struct {
		plain
		PreviousAsOf *string `json:"previous_as_of"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*f = ExportFile(in.plain)
	f.PreviousAsOf = NoPrevious
	if in.PreviousAsOf == nil {
		return nil
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, *in.PreviousAsOf); err == nil {
			f.PreviousAsOf = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("export file %s: previous_as_of %q is not a date", f.File, *in.PreviousAsOf)
}
