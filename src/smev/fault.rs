//! SMEV faults: the typed detail of a SOAP fault, and what a sender does about each (smev3-facts.md, "Faults").
#![forbid(unsafe_code)]

use std::fmt;

/// What a sender does after a fault. Decided from the fault's type, never from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryClass {
    /// An earlier send already succeeded: stop, and treat the message as sent.
    AlreadyDone,
    /// The MessageID is too old: make a new MessageID, sign again, send again.
    NewMessageId,
    /// A transient SMEV failure: retry, without limit.
    Retry,
    /// The message's end of life passed: retry, possibly with a later `EOL`.
    RetryWithLaterEol,
    /// SMEV is overloaded or a quota is spent: back off, retry, and alert the operator.
    BackOffAndAlert,
    /// The message can never succeed as it is: dead-letter it with the reason.
    Final,
}

/// The subtypes of `SignatureVerificationFault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureFaultKind {
    /// The envelope has no `soap:Header` or is otherwise malformed.
    PoorSoapEnvelopeFormat,
    /// No signature where one is required.
    NoSignatureFound,
    /// The signature covers the wrong element.
    IncorrectSignatureTarget,
    /// The signature does not verify.
    SignatureIsInvalid,
    /// The signer's certificate is not registered.
    CertificateIsNotFound,
    /// The signer's certificate has expired.
    CertificateIsExpired,
}

impl SignatureFaultKind {
    /// Every subtype.
    pub const ALL: [SignatureFaultKind; 6] = [
        SignatureFaultKind::PoorSoapEnvelopeFormat,
        SignatureFaultKind::NoSignatureFound,
        SignatureFaultKind::IncorrectSignatureTarget,
        SignatureFaultKind::SignatureIsInvalid,
        SignatureFaultKind::CertificateIsNotFound,
        SignatureFaultKind::CertificateIsExpired,
    ];

    /// The name used in the schema's enumeration.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureFaultKind::PoorSoapEnvelopeFormat => "PoorSOAPEnvelopeFormat",
            SignatureFaultKind::NoSignatureFound => "NoSignatureFound",
            SignatureFaultKind::IncorrectSignatureTarget => "IncorrectSignatureTarget",
            SignatureFaultKind::SignatureIsInvalid => "SignatureIsInvalid",
            SignatureFaultKind::CertificateIsNotFound => "CertificateIsNotFound",
            SignatureFaultKind::CertificateIsExpired => "CertificateIsExpired",
        }
    }

    /// The subtype with this name.
    pub fn parse(name: &str) -> Option<SignatureFaultKind> {
        SignatureFaultKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One schema validation error of an `InvalidContent` fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The validator's message.
    pub message: String,
    /// Where in the content the error is (`-1` when unknown).
    pub position: i64,
}

/// The fault types of the message-exchange faults schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// The same MessageID was sent before.
    MessageIsAlreadySent,
    /// The MessageID's time is too old.
    StaleMessageId,
    /// Internal SMEV failure.
    SmevFailure,
    /// The message's EOL has passed.
    EndOfLifeReached,
    /// The recipient's queue is full.
    DestinationOverflow {
        /// The broker named by SMEV.
        broker: String,
        /// The destination queue.
        destination: String,
    },
    /// The sender's quota is spent.
    QuoteLimitExceeded,
    /// The business content does not match the kind of data's schema.
    InvalidContent(Vec<ValidationError>),
    /// The caller's signature failed, and how.
    SignatureVerification(SignatureFaultKind),
    /// The caller is not a registered information system.
    SenderIsNotRegistered,
    /// Nobody provides this kind of data.
    RecipientIsNotFound,
    /// The caller may not use this kind of data.
    AccessDenied,
    /// The kind of data is not registered.
    BusinessDataTypeIsNotSupported {
        /// Namespace of the content's root element.
        namespace_uri: String,
        /// Local name of the content's root element.
        root_element: String,
    },
    /// The MessageID is not a version-1 UUID.
    InvalidMessageIdFormat,
    /// The TransactionCode is not valid.
    TransactionCodeInvalid,
    /// The message type is unknown.
    UnknownMessageType,
    /// Attachments are too large.
    AttachmentSizeLimitExceeded,
    /// The Ack names a message that is not delivered to the caller (already acked, expired or someone else's).
    TargetMessageIsNotFound,
    /// The personal signature was refused.
    PersonalAccessDenied,
    /// Attachment headers and contents do not match.
    AttachmentContentMiscoordination,
    /// The referenced request does not exist.
    RequestIsNotFound,
    /// The response's content type does not answer the request.
    IncorrectResponseContentType,
    /// A SOAP fault with no typed detail.
    Unspecified,
}

impl FaultKind {
    /// The element name of the fault detail.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::MessageIsAlreadySent => "MessageIsAlreadySent",
            FaultKind::StaleMessageId => "StaleMessageId",
            FaultKind::SmevFailure => "SMEVFailure",
            FaultKind::EndOfLifeReached => "EndOfLifeReached",
            FaultKind::DestinationOverflow { .. } => "DestinationOverflow",
            FaultKind::QuoteLimitExceeded => "QuoteLimitExceeded",
            FaultKind::InvalidContent(_) => "InvalidContent",
            FaultKind::SignatureVerification(_) => "SignatureVerificationFault",
            FaultKind::SenderIsNotRegistered => "SenderIsNotRegistered",
            FaultKind::RecipientIsNotFound => "RecipientIsNotFound",
            FaultKind::AccessDenied => "AccessDenied",
            FaultKind::BusinessDataTypeIsNotSupported { .. } => "BusinessDataTypeIsNotSupported",
            FaultKind::InvalidMessageIdFormat => "InvalidMessageIdFormat",
            FaultKind::TransactionCodeInvalid => "TransactionCodeInvalid",
            FaultKind::UnknownMessageType => "UnknownMessageType",
            FaultKind::AttachmentSizeLimitExceeded => "AttachmentSizeLimitExceeded",
            FaultKind::TargetMessageIsNotFound => "TargetMessageIsNotFound",
            FaultKind::PersonalAccessDenied => "PersonalAccessDenied",
            FaultKind::AttachmentContentMiscoordination => "AttachmentContentMiscoordination",
            FaultKind::RequestIsNotFound => "RequestIsNotFound",
            FaultKind::IncorrectResponseContentType => "IncorrectResponseContentType",
            FaultKind::Unspecified => "Unspecified",
        }
    }

    /// What a sender does about this fault.
    pub fn retry_class(&self) -> RetryClass {
        match self {
            FaultKind::MessageIsAlreadySent => RetryClass::AlreadyDone,
            FaultKind::StaleMessageId => RetryClass::NewMessageId,
            FaultKind::SmevFailure => RetryClass::Retry,
            FaultKind::EndOfLifeReached => RetryClass::RetryWithLaterEol,
            FaultKind::DestinationOverflow { .. } | FaultKind::QuoteLimitExceeded => RetryClass::BackOffAndAlert,
            // A fault without detail is most often a gateway or proxy in front of SMEV failing: retry it.
            FaultKind::Unspecified => RetryClass::Retry,
            _ => RetryClass::Final,
        }
    }
}

/// A fault returned by SMEV (or mock-smev).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmevFault {
    /// The typed detail.
    pub kind: FaultKind,
    /// SOAP `faultcode` (`soap:Server`, `soap:Client`).
    pub faultcode: String,
    /// SOAP `faultstring`: a message for people.
    pub faultstring: String,
    /// SMEV's internal `Code`, when given.
    pub code: Option<String>,
    /// SMEV's `Description`, when given.
    pub description: Option<String>,
}

impl SmevFault {
    /// A fault of a kind with a readable message, as mock-smev raises them.
    pub fn new(kind: FaultKind, message: impl Into<String>) -> SmevFault {
        let faultcode = match kind {
            FaultKind::SmevFailure | FaultKind::DestinationOverflow { .. } | FaultKind::Unspecified => "soap:Server",
            _ => "soap:Client",
        };
        let message = message.into();
        SmevFault {
            kind,
            faultcode: faultcode.to_string(),
            faultstring: message.clone(),
            code: None,
            description: Some(message),
        }
    }

    /// What a sender does about it.
    pub fn retry_class(&self) -> RetryClass {
        self.kind.retry_class()
    }
}

impl fmt::Display for SmevFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FaultKind::SignatureVerification(k) => write!(f, "SignatureVerificationFault/{}", k.as_str())?,
            other => f.write_str(other.name())?,
        }
        write!(f, ": {}", self.faultstring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classes_follow_the_facts() {
        let cases = [
            (FaultKind::MessageIsAlreadySent, RetryClass::AlreadyDone),
            (FaultKind::StaleMessageId, RetryClass::NewMessageId),
            (FaultKind::SmevFailure, RetryClass::Retry),
            (FaultKind::EndOfLifeReached, RetryClass::RetryWithLaterEol),
            (FaultKind::QuoteLimitExceeded, RetryClass::BackOffAndAlert),
            (
                FaultKind::DestinationOverflow { broker: String::new(), destination: String::new() },
                RetryClass::BackOffAndAlert,
            ),
            (FaultKind::InvalidContent(vec![]), RetryClass::Final),
            (FaultKind::SignatureVerification(SignatureFaultKind::SignatureIsInvalid), RetryClass::Final),
            (FaultKind::SenderIsNotRegistered, RetryClass::Final),
            (FaultKind::RecipientIsNotFound, RetryClass::Final),
            (FaultKind::AccessDenied, RetryClass::Final),
            (FaultKind::InvalidMessageIdFormat, RetryClass::Final),
            (FaultKind::TargetMessageIsNotFound, RetryClass::Final),
            (FaultKind::AttachmentSizeLimitExceeded, RetryClass::Final),
        ];
        for (kind, class) in cases {
            assert_eq!(kind.retry_class(), class, "{}", kind.name());
        }
    }
}
