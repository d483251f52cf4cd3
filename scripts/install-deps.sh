#!/usr/bin/env bash
# Installs the Debian packages edugate needs, only when something is missing. Safe to run repeatedly.
#   libengine-gost-openssl  the GOST engine (keys, signatures) for the system OpenSSL 3
#   libssl-dev, pkg-config  to build the openssl crate against the system libssl
#   libxml2-utils, xmlsec1  xmllint and xmlsec1: test oracles for exclusive c14n
set -euo pipefail
packages=(libengine-gost-openssl libssl-dev pkg-config libxml2-utils xmlsec1)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
if ! command -v cargo >/dev/null; then
  echo "cargo is not installed: install a Rust toolchain (rustup) first" >&2
  exit 1
fi
