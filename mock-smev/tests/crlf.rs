//! A request whose signed content holds carriage returns (`&#xD;`, as Java clients built on Santuario write base64)
//! and whose signature a Java client computed with the method guide's reference transform on the JDK: mock-smev
//! accepts it. The signed element and its transform come from edugate's JDK-oracle vectors
//! (`tests/data/transform/sender-data.*`), so the expected digest does not come from the code under test.
use base64::Engine as _;
use edugate::crypto::{self, Certificate, GostAlg, PrivateKey};
use edugate::dsig::DSIG_NS;
use edugate::smev::Version;
use mock_smev::config::{certs_dev, Config};
use mock_smev::soap::Emulator;
use mock_smev::{ManualClock, Queues};
use std::path::PathBuf;
use std::sync::Arc;

fn vector(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/transform").join(name);
    std::fs::read_to_string(path).unwrap()
}

/// A detached signature over `#id` whose digest is Streebog-256 of `transformed`, signed by `name` of certs-dev.
fn signature(name: &str, id: &str, transformed: &[u8]) -> String {
    crypto::ensure_default_engine().unwrap();
    let key = PrivateKey::from_pem(&std::fs::read(certs_dev().join(format!("{name}.key"))).unwrap()).unwrap();
    let cert = Certificate::load(&certs_dev().join(format!("{name}.crt"))).unwrap();
    let b64 = &base64::engine::general_purpose::STANDARD;
    let digest = b64.encode(crypto::digest(GostAlg::Gost2012_256, transformed).unwrap());
    let inner = format!(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:CanonicalizationMethod>\
         <ds:SignatureMethod Algorithm=\"{}\"></ds:SignatureMethod><ds:Reference URI=\"#{id}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>\
         <ds:Transform Algorithm=\"urn://smev-gov-ru/xmldsig/transform\"></ds:Transform></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{}\"></ds:DigestMethod><ds:DigestValue>{digest}</ds:DigestValue>\
         </ds:Reference>",
        GostAlg::Gost2012_256.signature_uri(),
        GostAlg::Gost2012_256.digest_uri()
    );
    let signed_info = format!("<ds:SignedInfo xmlns:ds=\"{DSIG_NS}\">{inner}</ds:SignedInfo>");
    let value = b64.encode(key.sign(signed_info.as_bytes()).unwrap());
    format!(
        "<ds:Signature xmlns:ds=\"{DSIG_NS}\"><ds:SignedInfo>{inner}</ds:SignedInfo><ds:SignatureValue>{value}\
         </ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data>\
         </ds:KeyInfo></ds:Signature>",
        b64.encode(cert.to_der())
    )
}

/// Regression: mock-smev refused a correctly signed request whose content has CR LF line ends written `&#xD;`:
/// edugate's transform wrote a raw CR byte where the reference drops it.
#[test]
fn a_request_with_carriage_returns_signed_by_the_reference_rule_is_accepted() {
    let data = vector("sender-data.input.xml");
    let transformed = vector("sender-data.expected.xml");
    let ns = "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3";
    let envelope = format!(
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Header/><soap:Body>\
         <t:SendRequestRequest xmlns:t=\"{ns}\">{data}<t:CallerInformationSystemSignature>{}\
         </t:CallerInformationSystemSignature></t:SendRequestRequest></soap:Body></soap:Envelope>",
        signature("portal", "SIGNED_BY_CONSUMER", transformed.as_bytes())
    );
    let mut config = Config::default();
    // The vector's MessageID is fixed, so it must not be refused as stale.
    config.limits.stale_message_id_secs = 100 * 365 * 24 * 3600;
    config.validate().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let clock = Arc::new(ManualClock::new(now));
    let queues =
        Queues::open(Arc::new(mock_smev::MemoryStore::new()), clock.clone(), config.limits.queue_limits()).unwrap();
    let emulator = Emulator::with_queues(config, queues, clock).unwrap();
    let reply = emulator.handle(Version::V1_3, envelope.as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.body);
}
