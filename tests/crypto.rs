//! Tests of the GOST cryptography layer against the test-only dev PKI in `certs-dev/` and the openssl CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use edugate::crypto::{
    digest, ensure_default_engine, generate_key, init_engine, Certificate, CryptoError, Digester, EngineConfig,
    GostAlg, KeySource, PrivateKey,
};

mod support;

/// Skips the calling test with a printed reason, or fails it when `EDUGATE_REQUIRE_ORACLES=1`, by
/// `support::oracle`'s one rule (CI installs the openssl CLI and the gost engine, so there a missing one is a
/// broken machine, not a reason to pass).
fn skip_unless_required(reason: &str) {
    support::missing_oracle(&format!("{reason}; install the Debian package libengine-gost-openssl to run this test"));
}

fn certs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("certs-dev")
}

fn cert(name: &str) -> Certificate {
    let path = certs_dir().join(format!("{name}.crt"));
    Certificate::load(&path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

fn key(name: &str) -> PrivateKey {
    let path = certs_dir().join(format!("{name}.key"));
    PrivateKey::load(&KeySource::PemFile(path.clone())).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// GOST R 34.11-2012, appendix A, message M1.
const M1: &[u8] = b"012345678901234567890123456789012345678901234567890123456789012";

#[test]
fn default_engine_loads_and_is_idempotent() {
    ensure_default_engine().expect("the gost engine loads");
    ensure_default_engine().expect("a second call succeeds");
    init_engine(&EngineConfig::default()).expect("init_engine with the default config is idempotent");
}

#[test]
fn unknown_engine_names_the_debian_package() {
    let cfg = EngineConfig { engine_id: "edugate-no-such-engine".to_owned(), dynamic_path: None };
    let err = init_engine(&cfg).expect_err("an unknown engine cannot load");
    assert!(
        matches!(&err, CryptoError::EngineUnavailable { engine_id, .. } if engine_id == "edugate-no-such-engine"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("apt-get install libengine-gost-openssl"), "{message}");
}

#[test]
fn missing_dynamic_engine_path_is_engine_unavailable() {
    let cfg = EngineConfig {
        engine_id: "edugate-missing-dynamic".to_owned(),
        dynamic_path: Some(PathBuf::from("/nonexistent/edugate/engine.so")),
    };
    let err = init_engine(&cfg).expect_err("a missing shared object cannot load");
    assert!(matches!(err, CryptoError::EngineUnavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/edugate/engine.so"), "{err}");
}

/// Loads the engine through the `dynamic` engine in a fresh process, where no engine is loaded yet.
#[test]
fn dynamic_engine_loads_from_its_shared_object() {
    let so = Path::new("/usr/lib/x86_64-linux-gnu/engines-3/gost.so");
    if !so.exists() {
        skip_unless_required(&format!("{} is not installed", so.display()));
        return;
    }
    let exe = std::env::current_exe().expect("the test binary path");
    let output = Command::new(exe)
        .args(["dynamic_engine_child", "--exact", "--include-ignored", "--nocapture", "--test-threads=1"])
        .env("EDUGATE_DYNAMIC_ENGINE_SO", so)
        .output()
        .expect("re-running the test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
#[ignore = "run by dynamic_engine_loads_from_its_shared_object in a fresh process"]
fn dynamic_engine_child() {
    let Some(so) = std::env::var_os("EDUGATE_DYNAMIC_ENGINE_SO") else {
        return;
    };
    let cfg = EngineConfig { engine_id: "gost".to_owned(), dynamic_path: Some(PathBuf::from(so)) };
    init_engine(&cfg).expect("the engine loads from its shared object");
    let generated = generate_key(GostAlg::Gost2012_256).expect("keys can be generated");
    assert_eq!(generated.sign(b"x").expect("signing works").len(), 64);
    // Keys and certificates parsed from files find the engine's key methods too.
    for name in ["gateway", "gateway-512"] {
        let signature = key(name).sign(b"x").expect("signing works");
        assert!(cert(name).verify(b"x", &signature).expect("verify runs"));
    }
}

#[test]
fn algorithm_uris_round_trip() {
    for alg in [GostAlg::Gost2012_256, GostAlg::Gost2012_512] {
        assert_eq!(GostAlg::from_signature_uri(alg.signature_uri()), Some(alg));
        assert_eq!(GostAlg::from_digest_uri(alg.digest_uri()), Some(alg));
        assert_eq!(GostAlg::from_signature_uri(alg.digest_uri()), None);
    }
    assert_eq!(
        GostAlg::Gost2012_256.signature_uri(),
        "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34102012-gostr34112012-256"
    );
    assert_eq!(GostAlg::Gost2012_512.digest_uri(), "urn:ietf:params:xml:ns:cpxmlsec:algorithms:gostr34112012-512");
    assert_eq!(GostAlg::Gost2012_256.digest_len(), 32);
    assert_eq!(GostAlg::Gost2012_512.digest_len(), 64);
    assert_eq!(GostAlg::from_digest_uri("http://www.w3.org/2001/04/xmlenc#sha256"), None);
}

#[test]
fn streebog_known_answers() {
    assert_eq!(
        hex(&digest(GostAlg::Gost2012_256, b"").expect("digest")),
        "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb"
    );
    assert_eq!(
        hex(&digest(GostAlg::Gost2012_256, M1).expect("digest")),
        "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"
    );
    assert_eq!(
        hex(&digest(GostAlg::Gost2012_512, b"").expect("digest")),
        "8e945da209aa869f0455928529bcae4679e9873ab707b55315f56ceb98bef0a7\
         362f715528356ee83cda5f2aac4c6ad2ba3a715c1bcd81cb8e9f90bf4c1c1a8a"
    );
    assert_eq!(
        hex(&digest(GostAlg::Gost2012_512, M1).expect("digest")),
        "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa\
         00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"
    );
}

#[test]
fn streaming_digest_equals_one_shot() {
    use std::io::Write;
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for alg in [GostAlg::Gost2012_256, GostAlg::Gost2012_512] {
        let mut digester = Digester::new(alg).expect("digester");
        for chunk in data.chunks(333) {
            digester.write_all(chunk).expect("write");
        }
        digester.update(b"").expect("empty update");
        let streamed = digester.finish().expect("finish");
        assert_eq!(streamed.len(), alg.digest_len());
        assert_eq!(streamed, digest(alg, &data).expect("digest"));
    }
}

#[test]
fn sign_verify_round_trip_256_and_512() {
    let data = b"<ns1:SenderProvidedRequestData>...</ns1:SenderProvidedRequestData>";
    for (name, alg) in [("gateway", GostAlg::Gost2012_256), ("gateway-512", GostAlg::Gost2012_512)] {
        let key = key(name);
        let cert = cert(name);
        assert_eq!(key.alg(), alg);
        assert_eq!(cert.alg().expect("GOST certificate"), alg);
        let signature = key.sign(data).expect("sign");
        assert_eq!(signature.len(), 2 * alg.digest_len());
        assert!(cert.verify(data, &signature).expect("verify runs"), "{name}");
        // GOST signatures are randomised: two signatures differ, both verify.
        let again = key.sign(data).expect("sign");
        assert_ne!(signature, again);
        assert!(cert.verify(data, &again).expect("verify runs"));
    }
}

#[test]
fn tampered_signature_or_data_fails() {
    let key = key("gateway");
    let cert = cert("gateway");
    let data = b"payload";
    let signature = key.sign(data).expect("sign");
    for i in [0, 31, 32, 63] {
        let mut flipped = signature.clone();
        flipped[i] ^= 0x01;
        assert!(!cert.verify(data, &flipped).expect("verify runs"), "byte {i}");
    }
    assert!(!cert.verify(b"payload!", &signature).expect("verify runs"));
    assert!(!cert.verify(data, &signature[..63]).expect("short signature is a mismatch"));
    assert!(!cert.verify(data, &[]).expect("empty signature is a mismatch"));
    assert!(!cert.verify(data, &[0u8; 64]).expect("zero signature is a mismatch"));
    assert!(!cert.verify(data, &[0xffu8; 64]).expect("out-of-range signature is a mismatch"));
}

#[test]
fn wrong_certificate_fails() {
    let data = b"payload";
    let signature = key("gateway").sign(data).expect("sign");
    assert!(!cert("other").verify(data, &signature).expect("verify runs"));
    assert!(!cert("mock-smev").verify(data, &signature).expect("verify runs"));
    // A 256-bit signature checked against a 512-bit certificate is a mismatch, not an error.
    assert!(!cert("gateway-512").verify(data, &signature).expect("verify runs"));
}

#[test]
fn certificate_matches_its_key_only() {
    assert!(cert("gateway").matches_key(&key("gateway")));
    assert!(cert("gateway-512").matches_key(&key("gateway-512")));
    assert!(cert("other").matches_key(&key("other")));
    assert!(!cert("other").matches_key(&key("gateway")));
    assert!(!cert("gateway").matches_key(&key("other")));
    assert!(!cert("gateway").matches_key(&key("gateway-512")));
}

#[test]
fn expired_certificate_is_reported_with_its_date() {
    let expired = cert("expired");
    match expired.check_validity_now() {
        Err(CryptoError::CertificateExpired { not_after }) => {
            assert_eq!(not_after, "2021-01-01T00:00:00Z");
        }
        other => panic!("expected CertificateExpired, got {other:?}"),
    }
    assert_eq!(expired.not_before_unix(), 1_577_836_800);
    assert_eq!(expired.not_after_unix(), 1_609_459_200);
    // Inside its validity it is fine, before it it is not valid yet.
    expired.check_validity_at(1_590_969_600).expect("valid in mid-2020");
    expired.check_validity_at(1_609_459_200).expect("the end is inclusive");
    match expired.check_validity_at(1_500_000_000) {
        Err(CryptoError::CertificateNotYetValid { not_before }) => {
            assert_eq!(not_before, "2020-01-01T00:00:00Z");
        }
        other => panic!("expected CertificateNotYetValid, got {other:?}"),
    }
    let err = expired.check_validity_at(1_700_000_000).expect_err("expired");
    assert!(err.to_string().contains("2021-01-01T00:00:00Z"), "{err}");
}

#[test]
fn current_certificates_are_valid_now() {
    for name in ["ca", "gateway", "gateway-512", "mock-smev", "portal", "other"] {
        let c = cert(name);
        c.check_validity_now().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(c.not_after_unix() > c.not_before_unix());
    }
}

#[test]
fn pem_and_der_loading_agree() {
    let path = certs_dir().join("gateway.crt");
    let pem = std::fs::read(&path).expect("read PEM");
    let from_pem = Certificate::from_pem_or_der(&pem).expect("PEM");
    let der = from_pem.to_der();
    assert_eq!(der[0], 0x30, "DER starts with a SEQUENCE");
    let from_der = Certificate::from_der(&der).expect("DER");
    let sniffed = Certificate::from_pem_or_der(&der).expect("DER through the sniffer");
    assert_eq!(from_der.to_der(), der);
    assert_eq!(sniffed.to_der(), der);
    assert_eq!(from_der.subject(), from_pem.subject());
    assert_eq!(from_pem.subject(), "O=edugate TEST-ONLY, OU=development, CN=gateway");
    assert_eq!(from_pem.issuer(), "O=edugate TEST-ONLY, OU=development, CN=edugate TEST-ONLY dev CA");
    assert!(!from_pem.serial_decimal().expect("serial").is_empty());
    // A DER file loads from disk too.
    let dir = tempfile::tempdir().expect("temp dir");
    let der_path = dir.path().join("gateway.der");
    std::fs::write(&der_path, &der).expect("write DER");
    assert_eq!(Certificate::load(&der_path).expect("DER file").to_der(), der);
}

#[test]
fn garbage_is_a_load_error() {
    assert!(matches!(Certificate::from_der(b"not a certificate"), Err(CryptoError::CertificateLoad { .. })));
    assert!(matches!(
        Certificate::from_pem_or_der(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        Err(CryptoError::CertificateLoad { .. })
    ));
    assert!(matches!(
        Certificate::load(Path::new("/nonexistent/edugate.crt")),
        Err(CryptoError::CertificateLoad { .. })
    ));
    assert!(matches!(
        PrivateKey::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        Err(CryptoError::KeyLoad { .. })
    ));
    let missing = PrivateKey::load(&KeySource::PemFile(PathBuf::from("/nonexistent/edugate.key")));
    assert!(matches!(missing, Err(CryptoError::KeyLoad { .. })));
}

#[test]
fn engine_key_the_engine_does_not_have_is_a_load_error() {
    // Debian's gost engine holds no keys, so any key id is unknown to it.
    ensure_default_engine().expect("engine");
    let err = PrivateKey::load(&KeySource::Engine { key_id: "edugate-test-container".to_owned() })
        .expect_err("the gost engine has no key store");
    assert!(matches!(err, CryptoError::KeyLoad { .. }), "{err:?}");
}

#[test]
fn non_gost_keys_are_unsupported() {
    let rsa = openssl::rsa::Rsa::generate(2048).expect("RSA key");
    let pkey = openssl::pkey::PKey::from_rsa(rsa).expect("pkey");
    let pem = pkey.private_key_to_pem_pkcs8().expect("PEM");
    let err = PrivateKey::from_pem(&pem).expect_err("RSA is not GOST");
    assert!(matches!(err, CryptoError::UnsupportedKey { .. }), "{err:?}");

    let mut name = openssl::x509::X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "rsa").expect("CN");
    let name = name.build();
    let mut builder = openssl::x509::X509Builder::new().expect("builder");
    builder.set_subject_name(&name).expect("subject");
    builder.set_issuer_name(&name).expect("issuer");
    builder.set_pubkey(&pkey).expect("pubkey");
    let start = openssl::asn1::Asn1Time::days_from_now(0).expect("time");
    let end = openssl::asn1::Asn1Time::days_from_now(1).expect("time");
    builder.set_not_before(&start).expect("not before");
    builder.set_not_after(&end).expect("not after");
    builder.sign(&pkey, openssl::hash::MessageDigest::sha256()).expect("sign");
    let der = builder.build().to_der().expect("DER");
    let rsa_cert = Certificate::from_der(&der).expect("an RSA certificate still loads");
    assert!(matches!(rsa_cert.alg(), Err(CryptoError::UnsupportedKey { .. })));
    assert!(matches!(rsa_cert.verify(b"x", &[0u8; 64]), Err(CryptoError::UnsupportedKey { .. })));
    assert!(!rsa_cert.matches_key(&key("gateway")));
}

#[test]
fn generated_keys_sign_and_survive_pem() {
    for alg in [GostAlg::Gost2012_256, GostAlg::Gost2012_512] {
        let key = generate_key(alg).expect("generate");
        assert_eq!(key.alg(), alg);
        let pem = key.to_pem_pkcs8().expect("PEM");
        assert!(pem.starts_with(b"-----BEGIN PRIVATE KEY-----"));
        let reloaded = PrivateKey::from_pem(&pem).expect("reload");
        assert_eq!(reloaded.alg(), alg);
        assert_eq!(reloaded.sign(b"data").expect("sign").len(), 2 * alg.digest_len());
    }
}

#[test]
fn dev_certificates_chain_to_the_dev_ca() {
    let ca = cert("ca");
    for name in ["gateway", "gateway-512", "mock-smev", "portal", "other", "expired"] {
        assert!(cert(name).is_signed_by(&ca).expect("check runs"), "{name}");
    }
    assert!(!ca.is_signed_by(&cert("gateway")).expect("check runs"));
}

/// Whether the openssl CLI can use the gost engine; the interop tests are skipped when it cannot.
fn cli_has_gost() -> bool {
    Command::new("openssl").args(["engine", "gost"]).output().map(|o| o.status.success()).unwrap_or(false)
}

fn run_openssl(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let output = Command::new("openssl").args(args).output().expect("running openssl");
    assert!(
        output.status.success(),
        "openssl {:?} failed: {}{}",
        args,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn our_signatures_verify_with_the_openssl_cli_and_back() {
    if !cli_has_gost() {
        skip_unless_required("the openssl CLI cannot load the gost engine");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let data_path = dir.path().join("data.bin");
    let data = b"<SignedInfo>interop between edugate and openssl</SignedInfo>";
    std::fs::write(&data_path, data).expect("write data");

    for (name, md) in [("gateway", "-md_gost12_256"), ("gateway-512", "-md_gost12_512")] {
        let crt = certs_dir().join(format!("{name}.crt"));
        let key_path = certs_dir().join(format!("{name}.key"));
        let pub_path = dir.path().join(format!("{name}.pub.pem"));
        run_openssl(&[
            "x509".as_ref(),
            "-engine".as_ref(),
            "gost".as_ref(),
            "-in".as_ref(),
            crt.as_os_str(),
            "-pubkey".as_ref(),
            "-noout".as_ref(),
            "-out".as_ref(),
            pub_path.as_os_str(),
        ]);

        // Ours, checked by the CLI.
        let sig_path = dir.path().join(format!("{name}.ours.sig"));
        std::fs::write(&sig_path, key(name).sign(data).expect("sign")).expect("write sig");
        let out = run_openssl(&[
            "dgst".as_ref(),
            "-engine".as_ref(),
            "gost".as_ref(),
            md.as_ref(),
            "-verify".as_ref(),
            pub_path.as_os_str(),
            "-signature".as_ref(),
            sig_path.as_os_str(),
            data_path.as_os_str(),
        ]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("Verified OK"), "{name}");

        // The CLI's, checked by ours.
        let cli_sig_path = dir.path().join(format!("{name}.cli.sig"));
        run_openssl(&[
            "dgst".as_ref(),
            "-engine".as_ref(),
            "gost".as_ref(),
            md.as_ref(),
            "-sign".as_ref(),
            key_path.as_os_str(),
            "-out".as_ref(),
            cli_sig_path.as_os_str(),
            data_path.as_os_str(),
        ]);
        let cli_sig = std::fs::read(&cli_sig_path).expect("read CLI signature");
        assert!(cert(name).verify(data, &cli_sig).expect("verify runs"), "{name}");
    }
}

#[test]
fn streebog_matches_the_openssl_cli() {
    if !cli_has_gost() {
        skip_unless_required("the openssl CLI cannot load the gost engine");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 256) as u8).collect();
    let data_path = dir.path().join("data.bin");
    std::fs::write(&data_path, &data).expect("write data");
    for (alg, md) in [(GostAlg::Gost2012_256, "-md_gost12_256"), (GostAlg::Gost2012_512, "-md_gost12_512")] {
        let out = run_openssl(&[
            "dgst".as_ref(),
            "-engine".as_ref(),
            "gost".as_ref(),
            md.as_ref(),
            "-r".as_ref(),
            data_path.as_os_str(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let cli_hex = stdout.split_whitespace().next().unwrap_or_default();
        assert_eq!(hex(&digest(alg, &data).expect("digest")), cli_hex);
    }
}
