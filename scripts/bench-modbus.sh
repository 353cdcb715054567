#!/usr/bin/env bash
# Modbus benchmarks (BENCHMARKS.md, "Modbus"): planner transactions per poll cycle for every
# template in etc/templates, RTU poll-cycle time for 25 units at 9,600 and 115,200 baud against
# the theoretical wire time, and CPU of the TCP pool thread polling 500 devices at 1 Hz.
# Built with the release profile the gateway ships with; takes about two minutes once built.
# Extra arguments select benchmarks by name, e.g. `scripts/bench-modbus.sh bench_rtu`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/setup.sh
. scripts/setup.sh
ocpp_gw_setup

printf 'host: %s, %s CPU(s), load average %s\n' "$(uname -m)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
cargo test --release --bench modbus -- --ignored --nocapture --test-threads=1 "$@"
