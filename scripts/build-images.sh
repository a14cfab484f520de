#!/usr/bin/env bash
# `make images`: the deployment's images, built from the root file systems of
# scripts/build-image-roots.sh (cached in $IVR_CACHE_DIR/images) with no registry: each root
# is `docker import`ed once per engine (ivr-root-NAME:<stamp>), then docker/Dockerfile.NAME
# adds the repository's files on top (--network none: nothing is downloaded at this step).
#
#   ivr-app         FastAGI server and ivrctl (and the login service's command, once it exists)
#   ivr-asterisk    Asterisk 22 with the rendered prompts and dialplan/templates
#   ivr-kamailio    the cluster's SIP front        ivr-redis       Redis 7 and Sentinel
#   ivr-postgres    the subscriber directory       ivr-monitoring  Prometheus, Alertmanager, exporters
#
# Tags: ivr-NAME:$IVR_IMAGE_TAG (default: the commit, with -dirty for a changed tree) and
# ivr-NAME:latest. The engine is $DOCKER_HOST's (or the default socket). Prints each image's size.
#   usage: build-images.sh [NAME...]   (default: all)
set -euo pipefail
# The images' files keep their modes (entrypoints 0755) whatever umask the caller runs with
# (a test process that started a stack has 077).
umask 022
HERE=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${IVR_CACHE_DIR:-$HOME/.cache/ivr}
PY=${IVR_PYTHON:-$HERE/.venv/bin/python}
# Debian's client (docker.io) first: it matches the engine it ships with.
DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
export DOCKER_BUILDKIT=0
TAG=${IVR_IMAGE_TAG:-$(git -C "$HERE" describe --always --dirty --abbrev=12 2>/dev/null || echo dev)}

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(app asterisk kamailio redis postgres monitoring)
declare -A ROOT=([app]=python [asterisk]=asterisk [kamailio]=kamailio [redis]=redis
  [postgres]=postgres [monitoring]=monitoring)

if ! "$DOCKER" info >/dev/null 2>&1; then
  echo "images: no Docker engine at ${DOCKER_HOST:-the default socket}; start one (docs/operations.md \"Images\")" >&2
  exit 1
fi
roots=()
for n in "${names[@]}"; do
  [ -n "${ROOT[$n]:-}" ] || { echo "images: unknown image $n" >&2; exit 2; }
  roots+=("${ROOT[$n]}")
done
bash "$HERE/scripts/build-image-roots.sh" $(printf '%s\n' "${roots[@]}" | sort -u) >/dev/null

import_root() {  # the engine's image of one cached root (imported once per engine)
  local dir=$CACHE/images/$1 ref
  ref=ivr-root-$1:$(cat "$dir/.ivr-root" "$dir/.ivr-rootfs" 2>/dev/null | sha256sum | cut -c1-12)
  if ! "$DOCKER" image inspect "$ref" >/dev/null 2>&1; then
    tar -C "$dir" --numeric-owner --exclude=./.ivr-root --exclude=./.ivr-rootfs -c . |
      "$DOCKER" import --message "scripts/build-image-roots.sh $1" - "$ref" >/dev/null
  fi
  echo "$ref"
}

stage() {  # the build context of one image: only what its Dockerfile copies
  local name=$1 ctx=$2 pkg
  cp -r "$HERE/docker/entrypoints" "$ctx/entrypoints"
  cp "$HERE/docker/Dockerfile.$name" "$ctx/Dockerfile"
  case $name in
    app)
      mkdir -p "$ctx/app"
      for pkg in $("$PY" -c 'import tomllib,sys; print(" ".join(p.rstrip("*") for p in tomllib.load(open(sys.argv[1],"rb"))["tool"]["setuptools"]["packages"]["find"]["include"]))' "$HERE/pyproject.toml"); do
        [ -d "$HERE/$pkg" ] && cp -r "$HERE/$pkg" "$ctx/app/$pkg"
      done
      find "$ctx/app" -name __pycache__ -prune -exec rm -rf {} +
      ;;
    asterisk)
      cp -r "$HERE/dialplan/templates" "$ctx/templates"
      cp -r "$("$PY" -c 'import sys; from pathlib import Path; from sounds import render; print(render.sounds_dir(Path(sys.argv[1])))' "$CACHE")" "$ctx/sounds-ja"
      ;;
    kamailio) cp "$HERE/dialplan/kamailio/kamailio.cfg" "$ctx/" ;;
    redis) cp "$HERE/docker/redis.conf" "$ctx/" ;;
    monitoring) cp -r "$HERE/docker/prometheus" "$HERE/docker/alertmanager" "$ctx/" ;;
  esac
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for n in "${names[@]}"; do
  start=$(date +%s.%N)
  root=$(import_root "${ROOT[$n]}")
  mkdir "$work/$n"
  stage "$n" "$work/$n"
  "$DOCKER" build -q --network none --build-arg ROOT="$root" \
    --label org.opencontainers.image.revision="$TAG" \
    -t "ivr-$n:$TAG" -t "ivr-$n:latest" "$work/$n" >/dev/null
  size=$("$DOCKER" image inspect -f '{{.Size}}' "ivr-$n:$TAG")
  printf "images: ivr-%-11s %s  %4d MB  %s s\n" "$n" "$TAG" $((size / 1000000)) \
    "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')"
done
