#!/usr/bin/env bash
# Installs everything framestamp needs on a fresh Debian machine: system packages, then a
# virtual environment in .venv with the package and its extras. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    libsndfile1
    asterisk-core-sounds-en-wav
    asterisk-core-sounds-en
    asterisk-core-sounds-es-wav
    asterisk-core-sounds-it-wav
    asterisk-moh-opsound-wav
    sound-theme-freedesktop
    oxygen-sounds
    deepin-sound-theme
    festival
    festvox-kallpc16k
    festvox-kdlpc16k
    festvox-us-slt-hts
    flite
    chromium  # the browser test of `framestamp serve` (Playwright drives it)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
stamp=.venv/.framestamp-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/pip install -q --upgrade pip
    # torch first, pinned, so that no other requirement pulls a CUDA build.
    .venv/bin/pip install -q "torch==2.13.0"
    .venv/bin/pip install -q -e ".[dev]"
    touch "$stamp"
fi
