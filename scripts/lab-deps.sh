#!/bin/sh
# Installs what the tests need from Debian's packages, when missing: iproute2
# for `ip netns` and nftables for the partition fault (the namespace lab), and
# systemd for `systemd-analyze verify` of deploy/raftvip.service, and lintian
# for the Debian package's test (e2e/deb), and chromium for the status page's
# test in a real browser (e2e/ui_test.go).
set -eu
missing=""
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v nft >/dev/null 2>&1 || missing="$missing nftables"
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
command -v lintian >/dev/null 2>&1 || missing="$missing lintian"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "the lab needs:$missing (install them as root: apt-get install$missing)" >&2
	exit 1
fi
echo "installing$missing from the distribution packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq $missing >/dev/null
