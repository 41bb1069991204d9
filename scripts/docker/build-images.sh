#!/usr/bin/env bash
# Builds every image of the lab and of the containers backend, with the same tags
# compose.yaml and integration/src/harness/programs.ts use:
#   scripts/docker/build-images.sh            # all
#   scripts/docker/build-images.sh node sipp  # some
# Base images first (scripts/docker/base-images.sh: pulled, or made with debootstrap where no
# registry answers). Layers are cached in the engine's data root, so a second run takes
# seconds. `docker compose build` builds the same images; this script exists for what
# Compose v1 cannot express: the npm build secret `npm_ca`, a CA bundle for a
# TLS-intercepting egress proxy (NODE_EXTRA_CA_CERTS, or BUILD_CA_BUNDLE), as our CI machines
# have between them and the npm registry.
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { echo "build-images: $*" >&2; }

declare -A DOCKERFILE=(
  [node]=docker/node-service/Dockerfile
  [mariadb]=docker/mariadb/Dockerfile
  [freeradius]=docker/freeradius/Dockerfile
  [sipp]=docker/sipp/Dockerfile
  [pstn-gateway]=docker/pstn-gateway/Dockerfile
  [nat-router]=docker/nat-router/Dockerfile
  [asterisk]=docker/asterisk/Dockerfile
  [kamailio]=docker/kamailio/Dockerfile
  [rtpengine]=docker/rtpengine/Dockerfile
)
ORDER=(node mariadb freeradius sipp pstn-gateway nat-router asterisk kamailio rtpengine)
names=("$@")
[ "${#names[@]}" -gt 0 ] || names=("${ORDER[@]}")

scripts/docker/base-images.sh debian:trixie-slim debian:sid-slim

ca=${BUILD_CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-}}
secret=()
if [ -n "$ca" ] && [ -s "$ca" ]; then secret=(--secret "id=npm_ca,src=$ca"); fi

for n in "${names[@]}"; do
  f=${DOCKERFILE[$n]:-}
  [ -n "$f" ] || { log "unknown image $n (known: ${ORDER[*]})"; exit 2; }
  start=$SECONDS
  args=(-f "$f" -t "voip-stack/$n:dev")
  [ "$n" = node ] && args+=("${secret[@]}")
  # BuildKit (the CLI's buildx plugin; scripts/docker/compose-plugin.sh) for RUN --mount.
  if ! DOCKER_BUILDKIT=1 docker build -q "${args[@]}" . > "/tmp/voip-build-$n.log" 2>&1; then
    log "voip-stack/$n:dev failed:"; tail -40 "/tmp/voip-build-$n.log" >&2; exit 1
  fi
  log "voip-stack/$n:dev built in $((SECONDS - start)) s"
done
