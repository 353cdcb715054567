#!/usr/bin/env bash
# Coverage-guided fuzzing of the decoders that read peer input (OCPP-J frames and a whole
# station, ECHONET Lite frames, Modbus responses, the config and template loader).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs a nightly toolchain (rustup) and cargo-fuzz, which it installs when missing. Each
# target runs for SECONDS_PER_TARGET (default 60) on the committed seeds plus the corpus it
# grew before (fuzz/corpus/, not committed); a crash leaves its input in fuzz/artifacts/ and
# stops the script. Copy such an input to fuzz/seeds/<target>/ with the fix: tests/fuzz_inputs.rs
# then replays it in every test run. The last line per target is libFuzzer's summary.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo/fuzz"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ocpp_frame ocpp_station echonet_frame modbus_response config_load)

command -v rustup >/dev/null 2>&1 || { echo "fuzz.sh: error: rustup is needed for a nightly toolchain" >&2; exit 1; }
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz

for target in "${targets[@]}"; do
	mkdir -p "corpus/$target"
	printf '\n==> %s (%s s)\n' "$target" "$seconds"
	cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
		-max_total_time="$seconds" -max_len=8192 -print_final_stats=1 2>&1 |
		grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' || true
	if compgen -G "artifacts/$target/crash-*" >/dev/null; then
		echo "fuzz.sh: $target crashed; inputs in fuzz/artifacts/$target/" >&2
		exit 1
	fi
done
