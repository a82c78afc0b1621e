// Package servicetest gives tests the real services that `make test` starts
// with scripts/services.sh (ClickHouse, PostgreSQL, MariaDB, kube-apiserver)
// and the helm it installs, from the TESSERA_TEST_* variables of
// `scripts/services.sh env` (and the loopback ClickHouse cluster), else the script's own addresses. Under
// `go test -short` a test that needs one is skipped, for quick loops without
// servers; otherwise nothing is skipped: a service that is not there fails the
// test where it is used, so `make test` cannot pass by leaving tests out.
package servicetest

import (
	"os"
	"os/exec"
	"testing"
)

// The addresses scripts/services.sh gives its servers.
const (
	clickHouse     = "127.0.0.1:19000"
	clickHouseHTTP = "127.0.0.1:18123"
	postgres       = "postgres://tessera@127.0.0.1:15432/tessera?sslmode=disable"
	mysql          = "tessera:tessera@tcp(127.0.0.1:13306)/tessera"
	cluster        = "127.0.0.1:19110"
)

// Cluster is the name of the loopback ClickHouse cluster in its servers'
// remote_servers: two shards of one replica each, with ZooKeeper.
const Cluster = "tessera_loop"

// need skips the test under -short: it talks to a service.
func need(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: this test needs %s (make test starts it)", what)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// ClickHouse is the native address of the test ClickHouse.
func ClickHouse(t testing.TB) string {
	need(t, "ClickHouse")
	return env("TESSERA_TEST_CLICKHOUSE", clickHouse)
}

// ClickHouseCluster is the native address of a server of the loopback
// ClickHouse cluster (Cluster).
func ClickHouseCluster(t testing.TB) string {
	need(t, "the loopback ClickHouse cluster")
	return env("TESSERA_TEST_CLICKHOUSE_CLUSTER", cluster)
}

// ClickHouseHTTP is the HTTP interface's address of the test ClickHouse.
func ClickHouseHTTP(t testing.TB) string {
	need(t, "ClickHouse")
	return env("TESSERA_TEST_CLICKHOUSE_HTTP", clickHouseHTTP)
}

// Postgres is the DSN of the test PostgreSQL's database tessera.
func Postgres(t testing.TB) string {
	need(t, "PostgreSQL")
	return env("TESSERA_TEST_POSTGRES", postgres)
}

// MySQL is the DSN of the test MariaDB's database tessera.
func MySQL(t testing.TB) string {
	need(t, "MariaDB")
	return env("TESSERA_TEST_MYSQL", mysql)
}

// Kubeconfig is the admin kubeconfig of the test kube-apiserver.
func Kubeconfig(t testing.TB) string {
	need(t, "kube-apiserver")
	k := os.Getenv("TESSERA_TEST_KUBECONFIG")
	if k == "" {
		t.Fatal("TESSERA_TEST_KUBECONFIG is not set: run the tests with make test, which starts kube-apiserver")
	}
	return k
}

// Helm is the helm binary scripts/services.sh installs.
func Helm(t testing.TB) string {
	need(t, "helm")
	if h := os.Getenv("TESSERA_TEST_HELM"); h != "" {
		return h
	}
	if h, err := exec.LookPath("helm"); err == nil {
		return h
	}
	t.Fatal("no helm: run scripts/services.sh up, which installs it (make test does)")
	return ""
}
