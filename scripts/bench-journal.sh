#!/bin/sh
# Journal benchmarks: durable write cost per message, and replay throughput of a 10,000-message
# backlog across 100 stations to the local CSMS simulator. Pass --release for optimised figures.
set -eu
cd "$(dirname "$0")/.."
exec cargo test "$@" --test journal_bench -- --ignored --nocapture --test-threads=1
