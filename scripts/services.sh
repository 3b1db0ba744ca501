#!/usr/bin/env bash
# scripts/services.sh — make RabbitMQ, ZooKeeper and PostgreSQL installed, running and ready on
# this machine, for the tests and for `rideshare up`.
#
# Written for a fresh Debian 12 machine where we are root and there is no systemd: package
# post-install scripts may not start daemons (policy-rc.d answers 101), so every daemon is started
# directly here. Everything is idempotent: when all three already answer, the script only checks
# them (about a second) and never runs apt-get.
#
# Environment knobs:
#   SERVICES_TIMEOUT  seconds to wait for each service to become ready (default 120)
#   ZK_HOME_DIR       where our ZooKeeper config and data live (default /var/lib/zookeeper/rideshare)
#
# What "ready" means (one line is printed per service):
#   rabbitmq    127.0.0.1:5672 accepts AMQP, the app is booted, guest/guest may use vhost "/"
#               and the tests' vhosts "rideshare-test-N", and the stream_queue feature flag is on
#               (syncQ is a stream queue).
#   zookeeper   127.0.0.1:2181 answers `srvr` with a Mode line, running with tickTime <= 1000 ms.
#   postgres    127.0.0.1:5432 accepts postgres://rideshare:rideshare@127.0.0.1:5432/postgres
#               and the role may create databases; the tests' second role rideshare_peer
#               (password rideshare_peer, LOGIN only) may log in too.
set -euo pipefail

TIMEOUT=${SERVICES_TIMEOUT:-120}
ZK_HOME_DIR=${ZK_HOME_DIR:-/var/lib/zookeeper/rideshare}
ZK_BIN=/usr/share/zookeeper/bin/zkServer.sh
# iptables: the fault suite (test/faults/) cuts a worker off the services with it.
# python3-grpcio, python3-protobuf: the Python runtime plugin (examples/python-runtime) that
# TestPythonRuntimePlugin (test/plugins/) runs. protobuf-compiler and libprotobuf-dev (the
# well-known types google/protobuf/*.proto the contracts import): make proto.
# chromium: the dashboard's browser test (test/ui/) drives it headless; fonts-dejavu-core: text
# in its screenshot (installed without recommends, chromium brings no font).
# debootstrap, docker-compose: the compose test (test/compose/) builds the images of
# docker-compose.yml (scripts/images.sh debootstraps their base) and runs it with docker-compose.
PACKAGES=(rabbitmq-server zookeeperd postgresql iptables python3-grpcio python3-protobuf protobuf-compiler
  libprotobuf-dev chromium fonts-dejavu-core debootstrap docker-compose)

say() { echo "services: $*"; }
die() { echo "services: ERROR: $*" >&2; exit 1; }

# Installing packages and starting system daemons needs root. Re-run through sudo when it is
# there (non-interactively: CI has no standard input to type a password into).
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || die "must run as root (no sudo found)"
  exec sudo -n -E bash "$0" "$@"
fi

# Several checkouts (or agents, or `make -j`) may run this at once on one machine. Two of us
# starting the same daemon, or two apt-gets, would trip over each other, so serialise.
exec 9>"${TMPDIR:-/tmp}/rideshare-services.lock"
flock -w 900 9 || die "another scripts/services.sh held the lock for 15 minutes"

# Logs of the start commands we run; the daemons keep their own logs in /var/log/<service>.
LOG_DIR=${TMPDIR:-/tmp}/rideshare-services
mkdir -p "$LOG_DIR"

# ---------------------------------------------------------------------------------------------
# Small helpers. No netcat/ss/pgrep: a fresh Debian does not have them, bash's /dev/tcp does.

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# zk4 WORD: send a ZooKeeper four-letter word to 127.0.0.1:2181 and print the answer.
zk4() {
  timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181 && printf %s "$1" >&3 && cat <&3' _ "$1" \
    2>/dev/null || true
}

# wait_for NAME LOGHINT CMD...: run CMD until it succeeds, at most $TIMEOUT seconds.
wait_for() {
  local name=$1 hint=$2; shift 2
  local deadline=$((SECONDS + TIMEOUT))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      die "$name did not become ready within ${TIMEOUT}s (see $hint)"
    fi
    sleep 0.5
  done
}

# start_daemon LOGNAME CMD...: run a start command in its own session, in /, with no stdin, its
# output in a log file and no other inherited file descriptor. Each of these matters:
#  - setsid: a daemon left in our process group would get the SIGINT of a later Ctrl-C on
#    `make test`;
#  - stdout/stderr: a daemon holding our stdout would keep CI's (or make's) pipe open forever;
#  - other fds: a daemon inheriting fd 9 would hold our lock for its whole life (and one holding
#    make's jobserver pipe would confuse make);
#  - cd /: the daemon must not keep a checkout directory busy.
start_daemon() {
  local logname=$1; shift
  (
    cd /
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    exec setsid "$@" </dev/null >>"$LOG_DIR/$logname.log" 2>&1
  )
}

# ---------------------------------------------------------------------------------------------
# 1. Packages. Only when one is missing do we touch apt (apt-get update alone takes seconds).
missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # --force-confold: never stop to ask about a changed config file (there is no one to ask).
  apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
fi

# ---------------------------------------------------------------------------------------------
# 2. RabbitMQ.
rabbit_up() { port_open 5672 && timeout 20 rabbitmqctl -q await_startup >/dev/null 2>&1; }

t0=$SECONDS
how="already running"
if ! rabbit_up; then
  # `ping` succeeds when the Erlang node is up but still booting: then just wait for it.
  if ! timeout 20 rabbitmqctl -q ping >/dev/null 2>&1; then
    how="started"
    # The Debian wrapper switches to the rabbitmq user itself; -detached daemonises.
    start_daemon rabbitmq rabbitmq-server -detached ||
      die "rabbitmq: 'rabbitmq-server -detached' failed (see $LOG_DIR/rabbitmq.log)"
  fi
  wait_for rabbitmq "/var/log/rabbitmq/ and $LOG_DIR/rabbitmq.log" rabbit_up
fi
# syncQ is a stream queue: needs the stream_queue feature flag (on by default on a new 3.10
# node, off on a node upgraded from before 3.9). Enabling all flags is idempotent.
if ! rabbitmqctl -q list_feature_flags name state 2>/dev/null | grep -Eq '^stream_queue[[:space:]]+enabled'; then
  rabbitmqctl -q enable_feature_flag all >/dev/null || die "rabbitmq: cannot enable feature flags"
fi
# The project connects as guest/guest from 127.0.0.1. RabbitMQ allows guest on loopback by
# default; make sure the user exists, has that password, and may use vhost "/".
if ! rabbitmqctl -q authenticate_user guest guest >/dev/null 2>&1 ||
   ! rabbitmqctl -q list_user_permissions guest 2>/dev/null | grep -Eq '^/[[:space:]]'; then
  say "rabbitmq: restoring user guest/guest on vhost /"
  rabbitmqctl -q add_user guest guest >/dev/null 2>&1 || rabbitmqctl -q change_password guest guest >/dev/null
  rabbitmqctl -q set_user_tags guest administrator >/dev/null
  rabbitmqctl -q set_permissions -p / guest '.*' '.*' '.*' >/dev/null
fi
# The tests run on vhosts of their own (rideshare-test-0 … -7; each test process locks one), so
# they never touch the queues (and so the replication log) of a stack started with `make run` on
# "/", and test processes running at the same time never share queues.
perms=$(rabbitmqctl -q list_user_permissions guest 2>/dev/null || true)
for i in 0 1 2 3 4 5 6 7; do
  if ! grep -Eq "^rideshare-test-$i[[:space:]]" <<<"$perms"; then
    rabbitmqctl -q add_vhost "rideshare-test-$i" >/dev/null 2>&1 || true
    rabbitmqctl -q set_permissions -p "rideshare-test-$i" guest '.*' '.*' '.*' >/dev/null
  fi
done
say "rabbitmq  ready on 127.0.0.1:5672 ($how, $((SECONDS - t0))s)"

# ---------------------------------------------------------------------------------------------
# 3. ZooKeeper.
#
# The project uses 2 s ZooKeeper sessions, but a server clamps session timeouts to at least
# 2*tickTime, and Debian's /etc/zookeeper/conf/zoo.cfg has tickTime=2000 (so 4 s minimum, and a
# crashed worker's session expires late). So we run ZooKeeper from our own config with
# tickTime=1000. It lives outside the checkout because the daemon outlives any one clone.
ZK_CFG=$ZK_HOME_DIR/zoo.cfg
ZK_DATA=$ZK_HOME_DIR/data
ZK_PIDFILE=$ZK_DATA/zookeeper_server.pid

zk_up() { zk4 srvr | grep -q '^Mode: '; }

# zk_pid: pid of a local ZooKeeper server process (QuorumPeerMain), if any.
zk_pid() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    if tr '\0' ' ' 2>/dev/null <"$f" | grep -q 'org.apache.zookeeper.server.quorum.QuorumPeerMain'; then
      echo "$pid"; return 0
    fi
  done
  return 1
}

# zk_ticktime: tickTime of the ZooKeeper answering on 2181. `conf` tells when the server
# whitelists it (ours does); Debian's default whitelist is only `srvr`, so otherwise read the
# config file named on the local server's command line. Prints nothing when it cannot tell.
zk_ticktime() {
  local tt pid cfg
  tt=$(zk4 conf | sed -n 's/^tickTime=//p')
  if [ -z "$tt" ] && pid=$(zk_pid); then
    cfg=$(tr '\0' '\n' <"/proc/$pid/cmdline" | tail -n 1)
    if [ -f "$cfg" ]; then
      tt=$(sed -n 's/^[[:space:]]*tickTime[[:space:]]*=[[:space:]]*//p' "$cfg" | tail -n 1)
      tt=${tt:-3000} # ZooKeeper's built-in default
    fi
  fi
  echo "$tt"
}

# Our config. Rewritten only when it differs, so a running server's config file stays stable.
#   maxClientCnxns=0        tests open many sessions from 127.0.0.1; the default cap is 60.
#   4lw whitelist           ruok/srvr/conf for this script and for people debugging.
#   admin.enableServer      the AdminServer would listen on 8080, the load balancer's port.
#   autopurge               keep the data dir small on a long-lived machine.
mkdir -p "$ZK_DATA"
cat >"$ZK_CFG.new" <<EOF
# Written by scripts/services.sh (github.com/rideshare/dbaas). Do not edit: it is rewritten.
tickTime=1000
initLimit=10
syncLimit=5
dataDir=$ZK_DATA
clientPort=2181
maxClientCnxns=0
4lw.commands.whitelist=ruok,srvr,stat,conf,mntr,cons
admin.enableServer=false
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
EOF
if cmp -s "$ZK_CFG.new" "$ZK_CFG"; then rm -f "$ZK_CFG.new"; else mv "$ZK_CFG.new" "$ZK_CFG"; fi
# Debian runs ZooKeeper as its own user; keep that (its log dir belongs to that user too).
if id zookeeper >/dev/null 2>&1; then chown -R zookeeper:zookeeper "$ZK_HOME_DIR"; fi

zk_start() {
  # A pid file left by a server that died (or whose pid was reused) makes zkServer.sh refuse
  # to start ("already running"), so drop it unless it names a live ZooKeeper.
  if [ -f "$ZK_PIDFILE" ]; then
    local p; p=$(cat "$ZK_PIDFILE" 2>/dev/null || true)
    if ! tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q QuorumPeerMain; then rm -f "$ZK_PIDFILE"; fi
  fi
  local as=()
  if id zookeeper >/dev/null 2>&1; then as=(runuser -u zookeeper --); fi
  # JMXDISABLE: otherwise the JVM opens an extra random JMX port we do not use.
  start_daemon zookeeper "${as[@]}" env JMXDISABLE=true "$ZK_BIN" start "$ZK_CFG" ||
    die "zookeeper: '$ZK_BIN start $ZK_CFG' failed (see $LOG_DIR/zookeeper.log)"
}

t0=$SECONDS
how="already running"
if zk_up; then
  tt=$(zk_ticktime)
  if [ -z "$tt" ]; then
    say "zookeeper: WARNING: cannot tell the tickTime of the server on 2181; leaving it as it is"
  elif ((tt > 1000)); then
    # Most likely Debian's default config (tickTime=2000). Replace it with ours, once: from
    # then on the server on 2181 is ours and this branch is not taken again.
    if pid=$(zk_pid); then
      say "zookeeper: replacing the server on 2181 (pid $pid, tickTime=$tt) with $ZK_CFG (tickTime=1000)"
      kill "$pid"
      wait_for "zookeeper (stopping pid $pid)" "/var/log/zookeeper/" bash -c "! kill -0 $pid 2>/dev/null && ! timeout 2 bash -c ': </dev/tcp/127.0.0.1/2181' 2>/dev/null"
      how="restarted with tickTime=1000"
      zk_start
      wait_for zookeeper "/var/log/zookeeper/ and $LOG_DIR/zookeeper.log" zk_up
    else
      say "zookeeper: WARNING: the server on 2181 has tickTime=$tt (>1000) and is not a local process; leaving it"
    fi
  fi
else
  # A local server that is still booting has a live pid; otherwise start ours.
  if ! zk_pid >/dev/null; then
    how="started"
    zk_start
  fi
  wait_for zookeeper "/var/log/zookeeper/ and $LOG_DIR/zookeeper.log" zk_up
fi
say "zookeeper ready on 127.0.0.1:2181 ($how, $((SECONDS - t0))s)"

# ---------------------------------------------------------------------------------------------
# 4. PostgreSQL. Debian's package creates a cluster "main" per major version; pg_lsclusters
# says which version this machine has, so nothing here names one.
PG_PORT=5432
PG_URL="postgres://rideshare:rideshare@127.0.0.1:$PG_PORT/postgres?sslmode=disable"

pg_up() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 2; }

# pg_cluster: "version name status" of the cluster on $PG_PORT.
pg_cluster() { pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p { print $1, $2, $4; exit }'; }

# psql as the postgres superuser over the Unix socket (peer auth). cd / because psql running as
# postgres cannot read our working directory and says so.
pg_admin() { (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"); }

# pg_login_ok: the project's own connection works, over TCP with a password, and may CREATEDB;
# and so does the tests' second role, rideshare_peer (LOGIN only, no other right). The storage
# tests open a session as it on a worker's database, a session the rideshare role may not end,
# to prove that dropping that database still works (TestDestroyWaitsForAnotherRole).
pg_login_ok() {
  [ "$(PGPASSWORD=rideshare PGCONNECT_TIMEOUT=5 psql -X -w -h 127.0.0.1 -p "$PG_PORT" -U rideshare \
        -d postgres -tAc 'SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user' 2>/dev/null)" = t ] &&
  [ "$(PGPASSWORD=rideshare_peer PGCONNECT_TIMEOUT=5 psql -X -w -h 127.0.0.1 -p "$PG_PORT" -U rideshare_peer \
        -d postgres -tAc 'SELECT 1' 2>/dev/null)" = 1 ]
}

t0=$SECONDS
how="already running"
if ! pg_up; then
  cluster=$(pg_cluster)
  if [ -z "$cluster" ]; then
    # The package normally creates one; make it if it is missing (or was dropped).
    ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    [ -n "$ver" ] || die "postgres: no server version under /usr/lib/postgresql"
    say "postgres: creating cluster $ver/main on port $PG_PORT"
    pg_createcluster -p "$PG_PORT" "$ver" main >>"$LOG_DIR/postgres.log" 2>&1 ||
      die "postgres: pg_createcluster $ver main failed (see $LOG_DIR/postgres.log)"
    cluster=$(pg_cluster)
  fi
  read -r pg_ver pg_name pg_status <<<"$cluster"
  if [ "$pg_status" != online ]; then
    how="started"
    start_daemon postgres pg_ctlcluster "$pg_ver" "$pg_name" start ||
      die "postgres: 'pg_ctlcluster $pg_ver $pg_name start' failed (see $LOG_DIR/postgres.log and /var/log/postgresql/)"
  fi
  wait_for postgres "/var/log/postgresql/" pg_up
fi
if ! pg_login_ok; then
  # Create the role, or put back its password and rights. Idempotent.
  pg_admin <<'SQL' || die "postgres: cannot create roles rideshare and rideshare_peer"
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rideshare') THEN
    CREATE ROLE rideshare LOGIN CREATEDB PASSWORD 'rideshare';
  ELSE
    ALTER ROLE rideshare LOGIN CREATEDB PASSWORD 'rideshare';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rideshare_peer') THEN
    CREATE ROLE rideshare_peer LOGIN PASSWORD 'rideshare_peer';
  ELSE
    ALTER ROLE rideshare_peer LOGIN PASSWORD 'rideshare_peer';
  END IF;
END
$$;
SQL
fi
if ! pg_login_ok; then
  # Debian's pg_hba.conf has "host all all 127.0.0.1/32 scram-sha-256", which is all we need.
  # A machine whose pg_hba.conf was changed may reject us: allow this one role and reload.
  hba=$(pg_admin -tAc 'SHOW hba_file')
  say "postgres: allowing rideshare and rideshare_peer from 127.0.0.1 with a password in $hba"
  sed -i '1i host all rideshare,rideshare_peer 127.0.0.1/32 scram-sha-256 # added by rideshare scripts/services.sh' "$hba"
  pg_admin -tAc 'SELECT pg_reload_conf()' >/dev/null
  sleep 0.5
  pg_login_ok || die "postgres: cannot log in as $PG_URL (check $hba)"
fi
say "postgres  ready on 127.0.0.1:$PG_PORT as $PG_URL ($how, $((SECONDS - t0))s)"
