#!/usr/bin/env bash
# Release builds for the ARM boards without Docker: Debian's cross GCC links, QEMU user mode runs
# the result once (`ocpp-gw --version`) as a smoke test. Usage: cross/build.sh [target...]
# With no target, tries all four (musl only with cargo zigbuild).
# Output: target/<target>/release/ocpp-gw.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=scripts/setup.sh
. scripts/setup.sh

GNU_TARGETS=(aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf)
MUSL_TARGETS=(aarch64-unknown-linux-musl armv7-unknown-linux-musleabihf)

# GNU tool prefix, Debian cross compiler packages and QEMU binary per target.
gcc_prefix() {
	case $1 in
	aarch64-*) echo aarch64-linux-gnu ;;
	armv7-*) echo arm-linux-gnueabihf ;;
	esac
}
gcc_packages() {
	case $1 in
	aarch64-*) echo gcc-aarch64-linux-gnu libc6-dev-arm64-cross ;;
	armv7-*) echo gcc-arm-linux-gnueabihf libc6-dev-armhf-cross ;;
	esac
}
qemu_for() {
	case $1 in
	aarch64-*) echo qemu-aarch64 ;;
	armv7-*) echo qemu-arm ;;
	esac
}

# Fails (after saying why) when the target's standard library cannot be installed.
require_rust_target() {
	if rustup target list --installed | grep -qx "$1"; then
		say "rust target $1: present"
		return 0
	fi
	say "adding rust target $1"
	rustup target add "$1" && return 0
	say "SKIPPED $1: 'rustup target add $1' failed (no standard library for it here)"
	skipped+=("$1")
	return 1
}

# Prints the binary's size, then runs `--version` under QEMU and checks that it names this
# crate's version. Extra arguments go to QEMU.
check_binary() {
	local target=$1 qemu_args=("${@:2}") bin="target/$1/release/ocpp-gw" size out want
	want="ocpp-gw $(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
	size=$(stat -c %s "$bin")
	say "$target: $bin is $size bytes ($((size / 1024)) KiB, stripped by the release profile)"
	out=$("$(qemu_for "$target")" "${qemu_args[@]}" "$bin" --version) ||
		die "$target: '$bin --version' failed under QEMU"
	[ "$out" = "$want" ] ||
		die "$target: '--version' printed '$out', expected '$want'"
	say "$target: QEMU run OK: $out"
}

build_gnu() {
	local target=$1 prefix var glibc
	prefix=$(gcc_prefix "$target")
	# shellcheck disable=SC2046 # one word per package
	apt_install_missing $(gcc_packages "$target") qemu-user
	require_rust_target "$target" || return 0
	var=$(echo "$target" | tr 'a-z-' 'A-Z_')
	# The linker for rustc; CC/AR for the C parts (ring, bundled SQLite) built by the cc crate.
	export "CARGO_TARGET_${var}_LINKER=$prefix-gcc"
	export "CC_${target//-/_}=$prefix-gcc" "AR_${target//-/_}=$prefix-ar"
	say "building $target (release, slow: LTO and one codegen unit)"
	cargo build --release --target "$target"
	# The newest glibc symbol version the binary uses is the oldest glibc it runs on.
	glibc=$("$prefix-objdump" -T "target/$target/release/ocpp-gw" | grep -o 'GLIBC_[0-9.]*' |
		sed 's/GLIBC_//' | sort -uV | tail -n 1)
	say "$target: needs glibc >= $glibc on the device"
	check_binary "$target" -L "/usr/$prefix"
	built+=("$target")
}

build_musl() {
	local target=$1
	if ! cargo zigbuild --help >/dev/null 2>&1; then
		say "SKIPPED $target: needs cargo zigbuild (cargo install cargo-zigbuild, plus zig) or"
		say "  cross with Docker (CROSS_CONFIG=cross/Cross.toml cross build --release --target $target)"
		skipped+=("$target")
		return 0
	fi
	apt_install_missing qemu-user
	require_rust_target "$target" || return 0
	say "building $target with cargo zigbuild"
	cargo zigbuild --release --target "$target"
	check_binary "$target"
	built+=("$target")
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${GNU_TARGETS[@]}" "${MUSL_TARGETS[@]}")

for target in "${targets[@]}"; do
	case " ${GNU_TARGETS[*]} ${MUSL_TARGETS[*]} " in
	*" $target "*) ;;
	*) die "unknown target '$target'; supported: ${GNU_TARGETS[*]} ${MUSL_TARGETS[*]}" ;;
	esac
done

require_cargo
command -v rustup >/dev/null 2>&1 || die "rustup not found: it is needed to add the Rust targets"
built=() skipped=()
for target in "${targets[@]}"; do
	case $target in
	*-musl*) build_musl "$target" ;;
	*) build_gnu "$target" ;;
	esac
done
say "done. built: ${built[*]:-none}; skipped: ${skipped[*]:-none}"
