#!/usr/bin/env bash
# scripts/images.sh — build every image the compose deployment (docker-compose.yml) runs, with no
# pull from any registry: none is reachable where this is built, Debian's package archive is.
#
#   rideshare-debian:<suite>   the shared base: a Debian root filesystem made with debootstrap
#                              (--variant=minbase) and imported with `docker import`
#   rideshare-rabbitmq:latest  images/rabbitmq/Dockerfile   (Debian's rabbitmq-server)
#   rideshare-zookeeper:latest images/zookeeper/Dockerfile  (Debian's zookeeperd)
#   rideshare-postgres:latest  images/postgres/Dockerfile   (Debian's postgresql)
#   rideshare:latest           Dockerfile, FROM scratch around bin/rideshare (make build first)
#
# Cached: the base is made only when no image of that name carries this recipe's
# org.rideshare.base label (BASE_VERSION below); the rest is the docker build cache. Every image
# carries the label org.rideshare.project=dbaas (docker images --filter label=... lists them).
#
# Environment knobs:
#   DEBIAN_SUITE   (default bookworm)  DEBIAN_MIRROR (default http://deb.debian.org/debian)
#   IMAGE          the rideshare image's tag (default rideshare:latest)
#   BIN            the static binary it holds (default bin/rideshare)
#   ONLY           a space-separated subset of: base rabbitmq zookeeper postgres rideshare
set -euo pipefail

cd "$(dirname "$0")/.."

SUITE=${DEBIAN_SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
IMAGE=${IMAGE:-rideshare:latest}
BIN=${BIN:-bin/rideshare}
ONLY=${ONLY:-base rabbitmq zookeeper postgres rideshare}
PROJECT_LABEL=org.rideshare.project=dbaas
BASE=rideshare-debian:$SUITE
# Raise REV whenever the base's recipe (this script's make_base) changes: a base carrying another
# version is made again.
REV=1
BASE_VERSION=$SUITE-minbase-$REV

say() { echo "images: $*"; }
die() { echo "images: ERROR: $*" >&2; exit 1; }
wants() { [[ " $ONLY " == *" $1 "* ]]; }

command -v docker >/dev/null 2>&1 || die "no docker client on PATH"
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
  die "no Docker engine answers (docker version failed; is dockerd running, DOCKER_HOST right?)"

# make_base: debootstrap a minimal Debian into a temporary directory and import it as $BASE.
make_base() {
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "debootstrap needs root (no sudo found)"
    SUDO=(sudo -n)
  else
    SUDO=()
  fi
  if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    say "installing debootstrap (Debian package)"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1 ||
      { "${SUDO[@]}" apt-get update -q >/dev/null && \
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; } ||
      die "cannot install debootstrap"
  fi
  local root
  root=$(mktemp -d "${TMPDIR:-/tmp}/rideshare-rootfs.XXXXXX")
  trap '"${SUDO[@]}" rm -rf "$root"' EXIT
  say "debootstrap --variant=minbase $SUITE from $MIRROR (log: $root.log)"
  # minbase: essential packages and apt, no init system; nothing else is included.
  "${SUDO[@]}" env PATH="$PATH:/usr/sbin:/sbin" debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" \
    >"$root.log" 2>&1 || { tail -n 20 "$root.log" >&2; die "debootstrap failed (see $root.log)"; }
  # What every image on top wants, written once here:
  #   sources      the suite, its updates and security fixes
  #   policy-rc.d  package scripts must not start daemons inside `docker build`
  #   apt, dpkg    no recommends, no documentation or translations: smaller images
  "${SUDO[@]}" bash -c "
    set -e
    printf '%s\n' 'deb $MIRROR $SUITE main' 'deb $MIRROR $SUITE-updates main' \
      'deb ${MIRROR%/debian}/debian-security $SUITE-security main' >'$root/etc/apt/sources.list'
    printf '#!/bin/sh\nexit 101\n' >'$root/usr/sbin/policy-rc.d'
    chmod 755 '$root/usr/sbin/policy-rc.d'
    printf '%s\n' 'APT::Install-Recommends \"false\";' 'APT::Install-Suggests \"false\";' \
      >'$root/etc/apt/apt.conf.d/90rideshare'
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
      >'$root/etc/dpkg/dpkg.cfg.d/90rideshare'
    rm -rf '$root'/var/cache/apt/archives/*.deb '$root'/var/lib/apt/lists/* '$root'/usr/share/doc/* \
      '$root'/usr/share/man/* '$root'/usr/share/locale/*
  "
  say "docker import as $BASE"
  "${SUDO[@]}" tar -C "$root" --numeric-owner -c . |
    docker import \
      --change "LABEL $PROJECT_LABEL" \
      --change "LABEL org.rideshare.base=$BASE_VERSION" \
      --change 'ENV LANG=C.UTF-8' \
      --change 'CMD ["/bin/bash"]' \
      - "$BASE" >/dev/null
  "${SUDO[@]}" rm -rf "$root" "$root.log"
  trap - EXIT
}

t0=$SECONDS
if wants base || wants rabbitmq || wants zookeeper || wants postgres; then
  have=$(docker image inspect --format '{{index .Config.Labels "org.rideshare.base"}}' "$BASE" 2>/dev/null || true)
  if [ "$have" = "$BASE_VERSION" ]; then
    say "$BASE is there ($BASE_VERSION): no debootstrap"
  else
    make_base
    say "$BASE made ($BASE_VERSION, $((SECONDS - t0))s)"
  fi
fi

# build TAG CONTEXT [docker build args...]: docker build, its output in $logs/<tag>.log, shown
# when it fails. Never --pull: the FROM images are local.
logs=$(mktemp -d "${TMPDIR:-/tmp}/rideshare-images.XXXXXX")
build() {
  local tag=$1 ctx=$2 t=$SECONDS log old new; shift 2
  log=$logs/${tag%%:*}.log
  old=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  if ! docker build --force-rm --label "$PROJECT_LABEL" -t "$tag" "$@" "$ctx" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    say "docker build of $tag failed (log: $log)"
    return 1
  fi
  # A rebuilt image leaves the one it replaced untagged: remove it (unless a container uses it).
  new=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  if [ -n "$old" ] && [ "$old" != "$new" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
  say "$tag built ($((SECONDS - t))s)"
}

# The three service images share only the base: built side by side, the downloads of one overlap
# the package scripts of another.
pids=()
for svc in rabbitmq zookeeper postgres; do
  if wants "$svc"; then
    build "rideshare-$svc:latest" "images/$svc" --build-arg "BASE=$BASE" &
    pids+=($!)
  fi
done
if wants rideshare; then
  [ -x "$BIN" ] || die "$BIN is missing: run make build first (make images does)"
  build "$IMAGE" . -f Dockerfile || die "rideshare image failed"
fi
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
((failed == 0)) || die "an image failed to build (logs in $logs)"
rm -rf "$logs"
say "done in $((SECONDS - t0))s"
