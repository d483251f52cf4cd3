//! Hostile and broken XML is refused early, with the right error kind and the right position, and never panics.
//!
//! Every refusal names its kind (`XmlErrorKind`) and where it is (line, column in characters, byte offset). No
//! test here measures time: "fast" is shown by what is refused before any work is done (size before parsing, any
//! DOCTYPE before any entity is read) and by limits that stop the work early (depth, attributes, names, nodes).

mod support;

use edugate::xml::{self, C14nOptions, Limits, XmlError, XmlErrorKind};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::io::Write;
use std::process::Command;

fn parse_err(src: &str) -> XmlError {
    match xml::parse(src, &Limits::default()) {
        Ok(_) => panic!("accepted: {src:?}"),
        Err(e) => e,
    }
}

/// Asserts that `src` is refused with `kind` at one-based `line` and `column`.
#[track_caller]
fn refused(src: &str, kind: XmlErrorKind, line: usize, column: usize) -> XmlError {
    let e = parse_err(src);
    assert_eq!(e.kind, kind, "error kind for {src:?} ({e})");
    assert_eq!((e.position.line, e.position.column), (line, column), "position for {src:?} ({e})");
    // The offset and the line and column agree (positions count from after a byte-order mark).
    let text = src.strip_prefix('\u{FEFF}').unwrap_or(src);
    assert_eq!(e.position, xml::Position::of_offset(text, e.position.offset), "offset for {src:?}");
    e
}

/// Like [`refused`] when only the kind's variant matters (its message is the tokenizer's).
#[track_caller]
fn malformed(src: &str, line: usize, column: usize) -> XmlError {
    let e = parse_err(src);
    assert!(matches!(e.kind, XmlErrorKind::Malformed(_)), "error kind for {src:?}: {e}");
    assert_eq!((e.position.line, e.position.column), (line, column), "position for {src:?} ({e})");
    e
}

// --- DTDs and entities -----------------------------------------------------------------------------------------

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let mut src = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n  <!ENTITY lol \"lol\">\n");
    let mut previous = "lol".to_string();
    for level in 1..=9 {
        let name = format!("lol{level}");
        src += &format!("  <!ENTITY {name} \"{}\">\n", format!("&{previous};").repeat(10));
        previous = name;
    }
    src += "]>\n<lolz>&lol9;</lolz>\n";
    refused(&src, XmlErrorKind::DoctypeForbidden, 2, 1);
}

#[test]
fn external_entities_are_refused_at_the_doctype() {
    refused(
        r#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#,
        XmlErrorKind::DoctypeForbidden,
        1,
        1,
    );
    // After a declaration on the same line; a parameter entity; an external DTD subset.
    refused(
        r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://example.com/evil.dtd"> %p;]><x/>"#,
        XmlErrorKind::DoctypeForbidden,
        1,
        22,
    );
    refused("<!-- c -->\n  <!DOCTYPE x SYSTEM \"http://example.com/x.dtd\"><x/>", XmlErrorKind::DoctypeForbidden, 2, 3);
    // Without a DTD there is no entity but the predefined five, and a reference to one is refused.
    refused("<x>\n&e;</x>", XmlErrorKind::UnknownEntity("e".into()), 2, 1);
}

// --- Limits ----------------------------------------------------------------------------------------------------

#[test]
fn deep_nesting_is_refused_at_the_limit_without_recursion() {
    let depth = 10_000;
    let src = "<a>".repeat(depth) + &"</a>".repeat(depth);
    // A small stack proves the parser does not recurse per level.
    let e = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let limit = Limits::default().max_depth;
            // The element one past the limit is refused where its start tag begins.
            let e = refused(&src, XmlErrorKind::TooDeep { limit }, 1, 3 * limit + 1);
            // With the limit raised, the same input parses, still without recursion.
            let raised = Limits { max_depth: depth, ..Limits::default() };
            let doc = xml::parse(&src, &raised).expect("parses under a raised limit");
            assert_eq!(doc.elements().count(), depth);
            e
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert_eq!(e.position.offset, 3 * Limits::default().max_depth);
}

#[test]
fn the_deepest_accepted_document_canonicalizes_on_a_modest_stack() {
    // Canonicalization recurses per element; the depth limit is what bounds it. At the limit it must fit well
    // inside the stack of an ordinary thread.
    let depth = Limits::default().max_depth;
    let src = "<p:a xmlns:p=\"urn:x\">".repeat(depth) + &"</p:a>".repeat(depth);
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(move || {
            let doc = xml::parse(&src, &Limits::default()).expect("parses at the limit");
            let c14n = xml::exc_c14n(&doc, doc.root(), &C14nOptions::default());
            assert!(c14n.starts_with(b"<p:a xmlns:p=\"urn:x\"><p:a>"));
            xml::smev_transform(&doc, doc.root(), &C14nOptions::default(), Vec::new()).expect("transforms");
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
}

/// `<a>&bogus;` followed by `size - 14` bytes of text and `</a>`: refused for its size means refused before the
/// unknown entity at its start was looked at.
fn oversize_document(size: usize) -> Vec<u8> {
    let mut doc = Vec::with_capacity(size);
    doc.extend_from_slice(b"<a>&bogus;");
    doc.resize(size - 4, b'x');
    doc.extend_from_slice(b"</a>");
    doc
}

#[test]
fn a_100_mb_element_is_refused_before_parsing() {
    let size = 100 * 1024 * 1024;
    let doc = oversize_document(size);
    let limit = Limits::default().max_document_bytes;
    let expected = XmlErrorKind::DocumentTooLarge { size, limit };

    let e = xml::parse_bytes(&doc, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, expected);
    assert_eq!((e.position.line, e.position.column, e.position.offset), (1, 1, 0), "{e}");

    let text = std::str::from_utf8(&doc).expect("ASCII");
    let e = xml::parse(text, &Limits::default()).unwrap_err();
    assert_eq!(e.kind, expected);
    assert_eq!((e.position.line, e.position.column, e.position.offset), (1, 1, 0), "{e}");

    // One byte over a limit is refused; at the limit, the document is parsed (and its entity refused).
    let small = Limits { max_document_bytes: 1000, ..Limits::default() };
    let e = xml::parse_bytes(&oversize_document(1001), &small).unwrap_err();
    assert_eq!(e.kind, XmlErrorKind::DocumentTooLarge { size: 1001, limit: 1000 });
    let e = xml::parse_bytes(&oversize_document(1000), &small).unwrap_err();
    assert_eq!(e.kind, XmlErrorKind::UnknownEntity("bogus".into()));
    assert_eq!((e.position.line, e.position.column), (1, 4));
}

/// Peak resident memory of all waited-for children of this process, in bytes.
fn children_max_rss() -> u64 {
    // SAFETY: getrusage only writes the `rusage` it is given, which is a valid, exclusively borrowed and
    // zero-initialized (all-integer) struct; RUSAGE_CHILDREN is a valid `who`.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0, "getrusage");
        usage
    };
    // Linux reports kilobytes.
    usage.ru_maxrss as u64 * 1024
}

/// Set (to a file) when this test binary is re-run as the small parent process that measures the CLI.
const RSS_PROBE: &str = "EDUGATE_CLI_RSS_PROBE";
const PEAK_LINE: &str = "cli-peak-rss-bytes: ";

#[test]
fn the_cli_refuses_a_100_mb_file_in_bounded_memory() {
    // A child's peak RSS as Linux reports it starts from its parent's resident size at the moment of the spawn,
    // and this test process can hold hundreds of megabytes for the other tests running beside it. So the CLI is
    // started from a fresh copy of this test binary that runs only this test and only measures: its own size is a
    // few megabytes, and the CLI is its only child.
    if let Ok(file) = std::env::var(RSS_PROBE) {
        let out = Command::new(env!("CARGO_BIN_EXE_edugate")).args(["dsig", "c14n", &file]).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "the CLI accepted a 100 MB document");
        assert!(out.stdout.is_empty(), "no canonical output");
        assert!(stderr.contains("over the limit"), "the error says why: {stderr}");
        println!("{PEAK_LINE}{}", children_max_rss());
        return;
    }

    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("big.xml");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    file.write_all(b"<a>").expect("write");
    let chunk = vec![b'x'; 1024 * 1024];
    for _ in 0..100 {
        file.write_all(&chunk).expect("write");
    }
    file.write_all(b"</a>").expect("write");
    file.into_inner().expect("flush").sync_all().expect("sync");

    let probe = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "the_cli_refuses_a_100_mb_file_in_bounded_memory", "--nocapture", "--test-threads=1"])
        .env(RSS_PROBE, &path)
        .output()
        .expect("re-run this test as the probe");
    let stdout = String::from_utf8_lossy(&probe.stdout);
    let peak: u64 = stdout
        .split_once(PEAK_LINE)
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or_else(|| panic!("the probe failed:\n{stdout}\n{}", String::from_utf8_lossy(&probe.stderr)));
    println!("the CLI refused a 100 MB file with a peak RSS of {:.1} MiB", peak as f64 / 1048576.0);
    assert!(peak < 64 * 1024 * 1024, "peak RSS {peak} bytes: the CLI read the file it should have refused");
}

#[test]
fn too_many_attributes_are_refused_at_the_element() {
    let limit = Limits::default().max_attributes;
    let attrs: String = (0..=limit).map(|i| format!(" a{i}=\"\"")).collect();
    refused(&format!("<r>\n <e{attrs}/></r>"), XmlErrorKind::TooManyAttributes { limit }, 2, 2);
    // Exactly at the limit is fine.
    let attrs: String = (0..limit).map(|i| format!(" a{i}=\"\"")).collect();
    xml::parse(&format!("<e{attrs}/>"), &Limits::default()).expect("at the limit");
    // Namespace declarations count.
    let decls: String = (0..limit).map(|i| format!(" xmlns:p{i}=\"urn:{i}\"")).collect();
    refused(&format!("<e{decls} a=\"1\"/>"), XmlErrorKind::TooManyAttributes { limit }, 1, 1);
}

#[test]
fn overlong_names_are_refused_where_they_start() {
    let limit = Limits::default().max_name_bytes;
    let long = "n".repeat(limit + 1);
    refused(&format!("<r>\n<{long}/></r>"), XmlErrorKind::NameTooLong { limit }, 2, 2);
    refused(&format!("<r a=\"1\"\n   {long}=\"2\"/>"), XmlErrorKind::NameTooLong { limit }, 2, 4);
    // The limit is in bytes: 257 Cyrillic letters are 514 bytes.
    refused(&format!("<{}/>", "я".repeat(limit / 2 + 1)), XmlErrorKind::NameTooLong { limit }, 1, 2);
    // Prefix included.
    let prefixed = format!("p:{}", "n".repeat(limit - 1));
    refused(&format!("<{prefixed} xmlns:p=\"urn:p\"/>"), XmlErrorKind::NameTooLong { limit }, 1, 2);
    // A name of a megabyte is refused just the same.
    refused(&format!("<{}/>", "n".repeat(1 << 20)), XmlErrorKind::NameTooLong { limit }, 1, 2);
    xml::parse(&format!("<{}/>", "n".repeat(limit)), &Limits::default()).expect("at the limit");
}

#[test]
fn too_many_nodes_are_refused() {
    let limits = Limits { max_nodes: 100, ..Limits::default() };
    let src = format!("<r>{}</r>", "<e/>".repeat(100));
    let e = xml::parse(&src, &limits).unwrap_err();
    assert_eq!(e.kind, XmlErrorKind::TooManyNodes { limit: 100 });
    // The root and 99 children fit; the hundredth child does not.
    assert_eq!((e.position.line, e.position.column), (1, 4 + 99 * 4));
}

// --- References and characters -----------------------------------------------------------------------------------

#[test]
fn unknown_entities_are_refused() {
    refused("<a>x &foo; y</a>", XmlErrorKind::UnknownEntity("foo".into()), 1, 6);
    refused("<a>\n  <b c=\"&nbsp;\"/></a>", XmlErrorKind::UnknownEntity("nbsp".into()), 2, 9);
    // An ampersand that does not start a reference.
    malformed("<a>fish & chips</a>", 1, 9);
}

#[test]
fn invalid_character_references_are_refused() {
    let invalid = |s: &str| XmlErrorKind::InvalidChar(format!("character reference '{s}'"));
    refused("<a>&#0;</a>", invalid("&#0;"), 1, 4);
    refused("<a>ok &#xD800;</a>", invalid("&#xD800;"), 1, 7);
    refused("<a>&#xDFFF;</a>", invalid("&#xDFFF;"), 1, 4);
    refused("<a>&#x110000;</a>", invalid("&#x110000;"), 1, 4);
    refused("<a>&#xFFFE;</a>", invalid("&#xFFFE;"), 1, 4);
    refused("<a>&#1;</a>", invalid("&#1;"), 1, 4);
    refused("<a b='&#x0;'/>", invalid("&#x0;"), 1, 7);
    refused("<a>\n\n  Ж&#99999999999;</a>", invalid("&#99999999999;"), 3, 4);
    // Literal characters XML forbids, in text, attributes and comments.
    refused("<a>x\u{1}</a>", XmlErrorKind::InvalidChar("U+0001".into()), 1, 5);
    refused("<a b=\"\u{1F}\"/>", XmlErrorKind::InvalidChar("U+001F".into()), 1, 7);
    refused("<a><!-- \u{FFFF} --></a>", XmlErrorKind::InvalidChar("U+FFFF".into()), 1, 9);
}

// --- Namespaces ----------------------------------------------------------------------------------------------

#[test]
fn unbound_prefixes_are_refused() {
    refused("<p:a/>", XmlErrorKind::UnboundPrefix("p".into()), 1, 2);
    refused("<a>\n <b p:c=\"1\"/></a>", XmlErrorKind::UnboundPrefix("p".into()), 2, 5);
    // A declaration on a sibling is not in scope.
    refused("<r><a xmlns:p=\"urn:p\"/><p:b/></r>", XmlErrorKind::UnboundPrefix("p".into()), 1, 25);
    // Undeclaring the default namespace does not unbind prefixes; nothing can unbind one in XML 1.0.
    refused("<r xmlns:p=\"urn:p\"><a xmlns:p=\"\"/></r>", bad_ns("prefix 'p' cannot be bound to an empty URI"), 1, 23);
}

fn bad_ns(reason: &str) -> XmlErrorKind {
    XmlErrorKind::InvalidNamespaceDeclaration(reason.into())
}

#[test]
fn duplicate_attributes_are_refused() {
    refused("<a b=\"1\" b=\"2\"/>", XmlErrorKind::DuplicateAttribute("b".into()), 1, 10);
    refused("<a\n  p:b=\"1\"\n  p:b=\"2\" xmlns:p=\"urn:p\"/>", XmlErrorKind::DuplicateAttribute("p:b".into()), 3, 3);
    // The same namespace and local name under two prefixes.
    refused(
        "<a xmlns:p=\"urn:same\" xmlns:q=\"urn:same\" p:b=\"1\" q:b=\"2\"/>",
        XmlErrorKind::DuplicateAttribute("q:b".into()),
        1,
        50,
    );
    // Two spellings of one namespace name are one namespace.
    refused(
        "<a xmlns:p=\"urn:x\" xmlns:q=\"urn&#58;x\" q:b=\"1\" p:b=\"2\"/>",
        XmlErrorKind::DuplicateAttribute("p:b".into()),
        1,
        48,
    );
    // A namespace declared twice on one element.
    refused("<a xmlns:p=\"urn:1\" xmlns:p=\"urn:2\"/>", XmlErrorKind::DuplicateAttribute("xmlns:p".into()), 1, 20);
    // Different namespaces, or one unqualified: not duplicates.
    xml::parse("<a xmlns:p=\"urn:1\" xmlns:q=\"urn:2\" p:b=\"1\" q:b=\"2\" b=\"3\"/>", &Limits::default())
        .expect("distinct attributes");
}

#[test]
fn reserved_prefixes_cannot_be_rebound() {
    refused("<a xmlns:xml=\"urn:x\"/>", bad_ns("the prefix 'xml' cannot be rebound"), 1, 4);
    refused("<a\n xmlns:xmlns=\"urn:x\"/>", bad_ns("the prefix 'xmlns' cannot be declared"), 2, 2);
    refused(
        "<a xmlns:p=\"http://www.w3.org/XML/1998/namespace\"/>",
        bad_ns("'http://www.w3.org/XML/1998/namespace' is reserved"),
        1,
        4,
    );
    refused(
        "<a xmlns:p=\"http://www.w3.org/2000/xmlns/\"/>",
        bad_ns("'http://www.w3.org/2000/xmlns/' is reserved"),
        1,
        4,
    );
    refused(
        "<a xmlns=\"http://www.w3.org/2000/xmlns/\"/>",
        bad_ns("'http://www.w3.org/2000/xmlns/' cannot be the default namespace"),
        1,
        4,
    );
    // Binding xml to its own namespace is allowed, and changes nothing.
    let doc = xml::parse("<a xmlns:xml=\"http://www.w3.org/XML/1998/namespace\" xml:lang=\"ru\"/>", &Limits::default())
        .expect("xml may be declared with its own namespace");
    assert_eq!(xml::exc_c14n(&doc, doc.root(), &C14nOptions::default()), b"<a xml:lang=\"ru\"></a>");
    // Elements and attributes named with the xmlns prefix are not declarations, and are refused.
    refused("<xmlns:a/>", XmlErrorKind::UnboundPrefix("xmlns".into()), 1, 2);
}

// --- Document structure -------------------------------------------------------------------------------------------

#[test]
fn a_second_document_element_is_refused() {
    refused("<a/><b/>", XmlErrorKind::Structure("more than one document element".into()), 1, 5);
    refused("<a></a>\n\n<a></a>", XmlErrorKind::Structure("more than one document element".into()), 3, 1);
}

#[test]
fn text_outside_the_document_element_is_refused() {
    let outside = || XmlErrorKind::Structure("text outside the document element".into());
    refused("<a/>text", outside(), 1, 5);
    refused("  text<a/>", outside(), 1, 3);
    refused("<a/>\n<![CDATA[x]]>", outside(), 2, 1);
    refused("<a/>\n&amp;", outside(), 2, 1);
    refused("<a/>\n\n   \u{A0}", outside(), 3, 4);
    // Whitespace, comments and processing instructions are fine there.
    xml::parse("\n <!-- c --> <?pi x?>\r\n<a/>\n<!-- d -->\n", &Limits::default()).expect("misc outside");
    refused("", XmlErrorKind::Structure("no document element".into()), 1, 1);
    refused("  <!-- only -->\n", XmlErrorKind::Structure("no document element".into()), 2, 1);
}

#[test]
fn unclosed_elements_are_refused_where_they_start() {
    malformed("<a>\n  <b></b>", 1, 1);
    malformed("<a>\n  <b>text", 2, 3);
    malformed("<a", 1, 1);
    malformed("<a b=\"1", 1, 1);
    malformed("<a><!-- never closed", 1, 4);
    malformed("<a><![CDATA[ never closed", 1, 4);
}

#[test]
fn mismatched_end_tags_are_refused() {
    malformed("<a><b></a>", 1, 7);
    malformed("<a>\n  <b>\n  </B>\n</a>", 3, 3);
    malformed("<a></a></a>", 1, 8);
    malformed("<p:a xmlns:p=\"urn:p\" xmlns:q=\"urn:p\"></q:a>", 1, 38);
}

#[test]
fn non_utf8_input_is_refused() {
    let e = xml::parse_bytes(b"<a>\xff</a>", &Limits::default()).unwrap_err();
    assert!(matches!(e.kind, XmlErrorKind::Encoding(_)), "{e}");
    assert_eq!((e.position.line, e.position.column, e.position.offset), (1, 4, 3));
    // Windows-1251 Cyrillic on the second line, after UTF-8 Cyrillic.
    let e = xml::parse_bytes(b"<a>\n\xd0\xaf \xcf\xf0\xe8</a>", &Limits::default()).unwrap_err();
    assert!(matches!(e.kind, XmlErrorKind::Encoding(_)), "{e}");
    assert_eq!((e.position.line, e.position.column, e.position.offset), (2, 3, 7));
    // UTF-16 with its byte-order mark.
    let utf16: Vec<u8> = [0xFF, 0xFE].into_iter().chain("<a/>".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    let e = xml::parse_bytes(&utf16, &Limits::default()).unwrap_err();
    assert!(matches!(e.kind, XmlErrorKind::Encoding(_)), "{e}");
    assert_eq!((e.position.line, e.position.column, e.position.offset), (1, 1, 0));
    // Encoded surrogates and overlong forms are not UTF-8 either.
    let e = xml::parse_bytes(b"<a>\xed\xa0\x80</a>", &Limits::default()).unwrap_err();
    assert!(matches!(e.kind, XmlErrorKind::Encoding(_)), "{e}");
    let e = xml::parse_bytes(b"<a>\xc0\xbc</a>", &Limits::default()).unwrap_err();
    assert!(matches!(e.kind, XmlErrorKind::Encoding(_)), "{e}");
}

#[test]
fn a_declared_non_utf8_encoding_is_refused() {
    let e = refused(
        "<?xml version=\"1.0\" encoding=\"windows-1251\"?>\n<a/>",
        XmlErrorKind::Encoding("declared encoding 'windows-1251'; only UTF-8 is accepted".into()),
        1,
        1,
    );
    assert!(e.to_string().contains("windows-1251"));
    for enc in ["UTF-16", "ISO-8859-5", "koi8-r"] {
        let src = format!("<?xml version='1.0' encoding='{enc}'?><a/>");
        assert!(matches!(parse_err(&src).kind, XmlErrorKind::Encoding(_)), "{enc}");
    }
    for enc in ["UTF-8", "utf-8", "utf8"] {
        xml::parse(&format!("<?xml version='1.0' encoding='{enc}'?><a/>"), &Limits::default()).expect(enc);
    }
    // The declaration belongs at the very start.
    malformed("\n<?xml version=\"1.0\"?><a/>", 2, 1);
}

#[test]
fn malformed_declarations_and_start_tags_are_refused() {
    malformed("<?xml?><a/>", 1, 1);
    malformed("<?xml encoding=\"UTF-8\"?><a/>", 1, 7);
    malformed("<?xml version=\"2.0\"?><a/>", 1, 7);
    malformed("<?xml version=\"1.0\" standalone=\"yes\" encoding=\"UTF-8\"?><a/>", 1, 38);
    malformed("<?xml version=\"1.0\"\n      standalone=\"maybe\"?><a/>", 2, 7);
    malformed("<?xml version=\"1.0\" foo=\"x\"?><a/>", 1, 21);
    malformed("<?xml version=\"1.0\"encoding=\"UTF-8\"?><a/>", 1, 20);
    // Attributes need whitespace between them, and values need quotes.
    malformed("<a b=\"1\"c=\"2\"/>", 1, 9);
    malformed("<r>\n<a b='1'c='2'></a></r>", 2, 9);
    assert!(xml::parse("<a b=1/>", &Limits::default()).is_err());
    assert!(xml::parse("<a b/>", &Limits::default()).is_err());
    // Comments may not hold `--`.
    assert!(xml::parse("<a><!-- a -- b --></a>", &Limits::default()).is_err());
}

#[test]
fn lt_in_an_attribute_value_is_refused() {
    malformed("<a b=\"x<y\"/>", 1, 8);
    malformed("<a\n  b='<'/>", 2, 6);
    // Escaped, it is fine; and `>` needs no escape.
    let doc = xml::parse("<a b=\"x&lt;y>\"/>", &Limits::default()).expect("escaped");
    assert_eq!(doc.attr(doc.root(), "b"), Some("x<y>"));
}

#[test]
fn a_utf8_byte_order_mark_is_accepted() {
    let doc =
        xml::parse_bytes(b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\xd0\xaf</a>", &Limits::default())
            .expect("BOM");
    assert_eq!(xml::exc_c14n(&doc, doc.root(), &C14nOptions::default()), "<a>Я</a>".as_bytes());
    let doc = xml::parse("\u{FEFF}<a/>", &Limits::default()).expect("BOM in a string");
    assert_eq!(xml::exc_c14n(&doc, doc.root(), &C14nOptions::default()), b"<a></a>");
    // Positions after a byte-order mark count from the character after it.
    let e = xml::parse_bytes(b"\xEF\xBB\xBF<a>&foo;</a>", &Limits::default()).unwrap_err();
    assert_eq!(e.kind, XmlErrorKind::UnknownEntity("foo".into()));
    assert_eq!((e.position.line, e.position.column), (1, 4));
    // A second one is a character in the wrong place, however the input arrives.
    let outside = XmlErrorKind::Structure("text outside the document element".into());
    let e = xml::parse_bytes(b"\xEF\xBB\xBF\xEF\xBB\xBF<a/>", &Limits::default()).unwrap_err();
    assert_eq!((e.kind, e.position.line, e.position.column), (outside.clone(), 1, 1));
    refused("\u{FEFF}\u{FEFF}<a/>", outside.clone(), 1, 1);
    refused("\u{FEFF}<a/>\u{FEFF}", outside, 1, 5);
    // Spans count from the character after the mark, like positions.
    let doc = xml::parse_bytes(b"\xEF\xBB\xBF<a><b/></a>", &Limits::default()).expect("BOM");
    let b = doc.child_elements(doc.root()).next().expect("child");
    assert_eq!(&doc.source()[doc.element(b).span.clone()], "<b/>");
}

// --- Fuzzing ---------------------------------------------------------------------------------------------------

/// Whatever the parser accepts can be canonicalized and transformed, and its canonical form is a fixed point;
/// whatever it refuses comes with a position inside the input.
fn never_panics(input: &[u8]) -> Result<(), TestCaseError> {
    match xml::parse_bytes(input, &Limits::default()) {
        Ok(doc) => {
            let options = C14nOptions::default();
            let c14n = xml::exc_c14n(&doc, doc.root(), &options);
            let text = std::str::from_utf8(&c14n).map_err(|e| TestCaseError::fail(format!("not UTF-8: {e}")))?;
            let again = xml::parse(text, &Limits::default())
                .map_err(|e| TestCaseError::fail(format!("canonical form does not parse: {e}\n{text}")))?;
            prop_assert_eq!(xml::exc_c14n(&again, again.root(), &options), c14n.clone());
            for id in doc.elements().filter(|&e| doc.attr(e, "Id").is_some()) {
                xml::exc_c14n(
                    &doc,
                    id,
                    &C14nOptions { inclusive_prefixes: vec!["#default".into()], ..options.clone() },
                );
            }
            // The SMEV transform refuses elements without a namespace; it must not panic on anything.
            let _ = xml::smev_transform(&doc, doc.root(), &options, Vec::new());
        }
        Err(e) => {
            let p = e.position;
            prop_assert!(p.line >= 1 && p.column >= 1 && p.offset <= input.len(), "bad position {:?} for {}", p, e);
            prop_assert!(!e.to_string().is_empty());
        }
    }
    Ok(())
}

/// Pieces of markup that mutations splice into a valid document.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</",
    "&",
    ";",
    "&amp;",
    "&#0;",
    "&#x10FFFF;",
    "&#xD800;",
    "&lt",
    "]]>",
    "<!--",
    "-->",
    "<![CDATA[",
    "\"",
    "'",
    "=",
    ":",
    "ns1:",
    "xmlns=\"\"",
    " xmlns:ds=\"\"",
    " xmlns:xml=\"urn:x\"",
    " Id=\"SIGNED_BY_CONSUMER\"",
    "<?xml version=\"1.0\"?>",
    "<!DOCTYPE a [<!ENTITY e \"x\">]>",
    "&e;",
    "<?pi x?>",
    "\r",
    "\r\n",
    "\u{FEFF}",
    "Ж",
    "𐌰",
    "<a>",
    "</a>",
    "<ds:Signature/>",
    "\0",
];

#[derive(Debug, Clone)]
enum Mutation {
    Delete { at: prop::sample::Index, len: usize },
    Insert { at: prop::sample::Index, token: &'static str },
    InsertByte { at: prop::sample::Index, byte: u8 },
    Replace { at: prop::sample::Index, byte: u8 },
    Duplicate { from: prop::sample::Index, to: prop::sample::Index, len: usize },
    Truncate { at: prop::sample::Index },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    use prop::sample::Index;
    prop_oneof![
        (any::<Index>(), 1..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<Index>(), prop::sample::select(TOKENS)).prop_map(|(at, token)| Mutation::Insert { at, token }),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::InsertByte { at, byte }),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
        (any::<Index>(), any::<Index>(), 1..200usize).prop_map(|(from, to, len)| Mutation::Duplicate { from, to, len }),
        any::<Index>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(doc: &mut Vec<u8>, m: &Mutation) {
    let n = doc.len().max(1);
    match m {
        Mutation::Delete { at, len } => {
            let at = at.index(n).min(doc.len());
            doc.drain(at..(at + len).min(doc.len()));
        }
        Mutation::Insert { at, token } => {
            let at = at.index(n).min(doc.len());
            doc.splice(at..at, token.bytes());
        }
        Mutation::InsertByte { at, byte } => {
            let at = at.index(n).min(doc.len());
            doc.insert(at, *byte);
        }
        Mutation::Replace { at, byte } => {
            if !doc.is_empty() {
                let at = at.index(doc.len());
                doc[at] = *byte;
            }
        }
        Mutation::Duplicate { from, to, len } => {
            let from = from.index(n).min(doc.len());
            let piece: Vec<u8> = doc[from..(from + len).min(doc.len())].to_vec();
            let to = to.index(n).min(doc.len());
            doc.splice(to..to, piece);
        }
        Mutation::Truncate { at } => doc.truncate(at.index(n)),
    }
}

fn fuzz_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: support::env_u64("EDUGATE_FUZZ_CASES", cases as u64) as u32,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..ProptestConfig::default()
    }
}

#[test]
fn the_smev_sample_is_accepted() {
    let doc = xml::parse(support::SMEV_SAMPLE, &Limits::default()).expect("the sample parses");
    assert_eq!(doc.elements_with_id("SIGNED_BY_CONSUMER").count(), 1);
    never_panics(support::SMEV_SAMPLE.as_bytes()).expect("the sample canonicalizes");
}

proptest! {
    #![proptest_config(fuzz_config(1000))]

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..2048)) {
        never_panics(&input)?;
    }

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,512}") {
        never_panics(input.as_bytes())?;
    }

    #[test]
    fn markup_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..64)) {
        never_panics(tokens.concat().as_bytes())?;
    }
}

proptest! {
    #![proptest_config(fuzz_config(3000))]

    #[test]
    fn mutated_smev_documents_never_panic(mutations in prop::collection::vec(mutation(), 1..8)) {
        let mut doc = support::SMEV_SAMPLE.as_bytes().to_vec();
        for m in &mutations {
            apply(&mut doc, m);
        }
        never_panics(&doc)?;
    }
}
