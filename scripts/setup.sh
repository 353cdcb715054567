#!/usr/bin/env bash
# Shared, idempotent, non-interactive set-up for scripts/test.sh, scripts/demo.sh and
# cross/build.sh. Source it to get the helpers (then call ocpp_gw_setup), or run it directly.
set -euo pipefail

# Debian packages beyond the Rust toolchain. The build needs none (rusqlite bundles SQLite, ring
# brings its own assembly, gcc is on the machine). chromium is for the test that loads the
# status page in a real headless browser (tests/status_page.rs); the packaging and OTA tests
# run make (reads the Buildroot package), openssl (OTA signatures) and curl (OTA downloads).
OCPP_GW_APT_PACKAGES=(chromium make openssl curl)

# Messages carry the name of the command that was run (test.sh, demo.sh, build.sh, setup.sh).
say() { printf '%s: %s\n' "${0##*/}" "$*"; }
die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# Runs a command as root: directly when we are root (CI, containers), else through sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root to run '$*' (not root and no sudo); install it by hand and rerun"
	fi
}

# Installs the given Debian packages that are not installed yet; prints what it does.
apt_install_missing() {
	local pkg missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$pkg")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "Debian packages: nothing missing${*:+ ($*)}"
		return 0
	fi
	command -v apt-get >/dev/null 2>&1 ||
		die "missing packages ${missing[*]} and no apt-get here; install them with your package manager"
	say "installing Debian packages: ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o Dpkg::Use-Pty=0 "${missing[@]}"
}

# Makes cargo reachable: a rustup install that is not on PATH (non-login shells) is picked up.
require_cargo() {
	if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
		# shellcheck source=/dev/null
		. "$HOME/.cargo/env"
	fi
	command -v cargo >/dev/null 2>&1 ||
		die "cargo not found: install a Rust toolchain with rustup and put ~/.cargo/bin on PATH"
	say "using $(cargo --version)"
}

# Adds rustfmt and clippy through rustup when the toolchain lacks them.
require_components() {
	local missing=()
	cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
	cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
	if [ ${#missing[@]} -eq 0 ]; then
		say "rustfmt and clippy: present"
		return 0
	fi
	command -v rustup >/dev/null 2>&1 ||
		die "missing toolchain components ${missing[*]} and no rustup to add them"
	say "adding toolchain components: ${missing[*]}"
	rustup component add "${missing[@]}"
}

# Installs cargo-deb (the Debian package test builds a .deb with it) when it is missing.
# Compiling it takes about a minute on two cores, once per machine; the demo does not need it.
require_cargo_deb() {
	if cargo deb --version >/dev/null 2>&1; then
		say "cargo-deb: present ($(cargo deb --version))"
		return 0
	fi
	say "installing cargo-deb (cargo install cargo-deb --locked; about a minute)"
	cargo install cargo-deb --locked
}

# The whole set-up that the test and demo commands need.
ocpp_gw_setup() {
	require_cargo
	require_components
	apt_install_missing ${OCPP_GW_APT_PACKAGES[@]+"${OCPP_GW_APT_PACKAGES[@]}"}
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	ocpp_gw_setup
	require_cargo_deb
fi
