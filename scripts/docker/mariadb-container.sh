#!/usr/bin/env bash
# MariaDB for the containers pass of the integration suite (scripts/run-tests.mjs
# --containers): the lab's image (docker/mariadb), host networking on 127.0.0.1:PORT, root
# without a password as the native suites expect from the CI machine's server.
#   scripts/docker/mariadb-container.sh start NAME PORT   # returns once healthy
#   scripts/docker/mariadb-container.sh stop NAME
set -euo pipefail
case "${1:-}" in
  start)
    name=${2:?name}; port=${3:?port}
    docker rm -f -v "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" --network host -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 \
      voip-stack/mariadb:dev mariadbd --port="$port" --bind-address=127.0.0.1 >/dev/null
    for _ in $(seq 120); do
      case "$(docker inspect -f '{{.State.Health.Status}}' "$name" 2>/dev/null)" in
        healthy) echo "mariadb-container: $name healthy on 127.0.0.1:$port"; exit 0 ;;
        "") break ;;
      esac
      sleep 1
    done
    echo "mariadb-container: $name did not become healthy:" >&2
    docker logs --tail 30 "$name" >&2 || true
    docker rm -f -v "$name" >/dev/null 2>&1 || true
    exit 1 ;;
  stop) docker rm -f -v "${2:?name}" >/dev/null 2>&1 || true ;;
  *) echo "usage: $0 start NAME PORT | stop NAME" >&2; exit 2 ;;
esac
