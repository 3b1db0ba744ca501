#!/bin/bash
# rideshare-rabbitmq's entrypoint: a standalone node (docker-compose.yml) unless
# RABBITMQ_CLUSTER_NODES lists the cluster's nodes, then a member of that cluster
# (docker-compose.cluster.yml).
#
#   RABBITMQ_CLUSTER_NODES  the cluster's node names, comma- or space-separated, this node's own
#                           included: rabbit@rabbitmq1,rabbit@rabbitmq2,rabbit@rabbitmq3. Each
#                           name is rabbit@<the container's hostname>, so give every container a
#                           fixed hostname its peers resolve (compose: hostname = service name).
#   RABBITMQ_ERLANG_COOKIE  the shared secret the nodes (and rabbitmqctl) authenticate each other
#                           with; required with RABBITMQ_CLUSTER_NODES, the same on every node.
#   RABBITMQ_NET_SETUPTIME  the seconds a node may take to connect to another (Erlang's kernel
#                           net_setuptime, 7 by default; 1 here, see below).
#
# Peer discovery is classic_config: a blank node booting looks for a listed peer that runs and
# joins it, and nodes booting at the same time take a lock first, so exactly one of them forms
# the cluster. A node that was already a member (its data directory says so) rejoins on restart.
set -euo pipefail

conf=/etc/rabbitmq/rabbitmq.conf
if [ -n "${RABBITMQ_CLUSTER_NODES:-}" ]; then
  [ -n "${RABBITMQ_ERLANG_COOKIE:-}" ] || {
    echo "rideshare-rabbitmq: RABBITMQ_CLUSTER_NODES needs RABBITMQ_ERLANG_COOKIE (the same on every node)" >&2
    exit 1
  }
  cookie=$HOME/.erlang.cookie
  [ -f "$cookie" ] && chmod 600 "$cookie"
  printf '%s' "$RABBITMQ_ERLANG_COOKIE" >"$cookie"
  chmod 400 "$cookie"
  # The server reads the cookie file; the environment variable is deprecated and would log it.
  unset RABBITMQ_ERLANG_COOKIE
  out=/tmp/rabbitmq.conf
  {
    cat "$conf" /etc/rabbitmq/cluster.conf
    i=0
    for node in ${RABBITMQ_CLUSTER_NODES//,/ }; do
      i=$((i + 1))
      echo "cluster_formation.classic_config.nodes.$i = $node"
    done
  } >"$out"
  export RABBITMQ_CONFIG_FILE=$out
  # How long a failover of syncQ (the stream) can take. When the node leading the stream dies,
  # the stream coordinator first finishes the actions under way, and some of them (restarting a
  # replica that follows the dead leader, stopping the member on the dead node) connect to the
  # dead node. A killed node's address answers nothing, so each connect waits out net_setuptime:
  # with Erlang's 7 s, writes stalled 7.2-7.5 s in the cluster test (test/cluster), against 0.2-0.7 s
  # when the connect failed at once; with 2 s, one run still stalled 5.7 s; with 1 s, none over
  # 2.8 s (docs/deploy.md, runs G). Between live nodes a connect takes milliseconds, and one that
  # times out is only tried again.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:-} -kernel net_setuptime ${RABBITMQ_NET_SETUPTIME:-1}"
fi
exec /usr/lib/rabbitmq/bin/rabbitmq-server
