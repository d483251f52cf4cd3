#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs for every fuzz target, from:
#   fuzz/seeds/<target>/            the small curated set kept in the repository (always)
#   ../shared/reference/            the SMEV test vectors and samples, when that folder is present
#   `edugate smev sample --out DIR` one signed envelope of each request operation, SMEV 1.3 and 1.2
# Each source is put in the shape its target reads (a version byte for mock_smev_soap, a Content-Type line for
# mtom, ...). Files are named by content hash, so running it again adds nothing twice. Safe to run repeatedly.
# FUZZ_CORPUS and FUZZ_SHARED name other places for the corpus and for the shared reference folder.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${FUZZ_CORPUS:-fuzz/corpus}
shared=${FUZZ_SHARED:-../shared/reference}
edugate=${EDUGATE_BIN:-target/debug/edugate}
targets=(xml_c14n dsig_verify dsig_model smev_envelope mtom school_json config_toml mock_smev_soap service_content concentrator)

# put TARGET FILE: copies FILE (or stdin when FILE is -) into the target's corpus under its hash.
put() {
  local dir=$corpus/$1 tmp
  mkdir -p "$dir"
  tmp=$(mktemp "$dir/.seed.XXXXXX")
  cat "$2" >"$tmp"
  mv "$tmp" "$dir/$(sha1sum "$tmp" | cut -c1-40)"
}

# xml FILE: an XML document, offered to every target that reads one, in that target's shape.
xml() {
  local file=$1 version=0
  for t in xml_c14n dsig_verify dsig_model smev_envelope; do put "$t" "$file"; done
  # concentrator: the EPGU concentrator's formats only.
  if grep -q 'epgu.gosuslugi.ru/concentrator' "$file"; then put concentrator "$file"; fi
  grep -q 'message-exchange/types/1.2' "$file" && version=1
  # mock_smev_soap: the version byte (0: 1.3, 1: 1.2), then the body.
  { printf "\\x0$version"; cat "$file"; } | put mock_smev_soap -
  # mtom: the Content-Type line, then the envelope as the root part of a multipart/related body.
  {
    printf 'multipart/related; type="application/xop+xml"; boundary="uuid:b"; start="<root>"\n'
    printf -- '--uuid:b\r\nContent-Type: application/xop+xml; charset=UTF-8\r\nContent-ID: <root>\r\n\r\n'
    cat "$file"
    printf '\r\n--uuid:b\r\nContent-ID: <att>\r\n\r\nattachment\r\n--uuid:b--\r\n'
  } | put mtom -
}

for t in "${targets[@]}"; do
  if [[ -d fuzz/seeds/$t ]]; then
    for f in fuzz/seeds/"$t"/*; do put "$t" "$f"; done
  fi
done

if [[ -d $shared ]]; then
  while IFS= read -r -d '' f; do
    if [[ $f == *Multipart* ]]; then
      # A captured multipart answer: its boundary is its first line.
      boundary=$(head -n1 "$f" | tr -d '\r' | sed 's/^--//')
      { printf 'multipart/related; boundary="%s"\n' "$boundary"; cat "$f"; } | put mtom -
    else
      xml "$f"
    fi
  done < <(find "$shared/vectors" "$shared/samples" "$shared/epgu/samples" -name '*.xml' -print0 2>/dev/null)
else
  echo "fuzz-seeds: $shared not found; using the curated seeds and the samples only" >&2
fi

if [[ ! -x $edugate ]]; then
  cargo build --quiet --bin edugate
  edugate=target/debug/edugate
fi
samples=$(mktemp -d)
trap 'rm -rf "$samples"' EXIT
for version in 1.3 1.2; do
  "$edugate" smev sample --version "$version" --out "$samples/$version" >/dev/null
  for f in "$samples/$version"/*.xml; do xml "$f"; done
done

for t in "${targets[@]}"; do
  printf '%-16s %4d seeds\n' "$t" "$(find "$corpus/$t" -type f | wc -l)"
done
