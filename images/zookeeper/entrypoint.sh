#!/bin/bash
# rideshare-zookeeper's entrypoint: a standalone server (docker-compose.yml) unless ZOO_MY_ID and
# ZOO_SERVERS make it a member of an ensemble (docker-compose.cluster.yml), as the official image
# reads them:
#
#   ZOO_MY_ID    this server's id, 1-255, written to <dataDir>/myid
#   ZOO_SERVERS  every member, this one included, space-separated, in zoo.cfg's form:
#                "server.1=zookeeper1:2888:3888;2181 server.2=zookeeper2:2888:3888;2181 ..."
#   ZOO_TICK_TIME ZOO_INIT_LIMIT ZOO_SYNC_LIMIT  override zoo.cfg's timing (see zoo.cfg)
set -euo pipefail

conf=/etc/rideshare/zoo.cfg
data=/var/lib/zookeeper/data
if [ -n "${ZOO_MY_ID:-}" ] || [ -n "${ZOO_SERVERS:-}" ]; then
  [ -n "${ZOO_MY_ID:-}" ] && [ -n "${ZOO_SERVERS:-}" ] || {
    echo "rideshare-zookeeper: an ensemble member needs both ZOO_MY_ID and ZOO_SERVERS" >&2
    exit 1
  }
  echo "$ZOO_MY_ID" >"$data/myid"
  out=/tmp/zoo.cfg
  {
    grep -v -E '^(tickTime|initLimit|syncLimit)=' "$conf"
    cat /etc/rideshare/ensemble.cfg
    for s in $ZOO_SERVERS; do echo "$s"; done
  } >"$out"
  conf=$out
fi
if [ -n "${ZOO_TICK_TIME:-}${ZOO_INIT_LIMIT:-}${ZOO_SYNC_LIMIT:-}" ]; then
  out=/tmp/zoo-timing.cfg
  {
    grep -v -E "^(${ZOO_TICK_TIME:+tickTime|}${ZOO_INIT_LIMIT:+initLimit|}${ZOO_SYNC_LIMIT:+syncLimit|}_)=" "$conf"
    [ -n "${ZOO_TICK_TIME:-}" ] && echo "tickTime=$ZOO_TICK_TIME"
    [ -n "${ZOO_INIT_LIMIT:-}" ] && echo "initLimit=$ZOO_INIT_LIMIT"
    [ -n "${ZOO_SYNC_LIMIT:-}" ] && echo "syncLimit=$ZOO_SYNC_LIMIT"
    true
  } >"$out"
  conf=$out
fi
# zookeeper.jar's manifest names every library it needs; slf4j-simple logs to stderr.
exec java -Xmx256m -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
  org.apache.zookeeper.server.quorum.QuorumPeerMain "$conf"
