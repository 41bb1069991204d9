#!/usr/bin/env bash
# The base images our Dockerfiles start FROM, under their usual names.
#
#   scripts/docker/base-images.sh [debian:trixie-slim debian:sid-slim ...]
#
# For each tag: nothing to do when the engine has it; else `docker pull` (a user's machine,
# a CI with a registry); else, where no registry answers (our CI machines reach Debian's
# archive and nothing else), build it from Debian's packages: `debootstrap --variant=minbase`
# into a directory, trimmed like the official -slim images (no docs, man pages, locales,
# apt lists), then `tar | docker import` under the same tag. So one set of Dockerfiles works
# in both places, and the result is cached in the engine's data root between runs.
set -euo pipefail

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PULL_TIMEOUT=${BASE_IMAGE_PULL_TIMEOUT:-30}
TAGS=("$@")
[ "${#TAGS[@]}" -gt 0 ] || TAGS=(debian:trixie-slim debian:sid-slim)

log() { echo "base-images: $*" >&2; }

build_from_debian() { # $1 tag, $2 suite
  local tag=$1 suite=$2 dir
  command -v debootstrap >/dev/null || { log "debootstrap missing (apt-get install debootstrap)"; return 1; }
  dir=$(mktemp -d /var/tmp/voip-rootfs.XXXXXX)
  # The rootfs must go even when debootstrap fails halfway.
  trap 'rm -rf "$dir"' RETURN
  log "$tag: debootstrap --variant=minbase $suite from $MIRROR"
  # sid's Release file may be past its Valid-Until on a mirror snapshot; debootstrap checks
  # signatures (the keyring has the trixie/sid keys) but not the date.
  if ! debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
       "$suite" "$dir" "$MIRROR" > "$dir.log" 2>&1; then
    log "$tag: debootstrap failed:"; tail -20 "$dir.log" >&2; rm -f "$dir.log"; return 1
  fi
  rm -f "$dir.log"
  # What the official slim images do (debuerreotype's --slimify): keep dpkg from
  # installing documentation and locales, and apt from keeping its caches.
  mkdir -p "$dir/etc/dpkg/dpkg.cfg.d" "$dir/etc/apt/apt.conf.d"
  cat > "$dir/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CFG
  cat > "$dir/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  echo 'APT::Install-Recommends "false";' > "$dir/etc/apt/apt.conf.d/docker-no-recommends"
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$MIRROR" "$suite" > "$dir/etc/apt/sources.list.d/debian.sources"
  rm -f "$dir/etc/apt/sources.list"
  rm -rf "$dir"/usr/share/doc/*/[!c]* "$dir"/usr/share/man/* "$dir"/usr/share/info/* \
         "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb \
         "$dir"/var/log/*.log "$dir"/tmp/* 2>/dev/null || true
  # A container has no hostname or resolv.conf of its own until the engine bind-mounts one.
  : > "$dir/etc/hostname"; : > "$dir/etc/resolv.conf"
  log "$tag: importing"
  tar --numeric-owner -C "$dir" -c . | docker import \
    --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "debootstrap --variant=minbase $suite ($MIRROR)" - "$tag" >/dev/null
}

for tag in "${TAGS[@]}"; do
  if docker image inspect "$tag" >/dev/null 2>&1; then log "$tag: present"; continue; fi
  if timeout "$PULL_TIMEOUT" docker pull -q "$tag" >/dev/null 2>&1; then log "$tag: pulled"; continue; fi
  case "$tag" in
    debian:*-slim) suite=${tag#debian:}; suite=${suite%-slim} ;;
    debian:*) suite=${tag#debian:} ;;
    *) log "$tag: cannot be pulled and is not a Debian base image"; exit 1 ;;
  esac
  start=$SECONDS
  build_from_debian "$tag" "$suite"
  log "$tag: built from Debian's packages in $((SECONDS - start)) s"
done
