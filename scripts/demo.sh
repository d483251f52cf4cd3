#!/usr/bin/env bash
# A short tour of the signature core on the dev certificates: sign, verify, tamper, verify again.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/debug/edugate
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/request.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<tns:SendRequestRequest xmlns:tns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3">
  <tns:SenderProvidedRequestData Id="SIGNED_BY_CONSUMER">
    <tns:MessageID>6e1bd3b0-ca3f-11ef-8000-0242ac120002</tns:MessageID>
    <MessagePrimaryContent xmlns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.3">
      <p:ProgressRequest xmlns:p="urn://edugate/progress/1.0.0"><p:Snils>112-233-445 95</p:Snils></p:ProgressRequest>
    </MessagePrimaryContent>
  </tns:SenderProvidedRequestData>
</tns:SendRequestRequest>
XML
echo "== the SMEV transform of the request's document element"
"$bin" dsig transform "$work/request.xml"; echo
echo "== signing SenderProvidedRequestData with certs-dev/gateway (GOST R 34.10-2012 256, test-only key)"
"$bin" dsig sign --id SIGNED_BY_CONSUMER --key certs-dev/gateway.key --cert certs-dev/gateway.crt "$work/request.xml" >"$work/signed.xml"
echo "== verifying"
"$bin" dsig verify --check-validity "$work/signed.xml"
echo "== changing one character of the signed content and verifying again (must fail)"
sed 's/112-233-445 95/112-233-445 96/' "$work/signed.xml" >"$work/tampered.xml"
if "$bin" dsig verify "$work/tampered.xml"; then echo "demo: the tampered message verified!" >&2; exit 1; fi
echo "demo: signature core works. The full exchange (mock SMEV, gateway, school data) arrives with the protocol work."
