//! The echo service: answers with the content it got. Tests, the crash test and integrators' smoke checks use it.
#![forbid(unsafe_code)]

use super::{Decided, KindService, ReadRequest, Served};
use crate::smev::ResponseBody;
use crate::xml::{Document, NodeId};

/// The echo service's default format.
const SERVES: &[Served] = &[Served { namespace: "urn://edugate/echo/1.0.0", root: "Echo", version: "1.0.0" }];

/// Answers every request with its own content.
#[derive(Debug, Default)]
pub struct EchoService;

impl KindService for EchoService {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn serves(&self) -> &'static [Served] {
        SERVES
    }

    fn read(&self, doc: &Document<'_>, content: NodeId) -> Box<dyn ReadRequest> {
        Box::new(Decided(ResponseBody::Content {
            content: doc.self_contained_source(content).into_owned(),
            personal_signature: None,
            attachment_headers: Vec::new(),
        }))
    }
}
