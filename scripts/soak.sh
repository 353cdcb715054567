#!/usr/bin/env bash
# Soak with fault injection against the release gateway: simulated chargers run transactions
# while the CSMS restarts and drops connections, chargers fall silent, the gateway is killed
# with SIGKILL and reloaded; then the CSMS's view is checked (tests/soak.rs says what).
#
#   scripts/soak.sh [DEVICES] [SECONDS] [SEED]      defaults: 100 devices, 300 s, seed 20646
#
# Prints one `soak:` line with what was injected and what was measured (BENCHMARKS.md, "Soak").
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/setup.sh
. scripts/setup.sh
require_cargo
export OCPP_SCHEMAS_DIR=${OCPP_SCHEMAS_DIR:-$repo/../shared/ocpp-2.0.1-schemas}
export SOAK_DEVICES=${1:-100} SOAK_SECONDS=${2:-300} SOAK_SEED=${3:-20646}
# The whole output only when the soak fails: then every line may matter.
if ! out=$(cargo test --release --test soak -- --nocapture 2>&1); then
	printf '%s\n' "$out" >&2
	exit 1
fi
printf '%s\n' "$out" | grep -E '^(soak:|test result)'
