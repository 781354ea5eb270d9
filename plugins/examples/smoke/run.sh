#!/usr/bin/env bash
# Runs the three example components in a real component runtime (jco, from npm) and checks
# their outcomes: a smoke test of the WIT boundary and the SDK's export glue until the host's
# wasmtime runtime exists. Not part of CI (it needs npm); run it after rebuilding the examples:
#   bash plugins/examples/smoke/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
examples="$(dirname "$here")"
work="${WASAP_SMOKE_DIR:-${TMPDIR:-/tmp}/wasap-plugin-smoke}"
mkdir -p "$work"
cd "$work"
if [ ! -x node_modules/.bin/jco ]; then
  [ -f package.json ] || npm init -y >/dev/null
  npm install --no-audit --no-fund @bytecodealliance/jco >/dev/null
fi
for name in redactor spam-filter auto-reply; do
  npx jco transpile "$examples/$name/$name.wasm" -o "out/$name" --name "$name" \
    --instantiation async --quiet
  echo '{"type":"module"}' > "out/$name/package.json"
done
cp "$here/smoke.mjs" .
node smoke.mjs
