#!/usr/bin/env bash
# API conformance: schemathesis (from PyPI, pinned) against the running server's
# /v1/openapi.json, once per demo role and once without a token. Fails on any 5xx and on any
# response that does not match the document (status code documented, content type, body schema;
# SSE events one by one). Bounded: $MOTCUA_ST_EXAMPLES examples per operation (default 25), a
# fixed seed, one worker. See RELIABILITY.md "API conformance (schemathesis)".
#
# Nothing is excluded: every operation of the document is tested under every role, including
# the SSE stream (schemathesis reads the events it is sent and validates each) and the
# rate-limited public lookup (429 is documented, so hitting the limit is conformant).
#
# Usage: .ci/schemathesis.sh            (from anywhere; builds `motcua` in debug)
# Env:   MOTCUA_ST_EXAMPLES=N  MOTCUA_ST_ROLES="admin auditor ..."  CARGO_TARGET_DIR
#        MOTCUA_BIN=path (test this binary instead of building one)
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
EXAMPLES=${MOTCUA_ST_EXAMPLES:-25}
SEED=20230831
ROLES=${MOTCUA_ST_ROLES:-"admin reception specialist leader auditor planner citizen anonymous"}
# The checks the issue asks for (no 5xx; the response matches its documentation), named
# explicitly so a schemathesis upgrade cannot widen or narrow them silently.
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance
TARGET=${CARGO_TARGET_DIR:-$PWD/target}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "schemathesis: need root (or sudo) to run: $*" >&2; return 1
  fi
}

# A Python >= 3.12 when the machine has one (on PATH or installed by pyenv): CPython 3.11 can
# raise "SystemError: AST constructor recursion depth mismatch" inside hypothesis (seen once
# here with 3.11.7 and two workers); Debian 12's python3 is 3.11, which works with one worker.
PY=
for cand in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[23]*/bin/python3 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    PY=$(command -v "$cand"); break
  fi
done
if [ -z "$PY" ] || ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "== schemathesis: installing python3-venv and python3-pip"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
  PY=$(command -v python3)
fi

VENV=$TARGET/schemathesis-venv-$ST_VERSION-$("$PY" -c 'import sys; print("py%d.%d" % sys.version_info[:2])')
ST=$VENV/bin/schemathesis
if ! { [ -x "$ST" ] && "$ST" --version 2>/dev/null | grep -q "version $ST_VERSION\$"; }; then
  echo "== schemathesis: creating $VENV with $("$PY" --version)"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi
"$ST" --version

WORK=$(mktemp -d "${TMPDIR:-/tmp}/motcua-st.XXXXXX")
if [ -n "${MOTCUA_BIN:-}" ]; then
  cp "$MOTCUA_BIN" "$WORK/motcua"
else
  echo "== schemathesis: building motcua"
  cargo build --locked -p motcua-http --bin motcua
  # A private copy: a shared target dir may get another checkout's build meanwhile.
  cp "$TARGET/debug/motcua" "$WORK/motcua"
fi
BIN=$WORK/motcua
SERVER_PID=
# SIGTERM is the documented graceful stop (drain, flush, close the log, exit 0).
stop_server() {
  local rc=0
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || rc=$?
  fi
  SERVER_PID=
  return "$rc"
}
cleanup() { stop_server || true; rm -rf "$WORK"; }
trap cleanup EXIT

# Today's dossier codes (the commune's local date) for the identifier dictionaries.
sed "s/@TODAY@/$(TZ=Asia/Ho_Chi_Minh date +%y%m%d)/g" .ci/schemathesis.toml >"$WORK/schemathesis.toml"
CONFIG=$WORK/schemathesis.toml

"$BIN" serve --demo --data "$WORK/data" --bind 127.0.0.1:0 >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 1 240); do
  grep -q '^listening on http://' "$WORK/server.out" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; echo "schemathesis: server died" >&2; exit 1; }
  sleep 0.5
done
ADDR=$(sed -n 's|^listening on http://||p' "$WORK/server.out" | head -n1)
[ -n "$ADDR" ] || { echo "schemathesis: server did not start" >&2; exit 1; }
echo "== schemathesis: server on $ADDR"

# The first demo token of a role (`demo-token role=<role> staff=<id> token=<hex>`).
token_of() { sed -n "s/^demo-token role=$1 staff=[^ ]* token=\([0-9a-f]*\)\$/\1/p" "$WORK/server.out" | head -n1; }

failed=()
for role in $ROLES; do
  auth=()
  if [ "$role" != anonymous ]; then
    tok=$(token_of "$role")
    [ -n "$tok" ] || { echo "schemathesis: no demo token for role $role" >&2; exit 1; }
    auth=(-H "Authorization: Bearer $tok")
  fi
  echo "== schemathesis: role $role ($EXAMPLES examples per operation, seed $SEED)"
  log=$WORK/st-$role.log
  set +e
  # From $WORK: schemathesis keeps its example database and crash files in ./.schemathesis.
  (cd "$WORK" && "$ST" --config-file "$CONFIG" run "http://$ADDR/v1/openapi.json" "${auth[@]}" \
    --checks "$CHECKS" --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 \
    --request-timeout 10 --no-color --output-truncate false) >"$log" 2>&1
  rc=$?
  set -e
  # The closing line, e.g. "=== 2419 passed, 3 warnings in 20.1s ===" (schemathesis' own format).
  summary=$(grep -E '^=+ .* in [0-9.]+s =+$' "$log" | tail -n1 | tr -s '= ' ' ')
  cases=$(grep -A1 '^Test cases:' "$log" | tail -n1 | sed 's/^ *//')
  echo "   $role: ${cases:-?} |${summary:-no summary line}| exit $rc"
  if [ "$rc" != 0 ]; then
    cat "$log"
    failed+=("$role")
  fi
done

if ! stop_server; then
  cat "$WORK/server.err" >&2
  echo "schemathesis: the server did not stop cleanly on SIGTERM" >&2
  failed+=("shutdown")
fi
grep -q 'panicked' "$WORK/server.err" && { grep -m5 'panicked' "$WORK/server.err" >&2; failed+=("panic"); }
if [ "${#failed[@]}" -gt 0 ]; then
  echo "schemathesis: failed: ${failed[*]}" >&2
  exit 1
fi
echo "schemathesis: every role conformant"
