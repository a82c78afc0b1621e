// Package chdb runs SQL on a current ClickHouse engine in process: chDB's
// libchdb.so (ClickHouse 26.5), which scripts/chdb.sh fetches from the npm
// registry. It is built only with the chdb tag and cgo (make test:
// CGO_LDFLAGS="-L DIR -Wl,-rpath,DIR" go test -tags chdb ./sql/chdb), and its
// test runs every migration, view and report query there: ClickHouse 18.16,
// which the other tests start, is the old end of what Tessera supports.
package chdb
