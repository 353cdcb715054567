#!/usr/bin/env bash
# Makes a signed OTA bundle of the ocpp-gw binary for scripts/ota-update.sh.
#
# usage: make-ota-bundle.sh --key SIGNING_KEY.pem [--binary PATH | --target TRIPLE]
#                           [--version VERSION] [--output DIR]
#
#   --key      ed25519 private key (PEM). Make a key pair once, keep the private half off the
#              devices, ship the public half as /etc/ocpp-gw/ota-pubkey.pem:
#                openssl genpkey -algorithm ed25519 -out ota-signing.pem
#                openssl pkey -in ota-signing.pem -pubout -out ota-pubkey.pem
#   --binary   the binary to ship (default target/release/ocpp-gw)
#   --target   shorthand for --binary target/TRIPLE/release/ocpp-gw (a cross/build.sh output)
#   --version  the version it is installed as (default: the version in Cargo.toml); the device
#              checks that the binary's `--version` says the same
#   --output   where the bundle goes (default target/ota)
#
# A bundle, ocpp-gw-VERSION.ota, is a tar of three members:
#   payload.tar.gz  the files installed side by side on the device (bin/ocpp-gw)
#   manifest        name=ocpp-gw, version=VERSION, sha256=<SHA-256 of payload.tar.gz>
#   manifest.sig    the ed25519 signature of manifest
# Prints the bundle's path and SHA-256 (give that to ota-update.sh --sha256 when you can).
set -euo pipefail

say() { printf '%s: %s\n' "${0##*/}" "$*"; }
die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}
usage() {
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
key='' binary='' version='' output="$repo/target/ota"
while [ $# -gt 0 ]; do
	case $1 in
	--key) key=${2:?--key needs a value} && shift ;;
	--binary) binary=${2:?--binary needs a value} && shift ;;
	--target) binary="$repo/target/${2:?--target needs a value}/release/ocpp-gw" && shift ;;
	--version) version=${2:?--version needs a value} && shift ;;
	--output) output=${2:?--output needs a value} && shift ;;
	-h | --help) usage ;;
	*) printf '%s: unknown argument %s\n\n' "${0##*/}" "$1" >&2 && usage ;;
	esac
	shift
done
[ -n "$key" ] || usage
[ -n "$binary" ] || binary="$repo/target/release/ocpp-gw"
[ -n "$version" ] || version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)

[ -r "$key" ] || die "cannot read signing key $key"
if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
	die "no executable at $binary (build it first)"
fi
# The device makes a directory of this name: keep it a plain name.
[[ $version =~ ^[0-9A-Za-z][0-9A-Za-z._+~-]*$ ]] || die "version '$version' is not a plain version string"
command -v openssl >/dev/null || die "openssl not found"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/payload/bin"
install -m 0755 "$binary" "$work/payload/bin/ocpp-gw"
tar -czf "$work/payload.tar.gz" -C "$work/payload" --owner=0 --group=0 --numeric-owner bin
sha=$(openssl dgst -sha256 -r "$work/payload.tar.gz" | cut -d ' ' -f 1)
printf 'name=ocpp-gw\nversion=%s\nsha256=%s\n' "$version" "$sha" >"$work/manifest"
openssl pkeyutl -sign -inkey "$key" -rawin -in "$work/manifest" -out "$work/manifest.sig" ||
	die "signing failed: is $key an ed25519 private key?"

mkdir -p "$output"
bundle="$output/ocpp-gw-$version.ota"
tar -cf "$bundle.tmp" -C "$work" --owner=0 --group=0 --numeric-owner \
	manifest manifest.sig payload.tar.gz
mv -f "$bundle.tmp" "$bundle"
say "bundle: $bundle"
say "sha256: $(openssl dgst -sha256 -r "$bundle" | cut -d ' ' -f 1)"
