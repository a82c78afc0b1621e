package servicetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// PrivateClickHouse starts a ClickHouse server of the test's own, on free
// loopback ports with its data in a folder of its own, for a test that
// stops the server: the shared one other tests use stays up. restart kills it
// (SIGKILL, as a crash or an OOM kill does) and starts it again on the same
// data. It needs the clickhouse-server that scripts/services.sh installs.
func PrivateClickHouse(t testing.TB) (addr string, restart func()) {
	addr, _, _, restart = privateClickHouse(t, false)
	return addr, restart
}

// PrivateClickHouseTLS starts a ClickHouse server of the test's own that also
// speaks TLS on its secure port (as hosted ClickHouse does), with a
// certificate for 127.0.0.1 signed by a CA made for the test: it returns the
// secure port's address, the plain one's, and the CA's PEM file.
func PrivateClickHouseTLS(t testing.TB) (secure, plain, caFile string) {
	plain, secure, dir, _ := privateClickHouse(t, true)
	return secure, plain, filepath.Join(dir, "ca.pem")
}

func privateClickHouse(t testing.TB, withTLS bool) (addr, secureAddr, dir string, restart func()) {
	need(t, "a ClickHouse of its own (clickhouse-server)")
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		t.Fatal("no clickhouse-server: run scripts/services.sh up, which installs it (make test does)")
	}
	dir, err = os.MkdirTemp("", "tessera-ch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	tcp, http := freePort(t), freePort(t)
	secure := ""
	if withTLS {
		port := freePort(t)
		secureAddr = fmt.Sprintf("127.0.0.1:%d", port)
		writeCertificates(t, dir)
		secure = fmt.Sprintf(`<tcp_port_secure>%d</tcp_port_secure>
  <openSSL><server><certificateFile>%[2]s/server.pem</certificateFile><privateKeyFile>%[2]s/server.key</privateKeyFile>
    <verificationMode>none</verificationMode><loadDefaultCAFile>false</loadDefaultCAFile><cacheSessions>true</cacheSessions>
    <disableProtocols>sslv2,sslv3</disableProtocols><preferServerCiphers>true</preferServerCiphers></server></openSSL>`, port, dir)
	}
	conf := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%[1]s/server.log</log><errorlog>%[1]s/error.log</errorlog></logger>
  <tcp_port>%[2]d</tcp_port><http_port>%[3]d</http_port><listen_host>127.0.0.1</listen_host>
  %[4]s
  <path>%[1]s/data/</path><tmp_path>%[1]s/tmp/</tmp_path><user_files_path>%[1]s/user_files/</user_files_path>
  <users_config>%[1]s/users.xml</users_config><default_profile>default</default_profile><default_database>default</default_database>
  <timezone>UTC</timezone><mlock_executable>false</mlock_executable><mark_cache_size>67108864</mark_cache_size>
</yandex>
`, dir, tcp, http, secure)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(`<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cred := serviceUser(t, dir)
	var cmd *exec.Cmd
	start := func() {
		cmd = exec.Command(bin, "--config-file="+conf)
		cmd.Dir = dir
		if cred != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start clickhouse-server: %v", err)
		}
		addr = fmt.Sprintf("127.0.0.1:%d", tcp)
		last := addr
		if secureAddr != "" {
			last = secureAddr
		}
		for range 120 {
			if c, err := net.DialTimeout("tcp", last, 200*time.Millisecond); err == nil {
				c.Close()
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Fatalf("the private clickhouse-server did not listen on %s within 30 s:\n%s", addr, b)
	}
	stop := func() {
		cmd.Process.Kill()
		cmd.Wait()
	}
	start()
	t.Cleanup(stop)
	return addr, secureAddr, dir, func() { stop(); start() }
}

// writeCertificates writes a CA (ca.pem) and a certificate for 127.0.0.1
// it signs (server.pem, server.key) into dir, readable by the server.
func writeCertificates(t testing.TB, dir string) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tessera test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	caCert, _ := x509.ParseCertificate(caDER)
	der, err := x509.CreateCertificate(rand.Reader, srv, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, block := range map[string]*pem.Block{"ca.pem": {Type: "CERTIFICATE", Bytes: caDER},
		"server.pem": {Type: "CERTIFICATE", Bytes: der}, "server.key": {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// serviceUser makes dir the clickhouse user's and returns its credentials
// when the test runs as root (the server is not run as root); nil otherwise.
func serviceUser(t testing.TB, dir string) *syscall.Credential {
	if os.Getuid() != 0 {
		return nil
	}
	u, err := user.Lookup("clickhouse")
	if err != nil {
		t.Fatalf("no clickhouse user: %v (scripts/services.sh installs the server and its user)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
