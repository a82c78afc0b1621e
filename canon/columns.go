package canon

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
)

// Rows of a table are built and read by column name, never by position: a
// column moved in a schema moves nothing else, and a name a schema lacks, or
// a column of another type, panics where the builder or reader is made (a
// programming error the tests of each table's writer and reader catch).

// BuilderOf is the builder of the column name of b, as B.
func BuilderOf[B array.Builder](b *array.RecordBuilder, name string) B {
	i := b.Schema().FieldIndices(name)
	if len(i) != 1 {
		panic(fmt.Sprintf("canon: the schema has %d columns named %q: %s", len(i), name, b.Schema()))
	}
	c, ok := b.Field(i[0]).(B)
	if !ok {
		panic(fmt.Sprintf("canon: column %q is %s, not %T", name, b.Schema().Field(i[0]).Type, c))
	}
	return c
}

// ArrayOf is the column name of rec, as A.
func ArrayOf[A arrow.Array](rec arrow.Record, name string) A {
	i := rec.Schema().FieldIndices(name)
	if len(i) != 1 {
		panic(fmt.Sprintf("canon: the record has %d columns named %q: %s", len(i), name, rec.Schema()))
	}
	c, ok := rec.Column(i[0]).(A)
	if !ok {
		panic(fmt.Sprintf("canon: column %q is %s, not %T", name, rec.Schema().Field(i[0]).Type, c))
	}
	return c
}

// Len is how many rows b holds.
func Len(b *array.RecordBuilder) int { return b.Fields()[0].Len() }
