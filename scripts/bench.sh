#!/usr/bin/env bash
# scripts/bench.sh — `make bench`: measure the data path on a freshly started stack.
#
# Starts `rideshare up` on the embedded defaults (hcl/local.hcl: 1 master + 1 slave) with its
# own RabbitMQ vhost (emptied first), its own ZooKeeper root, a fresh data dir and the scaler's
# interval at 24h (the read phase would otherwise scale the slaves out to 8 in the middle of the
# runs, and 8 followers on 2 cores change every later figure), runs `rideshare bench` against
# it RUNS times and prints the median of each figure beside the floor of the same runs (a bare
# AMQP echo RPC on the same broker), then stops the stack. Needs `make build services` first
# (the Makefile does that).
#
#   RUNS=3 DURATION=5s scripts/bench.sh [extra rideshare bench flags, e.g. -failover 5]
#   CONFIG=other.hcl scripts/bench.sh    (a deployment file declaring the same variables)
#   QUEUE_TYPE=quorum scripts/bench.sh   (the request queues' type, -var amqp_queue_type)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${BIN:-bin/rideshare}
CONFIG=${CONFIG:-hcl/local.hcl}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5s}
VHOST=rideshare-bench
AMQP="amqp://guest:guest@127.0.0.1:5672/$VHOST"
ZKROOT="/rideshare-bench-$(date +%s)"
DATA=$(mktemp -d -t rideshare-bench.XXXXXX)

# A fresh vhost: no replication log from an earlier run to replay.
rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
rabbitmqctl -q add_vhost "$VHOST" >/dev/null
rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' >/dev/null

"$BIN" up -config "$CONFIG" -var "amqp_url=$AMQP" ${QUEUE_TYPE:+-var "amqp_queue_type=$QUEUE_TYPE"} -var "zk_root=$ZKROOT" -var "data_dir=$DATA" -var scale_interval=24h \
  >"$DATA/up.out" 2>&1 &
UP=$!
cleanup() {
  kill -TERM "$UP" 2>/dev/null || true
  wait "$UP" 2>/dev/null || true
  rabbitmqctl -q delete_vhost "$VHOST" >/dev/null 2>&1 || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 1 120); do
  if grep -q '^ready:' "$DATA/up.out" 2>/dev/null; then break; fi
  if ! kill -0 "$UP" 2>/dev/null; then cat "$DATA/up.out" >&2; echo "bench: rideshare up exited" >&2; exit 1; fi
  sleep 0.5
done
grep -q '^ready:' "$DATA/up.out" || { cat "$DATA/up.out" >&2; echo "bench: the stack was not ready in 60s" >&2; exit 1; }
echo "bench: fresh stack (vhost $VHOST, zk root $ZKROOT); $RUNS runs of $DURATION per figure" >&2
"$BIN" bench -amqp "$AMQP" -duration "$DURATION" -runs "$RUNS" "$@"
