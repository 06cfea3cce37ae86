#!/usr/bin/env bash
# The layer rule, checked: which top-level modules of src/ each one imports (`crate::X` in
# code, not in comments), against the modules its layer may import. Exits 1 and names the
# offending files when a module imports one it may not.
#
#   tests/layers.sh            print the import table (markdown) and check it
#   tests/layers.sh --check F  also fail unless F holds that table between its markers
#   tests/layers.sh --write F  rewrite the table between the markers in F
#
# The markers are the lines `<!-- layers:begin -->` and `<!-- layers:end -->`. CI runs
# `--check ARCHITECTURE.md`, so the table in the docs is always the one the code has.
set -euo pipefail
cd "$(dirname "$0")/.."

# What each module may import (lowest layer first). A module not listed here is an error,
# so a new top-level module must be given its place.
declare -A allowed=(
  [error]=""
  [stats]="error"
  [kernels]="error"
  [tensor]="error kernels"
  [autodiff]="error kernels tensor"
  [nn]="error kernels tensor autodiff"
  [data]="error tensor"
  [io]="error tensor"
  [report]="error io"
  [instructor]="error stats kernels tensor autodiff nn data io"
  [explain]="error stats kernels tensor autodiff nn data io instructor"
  [experiment]="error stats kernels tensor autodiff nn data io instructor explain report"
)
order="error stats kernels tensor autodiff nn data io report instructor explain experiment"

# `crate::name` references in the code of the files given (comment lines dropped; `$crate::`
# inside macro bodies is the defining module itself). Crate-root macros map to their module.
imports_of() {
  grep -hvE '^\s*//' "$@" | grep -oE '(^|[^$A-Za-z0-9_])crate::[a-z_]+' | sed 's/.*crate:://' \
    | sed 's/^impl_module$/nn/' | sort -u
}

files_of() { { find "src/$1" "src/$1.rs" -name "*.rs" 2>/dev/null || true; } | sort; }

bad=0
table="| module | imports | may import |
|---|---|---|"
for m in $(ls src | sed 's/\.rs$//' | sort -u); do
  [ "$m" = lib ] && continue
  if [ -z "${allowed[$m]+set}" ]; then
    echo "layers: src/$m has no place in tests/layers.sh; add it to \`allowed\`" >&2
    bad=1
    continue
  fi
done
for m in $order; do
  files=$(files_of "$m")
  [ -z "$files" ] && continue
  used=$(imports_of $files | grep -vx "$m" | tr '\n' ' ' | sed 's/ $//' || true)
  for u in $used; do
    if ! [[ " ${allowed[$m]} " == *" $u "* ]]; then
      where=$(grep -lE "(^|[^\$A-Za-z0-9_])crate::$u\b" $files | tr '\n' ' ')
      echo "layers: $m imports $u, a layer it may not import (in: $where)" >&2
      bad=1
    fi
  done
  table+="
| \`$m\` | ${used:-—} | ${allowed[$m]:-nothing} |"
done
echo "$table"

case "${1:-}" in
  --check | --write)
    doc=$2
    grep -q '^<!-- layers:begin -->$' "$doc" && grep -q '^<!-- layers:end -->$' "$doc" \
      || { echo "layers: $doc lacks the layers:begin/end markers" >&2; exit 1; }
    new=$(awk -v t="$table" '/^<!-- layers:begin -->$/ { print; print t; skip = 1; next }
                              /^<!-- layers:end -->$/ { skip = 0 } !skip' "$doc")
    if [ "$1" = --write ]; then
      printf '%s\n' "$new" > "$doc"
    elif [ "$new" != "$(cat "$doc")" ]; then
      echo "layers: the import table in $doc is stale; run tests/layers.sh --write $doc" >&2
      bad=1
    fi
    ;;
esac
exit $bad
