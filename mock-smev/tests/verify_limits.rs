//! mock-smev refuses a call with more `ds:Signature` elements than the verifier's limit before verifying any.
use edugate::crypto::{Certificate, PrivateKey};
use edugate::dsig::Signer;
use edugate::smev::{build, FaultKind, SendRequest, SignatureFaultKind, Version};
use mock_smev::config::{certs_dev, Config};
use mock_smev::soap::Emulator;

fn portal() -> Signer {
    edugate::crypto::ensure_default_engine().unwrap();
    let key = PrivateKey::from_pem(&std::fs::read(certs_dev().join("portal.key")).unwrap()).unwrap();
    Signer::new(key, Certificate::load(&certs_dev().join("portal.crt")).unwrap()).unwrap()
}

/// Regression: thousands of signatures in one message were all read before the caller was authenticated.
#[test]
fn a_call_with_too_many_signatures_is_refused() {
    let config = Config::default();
    config.validate().unwrap();
    let emulator = Emulator::open(config).unwrap();
    let empty = "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>".repeat(8);
    let content = format!("<e:Echo xmlns:e=\"urn://edugate/echo/1.0.0\"><e:x>{empty}</e:x></e:Echo>");
    let envelope = build::send_request(Version::V1_3, &SendRequest::new(&content), Some(&portal())).unwrap();
    let reply = emulator.handle(Version::V1_3, envelope.as_bytes());
    assert_eq!(reply.status, 500, "{}", reply.body);
    let fault = reply.fault.expect("a fault");
    assert!(
        matches!(fault.kind, FaultKind::SignatureVerification(SignatureFaultKind::SignatureIsInvalid)),
        "{fault:?}"
    );
    assert!(reply.body.contains("more than 8 ds:Signature"), "{}", reply.body);
}
