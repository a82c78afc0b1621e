package canon

import (
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestColumnsByName: values go to and come from the named column wherever
// the schema puts it; a name the schema lacks, or another type, panics.
func TestColumnsByName(t *testing.T) {
	id := arrow.Field{Name: "customer_id", Type: arrow.BinaryTypes.String}
	n := arrow.Field{Name: "orders", Type: arrow.PrimitiveTypes.Int32}
	for _, fields := range [][]arrow.Field{{id, n}, {n, id}} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
		BuilderOf[*array.StringBuilder](b, "customer_id").Append("C1")
		BuilderOf[*array.Int32Builder](b, "orders").Append(7)
		if Len(b) != 1 {
			t.Errorf("Len %d", Len(b))
		}
		rec := b.NewRecord()
		if got, orders := ArrayOf[*array.String](rec, "customer_id").Value(0), ArrayOf[*array.Int32](rec, "orders").Value(0); got != "C1" || orders != 7 {
			t.Errorf("schema %v: read %q, %d", rec.Schema(), got, orders)
		}
		for name, bad := range map[string]func(){
			"a missing name":   func() { BuilderOf[*array.StringBuilder](b, "custmer_id") },
			"another type":     func() { BuilderOf[*array.Float64Builder](b, "orders") },
			"a missing column": func() { ArrayOf[*array.String](rec, "email") },
			"a column's type":  func() { ArrayOf[*array.String](rec, "orders") },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s did not panic", name)
					}
				}()
				bad()
			}()
		}
		rec.Release()
		b.Release()
		mem.AssertSize(t, 0)
	}
}
