//! In-process XSD validation (`edugate::schema`): the shipped EPGU schemas compile and judge the real samples as
//! `xmllint` does, verdicts are bounded, validation is safe from many threads at once, and libxml2 reaches neither
//! the network nor an entity's file.

use edugate::schema::error::{MAX_ISSUES, MAX_MESSAGE_CHARS};
use edugate::schema::{shipped, Schema, SchemaError, ValidateError};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const NS_321: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.2.1";
const NS_311: &str = "http://epgu.gosuslugi.ru/concentrator/kindergarten/3.1.1";

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/epgu").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema(namespace: &str) -> Arc<Schema> {
    shipped::for_namespace(namespace).expect("shipped").compiled().expect("compiles")
}

fn invalid(verdict: Result<(), ValidateError>) -> edugate::schema::Invalid {
    match verdict {
        Err(ValidateError::Invalid(invalid)) => invalid,
        other => panic!("expected an invalid verdict, got {other:?}"),
    }
}

#[test]
fn every_shipped_schema_compiles_and_is_the_file_in_xsd() {
    for s in shipped::SHIPPED {
        let on_disk = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("xsd").join(s.name)).unwrap();
        assert_eq!(on_disk, s.xsd, "{} is embedded as shipped", s.name);
        assert!(String::from_utf8_lossy(s.xsd).contains(&format!("targetNamespace=\"{}\"", s.namespace)), "{}", s.name);
        let compiled = s.compiled().unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert!(Arc::ptr_eq(&compiled, &s.compiled().unwrap()), "compiled once per process");
    }
    assert!(shipped::for_namespace("urn://edugate/progress/1.0.0").is_none());
}

#[test]
fn the_real_samples_are_judged_as_xmllint_judges_them() {
    schema(NS_321).validate(sample("ApplicationRequest.xml")).unwrap();
    schema(NS_321).validate(sample("smev3_321.xml")).unwrap();
    schema(NS_311).validate(sample("getapplication-1.xml")).unwrap();
    let other = invalid(schema(NS_321).validate(sample("OtherRequest.xml")));
    assert_eq!(other.schema, "epgu/kindergarten-3.2.1.xsd");
    let first = &other.issues.kept[0];
    assert_eq!(first.line, Some(2), "{other}");
    assert!(first.message.contains("OtherRequest"), "{other}");
    // Valid for its own version is no pass for another.
    invalid(schema(NS_311).validate(sample("ApplicationRequest.xml")));
}

#[test]
fn not_well_formed_bytes_are_invalid_with_the_parsers_message() {
    let verdict = invalid(schema(NS_321).validate(&b"<FormData xmlns=\"x\">"[..]));
    assert!(!verdict.issues.kept.is_empty());
    assert!(verdict.issues.kept[0].line.is_some(), "{verdict}");
}

#[test]
fn a_content_element_is_validated_in_its_canonical_form() {
    let content = String::from_utf8(sample("ApplicationRequest.xml")).unwrap();
    let envelope = format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:u=\"urn:unused\"><s:Body>\
         <m:MessagePrimaryContent xmlns:m=\"urn:m\">{content}</m:MessagePrimaryContent></s:Body></s:Envelope>"
    );
    let doc = edugate::xml::parse(&envelope, &edugate::xml::Limits::default()).unwrap();
    let form = doc.elements().find(|&e| doc.element(e).local == "FormData").unwrap();
    schema(NS_321).validate_element(&doc, form).unwrap();
    let wrapper = doc.elements().find(|&e| doc.element(e).local == "MessagePrimaryContent").unwrap();
    invalid(schema(NS_321).validate_element(&doc, wrapper));
}

#[test]
fn verdicts_are_bounded_in_number_and_length() {
    // Forty unknown requests, each with a long name: forty errors, each quoting a long value.
    let long = "x".repeat(2000);
    let body: String = (0..40).map(|i| format!("<Unknown{i}{long}/>")).collect();
    let xml = format!("<FormData xmlns=\"{NS_321}\" oktmo=\"1\">{body}</FormData>");
    let verdict = invalid(schema(NS_321).validate(xml));
    assert!(verdict.issues.kept.len() <= MAX_ISSUES);
    assert!(verdict.issues.kept.iter().all(|i| i.message.chars().count() <= MAX_MESSAGE_CHARS + 1));
    // Too long an oktmo and too many errors are both reported in bounds.
    let many: String = (0..40).map(|_| "<orderId>not a number</orderId>".to_string()).collect();
    let xml = format!("<FormData xmlns=\"{NS_321}\" oktmo=\"{long}\"><GetApplicationRequest>{many}</GetApplicationRequest></FormData>");
    let verdict = invalid(schema(NS_321).validate(xml));
    assert!(verdict.issues.kept.len() <= MAX_ISSUES, "{verdict}");
    assert!(verdict.to_string().chars().count() < (MAX_ISSUES + 1) * (MAX_MESSAGE_CHARS + 40), "{verdict}");
}

/// Eight threads validate valid and invalid documents at once against one compiled schema, many times each; every
/// verdict is right.
#[test]
fn one_schema_validates_from_many_threads_at_once() {
    let compiled = Arc::new(Schema::with_threads("kindergarten-3.2.1", shipped_321(), 3).unwrap());
    assert_eq!(compiled.threads(), 3);
    let (valid, other, smev) = (sample("ApplicationRequest.xml"), sample("OtherRequest.xml"), sample("smev3_321.xml"));
    let start = Arc::new(std::sync::Barrier::new(8));
    let passes = Arc::new(AtomicUsize::new(0));
    let refusals = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (compiled, start, passes, refusals) =
                (compiled.clone(), start.clone(), passes.clone(), refusals.clone());
            let (valid, other, smev) = (valid.clone(), other.clone(), smev.clone());
            std::thread::spawn(move || {
                start.wait();
                for i in 0..50 {
                    match (t + i) % 3 {
                        0 => compiled
                            .validate(valid.as_slice())
                            .map(|()| passes.fetch_add(1, Ordering::Relaxed))
                            .unwrap(),
                        1 => {
                            compiled.validate(smev.as_slice()).map(|()| passes.fetch_add(1, Ordering::Relaxed)).unwrap()
                        }
                        _ => {
                            let verdict = invalid(compiled.validate(other.as_slice()));
                            assert!(verdict.issues.kept[0].message.contains("OtherRequest"), "{verdict}");
                            refusals.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no validating thread panicked");
    }
    let (passed, refused) = (passes.load(Ordering::Relaxed), refusals.load(Ordering::Relaxed));
    assert_eq!(passed + refused, 8 * 50);
    assert_eq!(refused, (0..8).map(|t| (0..50).filter(|i| (t + i) % 3 == 2).count()).sum::<usize>());
}

fn shipped_321() -> &'static [u8] {
    shipped::for_namespace(NS_321).unwrap().xsd
}

/// A document naming an external DTD on a local listener, and an external entity on a local file: libxml2 opens
/// neither (no connection is made, the file's text appears nowhere) and the verdict is still given.
#[test]
fn libxml2_loads_no_dtd_no_entity_and_nothing_from_the_network() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "SECRET-TEXT").unwrap();
    let xml = format!(
        "<!DOCTYPE FormData SYSTEM \"http://127.0.0.1:{port}/x.dtd\" [<!ENTITY e SYSTEM \"file://{}\">]>\
         <FormData xmlns=\"{NS_321}\" oktmo=\"1\"><GetApplicationRequest><orderId>&e;</orderId></GetApplicationRequest></FormData>",
        secret.display()
    );
    let verdict = schema(NS_321).validate(xml);
    let mut connections = 0;
    while let Ok((mut socket, _)) = listener.accept() {
        let _ = socket.read(&mut [0u8; 64]);
        connections += 1;
    }
    assert_eq!(connections, 0, "libxml2 fetched the external DTD");
    // The entity is not substituted: orderId holds a reference, not a number, and the file's text is not read in.
    let text = format!("{verdict:?}");
    assert!(!text.contains("SECRET-TEXT"), "{text}");
    invalid(verdict);
}

#[test]
fn a_schema_file_is_compiled_with_its_local_includes_and_never_from_the_network() {
    let dir = tempfile::tempdir().unwrap();
    let xs = "http://www.w3.org/2001/XMLSchema";
    let write = |name: &str, body: &str| {
        let path: PathBuf = dir.path().join(name);
        std::fs::write(&path, format!("<xs:schema xmlns:xs=\"{xs}\" targetNamespace=\"urn:t\" xmlns=\"urn:t\" elementFormDefault=\"qualified\">{body}</xs:schema>")).unwrap();
        path
    };
    write("part.xsd", "<xs:element name=\"Part\" type=\"xs:int\"/>");
    let whole = write("whole.xsd", "<xs:include schemaLocation=\"part.xsd\"/><xs:element name=\"Whole\"><xs:complexType><xs:sequence><xs:element ref=\"Part\"/></xs:sequence></xs:complexType></xs:element>");
    let compiled = Schema::from_file(&whole).unwrap();
    assert_eq!(compiled.name(), "whole.xsd");
    compiled.validate(&b"<Whole xmlns=\"urn:t\"><Part>7</Part></Whole>"[..]).unwrap();
    invalid(compiled.validate(&b"<Whole xmlns=\"urn:t\"><Part>seven</Part></Whole>"[..]));
    let remote = write("remote.xsd", "<xs:include schemaLocation=\"http://127.0.0.1:9/part.xsd\"/>");
    assert!(matches!(Schema::from_file(&remote), Err(SchemaError::Remote { .. })));
    let broken = write("broken.xsd", "<xs:element name=\"A\" type=\"NoSuchType\"/>");
    match Schema::from_file(&broken) {
        Err(SchemaError::Compile { schema, issues }) => {
            assert_eq!(schema, "broken.xsd");
            assert!(issues.to_string().contains("NoSuchType"), "{issues}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(Schema::from_file(&dir.path().join("none.xsd")), Err(SchemaError::Read { .. })));
}
