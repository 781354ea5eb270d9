#!/usr/bin/env bash
# Schema-driven fuzzing of the whole HTTP API with schemathesis (PyPI), from
# the server's own /openapi.json: the real `wasap` binary on the sim engine,
# with one instance online so requests reach past the "unknown instance"
# answers. Fails if any request gets a 5xx (or the run finds another failure
# of the checks below).
#
#   bash tests/fuzz/openapi.sh            # default budget
#   MAX_EXAMPLES=300 bash tests/fuzz/openapi.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/wasap-target}"
VENV="${SCHEMATHESIS_VENV:-/var/tmp/wasap-schemathesis}"
MAX_EXAMPLES="${MAX_EXAMPLES:-100}"
CHECKS="${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}"

# CPython 3.11.7's `ast` module fails on some of Hypothesis's own sources
# ("AST constructor recursion depth mismatch"), which stops schemathesis's
# coverage phase: take a newer Python when pyenv has one.
PYTHON="${PYTHON:-$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3 2>/dev/null | tail -1)}"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/schemathesis" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'schemathesis>=4,<5'
fi

cargo build --quiet --locked -p wasap
work="$(mktemp -d)"
token="fuzz-admin-token-$RANDOM$RANDOM"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# The API rate limit off (WASAP_API_RATE=0): the fuzzer fires requests as fast as
# it can, and a 429 would stand in for the answer it came to check.
WASAP_API_TOKEN="$token" WASAP_API_RATE=0 WASAP_LOG=warn "$CARGO_TARGET_DIR/debug/wasap" serve --engine sim \
    --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fsS "$base/health" >/dev/null 2>&1 && break; sleep 0.1; done
api() { curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"; }
pair_fuzz() {
    api -X POST "$base/api/instances" -d '{"instance_id":"fuzz"}' >/dev/null
    api "$base/api/instances/fuzz/qr" >/dev/null
    api -X POST "$base/sim/instances/fuzz/scan" -d '{"phone":"6281100000099"}' >/dev/null
}
# Before a pass that names the instance: online, or paired again. Pass 2's
# stateful phase follows the links of `GET /api/instances`, which lists this
# instance, to its logout: it starts pass 3 as `qr_required` (found in CI).
# What it was is said, with the server's log, should anything else end it.
ensure_online() {
    local now
    now="$(api "$base/api/instances/fuzz" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("status",""))' 2>/dev/null || true)"
    if [ "$now" != "online" ]; then
        echo "the fuzz instance is '${now:-gone}' before the next pass; pairing it again. The server's log:"
        tail -n 20 "$work/server.log"
        api -X DELETE "$base/api/instances/fuzz" >/dev/null 2>&1 || true
        pair_fuzz
    fi
}
pair_fuzz

# Pass 1: the path parameters name the online instance, so bodies are checked
# for real; operations that would end the instance, or take it offline for a
# moment (a reconnect, while the other worker sends), are left to pass 2.
# The coverage phase runs alone in pass 3, with the instance kept online too:
# a disconnected instance answers sends with its documented 503
# `instance_not_connected` before reading the body. `sim_hold_sends` is left
# out of every pass: a hold makes the instance's sends wait until released.
cat >"$work/schemathesis.toml" <<TOML
[parameters]
"path.id" = "fuzz"
"path.phone" = "6281100000099"
TOML
status=0
"$VENV/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$base/openapi.json" \
    -H "Authorization: Bearer $token" --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" \
    --exclude-operation-id delete_instance --exclude-operation-id instance_logout \
    --exclude-operation-id sim_unlink --exclude-operation-id sim_disconnect \
    --exclude-operation-id instance_reconnect --exclude-operation-id sim_hold_sends \
    --phases examples,fuzzing,stateful --workers 2 --no-color || status=$?
# Pass 2: everything, with generated path parameters. Its stateful phase
# creates instances (`POST /api/instances`) and follows the links to the
# routes that need WhatsApp (profile, privacy, groups, sends...): a new,
# unpaired instance answers them with the documented 503
# `instance_not_connected`, so here, and only here, a 503 is an answer; the
# passes on the online instance still fail on it.
cat >"$work/generated-paths.toml" <<TOML
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "503"]
TOML
"$VENV/bin/schemathesis" --config-file "$work/generated-paths.toml" run "$base/openapi.json" \
    -H "Authorization: Bearer $token" --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" \
    --exclude-operation-id sim_hold_sends \
    --phases examples,fuzzing,stateful --workers 2 --no-color || status=$?
ensure_online
# Pass 3: the coverage phase (boundary and negative values of every keyword).
"$VENV/bin/schemathesis" --config-file "$work/schemathesis.toml" run "$base/openapi.json" \
    -H "Authorization: Bearer $token" --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" \
    --exclude-operation-id delete_instance \
    --exclude-operation-id instance_logout --exclude-operation-id sim_unlink \
    --exclude-operation-id sim_disconnect --exclude-operation-id instance_reconnect \
    --exclude-operation-id sim_hold_sends \
    --phases coverage --workers 2 --no-color || status=$?
if grep -q -i panick "$work/server.log"; then
    echo "the server panicked:"; grep -i -A5 panick "$work/server.log"; status=1
fi
exit "$status"
