#!/usr/bin/env bash
# The two-minute SIGKILL soak (tests/src/bin/soak.rs): the real `motcua serve` under mixed dossier
# load from several clients, SIGKILLed every 1-5 s and restarted on the same data directory;
# fails if an acknowledged transition is lost or duplicated, if an answer disagrees with the log,
# or if `motcua-replay verify` reports anything. Debug builds: `cargo test --workspace` has
# already built them, so this adds the two minutes and little else.
# Usage: .ci/soak.sh [extra soak options]   (SOAK_SEED=N to repeat a kill schedule)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== soak (2 min, SIGKILL at random)"
cargo build --locked -p motcua-http --bin motcua
cargo build --locked -p motcua-replay --bin motcua-replay
cargo build --locked -p motcua-tests --bin soak
bin="${CARGO_TARGET_DIR:-target}/debug"
seed="${SOAK_SEED:-$(date +%s)}"
"$bin/soak" --duration 120 --min-kill-ms 1000 --max-kill-ms 5000 --clients 4 --seed "$seed" \
  --motcua "$bin/motcua" --replay "$bin/motcua-replay" "$@"
