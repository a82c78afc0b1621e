package identity

import (
	"context"
	"testing"
	"time"

	"github.com/tessera-cdp/tessera/canon"
	"github.com/tessera-cdp/tessera/warehouse"
)

// links is a Store holding the links of earlier runs.
type links []warehouse.Identity

func (ls links) Identities(_ context.Context, fn func(warehouse.Identity)) error {
	for _, l := range ls {
		fn(l)
	}
	return nil
}

// customerRow resolves a customer row of the files source with id x and
// returns its canonical customer_id.
func customerRow(t *testing.T, id *Resolver, x, email string) string {
	t.Helper()
	tb, err := canon.Lookup(canon.Customers)
	if err != nil {
		t.Fatal(err)
	}
	fields := make([][]byte, len(tb.Columns))
	fields[tb.Index("customer_id")] = []byte(x)
	fields[tb.Index("email")] = []byte(email)
	out := id.Resolve(tb, "files", fields, nil)
	id.Commit()
	return string(out[tb.Index("customer_id")])
}

// TestCustomerIDTaken: a customer keeps its own id unless a customer of
// another source has it. A visitor's link to the id alone (loaded by a pod
// of a sharded extract before pod 0 saved the customers' own links) does not
// rename the customer.
func TestCustomerIDTaken(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		links links
		want  string
	}{
		{"no links", nil, "C1"},
		{"a visitor linked to it", links{{Kind: kindAnonymousID, ID: "A1", CustomerID: "C1", At: at}}, "C1"},
		{"its own link", links{{Kind: kindCustomerID, Source: "files", ID: "C1", CustomerID: "C1"}}, "C1"},
		{"another source's customer", links{{Kind: kindCustomerID, Source: "postgres", ID: "C1", CustomerID: "C1"}}, "files:C1"},
		{"another source's customer, a visitor first", links{{Kind: kindAnonymousID, ID: "A1", CustomerID: "C1", At: at},
			{Kind: kindCustomerID, Source: "postgres", ID: "C1", CustomerID: "C1"}}, "files:C1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := Load(context.Background(), c.links)
			if err != nil {
				t.Fatal(err)
			}
			defer id.Free()
			if got := customerRow(t, id, "C1", "one@example.com"); got != c.want {
				t.Errorf("customer C1 of files landed as %q, want %q", got, c.want)
			}
		})
	}
}
