//! SMEV 3 message exchange: typed messages, envelope builders and parsers, faults with their retry classes.
//!
//! Only this module knows SOAP and the SMEV schemas. Builders return signed envelope text; parsers read a parsed
//! [`crate::xml::Document`]. Neither does I/O: the HTTP client and mock-smev wrap them.
#![forbid(unsafe_code)]

pub mod build;
pub mod client;
pub mod delivered;
pub mod fault;
pub mod ids;
pub mod message;
pub mod mtom;
pub mod parse;
pub mod sample;
pub mod unreadable;

pub use fault::{FaultKind, RetryClass, SignatureFaultKind, SmevFault};
pub use ids::{format_datetime, now_datetime, MessageId};
pub use message::*;

/// The SOAP 1.1 envelope namespace.
pub const SOAP_ENV_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// Which version of the message-exchange schemas an endpoint speaks. Their namespaces differ only in the trailing
/// version; 1.2 has `GetIncomingQueueStatistics`, 1.3 adds `Routing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// message-exchange 1.2.
    V1_2,
    /// message-exchange 1.3, the current one.
    #[default]
    V1_3,
}

impl Version {
    /// The namespace of the operations' request and response elements.
    pub fn types_ns(self) -> &'static str {
        match self {
            Version::V1_2 => "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.2",
            Version::V1_3 => "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/1.3",
        }
    }

    /// The namespace of shared types (MessagePrimaryContent, MessageTypeSelector, AckTargetMessage, ...).
    pub fn basic_ns(self) -> &'static str {
        match self {
            Version::V1_2 => "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.2",
            Version::V1_3 => "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/basic/1.3",
        }
    }

    /// The namespace of fault details.
    pub fn faults_ns(self) -> &'static str {
        match self {
            Version::V1_2 => "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/faults/1.2",
            Version::V1_3 => "urn://x-artefacts-smev-gov-ru/services/message-exchange/types/faults/1.3",
        }
    }

    /// The version of a types namespace, when it is one.
    pub fn from_types_ns(ns: &str) -> Option<Version> {
        [Version::V1_2, Version::V1_3].into_iter().find(|v| v.types_ns() == ns)
    }

    /// The version as written in configuration: `1.2` or `1.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_2 => "1.2",
            Version::V1_3 => "1.3",
        }
    }
}

/// The operations of the SMEV 3 message-exchange service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A consumer sends a request.
    SendRequest,
    /// A provider answers a request.
    SendResponse,
    /// A provider polls for requests.
    GetRequest,
    /// A consumer polls for responses.
    GetResponse,
    /// A recipient acknowledges a delivered message.
    Ack,
    /// A sender polls for asynchronous processing statuses.
    GetStatus,
    /// Queue statistics (1.2 only).
    GetIncomingQueueStatistics,
}

impl Operation {
    /// Every operation, for iteration in tests and tools.
    pub const ALL: [Operation; 7] = [
        Operation::SendRequest,
        Operation::SendResponse,
        Operation::GetRequest,
        Operation::GetResponse,
        Operation::Ack,
        Operation::GetStatus,
        Operation::GetIncomingQueueStatistics,
    ];

    /// The operation's name, as in the WSDL.
    pub fn name(self) -> &'static str {
        match self {
            Operation::SendRequest => "SendRequest",
            Operation::SendResponse => "SendResponse",
            Operation::GetRequest => "GetRequest",
            Operation::GetResponse => "GetResponse",
            Operation::Ack => "Ack",
            Operation::GetStatus => "GetStatus",
            Operation::GetIncomingQueueStatistics => "GetIncomingQueueStatistics",
        }
    }

    /// The SOAPAction header value.
    pub fn soap_action(self) -> String {
        format!("urn:{}", self.name())
    }

    /// The local name of the operation's request element (`SendRequestRequest`, ...).
    pub fn request_element(self) -> String {
        format!("{}Request", self.name())
    }

    /// The local name of the operation's response element (`SendRequestResponse`, ...).
    pub fn response_element(self) -> String {
        format!("{}Response", self.name())
    }

    /// The operation whose request element has this local name.
    pub fn from_request_element(local: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| local.strip_suffix("Request") == Some(op.name()))
    }

    /// Whether a version has this operation.
    pub fn exists_in(self, version: Version) -> bool {
        self != Operation::GetIncomingQueueStatistics || version == Version::V1_2
    }
}

/// Errors of building and parsing SMEV messages.
#[derive(Debug, thiserror::Error)]
pub enum SmevError {
    /// The XML is not acceptable.
    #[error(transparent)]
    Xml(#[from] crate::xml::XmlError),
    /// Signing failed.
    #[error(transparent)]
    Dsig(#[from] crate::dsig::DsigError),
    /// The message does not have the structure the schema requires.
    #[error("malformed SMEV message: {0}")]
    Malformed(String),
    /// A value the schema constrains is out of range (a MessageID that is not a UUID, an over-long string, ...).
    #[error("invalid {field}: {reason}")]
    InvalidValue {
        /// Which field.
        field: &'static str,
        /// Why.
        reason: String,
    },
    /// The message is a SOAP fault.
    #[error("SMEV fault: {0}")]
    Fault(Box<SmevFault>),
}
