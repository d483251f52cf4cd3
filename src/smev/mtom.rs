//! MTOM (multipart/related) responses: SMEV answers with a multipart body when a message carries attachments,
//! and some installations always do. This finds the SOAP envelope part and the attachment parts.
#![forbid(unsafe_code)]

use super::SmevError;

/// One MIME part of a multipart/related body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The part's `Content-ID` without angle brackets.
    pub content_id: Option<String>,
    /// The part's `Content-Type`.
    pub content_type: Option<String>,
    /// The part's bytes.
    pub body: &'a [u8],
}

/// A decoded multipart/related body.
#[derive(Debug, Clone)]
pub struct Multipart<'a> {
    /// The root part: the SOAP envelope.
    pub root: Part<'a>,
    /// The other parts: attachments, referenced from the envelope by `cid:`.
    pub attachments: Vec<Part<'a>>,
}

/// The value of a parameter of a header value (`boundary`, `start`), unquoted.
fn header_param(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Whether a Content-Type names a multipart body.
pub fn is_multipart(content_type: &str) -> bool {
    content_type.trim_start().to_ascii_lowercase().starts_with("multipart/")
}

/// Splits a multipart/related body. The root is the part named by the `start` parameter, else the first part.
pub fn decode<'a>(content_type: &str, body: &'a [u8]) -> Result<Multipart<'a>, SmevError> {
    let boundary = header_param(content_type, "boundary")
        .ok_or_else(|| SmevError::Malformed("multipart Content-Type has no boundary".into()))?;
    let start = header_param(content_type, "start").map(|s| s.trim_matches(['<', '>']).to_string());
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let first = find(rest, delimiter.as_bytes()).ok_or_else(|| SmevError::Malformed("no multipart boundary".into()))?;
    rest = &rest[first + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            break;
        }
        let next = find(rest, delimiter.as_bytes())
            .ok_or_else(|| SmevError::Malformed("multipart body ends without a closing boundary".into()))?;
        let chunk = strip_crlf_edges(&rest[..next]);
        parts.push(parse_part(chunk)?);
        rest = &rest[next + delimiter.len()..];
    }
    if parts.is_empty() {
        return Err(SmevError::Malformed("multipart body has no parts".into()));
    }
    let root_index =
        start.and_then(|s| parts.iter().position(|p| p.content_id.as_deref() == Some(s.as_str()))).unwrap_or(0);
    let root = parts.remove(root_index);
    Ok(Multipart { root, attachments: parts })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn strip_crlf_edges(mut chunk: &[u8]) -> &[u8] {
    for prefix in [&b"\r\n"[..], b"\n"] {
        if let Some(c) = chunk.strip_prefix(prefix) {
            chunk = c;
            break;
        }
    }
    for suffix in [&b"\r\n"[..], b"\n"] {
        if let Some(c) = chunk.strip_suffix(suffix) {
            chunk = c;
            break;
        }
    }
    chunk
}

fn parse_part(chunk: &[u8]) -> Result<Part<'_>, SmevError> {
    let (head_end, sep) = find(chunk, b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| find(chunk, b"\n\n").map(|i| (i, 2)))
        .ok_or_else(|| SmevError::Malformed("multipart part has no header end".into()))?;
    let head = std::str::from_utf8(&chunk[..head_end])
        .map_err(|_| SmevError::Malformed("multipart part headers are not UTF-8".into()))?;
    let mut content_id = None;
    let mut content_type = None;
    for line in head.lines() {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-id" => content_id = Some(value.trim().trim_matches(['<', '>']).to_string()),
                "content-type" => content_type = Some(value.trim().to_string()),
                _ => {}
            }
        }
    }
    Ok(Part { content_id, content_type, body: &chunk[head_end + sep..] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_root_and_attachments() {
        let body = b"--b1\r\nContent-Type: application/xop+xml; type=\"text/xml\"\r\nContent-ID: <root>\r\n\r\n<a/>\r\n--b1\r\nContent-ID: <att1>\r\nContent-Type: application/octet-stream\r\n\r\nBYTES\r\n--b1--\r\n";
        let m =
            decode("multipart/related; type=\"application/xop+xml\"; boundary=\"b1\"; start=\"<root>\"", body).unwrap();
        assert_eq!(m.root.body, b"<a/>");
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].content_id.as_deref(), Some("att1"));
        assert_eq!(m.attachments[0].body, b"BYTES");
    }

    #[test]
    fn refuses_bodies_without_boundaries() {
        assert!(decode("multipart/related", b"x").is_err());
        assert!(decode("multipart/related; boundary=zz", b"--zz\r\nA: b\r\n\r\nno end").is_err());
    }
}
