#!/usr/bin/env bash
# Fails when a function in src/ or examples/ is longer than MAX lines (default 80), unless it is
# listed in tests/long_functions.allow ("path name  # reason"). Counts from the `fn` line to its
# closing brace; braces inside strings, raw strings, char literals and comments are ignored.
# Usage: tests/long_functions.sh [--all]   (--all prints every function over the limit, allowed or not)
set -euo pipefail
cd "$(dirname "$0")/.."
max=${MAX_FN_LINES:-80}
allow=tests/long_functions.allow
show_all=${1:-}
find src examples -name '*.rs' | sort | xargs awk -v max="$max" '
  # strip(s): the line with comments, strings and char literals removed (state carried across
  # lines for block comments and multi-line strings).
  function strip(s,   out, i, ch, nx, n) {
    out = ""; n = length(s)
    for (i = 1; i <= n; i++) {
      ch = substr(s, i, 1); nx = substr(s, i + 1, 1)
      if (blk > 0) {                      # inside /* ... */ (nested)
        if (ch == "*" && nx == "/") { blk--; i++ } else if (ch == "/" && nx == "*") { blk++; i++ }
        continue
      }
      if (str == 1) {                     # inside "..."
        if (ch == "\\") { i++ } else if (ch == "\"") { str = 0 }
        continue
      }
      if (str == 2) {                     # inside r#"..."#
        if (ch == "\"" && substr(s, i + 1, hashes) == hashlit) { str = 0; i += hashes }
        continue
      }
      if (ch == "/" && nx == "/") break
      if (ch == "/" && nx == "*") { blk = 1; i++; continue }
      if (ch == "\"") { str = 1; continue }
      if (ch == "r" && (nx == "\"" || nx == "#") && !(substr(s, i - 1, 1) ~ /[A-Za-z0-9_]/)) {
        j = i + 1; hashes = 0
        while (substr(s, j, 1) == "#") { hashes++; j++ }
        if (substr(s, j, 1) == "\"") { hashlit = substr(s, i + 1, hashes); str = 2; i = j; continue }
      }
      if (ch == "\x27") {                 # char literal (not a lifetime): a, \n, \x27, \u{..}
        if (nx == "\\") { k = index(substr(s, i + 2), "\x27"); if (k > 0) { i += k + 1; continue } }
        else if (substr(s, i + 2, 1) == "\x27") { i += 2; continue }
      }
      out = out ch
    }
    return out
  }
  FNR == 1 { depth = 0; nfn = 0; blk = 0; str = 0 }
  {
    line = strip($0)
    if (match(line, /(^|[^A-Za-z0-9_])fn [A-Za-z_][A-Za-z0-9_]*/)) {
      name = substr(line, RSTART, RLENGTH); sub(/.*fn /, "", name)
      nfn++; fname[nfn] = name; fstart[nfn] = FNR; fdepth[nfn] = depth; fopen[nfn] = 0
    }
    for (i = 1; i <= length(line); i++) {
      ch = substr(line, i, 1)
      if (ch == "{") { depth++; if (nfn > 0 && !fopen[nfn] && depth == fdepth[nfn] + 1) fopen[nfn] = 1 }
      else if (ch == "}") {
        depth--
        if (nfn > 0 && fopen[nfn] && depth == fdepth[nfn]) {
          len = FNR - fstart[nfn] + 1
          if (len > max) printf "%s %s %d %d\n", FILENAME, fname[nfn], fstart[nfn], len
          nfn--
        }
      }
      else if (ch == ";" && nfn > 0 && !fopen[nfn] && depth == fdepth[nfn]) nfn--  # a declaration
    }
  }' > /tmp/long_functions.$$
status=0
while read -r file name start len; do
  if grep -Eq "^$file $name( |$)" "$allow"; then
    [ "$show_all" = --all ] && echo "allowed: $file:$start $name is $len lines"
  else
    echo "too long: $file:$start fn $name is $len lines (limit $max; split it into named steps or add it to $allow with a reason)"
    status=1
  fi
done < /tmp/long_functions.$$
# An allowlist entry for a function that is no longer long (or no longer exists) is stale.
while read -r file name _; do
  case "$file" in ''|'#'*) continue ;; esac
  if ! grep -Eq "^$file $name " /tmp/long_functions.$$; then
    echo "stale: $allow lists $file $name, which is not over $max lines; remove the line"; status=1
  fi
done < "$allow"
rm -f /tmp/long_functions.$$
exit $status
