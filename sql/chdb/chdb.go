//go:build chdb

package chdb

/*
#cgo LDFLAGS: -lchdb
#include <stdlib.h>

typedef struct chdb_connection_ { void *internal_data; } *chdb_connection;
typedef struct chdb_result_ chdb_result;
chdb_connection *chdb_connect(int argc, char **argv);
void chdb_close_conn(chdb_connection *conn);
chdb_result *chdb_query(chdb_connection conn, const char *query, const char *format);
const char *chdb_result_error(chdb_result *result);
char *chdb_result_buffer(chdb_result *result);
size_t chdb_result_length(chdb_result *result);
void chdb_destroy_query_result(chdb_result *result);

static chdb_connection *connect_path(char *path) {
	char *argv[] = {"clickhouse", path};
	return chdb_connect(2, argv);
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Engine is a chDB session with its data in a folder.
type Engine struct{ conn *C.chdb_connection }

// Open starts a session whose databases live under dir.
func Open(dir string) (Engine, error) {
	p := C.CString("--path=" + dir)
	defer C.free(unsafe.Pointer(p))
	c := C.connect_path(p)
	if c == nil {
		return Engine{}, errors.New("chdb_connect failed")
	}
	return Engine{c}, nil
}

// Close ends the session.
func (e Engine) Close() { C.chdb_close_conn(e.conn) }

// Query runs one statement and returns its output (TabSeparated) or the
// engine's error.
func (e Engine) Query(q string) (string, error) {
	cq, cf := C.CString(q), C.CString("TabSeparated")
	defer C.free(unsafe.Pointer(cq))
	defer C.free(unsafe.Pointer(cf))
	r := C.chdb_query(*e.conn, cq, cf)
	if r == nil {
		return "", errors.New("chdb_query returned nothing")
	}
	defer C.chdb_destroy_query_result(r)
	if msg := C.chdb_result_error(r); msg != nil && C.GoString(msg) != "" {
		return "", errors.New(C.GoString(msg))
	}
	return C.GoStringN(C.chdb_result_buffer(r), C.int(C.chdb_result_length(r))), nil
}
