#!/bin/sh
# Installs the Debian packages flowsentry needs to build, test and benchmark,
# when they are missing. Safe to run again: it does nothing when all are there.
set -e
PKGS="build-essential cmake pkg-config libzmq3-dev libmsgpack-dev libpcap-dev \
libcriterion-dev libjansson-dev libgnutls28-dev jq time tshark nfdump pmacct softflowd \
rsyslog rsyslog-gnutls gnutls-bin openssl python3-jsonschema"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO apt-get update -qq
# tshark asks whether non-root users may capture; the answer does not matter here.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
