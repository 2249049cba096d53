# Shared helpers for rh-redis-entrypoint and rh-redis-start (sourced, bash).
# Config files are edited line by line, keeping everything else (comments, and what Sentinel /
# CONFIG REWRITE wrote) untouched.

RH_LOG=/var/log/redis/rh-boot.log

rh_log() {
  local line
  line="$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) ${RH_LOG_TAG:-rh-redis}[$(hostname)]: $*"
  echo "$line" >&2
  echo "$line" >>"$RH_LOG" 2>/dev/null || true
}

# Double-quoted Redis config string (sdssplitargs syntax): escape backslash and double quote.
rh_quote() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# _rh_edit FILE MODE KEY [VALUE [BEFORE]]
# Lines are matched on their first words, case-insensitively, whitespace-normalised
# (KEY "sentinel auth-pass mymaster" matches `SENTINEL auth-pass  mymaster "x"`).
# MODE set: the first matching line becomes "KEY VALUE", later matching lines are dropped; with
#   no match the line is inserted before the first line starting with BEFORE (if given and
#   present), else appended.
# MODE del: every matching line is dropped.
# The file is replaced atomically (temp file in the same directory, then mv), mode 0640.
_rh_edit() {
  local file=$1 mode=$2 key=$3 val=${4:-} before=${5:-} tmp
  tmp=$(mktemp "${file}.rh.XXXXXX") || return 1
  if ! RH_K="$key" RH_V="$val" RH_B="$before" RH_M="$mode" awk '
    BEGIN { k = tolower(ENVIRON["RH_K"]) " "; b = tolower(ENVIRON["RH_B"]);
            m = ENVIRON["RH_M"]; line = ENVIRON["RH_K"] " " ENVIRON["RH_V"]; done = 0 }
    { norm = tolower($0); gsub(/[ \t]+/, " ", norm); sub(/^ /, "", norm) }
    index(norm, k) == 1 { if (m == "set" && !done) { print line; done = 1 }; next }
    m == "set" && !done && b != "" && index(norm, b) == 1 { print line; done = 1 }
    { print }
    END { if (m == "set" && !done) print line }
  ' "$file" >"$tmp"; then
    rm -f "$tmp"; return 1
  fi
  chmod 0640 "$tmp"
  if [ "$(id -u)" = 0 ]; then chown redis:redis "$tmp"; fi
  mv -f "$tmp" "$file"
}

rh_conf_set() { _rh_edit "$1" set "$2" "$3" "${4:-}"; }
rh_conf_del() { _rh_edit "$1" del "$2"; }

# rh_conf_get FILE KEY -> the rest of the first matching line (quotes kept)
rh_conf_get() {
  RH_K="$2" awk '
    BEGIN { k = tolower(ENVIRON["RH_K"]) " " }
    { norm = $0; gsub(/[ \t]+/, " ", norm); sub(/^ /, "", norm) }
    index(tolower(norm), k) == 1 { print substr(norm, length(k) + 1); exit }
  ' "$1"
}

# A sentinel's run id, derived from its host name (40 hex characters, as Sentinel wants), so
# that every host can name every other sentinel before they have ever met.
rh_sentinel_id() {
  printf 'reboot-harness-sentinel-%s' "$1" | sha1sum | cut -c1-40
}
