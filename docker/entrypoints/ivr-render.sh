# Sourced by the images' entrypoints: fill `@{name}` placeholders exactly as dialplan/render.py
# does (string.Template with "@"), from name/value pairs; secrets come from files.
#   secret NAME                    the first line of $secrets/NAME, or exit 1 naming the file
#   render OUT_DIR FILE... -- NAME VALUE [NAME VALUE...]
#                                  each FILE filled into OUT_DIR (0600), a left-over
#                                  placeholder is an error
secrets=${IVR_SECRETS_DIR:-/run/secrets}

secret() {
    [ -s "$secrets/$1" ] || { echo "${0##*/}: no secret $secrets/$1" >&2; exit 1; }
    head -n 1 "$secrets/$1" | tr -d '\r\n'
}

_esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }

render() {
    _out=$1
    shift
    _files=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do
        _files="$_files $1"
        shift
    done
    shift
    _script=""
    while [ $# -ge 2 ]; do
        _script="$_script
s|@{$1}|$(_esc "$2")|g"
        shift 2
    done
    (umask 077 && mkdir -p "$_out")
    for _f in $_files; do
        (umask 077 && sed -e "$_script" "$_f" >"$_out/${_f##*/}")
        if grep -n '@{' "$_out/${_f##*/}" >&2; then
            echo "${0##*/}: a placeholder above was left unfilled in ${_f##*/}" >&2
            exit 1
        fi
    done
}
