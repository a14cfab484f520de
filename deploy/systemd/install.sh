#!/usr/bin/env bash
# Install the VM form (docs/operations.md "VM (systemd)"): the units and drop-ins of
# deploy/systemd, the Asterisk entrypoint and dialplan templates, /etc/ivr/redis.conf, an
# example /etc/ivr/ivr.env and the secrets folder. Run as root from a checkout (after
# `make setup`, for the prompts). The Python service itself goes into /opt/ivr (a venv:
# docs/operations.md). Idempotent: /etc/ivr/ivr.env and the secrets are never overwritten.
#   install.sh [--root DIR]   DIR: install into another root (files only, no users, no reload)
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=""
[ "${1:-}" = --root ] && ROOT=${2:?--root DIR}
CACHE=${IVR_CACHE_DIR:-$HOME/.cache/ivr}
S=$HERE/deploy/systemd
unit=$ROOT/etc/systemd/system

install -d "$unit/asterisk.service.d" "$unit/redis-server.service.d" "$ROOT/usr/local/lib/ivr" \
  "$ROOT/usr/share/ivr/templates" "$ROOT/etc/ivr" "$ROOT/ivr"
install -m 0644 "$S/ivr-agi.service" "$S/ivr-login.service" "$unit/"
install -m 0644 "$S/asterisk.service.d/ivr.conf" "$unit/asterisk.service.d/ivr.conf"
install -m 0644 "$S/redis-server.service.d/ivr.conf" "$unit/redis-server.service.d/ivr.conf"
install -m 0755 "$HERE/docker/entrypoints/ivr-asterisk" "$HERE/docker/entrypoints/ivr-render.sh" \
  "$ROOT/usr/local/lib/ivr/"
install -m 0644 "$HERE"/dialplan/templates/*.conf "$ROOT/usr/share/ivr/templates/"
# the container's redis.conf, its password include from the service's credential instead
sed 's|^include /run/secrets/redis_auth_conf$|include /run/credentials/redis-server.service/redis_auth_conf|' \
  "$HERE/docker/redis.conf" >"$ROOT/etc/ivr/redis.conf"
chmod 0644 "$ROOT/etc/ivr/redis.conf"
[ -e "$ROOT/etc/ivr/ivr.env" ] || install -m 0644 "$S/ivr.env.example" "$ROOT/etc/ivr/ivr.env"
install -d -m 0700 "$ROOT/etc/ivr/secrets"
sounds=$(ls -d "$CACHE"/sounds/*/ja 2>/dev/null | head -n 1 || true)
if [ -n "$sounds" ]; then
  install -d "$ROOT/usr/share/asterisk/sounds/ja"
  cp -r "$sounds"/. "$ROOT/usr/share/asterisk/sounds/ja/"
fi
if [ -z "$ROOT" ]; then
  getent group ivr >/dev/null || groupadd -g 10001 ivr
  getent passwd ivr >/dev/null || useradd -u 10001 -g ivr -M -d /var/lib/ivr -s /usr/sbin/nologin ivr
  [ -d /run/systemd/system ] && systemctl daemon-reload
fi
echo "installed into ${ROOT:-/}: ivr-agi.service ivr-login.service, drop-ins for asterisk and redis-server"
