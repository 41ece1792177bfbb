#!/bin/sh
# Builds bin/raftvip_<version>_<arch>.deb with dpkg-deb (`make deb`).
#
#   packaging/deb/build.sh [OUTDIR]
#
# VERSION is the binary's version (as `make build` sets it); DEB_VERSION the
# package's, by default derived from VERSION (see deb_version). GO names the
# go command. The binary is built for this machine's architecture
# (dpkg --print-architecture), with CGO off, so it needs no shared library.
set -eu
cd "$(dirname "$0")/../.."
out=${1:-bin}
GO=${GO:-go}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
# The last commit's date: a rebuild of the same commit makes the same
# changelog and man page.
date=$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date -u +%Y%m%d)
rfcdate=$(git log -1 --format=%cd --date=rfc2822 2>/dev/null || date -u -R)
isodate=$(echo "$date" | sed 's/^\(....\)\(..\)\(..\)$/\1-\2-\3/')
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

# deb_version maps a `git describe` to a Debian version that sorts the way
# the releases do, plus the Debian revision -1:
#   v1.2.3               -> 1.2.3-1
#   v1.2.3-4-gabc1234    -> 1.2.3+git20260102.4.abc1234-1  (after 1.2.3)
#   abc1234 (no tag)     -> 0.0~git20260102.abc1234-1      (before any release)
# and a -dirty tree gets +dirty.
deb_version() {
	v=$1 suffix=""
	case $v in *-dirty) v=${v%-dirty} suffix="+dirty" ;; esac
	v=${v#v}
	if echo "$v" | grep -Eq '^[0-9]+\.[0-9][0-9A-Za-z.+~]*-[0-9]+-g[0-9a-f]+$'; then
		hash=${v##*-g} rest=${v%-g*}
		n=${rest##*-} tag=${rest%-*}
		v="$tag+git$date.$n.$hash"
	elif ! echo "$v" | grep -Eq '^[0-9]+\.[0-9][0-9A-Za-z.+~]*$'; then
		v="0.0~git$date.$(echo "$v" | tr -c '0-9A-Za-z.+~\n' '.')"
	fi
	echo "$v$suffix-1"
}
DEB_VERSION=${DEB_VERSION:-$(deb_version "$VERSION")}
dpkg --validate-version "$DEB_VERSION"
arch=$(dpkg --print-architecture)
DEB_MAINTAINER=${DEB_MAINTAINER:-raftvip maintainers <maintainers@raftvip.invalid>}
deb="$out/raftvip_${DEB_VERSION}_$arch.deb"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
root="$stage/root"
install -d "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/etc/raftvip" \
	"$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" "$root/usr/share/doc/raftvip"

# Stripped (-s -w), as Debian's packages are: Go's stack traces need neither
# the symbol table nor DWARF.
CGO_ENABLED=0 $GO build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$root/usr/bin/raftvip" ./cmd/raftvip

# The unit as deploy/ has it, with the binary where the package puts it.
for unit in raftvip.service raftvip-witness.service; do
	sed 's#/usr/local/bin/raftvip#/usr/bin/raftvip#g' "deploy/$unit" >"$root/usr/lib/systemd/system/$unit"
done

# The example config, a conffile: dpkg keeps an edited copy on upgrade.
{
	cat packaging/deb/raftvip.yaml.head
	cat examples/raftvip.yaml
} >"$root/etc/raftvip/raftvip.yaml"
echo /etc/raftvip/raftvip.yaml >"$root/DEBIAN/conffiles"

# Man page and completion, from the help of the binary just built (it runs
# on this machine: the package is built for its architecture).
$GO run ./packaging/deb/gendocs -bin "$root/usr/bin/raftvip" -out "$stage" -version "$VERSION" -date "$isodate"
gzip -9n <"$stage/raftvip.1" >"$root/usr/share/man/man1/raftvip.1.gz"
install -m 0644 "$stage/raftvip.bash-completion" "$root/usr/share/bash-completion/completions/raftvip"

install -m 0644 packaging/deb/copyright "$root/usr/share/doc/raftvip/copyright"
install -D -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/raftvip"
sed -e "s/@VERSION@/$DEB_VERSION/" -e "s/@DATE@/$rfcdate/" -e "s/@GITVERSION@/$VERSION/" -e "s/@MAINTAINER@/$DEB_MAINTAINER/" \
	packaging/deb/changelog.in | gzip -9n >"$root/usr/share/doc/raftvip/changelog.Debian.gz"

for s in postinst prerm postrm; do
	install -m 0755 "packaging/deb/$s" "$root/DEBIAN/$s"
done
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$DEB_VERSION/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@MAINTAINER@/$DEB_MAINTAINER/" \
	packaging/deb/control.in >"$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/conffiles" "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p "$out"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
