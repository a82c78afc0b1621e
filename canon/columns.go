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
	return named[B](b.Schema(), name, b.Field)
}

// ArrayOf is the column name of rec, as A.
func ArrayOf[A arrow.Array](rec arrow.Record, name string) A {
	return named[A](rec.Schema(), name, rec.Column)
}

// named is the column name of schema, got by its index, as T.
func named[T any, C any](schema *arrow.Schema, name string, get func(int) C) T {
	i := schema.FieldIndices(name)
	if len(i) != 1 {
		panic(fmt.Sprintf("canon: the schema has %d columns named %q: %s", len(i), name, schema))
	}
	c, ok := any(get(i[0])).(T)
	if !ok {
		panic(fmt.Sprintf("canon: column %q is %s, not %T", name, schema.Field(i[0]).Type, c))
	}
	return c
}

// Len is how many rows b holds.
func Len(b *array.RecordBuilder) int { return b.Fields()[0].Len() }
