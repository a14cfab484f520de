#!/usr/bin/env bash
# Build (once per machine) the Debian testing root file system that holds Asterisk 22 and the
# prompt tools. Bookworm has no asterisk package; forky does (sid as the fallback). The root
# is cached outside the clone ($IVR_CACHE_DIR) so every clone on the machine shares it.
set -euo pipefail
CACHE=${IVR_CACHE_DIR:-$HOME/.cache/ivr}
# IVR_ROOTFS_DIR/IVR_ROOTFS_PACKAGES: another root from the same suite (the Asterisk image's,
# scripts/build-image-roots.sh), with the packages comma- or space-separated.
ROOT=${IVR_ROOTFS_DIR:-$CACHE/rootfs}
# python3 and the store's libraries: only for benchmarks/classic (the one-process-per-call
# AGI deployment the capacity benchmark compares against); the service never runs them.
PKGS=${IVR_ROOTFS_PACKAGES:-asterisk,asterisk-core-sounds-en-gsm,open-jtalk,open-jtalk-mecab-naist-jdic,hts-voice-nitech-jp-atr503-m001,sox,python3,python3-redis,python3-argon2,python3-sqlalchemy}
PKGS=${PKGS// /,}
STAMP="$ROOT/.ivr-rootfs"
WANT="packages=$PKGS"

mkdir -p "$CACHE"
exec 9>"$ROOT.lock"
flock 9

if [ -f "$STAMP" ] && [ "$(head -1 "$STAMP")" = "$WANT" ] && chroot "$ROOT" asterisk -V >/dev/null 2>&1; then
  echo "rootfs: cached at $ROOT ($(chroot "$ROOT" asterisk -V))"
  exit 0
fi

mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}
tmp="$ROOT.tmp"
built=""
for suite in forky sid; do
  rm -rf "$tmp"
  echo "rootfs: debootstrap $suite from $mirror (about a minute)"
  if debootstrap --variant=minbase --components=main,contrib --include="$PKGS" \
      "$suite" "$tmp" "$mirror" /usr/share/debootstrap/scripts/sid >"$ROOT-debootstrap-$suite.log" 2>&1 \
      && chroot "$tmp" asterisk -V >/dev/null 2>&1; then
    built=$suite
    break
  fi
  echo "rootfs: $suite did not give an asterisk package (see $ROOT-debootstrap-$suite.log); trying the next suite" >&2
done
if [ -z "$built" ]; then
  echo "rootfs: neither forky nor sid could provide Asterisk; see $ROOT-debootstrap-*.log" >&2
  rm -rf "$tmp"
  exit 1
fi

# Mount points for the stack's private mount namespace, and a hosts file (the root has none).
mkdir -p "$tmp/ivr" "$tmp/usr/share/asterisk/sounds/ja"
printf '127.0.0.1 localhost %s\n::1 localhost\n' "$(hostname)" >"$tmp/etc/hosts"
rm -rf "$ROOT"
mv "$tmp" "$ROOT"
printf '%s\nsuite=%s\n%s\n' "$WANT" "$built" "$(chroot "$ROOT" asterisk -V)" >"$STAMP"
echo "rootfs: built from $built: $(chroot "$ROOT" asterisk -V)"
