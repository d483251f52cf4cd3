#!/usr/bin/env bash
# Installs the Debian packages edugate needs, only when something is missing. Safe to run repeatedly.
#   scripts/install-deps.sh fuzz   also installs cargo-fuzz (for `make fuzz` and `make fuzz-smoke`) unless present
#   libengine-gost-openssl  the GOST engine (keys, signatures) for the system OpenSSL 3
#   libssl-dev, pkg-config  to build the openssl crate against the system libssl
#   libxml2-utils, xmlsec1  xmllint and xmlsec1: test oracles for exclusive c14n
#   libxml2-dev, libclang-dev  XSD validation in process (src/schema/): the libxml crate links the system libxml2
#                              and generates its bindings at build time with bindgen, which loads libclang
#   curl                    runs the integrators' guide's examples (mock-smev/tests/docs.rs)
#   chromium, chromium-driver  headless Chromium for the dashboard test (tests/dashboard.rs); where they cannot be
#                              installed, a warning is printed and that test is skipped with a message
set -euo pipefail
# The cargo-fuzz release the fuzz targets are run with.
cargo_fuzz_version=0.13.2
install_fuzz() {
  if cargo fuzz --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
    return
  fi
  echo "installing cargo-fuzz $cargo_fuzz_version"
  cargo install --quiet --locked cargo-fuzz --version "$cargo_fuzz_version"
}
packages=(libengine-gost-openssl libssl-dev pkg-config libxml2-utils libxml2-dev libclang-dev xmlsec1 curl)
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
  [[ ${1:-} != fuzz ]] || install_fuzz
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
    [[ ${1:-} != fuzz ]] || install_fuzz
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
[[ ${1:-} != fuzz ]] || install_fuzz
