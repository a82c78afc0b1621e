#!/usr/bin/env bash
# Starts the real servers that tests and the demo talk to, on loopback, with data in
# the project's own .services/ folder (git-ignored):
#   ClickHouse  native 127.0.0.1:19000, HTTP 127.0.0.1:18123
#   PostgreSQL  127.0.0.1:15432, user tessera, database tessera
#   MariaDB     127.0.0.1:13306, user tessera / password tessera, database tessera
#   etcd        127.0.0.1:12379, for
#   kube-apiserver https://127.0.0.1:16443 (no kubelet: pods stay pending), admin
#               kubeconfig in .services/kube/kubeconfig; built once from the Go
#               module proxy by scripts/kube-apiserver.sh; helm installed with go install
#   cluster     a loopback ClickHouse cluster `tessera_loop`: ZooKeeper on
#               127.0.0.1:12181 and two servers, one shard each (native 19110
#               and 19120), with replicated tables and ON CLUSTER DDL
# Usage: scripts/services.sh up [clickhouse postgres mariadb kube cluster]...|down|status|env
# (`up` alone starts all of them, as make test needs; make demo starts clickhouse)
# `up` installs the servers from Debian's packages if they are missing and is a no-op
# when they already answer. Ports differ from the defaults so a system-wide server on
# this machine does not get in the way.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/scripts
dir=${TESSERA_SERVICES_DIR:-$root/.services}
ch_tcp=19000 ch_http=18123 pg_port=15432 my_port=13306
zk_port=12181 cluster_ports=(19110 19120)

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

# as USER CMD...: run as an unprivileged service user when we are root (PostgreSQL
# refuses to run as root); as ourselves otherwise.
as() {
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}
svc_user() { if [ "$(id -u)" = 0 ]; then echo "$1"; else id -un; fi; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# The services `up` starts: the names given, or all of them.
services=(clickhouse postgres mariadb kube cluster)
wanted=()
want() { local n; for n in "${wanted[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

install_packages() {
  local missing=()
  command -v runuser >/dev/null || missing+=(util-linux)
  if want clickhouse || want cluster; then command -v clickhouse-server >/dev/null || missing+=(clickhouse-server clickhouse-client); fi
  if want cluster; then [ -f /usr/share/java/zookeeper.jar ] || missing+=(zookeeper); fi
  if want postgres; then [ -n "$(pg_bin)" ] || missing+=(postgresql); fi
  if want mariadb; then command -v mariadbd >/dev/null || missing+=(mariadb-server mariadb-client); fi
  if want kube; then
    # the report test renders the HTML report in headless Chromium; it comes with the test services
    command -v chromium >/dev/null || missing+=(chromium)
    command -v etcd >/dev/null || missing+=(etcd-server)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v curl >/dev/null || missing+=(curl)
  fi
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]}: install them as root (apt-get install ${missing[*]})"
  log "installing ${missing[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  # policy-rc.d keeps the packages' own services from starting: we run our own.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# The service users must reach the data folder: every parent needs o+x.
check_path() {
  [ "$(id -u)" = 0 ] || return 0
  local p=$dir
  while [ "$p" != / ]; do
    p=$(dirname "$p")
    [ -e "$p" ] || continue
    [ "$(( $(stat -c '%a' "$p") % 2 ))" = 1 ] || chmod o+x "$p" 2>/dev/null ||
      die "service users cannot enter $p: chmod o+x it or set TESSERA_SERVICES_DIR"
  done
}

wait_for() { # name tries cmd...
  local name=$1 tries=$2; shift 2
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

ch_up() { clickhouse-client --host 127.0.0.1 --port $ch_tcp -q 'SELECT 1' >/dev/null 2>&1; }
ch_start() {
  ch_up && { log "clickhouse already up on $ch_tcp"; return 0; }
  local d=$dir/clickhouse u; u=$(svc_user clickhouse)
  mkdir -p "$d/data" "$d/tmp" "$d/user_files" "$d/log"
  cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/log/server.log</log><errorlog>$d/log/error.log</errorlog><size>100M</size><count>2</count></logger>
  <tcp_port>$ch_tcp</tcp_port>
  <http_port>$ch_http</http_port>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>256</max_connections>
  <max_concurrent_queries>64</max_concurrent_queries>
  <mark_cache_size>536870912</mark_cache_size>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
</yandex>
XML
  cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <!-- log_queries: every query in system.query_log, whose rows read TestShardsDivideReads compares -->
  <profiles><default><max_memory_usage>8000000000</max_memory_usage><load_balancing>random</load_balancing><log_queries>1</log_queries></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
  [ "$(id -u)" = 0 ] && chown -R "$u" "$d"
  log "starting clickhouse on 127.0.0.1:$ch_tcp"
  # The whole background subshell gets its own output and no stdin: a server
  # holding the caller's stdout would keep a pipe reading `up` open forever.
  (cd "$d" && as "$u" nohup clickhouse-server --config-file="$d/config.xml") >"$d/log/stdout.log" 2>&1 </dev/null &
  wait_for clickhouse 120 ch_up || die "clickhouse did not answer on 127.0.0.1:$ch_tcp within 60 s; see $d/log/error.log and $d/log/stdout.log"
}

# The loopback cluster: ZooKeeper, then two ClickHouse servers that know
# each other as the two shards of tessera_loop (one replica each).
zk_up() { [ "$(echo ruok | timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$zk_port; cat >&3; cat <&3" 2>/dev/null)" = imok ]; }
zk_start() {
  zk_up && { log "zookeeper already up on $zk_port"; return 0; }
  local d=$dir/zookeeper u; u=$(svc_user zookeeper)
  mkdir -p "$d/data"
  cat >"$d/zoo.cfg" <<CFG
tickTime=2000
dataDir=$d/data
clientPort=$zk_port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok
CFG
  [ "$(id -u)" = 0 ] && chown -R "$u" "$d"
  log "starting zookeeper on 127.0.0.1:$zk_port"
  (cd "$d" && as "$u" nohup java -Xmx256m -cp "$d:/usr/share/java/zookeeper.jar" org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg") >"$d/stdout.log" 2>&1 </dev/null &
  wait_for zookeeper 120 zk_up || die "zookeeper did not answer on 127.0.0.1:$zk_port within 60 s; see $d/stdout.log"
}
node_up() { clickhouse-client --host 127.0.0.1 --port "$1" -q 'SELECT 1' >/dev/null 2>&1; }
cluster_up() { zk_up && node_up "${cluster_ports[0]}" && node_up "${cluster_ports[1]}"; }
cluster_start() {
  zk_start
  local i port d u; u=$(svc_user clickhouse)
  local shards=""
  for port in "${cluster_ports[@]}"; do
    shards+="<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>$port</port></replica></shard>"
  done
  for i in 1 2; do
    port=${cluster_ports[$((i - 1))]} d=$dir/cluster/node$i
    node_up "$port" && { log "cluster node $i already up on $port"; continue; }
    mkdir -p "$d/data" "$d/tmp" "$d/log"
    cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$d/log/server.log</log><errorlog>$d/log/error.log</errorlog><size>100M</size><count>2</count></logger>
  <tcp_port>$port</tcp_port>
  <http_port>$((port - 900))</http_port>
  <interserver_http_port>$((port + 200))</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <listen_host>127.0.0.1</listen_host>
  <max_connections>256</max_connections>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/</user_files_path>
  <users_config>$d/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <zookeeper><node><host>127.0.0.1</host><port>$zk_port</port></node></zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <macros><shard>$i</shard><replica>node$i</replica></macros>
  <remote_servers><tessera_loop>$shards</tessera_loop></remote_servers>
</yandex>
XML
    cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><distributed_product_mode>global</distributed_product_mode></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
    [ "$(id -u)" = 0 ] && chown -R "$u" "$d"
    log "starting cluster node $i on 127.0.0.1:$port"
    (cd "$d" && as "$u" nohup clickhouse-server --config-file="$d/config.xml") >"$d/log/stdout.log" 2>&1 </dev/null &
  done
  for port in "${cluster_ports[@]}"; do
    wait_for cluster 120 node_up "$port" || die "cluster node on 127.0.0.1:$port did not answer within 60 s; see $dir/cluster/node*/log/"
  done
}

pg_up() { "$(pg_bin)/pg_isready" -h 127.0.0.1 -p $pg_port -q; }
pg_start() {
  pg_up && { log "postgresql already up on $pg_port"; return 0; }
  local d=$dir/postgres bin u; bin=$(pg_bin); u=$(svc_user postgres)
  mkdir -p "$d"; [ "$(id -u)" = 0 ] && chown "$u" "$d"
  if [ ! -f "$d/data/PG_VERSION" ]; then
    as "$u" "$bin/initdb" -D "$d/data" -U tessera --auth=trust -E UTF8 >"$d/initdb.log" 2>&1 ||
      die "initdb failed; see $d/initdb.log"
  fi
  log "starting postgresql on 127.0.0.1:$pg_port"
  as "$u" "$bin/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 60 \
    -o "-p $pg_port -k $d -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
    die "postgresql did not start; see $d/server.log"
  wait_for postgresql 60 pg_up || die "postgresql did not answer on 127.0.0.1:$pg_port"
  psql -h 127.0.0.1 -p $pg_port -U tessera -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='tessera'" | grep -q 1 ||
    psql -h 127.0.0.1 -p $pg_port -U tessera -d postgres -qc 'CREATE DATABASE tessera' || die "cannot create database tessera in postgresql"
}

my_up() { mariadb-admin --protocol=tcp -h 127.0.0.1 -P $my_port -u tessera -ptessera ping >/dev/null 2>&1; }
my_start() {
  my_up && { log "mariadb already up on $my_port"; return 0; }
  local d=$dir/mariadb u; u=$(svc_user mysql)
  mkdir -p "$d"; [ "$(id -u)" = 0 ] && chown "$u" "$d"
  if [ ! -d "$d/data/mysql" ]; then
    as "$u" mariadb-install-db --no-defaults --datadir="$d/data" --auth-root-authentication-method=socket \
      --skip-test-db >"$d/install.log" 2>&1 || die "mariadb-install-db failed; see $d/install.log"
  fi
  log "starting mariadb on 127.0.0.1:$my_port"
  (as "$u" nohup mariadbd --no-defaults --datadir="$d/data" --socket="$d/mysqld.sock" --pid-file="$d/mysqld.pid" \
    --port=$my_port --bind-address=127.0.0.1 --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci --log-error="$d/error.log") >/dev/null 2>&1 </dev/null &
  # The administrator logs in through the socket as the same unix user (unix_socket
  # authentication): root when we are root, else whoever installed the data folder.
  local rootcli=(mariadb --socket="$d/mysqld.sock" -u "$(id -un)")
  wait_for mariadb 120 "${rootcli[@]}" -e 'SELECT 1' ||
    die "mariadb did not start within 60 s; see $d/error.log"
  "${rootcli[@]}" -e "CREATE DATABASE IF NOT EXISTS tessera CHARACTER SET utf8mb4;
    CREATE USER IF NOT EXISTS 'tessera'@'127.0.0.1' IDENTIFIED BY 'tessera';
    GRANT ALL ON tessera.* TO 'tessera'@'127.0.0.1';
    GRANT ALL ON \`tessera\\_%\`.* TO 'tessera'@'127.0.0.1'; FLUSH PRIVILEGES;" ||
    die "mariadb did not accept the setup statements; see $d/error.log"
  wait_for mariadb 60 my_up || die "mariadb did not answer on 127.0.0.1:$my_port; see $d/error.log"
}

kube_api=16443
etcd_port=12379
kube_up() { [ -f "$dir/kube/kubeconfig" ] && curl -sk --max-time 2 -H "Authorization: Bearer $(cat "$dir/kube/token" 2>/dev/null)" "https://127.0.0.1:$kube_api/readyz" | grep -q ok; }
etcd_up() { curl -s --max-time 2 "http://127.0.0.1:$etcd_port/health" | grep -q true; }
kube_start() {
  kube_up && { log "kube-apiserver already up on $kube_api"; return 0; }
  local d=$dir/kube bin
  bin=$("$here/kube-apiserver.sh") || die "kube-apiserver did not build"
  if ! command -v helm >/dev/null && [ ! -x "$(go env GOPATH)/bin/helm" ]; then
    log "installing helm v3.16.4 with go install (about 4 minutes, once)"
    go install helm.sh/helm/v3/cmd/helm@v3.16.4 || die "go install helm failed"
  fi
  mkdir -p "$d/etcd" "$d/certs"
  if ! etcd_up; then
    log "starting etcd on 127.0.0.1:$etcd_port"
    (nohup etcd --data-dir "$d/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
      --listen-peer-urls http://127.0.0.1:12380) >"$d/etcd.log" 2>&1 </dev/null &
    echo $! >"$d/etcd.pid"
    wait_for etcd 60 etcd_up || die "etcd did not answer on 127.0.0.1:$etcd_port; see $d/etcd.log"
  fi
  [ -f "$d/sa.key" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/sa.key" -out "$d/sa.crt" -days 3650 -subj /CN=tessera-sa >/dev/null 2>&1 ||
    die "openssl could not make the service-account key"
  [ -f "$d/token" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/token"
  echo "$(cat "$d/token"),admin,admin,system:masters" >"$d/tokens.csv"
  log "starting kube-apiserver on https://127.0.0.1:$kube_api"
  (nohup "$bin" --etcd-servers="http://127.0.0.1:$etcd_port" --bind-address=127.0.0.1 --secure-port=$kube_api --cert-dir="$d/certs" \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$d/sa.crt" \
    --service-account-signing-key-file="$d/sa.key" --token-auth-file="$d/tokens.csv" --authorization-mode=RBAC \
    --service-cluster-ip-range=10.0.0.0/24) >"$d/apiserver.log" 2>&1 </dev/null &
  echo $! >"$d/apiserver.pid"
  cat >"$d/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters: [{name: tessera-test, cluster: {server: "https://127.0.0.1:$kube_api", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "$(cat "$d/token")"}}]
contexts: [{name: tessera-test, context: {cluster: tessera-test, user: admin, namespace: default}}]
current-context: tessera-test
KC
  chmod 600 "$d/kubeconfig"
  wait_for kube-apiserver 120 kube_up || die "kube-apiserver did not become ready on $kube_api; see $d/apiserver.log"
}

stop_pidfile() { # name pidfile
  [ -f "$2" ] || return 0
  local pid; pid=$(cat "$2")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    log "stopped $1"
  fi
  rm -f "$2"
}

env_lines() {
  cat <<ENV
TESSERA_TEST_CLICKHOUSE='127.0.0.1:$ch_tcp'
TESSERA_TEST_CLICKHOUSE_HTTP='127.0.0.1:$ch_http'
TESSERA_TEST_POSTGRES='postgres://tessera@127.0.0.1:$pg_port/tessera?sslmode=disable'
TESSERA_TEST_MYSQL='tessera:tessera@tcp(127.0.0.1:$my_port)/tessera'
TESSERA_TEST_KUBECONFIG='$dir/kube/kubeconfig'
TESSERA_TEST_CLICKHOUSE_CLUSTER='127.0.0.1:${cluster_ports[0]}'
TESSERA_TEST_HELM='$(command -v helm || echo "$(go env GOPATH)/bin/helm")'
ENV
}

case "${1:-}" in
  up)
    shift
    wanted=("$@")
    [ ${#wanted[@]} -gt 0 ] || wanted=("${services[@]}")
    for n in "${wanted[@]}"; do
      case " ${services[*]} " in *" $n "*) ;; *) echo "usage: $0 up [${services[*]}]..." >&2; exit 2;; esac
    done
    install_packages
    mkdir -p "$dir"; check_path
    if want clickhouse; then ch_start; fi
    if want postgres; then pg_start; fi
    if want mariadb; then my_start; fi
    if want kube; then kube_start; fi
    if want cluster; then cluster_start; fi
    env_lines >"$dir/env"
    log "up: ${wanted[*]} (addresses in $dir/env)";;
  down)
    # clickhouse-server 18.16 writes no pid file unless it daemonises: find it by
    # its config path, which is this checkout's own.
    if pkill -f -- "--config-file=$dir/clickhouse/config.xml" 2>/dev/null; then
      for _ in $(seq 60); do pgrep -f -- "--config-file=$dir/clickhouse/config.xml" >/dev/null || break; sleep 0.5; done
      log "stopped clickhouse"
    fi
    if pg_up 2>/dev/null; then as "$(svc_user postgres)" "$(pg_bin)/pg_ctl" -D "$dir/postgres/data" -m fast stop >/dev/null && log "stopped postgresql"; fi
    stop_pidfile mariadb "$dir/mariadb/mysqld.pid"
    stop_pidfile kube-apiserver "$dir/kube/apiserver.pid"
    stop_pidfile etcd "$dir/kube/etcd.pid"
    for i in 1 2; do
      if pkill -f -- "--config-file=$dir/cluster/node$i/config.xml" 2>/dev/null; then
        for _ in $(seq 60); do pgrep -f -- "--config-file=$dir/cluster/node$i/config.xml" >/dev/null || break; sleep 0.5; done
        log "stopped cluster node $i"
      fi
    done
    if pkill -f -- "QuorumPeerMain $dir/zookeeper/zoo.cfg" 2>/dev/null; then
      for _ in $(seq 60); do pgrep -f -- "QuorumPeerMain $dir/zookeeper/zoo.cfg" >/dev/null || break; sleep 0.5; done
      log "stopped zookeeper"
    fi;;
  status)
    rc=0
    if ch_up; then echo "clickhouse  up    127.0.0.1:$ch_tcp"; else echo "clickhouse  down"; rc=1; fi
    if pg_up 2>/dev/null; then echo "postgresql  up    127.0.0.1:$pg_port"; else echo "postgresql  down"; rc=1; fi
    if my_up; then echo "mariadb     up    127.0.0.1:$my_port"; else echo "mariadb     down"; rc=1; fi
    if kube_up; then echo "kube-apiserver up https://127.0.0.1:$kube_api"; else echo "kube-apiserver down"; rc=1; fi
    if cluster_up; then echo "cluster     up    127.0.0.1:${cluster_ports[0]} 127.0.0.1:${cluster_ports[1]} zookeeper 127.0.0.1:$zk_port"; else echo "cluster     down"; rc=1; fi
    exit $rc;;
  env) env_lines;;
  *) echo "usage: $0 up [${services[*]}]...|down|status|env" >&2; exit 2;;
esac
