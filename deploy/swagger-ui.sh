#!/usr/bin/env bash
# Vendors the Swagger UI files of the API docs page (`make swagger-ui`).
#
#   deploy/swagger-ui.sh
#
# Reads the package, version and tarball integrity from internal/httpapi/swaggerui/PIN, fetches
# that tarball with `npm pack` into a temporary directory, refuses it unless its sha512 is the
# pinned one, and copies the few files the page needs over those in internal/httpapi/swaggerui/.
# To move to another version, put it and its `npm view swagger-ui-dist@<version> dist.integrity`
# into PIN, run this, and review the diff. The build itself needs neither npm nor the network.
#
# Needs: npm, node, tar.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/internal/httpapi/swaggerui"
# The files the page loads, and the licences that go with them.
FILES=(swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt)

log() { printf 'swagger-ui: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

for tool in npm node tar; do
  command -v "$tool" >/dev/null || die "$tool is needed"
done

read -r spec integrity <"$DIR/PIN" || die "cannot read $DIR/PIN"
version=${spec##*@}
[[ $spec == swagger-ui-dist@* && $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ && $integrity == sha512-* ]] ||
  die "PIN must read 'swagger-ui-dist@<exact version> sha512-<base64>', not '$spec $integrity'"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log "fetching $spec"
(cd "$tmp" && npm pack --silent --ignore-scripts "$spec" >/dev/null)
tarball="$tmp/swagger-ui-dist-$version.tgz"
[[ -f $tarball ]] || die "npm pack did not write $tarball"

got="sha512-$(node -e 'const fs = require("fs"), crypto = require("crypto");
process.stdout.write(crypto.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$tarball")"
[[ $got == "$integrity" ]] || die "integrity mismatch for $spec: pinned $integrity, got $got"

tar -xzf "$tarball" -C "$tmp" package/package.json "${FILES[@]/#/package/}"
packed=$(node -p 'require(process.argv[1]).version' "$tmp/package/package.json")
[[ $packed == "$version" ]] || die "the tarball says version $packed, PIN says $version"

for f in "${FILES[@]}"; do
  cp "$tmp/package/$f" "$DIR/$f"
done
log "vendored $spec into ${DIR#"$ROOT"/} (integrity verified); review with git diff"
