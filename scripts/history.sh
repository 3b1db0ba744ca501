#!/usr/bin/env bash
# scripts/history.sh — `make history`: time to serve after a long history (invariant 8).
#
# On a freshly started stack (hcl/local.hcl, its own vhost, ZooKeeper root and data dir, the
# scaler held off) it measures, each beside its floor in the same run:
#   1. slave and master kill -9 → replacement ready (rideshare bench -failover), on the empty
#      stack (the floor), then after ROWS inserts and UPDATES updates over them;
#   2. the largest size of syncQ on disk while the history is written, against its bound;
#   3. rideshare backup of the newest snapshot, and of a new one (-new);
#   4. `rideshare up` stopped and started again on the same broker: start → ready;
#   5. rideshare restore of that backup into a fresh vhost and root, and its `up` → ready,
#      which must show the same number of users.
# Needs `make build services` first (the Makefile does that) and rabbitmqctl.
#
#   ROWS=100000 UPDATES=200000 DRILLS=3 LOG_MAX=64MiB LOG_SEGMENT=8MiB scripts/history.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${BIN:-bin/rideshare}
ROWS=${ROWS:-100000}
UPDATES=${UPDATES:-200000}
DRILLS=${DRILLS:-3}
LOG_MAX=${LOG_MAX:-64MiB}
LOG_SEGMENT=${LOG_SEGMENT:-8MiB}
VHOST=rideshare-history
VHOST2=rideshare-restored
STAMP=$(date +%s)
DATA=$(mktemp -d -t rideshare-history.XXXXXX)
CONFIG="$DATA/history.hcl"
# The shipped defaults with the log bound of this run.
sed -e "s/max_bytes *= *\"[^\"]*\"/max_bytes     = \"$LOG_MAX\"/" \
    -e "s/segment_bytes *= *\"[^\"]*\"/segment_bytes = \"$LOG_SEGMENT\"/" hcl/local.hcl >"$CONFIG"

fresh_vhost() {
  rabbitmqctl -q delete_vhost "$1" >/dev/null 2>&1 || true
  rabbitmqctl -q add_vhost "$1" >/dev/null
  rabbitmqctl -q set_permissions -p "$1" guest '.*' '.*' '.*' >/dev/null
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

UP=
VARS=()
T=
start_up() { # start_up VHOST ROOT DATADIR; sets T to the seconds to ready
  VARS=(-var "amqp_url=amqp://guest:guest@127.0.0.1:5672/$1" -var "zk_root=$2" -var "data_dir=$3" -var scale_interval=24h)
  local t0; t0=$(now)
  "$BIN" up -config "$CONFIG" "${VARS[@]}" >"$3.up.out" 2>&1 &
  UP=$!
  for _ in $(seq 1 1200); do
    if grep -q '^ready:' "$3.up.out" 2>/dev/null && curl -sf localhost:8083/readyz >/dev/null; then T=$(since "$t0"); return; fi
    if ! kill -0 "$UP" 2>/dev/null; then cat "$3.up.out" >&2; echo "history: rideshare up exited" >&2; exit 1; fi
    sleep 0.1
  done
  echo "history: not ready in 120 s" >&2; exit 1
}
stop_up() { kill -TERM "$UP" 2>/dev/null || true; wait "$UP" 2>/dev/null || true; UP=; }
cleanup() {
  [ -n "${SAMPLER:-}" ] && kill "$SAMPLER" 2>/dev/null || true
  [ -n "$UP" ] && stop_up
  rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
  rabbitmqctl -q delete_vhost "$VHOST2" >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap cleanup EXIT
users() { curl -s -X POST localhost:8083/api/v1/db/read -d '{"table":"users","columns":["username"]}' | grep -o '"username"' | wc -l; }

fresh_vhost "$VHOST"
ROOT="/rideshare-history-$STAMP"
start_up "$VHOST" "$ROOT" "$DATA/a"
echo "history: fresh stack ready in ${T}s (vhost $VHOST, zk root $ROOT, sync_log $LOG_MAX / $LOG_SEGMENT)" >&2

echo "== floor: kill -9 drills on the empty stack"
"$BIN" bench -scenarios none -failover "$DRILLS"

# The largest size of syncQ's stream directory while the history is written.
STREAMDIR=/var/lib/rabbitmq/mnesia
(peak=0; while true; do
   s=$(du -sb $STREAMDIR/*/stream/${VHOST}_syncQ_* 2>/dev/null | awk '{s+=$1} END {print s+0}')
   [ "$s" -gt "$peak" ] && peak=$s && echo "$peak" >"$DATA/peak"
   sleep 1
 done) &
SAMPLER=$!
echo "== after $ROWS rows and $UPDATES updates"
t0=$(now)
"$BIN" bench -scenarios none -preload-rows "$ROWS" -preload-updates "$UPDATES" -failover "$DRILLS"
kill "$SAMPLER"; SAMPLER=
echo "history written and drilled in $(since "$t0")s; syncQ peak on disk $(cat "$DATA/peak" 2>/dev/null || echo ?) bytes (bound $LOG_MAX + one segment of $LOG_SEGMENT)"
"$BIN" status

echo "== backup"
t0=$(now); "$BIN" backup -config "$CONFIG" "${VARS[@]}" -o "$DATA/newest.backup"; echo "backup of the newest snapshot: $(since "$t0")s"
t0=$(now); "$BIN" backup -config "$CONFIG" "${VARS[@]}" -new -o "$DATA/new.backup"; echo "backup of a new snapshot: $(since "$t0")s"
before=$(users)

echo "== restart"
stop_up
start_up "$VHOST" "$ROOT" "$DATA/a"; echo "rideshare up restarted over $before users: ready in ${T}s"
stop_up

echo "== restore"
fresh_vhost "$VHOST2"
ROOT2="/rideshare-restored-$STAMP"
t0=$(now)
"$BIN" restore -config "$CONFIG" -var "amqp_url=amqp://guest:guest@127.0.0.1:5672/$VHOST2" -var "zk_root=$ROOT2" "$DATA/new.backup"
echo "restore: $(since "$t0")s"
start_up "$VHOST2" "$ROOT2" "$DATA/b"; echo "restored deployment ready in ${T}s"
after=$(users)
echo "users before $before, after restore $after"
[ "$before" = "$after" ] || { echo "history: the restored deployment has $after users, not $before" >&2; exit 1; }
