#!/usr/bin/env bash
# Installs the Debian packages edugate needs, only when something is missing. Safe to run repeatedly.
#   libengine-gost-openssl  the GOST engine (keys, signatures) for the system OpenSSL 3
#   libssl-dev, pkg-config  to build the openssl crate against the system libssl
#   libxml2-utils, xmlsec1  xmllint and xmlsec1: test oracles for exclusive c14n
#   chromium, chromium-driver  headless Chromium for the dashboard test (tests/dashboard.rs); where they cannot be
#                              installed, a warning is printed and that test is skipped with a message
set -euo pipefail
packages=(libengine-gost-openssl libssl-dev pkg-config libxml2-utils xmlsec1)
browser=(chromium chromium-driver)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
missing_browser=()
for p in "${browser[@]}"; do
  installed "$p" || missing_browser+=("$p")
done
if ((${#missing[@]} == 0 && ${#missing_browser[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]} ${missing_browser[*]}"
sudo=""
if [[ $(id -u) != 0 ]]; then
  if ! command -v sudo >/dev/null; then
    if ((${#missing[@]} > 0)); then
      echo "need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
    echo "warning: need root (or sudo) to install ${missing_browser[*]}; the dashboard test will be skipped" >&2
    exit 0
  fi
  sudo=sudo
fi
$sudo apt-get update -qq
if ((${#missing[@]} > 0)); then
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
if ((${#missing_browser[@]} > 0)); then
  if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing_browser[@]}"; then
    echo "warning: could not install ${missing_browser[*]}; the dashboard test will be skipped" >&2
  fi
fi
if ! command -v cargo >/dev/null; then
  echo "cargo is not installed: install a Rust toolchain (rustup) first" >&2
  exit 1
fi
