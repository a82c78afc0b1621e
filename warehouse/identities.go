package warehouse

import (
	"fmt"
	"time"

	"github.com/tessera-cdp/tessera/canon"
)

// Identity links an id a customer is known by to the canonical customer_id.
type Identity struct {
	Kind       string `json:"kind"`   // customer_id, email_hash or anonymous_id
	Source     string `json:"source"` // the source system, for kind customer_id
	ID         string `json:"id"`
	CustomerID string `json:"customer_id"`
	// At is when the link holds from: for an anonymous_id, the time of the
	// login event; zero for the time of the run.
	At time.Time `json:"at"`
}

func RefKey(e canon.Entity) (string, error) {
	t, err := canon.Lookup(e)
	if err != nil {
		return "", err
	}
	if len(t.Key) != 1 || t.Columns[t.Index(t.Key[0])].Kind != canon.String {
		return "", fmt.Errorf("%s has no one-column text key", e)
	}
	return t.Key[0], nil
}
