#!/bin/sh
# Application-level OTA update of ocpp-gw: verify a signed bundle (scripts/make-ota-bundle.sh),
# install it beside the running version, switch over atomically, restart the service, and roll
# back on its own when the new version is not healthy in time.
#
# usage: ota-update.sh [options] BUNDLE
#   BUNDLE                 a local path, or an http://, https:// or file:// URL (fetched with curl)
#   --pubkey PATH          ed25519 public key the bundle must be signed with
#                          (default /etc/ocpp-gw/ota-pubkey.pem)
#   --sha256 HEX           expected SHA-256 of the bundle file, when the update server gives one
#   --prefix DIR           install root (default /opt/ocpp-gw): DIR/versions/VERSION/bin/ocpp-gw,
#                          and DIR/current -> versions/VERSION, which the service runs
#   --keep N               old versions kept for manual rollback (default 2)
#   --restart-cmd CMD      how to restart the service (default: systemctl restart ocpp-gw.service)
#   --health-url URL       polled with curl until it answers 2xx; the admin API's health endpoint
#   --health-cmd CMD       or a command polled until it exits 0 (wins over --health-url)
#   --health-timeout SEC   how long the new version has to become healthy (default 60)
#   --health-interval SEC  pause between polls (default 2)
# Every option can also be set in the environment: OCPP_GW_OTA_PUBKEY, OCPP_GW_OTA_PREFIX,
# OCPP_GW_OTA_KEEP, OCPP_GW_OTA_RESTART_CMD, OCPP_GW_OTA_HEALTH_URL, OCPP_GW_OTA_HEALTH_CMD,
# OCPP_GW_OTA_HEALTH_TIMEOUT, OCPP_GW_OTA_HEALTH_INTERVAL.
#
# Exit codes: 0 installed and healthy (or already running that version); 1 refused or failed
# before anything changed (download, checksum, signature, bundle contents); 2 usage; 3 the new
# version was unhealthy and the previous one is running again; 4 unhealthy and no healthy
# previous version to return to.
#
# Needs: POSIX sh, tar with gzip, openssl (ed25519), flock, mv -T (GNU coreutils or BusyBox),
# and curl for URLs and --health-url.
set -eu

say() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
	code=$1
	shift
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit "$code"
}
usage() {
	sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
need_value() { [ $# -ge 2 ] || die 2 "$1 needs a value"; }

pubkey=${OCPP_GW_OTA_PUBKEY:-/etc/ocpp-gw/ota-pubkey.pem}
prefix=${OCPP_GW_OTA_PREFIX:-/opt/ocpp-gw}
keep=${OCPP_GW_OTA_KEEP:-2}
restart_cmd=${OCPP_GW_OTA_RESTART_CMD:-systemctl restart ocpp-gw.service}
health_url=${OCPP_GW_OTA_HEALTH_URL:-}
health_cmd=${OCPP_GW_OTA_HEALTH_CMD:-}
health_timeout=${OCPP_GW_OTA_HEALTH_TIMEOUT:-60}
health_interval=${OCPP_GW_OTA_HEALTH_INTERVAL:-2}
want_sha='' bundle=''
while [ $# -gt 0 ]; do
	case $1 in
	--pubkey) need_value "$@" && pubkey=$2 && shift ;;
	--sha256) need_value "$@" && want_sha=$2 && shift ;;
	--prefix) need_value "$@" && prefix=$2 && shift ;;
	--keep) need_value "$@" && keep=$2 && shift ;;
	--restart-cmd) need_value "$@" && restart_cmd=$2 && shift ;;
	--health-url) need_value "$@" && health_url=$2 && shift ;;
	--health-cmd) need_value "$@" && health_cmd=$2 && shift ;;
	--health-timeout) need_value "$@" && health_timeout=$2 && shift ;;
	--health-interval) need_value "$@" && health_interval=$2 && shift ;;
	-h | --help) usage ;;
	-*) die 2 "unknown option $1 (see --help)" ;;
	*)
		[ -z "$bundle" ] || die 2 "more than one bundle given"
		bundle=$1
		;;
	esac
	shift
done
[ -n "$bundle" ] || usage
case $keep in '' | *[!0-9]*) die 2 "--keep must be a whole number" ;; esac
case $health_timeout in '' | *[!0-9]*) die 2 "--health-timeout must be whole seconds" ;; esac
[ -n "$health_url$health_cmd" ] ||
	die 2 "no health check: give --health-url (the admin health endpoint) or --health-cmd"
[ -r "$pubkey" ] || die 1 "cannot read the public key $pubkey"

mkdir -p "$prefix/versions"
# One update at a time; a second one fails at once instead of queueing behind a slow download.
exec 9>"$prefix/.ota.lock"
flock -n 9 || die 1 "another update is running (lock $prefix/.ota.lock)"
# Scratch space on the install filesystem, so the final renames are atomic.
work=$(mktemp -d "$prefix/.ota-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

sha256() { openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1; }

# 1. Fetch.
case $bundle in
http://* | https://* | file://*)
	say "downloading $bundle"
	curl -fsSL --retry 3 --connect-timeout 20 -o "$work/bundle" "$bundle" ||
		die 1 "download of $bundle failed"
	;;
*)
	[ -f "$bundle" ] || die 1 "no bundle at $bundle"
	cp "$bundle" "$work/bundle"
	;;
esac

# 2. Verify: the file's checksum if we were given one, the manifest's signature, the payload's
#    checksum against the signed manifest. Nothing from the bundle is trusted before this.
if [ -n "$want_sha" ]; then
	got=$(sha256 "$work/bundle")
	[ "$got" = "$(printf '%s' "$want_sha" | tr 'A-F' 'a-f')" ] ||
		die 1 "bundle SHA-256 is $got, expected $want_sha"
fi
mkdir "$work/bundle.d"
tar -xf "$work/bundle" -C "$work/bundle.d" manifest manifest.sig payload.tar.gz 2>/dev/null ||
	die 1 "$bundle is not an ocpp-gw bundle (needs manifest, manifest.sig, payload.tar.gz)"
for member in manifest manifest.sig payload.tar.gz; do
	if [ -L "$work/bundle.d/$member" ] || [ ! -f "$work/bundle.d/$member" ]; then
		die 1 "$bundle: $member is not a regular file"
	fi
done
openssl pkeyutl -verify -pubin -inkey "$pubkey" -rawin -in "$work/bundle.d/manifest" \
	-sigfile "$work/bundle.d/manifest.sig" >/dev/null 2>&1 ||
	die 1 "bad signature: $bundle is not signed by the key in $pubkey"
field() { sed -n "s/^$1=//p" "$work/bundle.d/manifest" | head -n 1; }
name=$(field name) version=$(field version) payload_sha=$(field sha256)
[ "$name" = ocpp-gw ] || die 1 "bundle is for '$name', not ocpp-gw"
case $version in
'' | [!0-9A-Za-z]* | *[!0-9A-Za-z._+~-]*) die 1 "bundle version '$version' is not a plain version string" ;;
esac
got=$(sha256 "$work/bundle.d/payload.tar.gz")
[ "$got" = "$payload_sha" ] || die 1 "payload SHA-256 is $got, the signed manifest says $payload_sha"
say "verified ocpp-gw $version (signed by $pubkey)"

previous=$(readlink "$prefix/current" 2>/dev/null || true)
if [ "$previous" = "versions/$version" ]; then
	say "ocpp-gw $version is already the current version; nothing to do"
	exit 0
fi

# 3. Install beside the running version, and make sure the new binary runs on this device (a
#    bundle for another architecture or a newer glibc fails here, before anything changes).
mkdir "$work/payload"
tar -xzf "$work/bundle.d/payload.tar.gz" -C "$work/payload" --no-same-owner ||
	die 1 "cannot unpack the payload"
if [ ! -f "$work/payload/bin/ocpp-gw" ] || [ ! -x "$work/payload/bin/ocpp-gw" ]; then
	die 1 "payload has no executable bin/ocpp-gw"
fi
ran=$("$work/payload/bin/ocpp-gw" --version 2>&1) ||
	die 1 "the new binary does not run here: $ran"
[ "$ran" = "ocpp-gw $version" ] ||
	die 1 "the new binary reports '$ran', the manifest says ocpp-gw $version"
rm -rf "$prefix/versions/$version"
mv "$work/payload" "$prefix/versions/$version"

# Points current at versions/$1 with one rename(2): the service sees the old or the new version,
# never a missing one.
switch_to() {
	ln -sfn "versions/$1" "$prefix/.current.new"
	mv -T "$prefix/.current.new" "$prefix/current"
}
restart() {
	say "restarting: $restart_cmd"
	sh -c "$restart_cmd" || say "restart command failed (exit $?); the health check decides"
}
# Polls the health check until it passes (return 0) or the timeout runs out (return 1).
healthy() {
	deadline=$(($(date +%s) + health_timeout))
	while :; do
		if [ -n "$health_cmd" ]; then
			sh -c "$health_cmd" >/dev/null 2>&1 && return 0
		else
			curl -fsS --max-time 5 -o /dev/null "$health_url" 2>/dev/null && return 0
		fi
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep "$health_interval"
	done
}

# 4. Switch, restart, and keep the new version only if it proves healthy.
switch_to "$version"
say "current -> versions/$version (was ${previous:-nothing})"
restart
if healthy; then
	say "ocpp-gw $version is healthy"
else
	say "ocpp-gw $version did not become healthy within ${health_timeout}s"
	case $previous in
	versions/?*) ;;
	*) die 4 "no previous version to roll back to; ocpp-gw $version stays installed" ;;
	esac
	switch_to "${previous#versions/}"
	restart
	rm -rf "$prefix/versions/$version"
	healthy || die 4 "rolled back to ${previous#versions/}, which is not healthy either"
	die 3 "rolled back to ${previous#versions/}; removed $version"
fi

# 5. Keep the current version and the $keep most recently installed others; the history lists
#    versions in the order they became current.
history="$prefix/history"
{
	if [ -f "$history" ]; then
		grep -vxF "$version" "$history" || true
	fi
	echo "$version"
} >"$work/history"
mv -f "$work/history" "$history"
kept=$(awk '{ line[NR] = $0 } END { for (i = NR; i > 0; i--) print line[i] }' "$history" |
	head -n $((keep + 1)))
for dir in "$prefix"/versions/*; do
	[ -d "$dir" ] || continue
	if ! printf '%s\n' "$kept" | grep -qxF "${dir##*/}"; then
		say "removing old version ${dir##*/}"
		rm -rf "$dir"
	fi
done
printf '%s\n' "$kept" >"$work/history"
awk '{ line[NR] = $0 } END { for (i = NR; i > 0; i--) print line[i] }' "$work/history" >"$history"
others=$(printf '%s\n' "$kept" | sed 1d | tr '\n' ' ')
say "done: ocpp-gw $version installed; old versions kept: ${others:-none}"
