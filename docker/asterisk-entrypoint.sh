#!/bin/sh
# The Asterisk image's entrypoint: renders dialplan/templates (copied to /usr/share/ivr/templates)
# exactly as dialplan/render.py does for `ivrctl stack up`, then runs Asterisk. The values come
# from the environment and the secrets are read from files (never from the environment or a
# command line). tests/docker/test_compose.py renders with both and compares byte for byte.
#
#   ivr-asterisk                 render into $IVR_ASTERISK_ETC, then exec Asterisk
#   ivr-asterisk --render-only   render and exit (what the test runs)
set -eu
tpl=${IVR_TEMPLATES:-/usr/share/ivr/templates}
out=${IVR_ASTERISK_ETC:-/ivr/asterisk/etc}
secrets=${IVR_SECRETS_DIR:-/run/secrets}
moddir=${IVR_ASTERISK_MODDIR:-$(ls -d /usr/lib/*/asterisk/modules 2>/dev/null | head -n 1)}
max_call_s=${IVR_MAX_CALL_S:-300}

secret() {
    [ -s "$secrets/$1" ] || { echo "ivr-asterisk: no secret $secrets/$1" >&2; exit 1; }
    head -n 1 "$secrets/$1" | tr -d '\r\n'
}
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

ami_secret=$(secret ami_secret)
agi_secret=$(secret agi_secret)
# The same names as ivr/deploy/stack.py's dialplan_values() and ivr/config/variables.py.
set -- "$@" \
    moddir "$moddir" \
    sip_host "${IVR_SIP_HOST:-127.0.0.1}" \
    sip_port "${IVR_SIP_PORT:-5060}" \
    agi_host "${IVR_AGI_HOST:-127.0.0.1}" \
    agi_port "${IVR_AGI_PORT:-4573}" \
    agi_servers "${IVR_AGI_SERVERS:-${IVR_AGI_HOST:-127.0.0.1}:${IVR_AGI_PORT:-4573}}" \
    ami_port "${IVR_AMI_PORT:-5038}" \
    http_port "${IVR_ASTERISK_HTTP_PORT:-8088}" \
    ami_user ivr \
    ami_secret "$ami_secret" \
    agi_secret "$agi_secret" \
    rtp_start "${IVR_RTP_START:-10000}" \
    rtp_end "${IVR_RTP_END:-20000}" \
    hard_limit_s "$((${max_call_s%.*} + 60))" \
    outcome_var IVR_OUTCOME \
    outcome_error error_internal \
    refuse_var IVR_REFUSE \
    step_var IVR_STEP \
    keys_var IVRKEYS \
    call_end_script call-end \
    busy_var IVR_AGI_BUSY \
    early_media "${IVR_EARLY_MEDIA:-1}" \
    calls_log /ivr/logs/calls.jsonl
mode=${1:-}
[ "$mode" = "--render-only" ] && shift
script=""
while [ $# -ge 2 ]; do
    script="$script
s|@{$1}|$(esc "$2")|g"
    shift 2
done

umask 077
mkdir -p "$out"
for f in "$tpl"/*.conf; do
    sed -e "$script" "$f" >"$out/${f##*/}"
done
if grep -l '@{' "$out"/*.conf >&2; then
    echo "ivr-asterisk: a placeholder above was left unfilled" >&2
    exit 1
fi
[ "$mode" = "--render-only" ] && exit 0
for d in asterisk/lib asterisk/spool asterisk/run asterisk/log asterisk/cache logs; do
    mkdir -p "/ivr/$d"
done
exec asterisk -f -n -C "$out/asterisk.conf"
