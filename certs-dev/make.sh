#!/usr/bin/env bash
# Makes the TEST-ONLY GOST development PKI used by the test suite and local runs.
#
# Everything here is throwaway: the keys are committed to the repository on purpose so that tests are
# reproducible, which is exactly why none of it may ever be used outside tests and development.
#
# Needs the openssl CLI and the Debian package libengine-gost-openssl (the `gost` engine).
# Set GOST_ENGINE_SO to the engine's .so when it is not in OpenSSL's engines directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# Twenty years keeps the normal certificates valid for the life of the project.
days=7305

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A private OpenSSL configuration that loads the gost engine, so that the caller's OPENSSL_CONF and the
# system configuration are left alone.
{
    echo 'openssl_conf = openssl_init'
    echo '[openssl_init]'
    echo 'engines = engine_section'
    echo '[engine_section]'
    echo 'gost = gost_section'
    echo '[gost_section]'
    echo 'engine_id = gost'
    if [[ -n "${GOST_ENGINE_SO:-}" ]]; then
        echo "dynamic_path = ${GOST_ENGINE_SO}"
    fi
    echo 'default_algorithms = ALL'
} >"$work/engine.cnf"
export OPENSSL_CONF="$work/engine.cnf"

if ! openssl engine gost >/dev/null 2>&1; then
    echo "make.sh: the openssl CLI cannot load the gost engine; run: apt-get install libengine-gost-openssl" >&2
    exit 1
fi

# A minimal `openssl ca` setup: `ca` is used (rather than `x509 -req`) because it can set an explicit
# start date, which the expired certificate needs on OpenSSL 3.0.
mkdir -p "$work/newcerts"
: >"$work/index.txt"
echo 1000 >"$work/serial"
cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = dev_ca

[dev_ca]
dir = $work
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/newcerts
certificate = $here/ca.crt
private_key = $here/ca.key
default_md = md_gost12_256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

# Field order here is the DN order of the issued certificates.
[policy_any]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied

[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF

# Makes a PKCS#8 PEM key: $1 = file, $2 = algorithm (gost2012_256 or gost2012_512).
genkey() {
    openssl genpkey -algorithm "$2" -pkeyopt paramset:A -out "$1"
    chmod 0644 "$1"
}

# Issues a leaf certificate from the dev CA: $1 = name, $2 = algorithm, then extra `openssl ca` options.
issue() {
    local name="$1" alg="$2"
    shift 2
    genkey "$name.key" "$alg"
    openssl req -new -key "$name.key" \
        -subj "/O=edugate TEST-ONLY/OU=development/CN=$name" \
        -out "$work/$name.csr"
    openssl ca -batch -notext -config "$work/ca.cnf" -extensions leaf_ext \
        -in "$work/$name.csr" -out "$name.crt" "$@" 2>"$work/$name.log" || {
        cat "$work/$name.log" >&2
        exit 1
    }
}

echo "making the dev CA"
genkey ca.key gost2012_256
openssl req -new -key ca.key \
    -subj "/O=edugate TEST-ONLY/OU=development/CN=edugate TEST-ONLY dev CA" \
    -out "$work/ca.csr"
# The CA starts in 2020 so that the expired certificate below still chains to it at a time inside its validity.
openssl ca -batch -notext -selfsign -config "$work/ca.cnf" -extensions ca_ext -keyfile ca.key \
    -startdate 20200101000000Z -enddate 20500101000000Z \
    -in "$work/ca.csr" -out ca.crt 2>"$work/ca.log" || {
    cat "$work/ca.log" >&2
    exit 1
}

for name in gateway mock-smev portal other; do
    echo "issuing $name (2012-256)"
    issue "$name" gost2012_256 -days "$days"
done

echo "issuing gateway-512 (2012-512)"
issue gateway-512 gost2012_512 -days "$days"

echo "issuing expired (validity entirely in the past)"
issue expired gost2012_256 -startdate 20200101000000Z -enddate 20210101000000Z

for crt in ca gateway gateway-512 mock-smev portal other; do
    openssl verify -CAfile ca.crt "$crt.crt" >/dev/null
done
# 2020-06-01, inside the expired certificate's validity.
openssl verify -attime 1590969600 -CAfile ca.crt expired.crt >/dev/null
echo "done: $(ls "$here"/*.crt | wc -l) certificates in $here"
