#!/bin/bash
# First start of an empty data directory: install the system tables, set the root password,
# create MARIADB_DATABASE and MARIADB_USER, run /docker-entrypoint-initdb.d/*; then exec
# mariadbd as the container's main process. The same variables as the official image
# (MYSQL_* accepted as aliases, as it does).
set -euo pipefail
DATADIR=/var/lib/mysql
log() { echo "entrypoint: $*" >&2; }

if [ "${1:-}" != "mariadbd" ] && [ "${1:-}" != "mysqld" ]; then exec "$@"; fi

ROOT_PW=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
ALLOW_EMPTY=${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}
DATABASE=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
USER_NAME=${MARIADB_USER:-${MYSQL_USER:-}}
USER_PW=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}

sql_string() { # quotes $1 as an SQL string literal
  local s=${1//\\/\\\\}; s=${s//\'/\\\'}; printf "'%s'" "$s"
}
sql_ident() { local s=${1//\`/\`\`}; printf '`%s`' "$s"; }

mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
chown mysql:mysql "$DATADIR"

if [ ! -d "$DATADIR/mysql" ]; then
  if [ -z "$ROOT_PW" ] && [ -z "$ALLOW_EMPTY" ]; then
    log "database is uninitialized and MARIADB_ROOT_PASSWORD is not set (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1)"
    exit 1
  fi
  log "initializing $DATADIR"
  mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=normal >/dev/null
  # A server for the setup only: no network, so nothing can reach it half-provisioned.
  mariadbd --user=mysql --datadir="$DATADIR" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 60); do mariadb-admin --socket=/run/mysqld/init.sock -uroot ping >/dev/null 2>&1 && break; sleep 1; done
  client=(mariadb --protocol=socket --socket=/run/mysqld/init.sock -uroot)
  {
    echo "DELETE FROM mysql.global_priv WHERE User='' OR (User='root' AND Host NOT IN ('localhost'));"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $(sql_string "$ROOT_PW");"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$ROOT_PW");"
    # The healthcheck logs in over the socket as this user (like the official image's).
    echo "CREATE USER 'healthcheck'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');"
    echo "GRANT USAGE ON *.* TO 'healthcheck'@'localhost';"
    if [ -n "$DATABASE" ]; then echo "CREATE DATABASE IF NOT EXISTS $(sql_ident "$DATABASE");"; fi
    if [ -n "$USER_NAME" ] && [ -n "$USER_PW" ]; then
      echo "CREATE USER $(sql_string "$USER_NAME")@'%' IDENTIFIED BY $(sql_string "$USER_PW");"
      if [ -n "$DATABASE" ]; then echo "GRANT ALL ON $(sql_ident "$DATABASE").* TO $(sql_string "$USER_NAME")@'%';"; fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | "${client[@]}"
  client+=(-p"$ROOT_PW")
  [ -n "$ROOT_PW" ] || client=(mariadb --protocol=socket --socket=/run/mysqld/init.sock -uroot)
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh) log "running $f"; . "$f" ;;
      *.sql) log "running $f"; "${client[@]}" ${DATABASE:+"$DATABASE"} < "$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${client[@]}" ${DATABASE:+"$DATABASE"} ;;
      *) log "ignoring $f" ;;
    esac
  done
  kill "$pid"; wait "$pid" || true
  log "initialized"
fi
exec "$@" --user=mysql --datadir="$DATADIR"
