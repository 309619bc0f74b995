#!/bin/sh
# Installs the Debian packages latch needs that are missing; quiet when all
# are present.  Usage: scripts/deps.sh [build|deb|test|all]   (default: build)
set -eu

# python3-yaml: the build converts docs/openapi.yaml into the JSON that
# GET /openapi.json serves (scripts/openapi-json.py).
build_pkgs="gcc make pkg-config libssl-dev libsodium-dev libjansson-dev libsqlite3-dev libpq-dev libcrypt-dev libqrencode-dev libcurl4-openssl-dev python3-yaml"
# make deb: dpkg-shlibdeps (dpkg-dev), strip (binutils); the package's
# postinst needs adduser.
deb_pkgs="dpkg-dev binutils adduser"
# prometheus: promtool checks /metrics; lintian checks the package;
# postgresql: the throwaway cluster of the PostgreSQL pass; python3-nacl
# opens the keys sealed in it (and the mail tests need aiosmtpd, pyotp, rsvg-convert
# and zbarimg); python3-jsonschema validates every response
# of the integration suite against docs/openapi.yaml.
test_pkgs="python3 python3-requests python3-jsonschema python3-jwt python3-cryptography curl openssl clang libclang-rt-14-dev valgrind sqlite3 nginx-light chromium prometheus lintian postgresql python3-psycopg2 python3-nacl python3-bcrypt python3-passlib python3-argon2 librsvg2-bin zbar-tools python3-pyotp python3-aiosmtpd $deb_pkgs"

case "${1:-build}" in
  build) want=$build_pkgs ;;
  deb) want="$build_pkgs $deb_pkgs" ;;
  test|all) want="$build_pkgs $test_pkgs" ;;
  *) echo "usage: $0 [build|deb|test|all]" >&2; exit 2 ;;
esac

missing=
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done
# Node.js runs the test-only npm packages (jose); any recent node will do,
# Debian's when none is on PATH.
case "${1:-build}" in
  test|all) command -v node >/dev/null 2>&1 || missing="$missing nodejs npm" ;;
esac
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
if [ "$(id -u)" -eq 0 ]; then
  sudo=
elif command -v sudo >/dev/null 2>&1; then
  sudo=sudo
else
  echo "deps: missing packages:$missing; install them as root (apt-get install$missing)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
