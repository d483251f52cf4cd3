//! Untrusted bytes through the multipart/related (MTOM) splitter. The input's first line is the Content-Type
//! header value, the rest is the body; every part returned must be a slice of the body.
#![no_main]
use edugate::smev::mtom;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(content_type) = std::str::from_utf8(&data[..split]) else { return };
    let body = data.get(split + 1..).unwrap_or_default();
    let _ = mtom::is_multipart(content_type);
    if let Ok(multipart) = mtom::decode(content_type, body) {
        let range = body.as_ptr_range();
        for part in std::iter::once(&multipart.root).chain(&multipart.attachments) {
            let inside = part.body.is_empty() || range.contains(&part.body.as_ptr());
            assert!(inside, "a part is a slice of the body");
        }
    }
});
