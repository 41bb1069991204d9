#!/bin/bash
# The official image's healthcheck.sh options the lab uses: --connect (a client can log in
# over the socket) and --innodb_initialized (InnoDB has finished starting). Exit 0 = healthy.
set -u
client=(mariadb --protocol=socket --socket=/run/mysqld/mysqld.sock -u healthcheck --skip-column-names -B)
status=0
for opt in "$@"; do
  case "$opt" in
    --connect) "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 || status=1 ;;
    --innodb_initialized)
      v=$("${client[@]}" -e "SELECT 1 FROM information_schema.ENGINES WHERE engine='InnoDB' AND support IN ('YES','DEFAULT')" 2>/dev/null)
      [ "$v" = "1" ] || status=1 ;;
    *) echo "healthcheck.sh: unknown option $opt" >&2; exit 2 ;;
  esac
done
exit $status
