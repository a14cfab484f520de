#!/usr/bin/env bash
# Root file systems of the deployment images, built once per machine into
# $IVR_CACHE_DIR/images (no registry: every image starts from one of these, docs/operations.md).
#
#   bookworm    debootstrap --variant=minbase bookworm, the base of the others (cleaned: no
#               .deb cache, no apt lists, no docs)
#   python      + python3 and the service's Python dependencies (wheels cached in
#               $IVR_CACHE_DIR/wheels, installed into /opt/ivr/lib)
#   kamailio    + kamailio          redis  + redis-server, redis-sentinel
#   postgres    + postgresql-15     monitoring + prometheus, alertmanager, Redis/PostgreSQL exporters
#   asterisk    Debian forky (sid as the fallback) with asterisk, by scripts/build-rootfs.sh
#
# Each root carries a stamp of what it was built from; a root whose stamp matches is kept.
# The service users get fixed uids (docs/operations.md "Secrets"): the secret files on the
# host are owned by the uid that reads them.
#   usage: build-image-roots.sh [NAME...]   (default: all)
set -euo pipefail
# The images' files keep their modes (entrypoints 0755) whatever umask the caller runs with
# (a test process that started a stack has 077).
umask 022
CACHE=${IVR_CACHE_DIR:-$HOME/.cache/ivr}
DIR=$CACHE/images
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${IVR_PYTHON:-$HERE/.venv/bin/python}
mkdir -p "$DIR"
exec 9>"$DIR/.roots.lock"
flock 9

# Each root: its user (name:uid; the package's own user is renumbered, or created) and the
# packages it adds to the bookworm base.
declare -A ROOTS=(
  [python]="ivr:10001 python3"
  [kamailio]="kamailio:10003 kamailio"
  [redis]="redis:10002 redis-server redis-sentinel"
  [postgres]="postgres:10004 postgresql-15"
  [monitoring]="prometheus:10005 prometheus prometheus-alertmanager prometheus-redis-exporter prometheus-postgres-exporter"
  [asterisk]="ivr:10001"
)
user_of() { local r=${ROOTS[$1]}; echo "${r%% *}"; }
packages_of() { local r=${ROOTS[$1]}; echo "${r#* }"; }

mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}

fresh() { [ -f "$1/.ivr-root" ] && [ "$(cat "$1/.ivr-root")" = "$2" ]; }

# In the root's own mount namespace: /proc for the packages' scripts, gone when it ends.
in_root() {
  local root=$1
  shift
  unshare --mount --propagation private -- sh -c 'mount -t proc proc "$1/proc" && shift && exec chroot "$@"' \
    sh "$root" "$root" "$@"
}

slim() {  # what no container needs: downloaded packages, apt lists, documentation
  rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/apt/*.bin "$1"/var/lib/apt/lists/* \
    "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/usr/share/locale/* \
    "$1"/var/log/*.log "$1"/var/cache/debconf/*-old
}

fix_user() {  # root name:uid: the package's user gets the fixed uid (or is created with it)
  local root=$1 name=${2%%:*} uid=${2##*:} old oldg
  if old=$(chroot "$root" id -u "$name" 2>/dev/null); then
    oldg=$(chroot "$root" id -g "$name")
    [ "$old" = "$uid" ] && return 0
    chroot "$root" groupmod -g "$uid" "$(chroot "$root" id -gn "$name")"
    chroot "$root" usermod -u "$uid" -g "$uid" "$name"
    find "$root" -xdev -uid "$old" -exec chown -h "$uid" {} +
    find "$root" -xdev -gid "$oldg" -exec chgrp -h "$uid" {} +
  else
    chroot "$root" groupadd -g "$uid" "$name"
    chroot "$root" useradd -u "$uid" -g "$uid" -M -d /nonexistent -s /usr/sbin/nologin "$name"
  fi
}

base() {
  local root=$DIR/bookworm want="debootstrap minbase bookworm v1"
  fresh "$root" "$want" && return 0
  echo "image roots: debootstrap bookworm (about a minute)"
  rm -rf "$root.tmp"
  debootstrap --variant=minbase bookworm "$root.tmp" "$mirror" >"$DIR/debootstrap-bookworm.log" 2>&1 \
    || { echo "image roots: debootstrap failed, see $DIR/debootstrap-bookworm.log" >&2; exit 1; }
  printf '#!/bin/sh\nexit 101\n' >"$root.tmp/usr/sbin/policy-rc.d"  # packages start no service
  chmod 755 "$root.tmp/usr/sbin/policy-rc.d"
  slim "$root.tmp"
  echo "$want" >"$root.tmp/.ivr-root"
  rm -rf "$root" && mv "$root.tmp" "$root"
}

wheels_want() {  # the Python dependencies, one per line, from pyproject.toml
  "$PY" -c 'import tomllib,sys; print("\n".join(tomllib.load(open(sys.argv[1],"rb"))["project"]["dependencies"]))' \
    "$HERE/pyproject.toml"
  # pip decides markers by the host's Python; bookworm's is 3.11.2, for which redis-py
  # needs async-timeout (python_full_version < 3.11.3)
  echo "async-timeout>=4.0.3"
}

derived() {
  local name=$1 root=$DIR/$1 want
  want="bookworm:$(cat "$DIR/bookworm/.ivr-root") packages:$(packages_of "$name") user:$(user_of "$name")"
  [ "$name" = python ] && want="$want deps:$(wheels_want | sha256sum | cut -c1-16)"
  fresh "$root" "$want" && return 0
  echo "image roots: $name ($(packages_of "$name"))"
  rm -rf "$root.tmp"
  cp -a "$DIR/bookworm" "$root.tmp"
  cp /etc/resolv.conf "$root.tmp/etc/resolv.conf"
  in_root "$root.tmp" apt-get update -qq >"$DIR/apt-$name.log" 2>&1
  DEBIAN_FRONTEND=noninteractive in_root "$root.tmp" apt-get install -y -qq --no-install-recommends \
    $(packages_of "$name") >>"$DIR/apt-$name.log" 2>&1 \
    || { echo "image roots: apt-get failed for $name, see $DIR/apt-$name.log" >&2; exit 1; }
  fix_user "$root.tmp" "$(user_of "$name")"
  case $name in
    postgres) rm -rf "$root.tmp"/var/lib/postgresql/15/main "$root.tmp"/etc/postgresql/15/main ;;
    python)
      mkdir -p "$CACHE/wheels"
      wheels_want >"$root.tmp/.requirements"
      # (grep: this machine's pip configuration names local indexes that may be absent)
      "$PY" -m pip wheel -q --wheel-dir "$CACHE/wheels" -r "$root.tmp/.requirements" 2>&1 | { grep -v "^WARNING: Location" || true; }
      "$PY" -m pip install -q --no-index --find-links "$CACHE/wheels" --target "$root.tmp/opt/ivr/lib" \
        -r "$root.tmp/.requirements"
      rm -rf "$root.tmp/opt/ivr/lib/bin" "$root.tmp/.requirements"
      ;;
  esac
  : >"$root.tmp/etc/resolv.conf"  # docker gives each container its own
  slim "$root.tmp"
  echo "$want" >"$root.tmp/.ivr-root"
  rm -rf "$root" && mv "$root.tmp" "$root"
}

asterisk() {  # forky's Asterisk alone (the prompts are rendered already; no tools in it)
  IVR_ROOTFS_DIR=$DIR/asterisk IVR_ROOTFS_PACKAGES=asterisk bash "$HERE/scripts/build-rootfs.sh"
  if ! chroot "$DIR/asterisk" id -u ivr >/dev/null 2>&1; then
    fix_user "$DIR/asterisk" "$(user_of asterisk)"
    slim "$DIR/asterisk"
  fi
}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(python kamailio redis postgres monitoring asterisk)
for n in "${names[@]}"; do
  case $n in
    asterisk) asterisk ;;
    python | kamailio | redis | postgres | monitoring) base && derived "$n" ;;
    *) echo "image roots: unknown root $n" >&2; exit 2 ;;
  esac
done
for n in "${names[@]}"; do
  printf 'image roots: %-10s %s\n' "$n" "$(du -sh --apparent-size "$DIR/$n" | cut -f1)"
done
