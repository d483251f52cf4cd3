//! Verification bounded by the input: genuinely signed messages with many references or many signatures are refused
//! by the limits before the work they ask for is done, and with the limits raised the work grows linearly with the
//! input. Also the CR variants of the SMEV transform as verification meets them, and verification off the async
//! threads.
use base64::Engine as _;
use edugate::crypto::{self, ensure_default_engine, Certificate, GostAlg, PrivateKey};
use edugate::dsig::{
    verify_document, DsigError, KeySelection, TransformVariant, Validity, VerifyLimits, VerifyOptions,
};
use edugate::xml::{self, C14nOptions, Limits};
use std::path::PathBuf;
use support::signing::signature;

mod support;

const ROOT_NS: &str = "urn://edugate/test/limits";

fn certs_dev(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs-dev").join(name)
}

/// The dev portal's key and certificate.
fn portal() -> (PrivateKey, Certificate) {
    ensure_default_engine().expect("GOST engine");
    let key = PrivateKey::from_pem(&std::fs::read(certs_dev("portal.key")).unwrap()).unwrap();
    (key, Certificate::load(&certs_dev("portal.crt")).unwrap())
}

/// `items` elements with Ids `i0`, `i1`, ... each holding `payload`, as the signed document's body.
fn items(count: usize, payload: &str) -> String {
    (0..count).map(|i| format!("<t:Item Id=\"i{i}\">{payload} {i}</t:Item>")).collect()
}

/// The SMEV-transform digest of each element of `body` (wrapped as the document wraps it) whose Id is listed.
fn digests(body: &str, ids: &[String]) -> Vec<String> {
    let doc_text = format!("<t:Root xmlns:t=\"{ROOT_NS}\">{body}</t:Root>");
    let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
    ids.iter()
        .map(|id| {
            let target = match doc.element_with_id(id) {
                xml::IdMatch::One(e) => e,
                other => panic!("{id}: {other:?}"),
            };
            let bytes = xml::smev_transform(&doc, target, &C14nOptions::default(), Vec::new()).unwrap();
            base64::engine::general_purpose::STANDARD.encode(crypto::digest(GostAlg::Gost2012_256, &bytes).unwrap())
        })
        .collect()
}

/// A document of `signatures` signatures, each over `references` items of its own.
fn signed_document(signatures: usize, references: usize, payload: &str) -> String {
    let (key, cert) = portal();
    let body = items(signatures * references, payload);
    let ids: Vec<String> = (0..signatures * references).map(|i| format!("i{i}")).collect();
    let values = digests(&body, &ids);
    let mut out = format!("<t:Root xmlns:t=\"{ROOT_NS}\">{body}");
    for s in 0..signatures {
        let range = s * references..(s + 1) * references;
        out.push_str(&signature(&key, &cert, &ids[range.clone()], &values[range]));
    }
    out.push_str("</t:Root>");
    out
}

fn options(limits: VerifyLimits) -> VerifyOptions {
    VerifyOptions { keys: KeySelection::KeyInfo, validity: Validity::Skip, digest_only: false, limits }
}

#[test]
fn the_test_documents_verify() {
    let doc_text = signed_document(2, 3, "x");
    let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &options(VerifyLimits::default())).unwrap();
    assert_eq!(reports.len(), 2);
    for r in reports {
        let ok = r.outcome.unwrap();
        assert_eq!(ok.references.len(), 3);
        assert!(ok.references.iter().all(|r| r.variant == TransformVariant::Reference));
    }
}

/// Regression: a genuinely signed message with 500 references was digested 500 times.
#[test]
fn five_hundred_references_are_refused_by_the_limit() {
    let doc_text = signed_document(1, 500, "payload");
    let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &options(VerifyLimits::default())).unwrap();
    match &reports[0].outcome {
        Err(DsigError::TooManyReferences { limit: 4 }) => {}
        other => panic!("expected TooManyReferences, got {other:?}"),
    }
    assert!(reports[0].reference_ids.len() <= 5, "the report reads no more references than the limit needs");
    let limits = VerifyLimits { max_references: 2, ..VerifyLimits::default() };
    let reports = verify_document(&doc, &options(limits)).unwrap();
    assert!(matches!(reports[0].outcome, Err(DsigError::TooManyReferences { limit: 2 })));
}

/// Regression: 8,000 signatures were all verified, at a cost that grew with the square of the input.
#[test]
fn eight_thousand_signatures_are_refused_before_any_is_checked() {
    let doc_text = signed_document(8000, 1, "p");
    let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
    match verify_document(&doc, &options(VerifyLimits::default())) {
        Err(DsigError::TooManySignatures { limit: 8 }) => {}
        other => panic!("expected TooManySignatures, got {other:?}"),
    }
    let limits = VerifyLimits { max_signatures: 7999, ..VerifyLimits::default() };
    assert!(matches!(verify_document(&doc, &options(limits)), Err(DsigError::TooManySignatures { limit: 7999 })));
}

/// The CPU time this thread has used, in nanoseconds: unaffected by other processes on a busy machine.
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec it is given.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) }, 0);
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// The least CPU time of three runs of `work`.
fn cpu_time(mut work: impl FnMut()) -> u128 {
    (0..3)
        .map(|_| {
            let start = thread_cpu_ns();
            work();
            thread_cpu_ns() - start
        })
        .min()
        .unwrap()
}

/// With the limits raised, verifying N references (each resolved by Id, each digested) does work linear in N: the
/// bytes digested are the items' size, and four times the input costs about four times the CPU, not sixteen (Id
/// resolution scanned the whole document per reference).
#[test]
fn with_the_limits_raised_verification_is_linear() {
    let raised = VerifyLimits { max_references: 100_000, ..VerifyLimits::default() };
    let mut measured = Vec::new();
    for n in [1000, 4000] {
        let doc_text = signed_document(1, n, "linear");
        let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
        let reports = verify_document(&doc, &options(raised)).unwrap();
        let verified = reports[0].outcome.as_ref().unwrap();
        let digested: u64 = verified.references.iter().map(|r| r.digested_bytes).sum();
        assert!(digested < doc_text.len() as u64, "{n} references digested {digested} bytes");
        let cpu = cpu_time(|| {
            let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
            let reports = verify_document(&doc, &options(raised)).unwrap();
            assert!(reports[0].outcome.is_ok());
        });
        measured.push(cpu);
    }
    let ratio = measured[1] as f64 / measured[0] as f64;
    eprintln!("4x references: {:.2}x CPU ({} ns, {} ns)", ratio, measured[0], measured[1]);
    assert!(ratio < 8.0, "4x the references cost {ratio:.1}x the CPU time: not linear");
}

/// Four references to the whole document are the most one signature may make the verifier digest with the default
/// limits: the work is bounded by a constant times the input.
#[test]
fn references_to_one_large_element_are_bounded_by_the_limit() {
    let (key, cert) = portal();
    let body = items(200, "big");
    let whole = format!("<t:Big Id=\"big\">{body}</t:Big>");
    let ids = vec!["big".to_string(); 4];
    let values = digests(&whole, &ids);
    let doc_text = format!("<t:Root xmlns:t=\"{ROOT_NS}\">{whole}{}</t:Root>", signature(&key, &cert, &ids, &values));
    let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &options(VerifyLimits::default())).unwrap();
    let verified = reports[0].outcome.as_ref().unwrap();
    let digested: u64 = verified.references.iter().map(|r| r.digested_bytes).sum();
    assert!(digested <= 4 * doc_text.len() as u64);
    let ids5 = vec!["big".to_string(); 5];
    let values5 = digests(&whole, &ids5);
    let doc_text = format!("<t:Root xmlns:t=\"{ROOT_NS}\">{whole}{}</t:Root>", signature(&key, &cert, &ids5, &values5));
    let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &options(VerifyLimits::default())).unwrap();
    assert!(matches!(reports[0].outcome, Err(DsigError::TooManyReferences { limit: 4 })));
}

/// An untrusted signer's signature costs one certificate comparison and no digest: with 4 references to a large
/// element and the wrong certificate, the refusal is CertificateNotTrusted, found before any digest (a tampered
/// element would otherwise have been reported as a digest mismatch first).
#[test]
fn trust_and_signature_value_are_checked_before_any_digest() {
    let doc_text = signed_document(1, 4, "tamper").replace("tamper 0", "tampered 0");
    let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
    let other = Certificate::load(&certs_dev("gateway.crt")).unwrap();
    let trusted = VerifyOptions { keys: KeySelection::Trusted(vec![other]), ..options(VerifyLimits::default()) };
    let reports = verify_document(&doc, &trusted).unwrap();
    assert!(matches!(reports[0].outcome, Err(DsigError::CertificateNotTrusted { .. })), "{:?}", reports[0].outcome);
    // A forged SignatureValue is refused as such, not as the digest mismatch a digest-first verifier finds.
    let forged = doc_text.replacen("<ds:SignatureValue>", "<ds:SignatureValue>AAAA", 1);
    let doc = xml::parse(&forged, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &options(VerifyLimits::default())).unwrap();
    assert!(matches!(reports[0].outcome, Err(DsigError::SignatureInvalid | DsigError::Base64 { .. })));
}

/// Too many prefixes in an InclusiveNamespaces PrefixList are refused when the signature is read.
#[test]
fn an_overlong_inclusive_prefix_list_is_refused() {
    let doc_text = signed_document(1, 1, "x");
    let list: Vec<String> = (0..17).map(|i| format!("p{i}")).collect();
    let hostile = doc_text.replacen(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">",
        &format!(
            "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces \
             xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"{}\"/>",
            list.join(" ")
        ),
        1,
    );
    let doc = xml::parse(&hostile, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &options(VerifyLimits::default())).unwrap();
    assert!(matches!(reports[0].outcome, Err(DsigError::TooManyInclusivePrefixes { limit: 16 })));
}

/// A signature computed with the carriage return kept as `&#xD;` (the other variant in the field) verifies, and the
/// report says so; one computed with the reference rule reports `Reference`.
#[test]
fn a_digest_with_the_carriage_return_kept_verifies_and_is_reported() {
    let (key, cert) = portal();
    let body = "<t:Item Id=\"cr\">QUJD&#13;\nREVG&#13;\n</t:Item>";
    let kept = "<ns1:Item xmlns:ns1=\"urn://edugate/test/limits\" Id=\"cr\">QUJD&#xD;\nREVG&#xD;\n</ns1:Item>";
    let digest = crypto::digest(GostAlg::Gost2012_256, kept.as_bytes()).unwrap();
    let value = base64::engine::general_purpose::STANDARD.encode(digest);
    let ids = vec!["cr".to_string()];
    let doc_text = format!("<t:Root xmlns:t=\"{ROOT_NS}\">{body}{}</t:Root>", signature(&key, &cert, &ids, &[value]));
    let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &options(VerifyLimits::default())).unwrap();
    let verified = reports[0].outcome.as_ref().expect("the CR-kept digest verifies");
    assert_eq!(verified.references[0].variant, TransformVariant::CrKept);

    let reference = digests(body, &ids);
    let doc_text = format!("<t:Root xmlns:t=\"{ROOT_NS}\">{body}{}</t:Root>", signature(&key, &cert, &ids, &reference));
    let doc = xml::parse(&doc_text, &Limits::default()).unwrap();
    let reports = verify_document(&doc, &options(VerifyLimits::default())).unwrap();
    assert_eq!(reports[0].outcome.as_ref().unwrap().references[0].variant, TransformVariant::Reference);
}

/// Writes the inputs measured in the report (`EDUGATE_FIGURES_DIR=dir cargo test --test dsig_limits -- --ignored`):
/// 500 references to 500 items of a 1.7 MB document, 500 references to one 1.7 MB element, 8,000 signatures.
#[test]
#[ignore]
fn write_figure_inputs() {
    let Ok(dir) = std::env::var("EDUGATE_FIGURES_DIR") else { return };
    let dir = PathBuf::from(dir);
    let payload = "x".repeat(3300);
    std::fs::write(dir.join("refs500-items.xml"), signed_document(1, 500, &payload)).unwrap();
    let (key, cert) = portal();
    let whole = format!("<t:Big Id=\"big\">{}</t:Big>", items(500, &payload));
    let ids = vec!["big".to_string(); 500];
    let values = vec![digests(&whole, &ids[..1]).remove(0); 500];
    let doc = format!("<t:Root xmlns:t=\"{ROOT_NS}\">{whole}{}</t:Root>", signature(&key, &cert, &ids, &values));
    std::fs::write(dir.join("refs500-one.xml"), doc).unwrap();
    std::fs::write(dir.join("sigs8000.xml"), signed_document(8000, 1, "p")).unwrap();
}
