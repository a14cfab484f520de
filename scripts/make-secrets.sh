#!/usr/bin/env bash
# The compose deployments' secret files (docs/operations.md "Secrets"), made once into DIR
# (default docker/secrets): each 0600 from its creation and owned by the uid of the one
# container user that reads it, since compose bind-mounts a file secret with its host owner
# and mode, and the services refuse a secret others may read. A file already there is kept
# (never make a new pepper for a running service: every live password would stop verifying);
# the files that repeat a value (redis-auth.conf, pgpass, the monitor-* copies) are written
# from the one they repeat.
#   uid 10001 (ivr-app, ivr-asterisk)  pepper agi-secret ami-secret redis-password pgpass
#   uid 10002 (ivr-redis)              redis-auth.conf
#   uid 10004 (ivr-postgres)           pg-password
#   uid 10005 (ivr-monitoring)         monitor-redis-password monitor-pg-password
set -euo pipefail
DIR=${1:-$(cd "$(dirname "$0")/.." && pwd)/docker/secrets}
umask 077
mkdir -p "$DIR"
chmod 700 "$DIR"

random() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
made=()
keep_or() {  # file uid command...: the file from command's output unless it exists
  local name=$1 f=$DIR/$1 uid=$2
  shift 2
  if [ ! -e "$f" ]; then
    "$@" >"$f.tmp"
    mv "$f.tmp" "$f"
    made+=("$name")
  fi
  chown "$uid:$uid" "$f"
  chmod 600 "$f"
}
derive() {  # file uid text: rewritten from its source each time
  local f=$DIR/$1 uid=$2
  printf '%s\n' "$3" >"$f.tmp"
  chown "$uid:$uid" "$f.tmp"
  mv "$f.tmp" "$f"
}
keep_or pepper 10001 head -c 32 /dev/urandom
keep_or agi-secret 10001 random
keep_or ami-secret 10001 random
keep_or redis-password 10001 random
keep_or pg-password 10004 random
redis=$(head -n 1 "$DIR/redis-password")
pg=$(head -n 1 "$DIR/pg-password")
derive redis-auth.conf 10002 "requirepass $redis
masterauth $redis"
derive pgpass 10001 "*:*:ivr:ivr:$pg"
derive monitor-redis-password 10005 "$redis"
derive monitor-pg-password 10005 "$pg"
echo "secrets: $DIR (new: ${made[*]:-none})"
