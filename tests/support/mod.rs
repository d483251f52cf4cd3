//! Helpers shared by the XML integration tests: finding the external oracles, reading test knobs from the
//! environment, and a SMEV-like sample document.
#![allow(dead_code)]

pub mod oracle;
pub mod signing;
pub mod smev_schema;
pub mod xmlgen;

// Re-exported for the tests that include this module; each uses some of them.
#[allow(unused_imports)]
pub use oracle::{missing_oracle, oracle, oracle_path, oracles_required, REQUIRE_ORACLES};

/// A numeric knob from the environment, or its default.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// A SMEV 3 request shaped like the ones the gateway signs: several namespaces declared at different levels,
/// a Cyrillic payload, an `Id` on the signed element, an (empty) signature, attributes with and without prefixes.
pub const SMEV_SAMPLE: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3">
  <soap:Header/>
  <soap:Body>
    <ns:SendRequestRequest>
      <ns1:SenderProvidedRequestData xmlns:ns1="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3" Id="SIGNED_BY_CONSUMER">
        <ns1:MessageID>db0486d0-3c08-11e5-95e2-d4c9eff07b77</ns1:MessageID>
        <ns2:MessagePrimaryContent xmlns:ns2="urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.3">
          <edu:Заявление xmlns:edu="urn://edugate/school/1.0" edu:версия="1.0" тип="зачисление">
            <edu:ФИО>Иванов Иван Иванович</edu:ФИО>
            <edu:Школа номер="42">МБОУ &quot;СОШ №42&quot; &amp; филиал</edu:Школа>
            <edu:Комментарий><![CDATA[<не разметка> & всё]]></edu:Комментарий>
            <!-- комментарий -->
          </edu:Заявление>
        </ns2:MessagePrimaryContent>
        <ns1:TestMessage/>
      </ns1:SenderProvidedRequestData>
      <ns:CallerInformationSystemSignature>
        <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
          <ds:SignedInfo>
            <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
            <ds:SignatureMethod Algorithm="urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-256"/>
            <ds:Reference URI="#SIGNED_BY_CONSUMER">
              <ds:Transforms>
                <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
                <ds:Transform Algorithm="urn://smev-gov-ru/xmldsig/transform"/>
              </ds:Transforms>
              <ds:DigestMethod Algorithm="urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-256"/>
              <ds:DigestValue></ds:DigestValue>
            </ds:Reference>
          </ds:SignedInfo>
          <ds:SignatureValue></ds:SignatureValue>
        </ds:Signature>
      </ns:CallerInformationSystemSignature>
    </ns:SendRequestRequest>
  </soap:Body>
</soap:Envelope>
"##;
