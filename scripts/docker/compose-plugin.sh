#!/usr/bin/env bash
# Compose v2 (`docker compose`) and buildx for the docker CLI, when it has none.
#
# Debian bookworm packages only Compose v1 (docker-compose 1.29, Python). Users run v2, and
# compose.yaml is written for v2 (it also validates with v1: integration/src/harness/
# compose.test.ts). Debian sid packages v2 (docker-compose 2.40) and buildx as CLI plugins:
# we take their binaries out of sid's .debs with a throw-away debian:sid-slim container
# (scripts/docker/base-images.sh makes that image where no registry answers) and install
# them where the CLI looks for plugins. Both are static Go programs, so they run on the
# bookworm host as well.
set -euo pipefail
PLUGINS=${DOCKER_CLI_PLUGINS_DIR:-/usr/local/lib/docker/cli-plugins}
log() { echo "compose-plugin: $*" >&2; }

need=()
docker compose version >/dev/null 2>&1 || need+=(docker-compose)
docker buildx version >/dev/null 2>&1 || need+=(docker-buildx)
if [ "${#need[@]}" -eq 0 ]; then log "$(docker compose version), buildx present"; exit 0; fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log "installing ${need[*]} from Debian sid into $PLUGINS"
docker run --rm -v "$out:/out" debian:sid-slim sh -ec "
  apt-get -qq -o Acquire::Check-Valid-Until=false update >/dev/null
  cd /tmp && apt-get -qq download ${need[*]} >/dev/null
  for d in *.deb; do dpkg-deb -x \"\$d\" /tmp/x; done
  cp /tmp/x/usr/libexec/docker/cli-plugins/* /out/
  chmod 0755 /out/*"
mkdir -p "$PLUGINS"
for f in "$out"/*; do install -m 0755 "$f" "$PLUGINS/$(basename "$f")"; done
log "$(docker compose version)"
