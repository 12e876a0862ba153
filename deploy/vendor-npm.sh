#!/usr/bin/env bash
# Vendors files of a pinned npm package into the repository (`make swagger-ui`, `make jsqr`).
#
#   deploy/vendor-npm.sh DIR FILE...
#
# Reads the package, version and tarball integrity from DIR/PIN ("<package>@<exact version>
# sha512-<base64>"), fetches that tarball with `npm pack` into a temporary directory, refuses it
# unless its sha512 is the pinned one, and copies the named files of the package (paths inside it,
# e.g. dist/jsQR.js) into DIR under their base names. To move to another version, put it and its
# `npm view <package>@<version> dist.integrity` into PIN, run this, and review the diff. The build
# itself needs neither npm nor the network.
#
# Needs: npm, node, tar.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'vendor-npm: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

(($# >= 2)) || die "usage: $0 DIR FILE..."
DIR=$1
shift
FILES=("$@")
for tool in npm node tar; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done

read -r spec integrity <"$DIR/PIN" || die "cannot read $DIR/PIN"
name=${spec%@*}
version=${spec##*@}
[[ -n $name && $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ && $integrity == sha512-* ]] ||
  die "PIN must read '<package>@<exact version> sha512-<base64>', not '$spec $integrity'"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log "fetching $spec"
tarball=$(cd "$tmp" && npm pack --silent --ignore-scripts "$spec" | tail -n 1)
tarball="$tmp/$tarball"
[[ -f $tarball ]] || die "npm pack did not write $tarball"

got="sha512-$(node -e 'const fs = require("fs"), crypto = require("crypto");
process.stdout.write(crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
[[ $got == "$integrity" ]] || die "integrity mismatch for $spec: pinned $integrity, got $got"

tar -xzf "$tarball" -C "$tmp" package/package.json "${FILES[@]/#/package/}"
packed=$(node -p 'require(process.argv[1]).name + "@" + require(process.argv[1]).version' "$tmp/package/package.json")
[[ $packed == "$spec" ]] || die "the tarball is $packed, PIN says $spec"

for f in "${FILES[@]}"; do
  cp "$tmp/package/$f" "$DIR/$(basename "$f")"
done
log "vendored $spec into ${DIR#"$ROOT"/} (integrity verified); review with git diff"
