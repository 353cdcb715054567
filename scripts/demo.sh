#!/usr/bin/env bash
# The project's demo command: set-up, build, then `ocpp-gw demo` with any extra arguments passed on.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/setup.sh
. scripts/setup.sh
ocpp_gw_setup

# Build in the open first: a first build takes minutes, and the quiet run below would hide why.
cargo build
exec cargo run --quiet -- demo "$@"
