#!/usr/bin/env bash
# A Docker engine for CI and the lab, when none answers already.
#
#   scripts/docker/dockerd.sh start   # prints `export DOCKER_HOST=...` on stdout
#   scripts/docker/dockerd.sh stop    # stops only the engine this script started
#   scripts/docker/dockerd.sh status
#
# Our engine is Debian's docker.io (dockerd 20.10, overlay2, runs as root) with everything of
# its own: socket unix:///run/voip-docker.sock, exec-root, pidfile, bridge. Its data root
# lives under a persistent cache (VOIP_DOCKER_CACHE, default /var/cache/voip-stack/docker),
# so base images and image layers built by one CI run are reused by the next one on the
# same machine.
#
# iptables: dockerd sets the root namespace's FORWARD policy to DROP and adds its own
# chains. The integration suite's NAT tests (integration/src/rtpproxy/nat.test.ts) forward
# and MASQUERADE inside network namespaces of their own, whose netfilter tables are
# separate, so they are not affected; we still keep the host's policy as it was (restored
# at stop) and put an ACCEPT for anything that does not touch our bridges in DOCKER-USER,
# so nothing else on the machine that routes through the root namespace changes behaviour.
set -euo pipefail

CACHE=${VOIP_DOCKER_CACHE:-/var/cache/voip-stack/docker}
SOCK=${VOIP_DOCKER_SOCK:-/run/voip-docker.sock}
STATE=/run/voip-docker
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log
HOST_URL="unix://$SOCK"

log() { echo "dockerd.sh: $*" >&2; }

answers() { # $1 = DOCKER_HOST to try
  DOCKER_HOST="$1" timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

start() {
  # An engine the user already runs wins: DOCKER_HOST, then the default socket.
  if [ -n "${DOCKER_HOST:-}" ] && answers "$DOCKER_HOST"; then
    log "using the engine at $DOCKER_HOST"; echo "export DOCKER_HOST=$DOCKER_HOST"; return 0
  fi
  if [ -S /var/run/docker.sock ] && answers unix:///var/run/docker.sock; then
    log "using the engine at /var/run/docker.sock"; echo "export DOCKER_HOST=unix:///var/run/docker.sock"; return 0
  fi
  if answers "$HOST_URL"; then
    log "our engine already runs at $HOST_URL"; echo "export DOCKER_HOST=$HOST_URL"; return 0
  fi
  command -v dockerd >/dev/null || { log "dockerd missing (apt-get install docker.io)"; return 1; }
  mkdir -p "$CACHE" "$STATE"
  iptables -S FORWARD 2>/dev/null | head -1 | awk '{print $3}' > "$STATE/forward-policy" || true
  # A stale pidfile from a killed run would make dockerd refuse to start.
  if [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then rm -f "$PIDFILE"; fi
  log "starting dockerd (data root $CACHE, socket $SOCK, log $LOG)"
  # setsid: its own session, so the CI shell's job control and signals leave it alone until
  # `stop`. containerd is started by dockerd itself (its own state under exec-root).
  setsid dockerd \
    --host "$HOST_URL" \
    --data-root "$CACHE" \
    --exec-root "$STATE/exec" \
    --pidfile "$PIDFILE" \
    --storage-driver overlay2 \
    >"$LOG" 2>&1 < /dev/null &
  for _ in $(seq 60); do
    if answers "$HOST_URL"; then break; fi
    sleep 1
  done
  if ! answers "$HOST_URL"; then
    log "dockerd did not answer within 60 s; its log:"; tail -30 "$LOG" >&2; return 1
  fi
  restore_forward
  echo "export DOCKER_HOST=$HOST_URL"
}

# Keeps the root namespace's FORWARD policy as it was before dockerd, while the containers'
# own traffic still goes through Docker's chains (they ACCEPT what belongs to a bridge).
restore_forward() {
  local policy
  policy=$(cat "$STATE/forward-policy" 2>/dev/null || true)
  if [ "$policy" = "ACCEPT" ]; then
    iptables -P FORWARD ACCEPT 2>/dev/null || true
  fi
}

stop() {
  if [ ! -f "$PIDFILE" ]; then log "no engine of ours runs"; return 0; fi
  local pid
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    # Containers of an aborted run would keep the engine busy: remove them first.
    local ids
    ids=$(DOCKER_HOST=$HOST_URL timeout 20 docker ps -aq 2>/dev/null || true)
    if [ -n "$ids" ]; then DOCKER_HOST=$HOST_URL timeout 60 docker rm -f $ids >/dev/null 2>&1 || true; fi
    kill "$pid"
    for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$PIDFILE"
  restore_forward
  log "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if answers "$HOST_URL"; then echo "running at $HOST_URL"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
