package servicetest

import (
	"fmt"
	"strings"

	"github.com/tessera-cdp/tessera/canon"
)

// Landed is one table of what an extract leaves in a ClickHouse database,
// and the query of its rows and an order-independent sum of hashes of their
// content (SELECT count(), sum(cityHash64(...))), for comparing two runs.
type Landed struct{ Table, Query string }

// LandedQueries are the queries of every raw table (one row per key, as
// readers see it), rejected_rows and identities in db. What names a run
// (run ids, landing times) is left out.
func LandedQueries(db string) []Landed {
	var out []Landed
	for _, tb := range canon.Tables {
		var cols []string
		for _, c := range tb.Columns {
			cols = append(cols, c.Name)
		}
		where := ""
		if tb.Entity == canon.Orders || tb.Entity == canon.OrderLines {
			cols, where = append(cols, "customer_hash"), " WHERE _deleted = 0"
		}
		table := "raw_" + string(tb.Entity)
		out = append(out, Landed{table, fmt.Sprintf("SELECT count(), sum(cityHash64(%s)) FROM %s.%s FINAL%s", strings.Join(cols, ", "), db, table, where)})
	}
	return append(out,
		Landed{"rejected_rows", fmt.Sprintf("SELECT count(), sum(cityHash64(source, entity, position, row_key, rule, detail, raw)) FROM %s.rejected_rows FINAL", db)},
		// A link's time is its login's for a visitor, the run's otherwise.
		Landed{"identities", fmt.Sprintf("SELECT count(), sum(cityHash64(kind, source, id, customer_id, if(kind = 'anonymous_id', toUInt32(linked_at), 0))) FROM %s.identities", db)})
}
