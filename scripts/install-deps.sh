#!/bin/sh
# Installs the Debian packages medley needs to build and test, only those
# that are missing. Runs apt-get as root (or through sudo when available).
set -eu
PKGS="build-essential libyaml-dev zlib1g-dev libhiredis-dev libssl-dev ca-certificates libcrypt-dev libcmocka-dev python3 clang valgrind chromium redis-server"
# Node.js runs the independent connector validators (tests/npm, node 18 or
# newer: Debian 12's nodejs is enough). A node already on PATH (e.g. a
# newer one from elsewhere) is used as it is, so only add it when missing.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
