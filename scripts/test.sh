#!/usr/bin/env bash
# The project's test command (what CI runs): set-up, format check, lints, then every test target.
# Stops at the first failing step and says which one failed and how to fix it. Extra arguments
# go to `cargo test` (e.g. a test name filter).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/setup.sh
. scripts/setup.sh
ocpp_gw_setup
require_cargo_deb

# The schema-validation tests read the official OCPP 2.0.1 JSON schemas from outside the repo.
schemas=${OCPP_SCHEMAS_DIR:-$repo/../shared/ocpp-2.0.1-schemas}
if ! compgen -G "$schemas/*.json" >/dev/null; then
	cat >&2 <<MSG
test.sh: error: no OCPP 2.0.1 JSON schemas in $schemas
  The tests validate messages against the official schemas (BootNotificationRequest.json, ...).
  Put them in ../shared/ocpp-2.0.1-schemas beside this repo, or set OCPP_SCHEMAS_DIR to their folder.
MSG
	exit 1
fi
OCPP_SCHEMAS_DIR=$(cd "$schemas" && pwd)
export OCPP_SCHEMAS_DIR
export RUST_BACKTRACE=1

# Runs one named step; on failure names it, gives the fix and exits with its status.
step() {
	local name=$1 fix=$2 status=0
	shift 2
	printf '\n==> %s\n' "$name"
	"$@" || status=$?
	if [ "$status" -ne 0 ]; then
		printf '\ntest.sh: FAILED at step "%s" (exit %d). %s\n' "$name" "$status" "$fix" >&2
		exit "$status"
	fi
}

step "format" "Run 'cargo fmt' and commit the result." \
	cargo fmt --check
step "clippy" "Fix the warnings above; the build treats them as errors." \
	cargo clippy --all-targets -- -D warnings
step "clippy (production build, no simulators)" "The daemon must build without the sim feature; fix the warnings above." \
	cargo clippy --no-default-features -- -D warnings
step "tests" "See the failing tests above." \
	cargo test --all-targets "$@"
printf '\ntest.sh: all steps passed\n'
