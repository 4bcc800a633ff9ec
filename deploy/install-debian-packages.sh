#!/bin/sh
# Install the Debian packages that wartemarke's demo and tests need, only when missing.
# Used by `make setup`; safe to run again. On a system without apt-get it explains what is
# needed and fails, rather than leaving a half-working setup.
set -eu

PACKAGES="mosquitto mosquitto-clients python3-venv fonts-dejavu-core espeak-ng strace chromium nginx chrony prometheus wrk debootstrap systemd-container tinyproxy"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "wartemarke: missing packages:$missing — install them with your package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" != "0" ]; then
    SUDO="sudo"
fi

echo "wartemarke: installing Debian packages:$missing"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
