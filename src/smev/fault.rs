//! SMEV faults: the typed detail of a SOAP fault, and what a sender does about each (smev3-facts.md, "Faults").
#![forbid(unsafe_code)]

use super::Version;
use std::fmt;

/// The SOAP `faultcode` of every typed fault. SMEV is a JAX-WS service: the faults its WSDL declares leave it as
/// `soap:Server` whatever their cause (the real `SignatureVerificationFault` and untyped faults in
/// `../shared/reference/samples/` both carry it). `soap:Client` is left to requests the SOAP layer cannot read.
pub const SERVER_FAULTCODE: &str = "soap:Server";

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
    QuoteLimitExceeded {
        /// `RemainedTotalQuoteSize`: what is left of the sender's quota, in bytes. The schema requires it; a detail
        /// without it (as older mock-smev builds sent) reads as 0.
        remained_total_quote_size: i64,
        /// `RealTotalAttachmentSize`: the refused message's attachments, in bytes (0 when read from a detail
        /// without it).
        real_total_attachment_size: i64,
    },
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
    AttachmentSizeLimitExceeded {
        /// `PermittedTotalAttachmentSize`: the most attachment bytes one message may carry. The schema requires it;
        /// a detail without it (as older mock-smev builds sent) reads as 0.
        permitted_total_attachment_size: i64,
        /// `RealTotalAttachmentSize`: the refused message's attachments, in bytes (0 when read from a detail
        /// without it).
        real_total_attachment_size: i64,
    },
    /// The Ack names a message that is not delivered to the caller (already acked, expired or someone else's).
    TargetMessageIsNotFound,
    /// The personal signature was refused. Exists in 1.3 only: a 1.2 endpoint answers [`FaultKind::AccessDenied`]
    /// (see [`FaultKind::in_version`]).
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
            FaultKind::QuoteLimitExceeded { .. } => "QuoteLimitExceeded",
            FaultKind::InvalidContent(_) => "InvalidContent",
            FaultKind::SignatureVerification(_) => "SignatureVerificationFault",
            FaultKind::SenderIsNotRegistered => "SenderIsNotRegistered",
            FaultKind::RecipientIsNotFound => "RecipientIsNotFound",
            FaultKind::AccessDenied => "AccessDenied",
            FaultKind::BusinessDataTypeIsNotSupported { .. } => "BusinessDataTypeIsNotSupported",
            FaultKind::InvalidMessageIdFormat => "InvalidMessageIdFormat",
            FaultKind::TransactionCodeInvalid => "TransactionCodeInvalid",
            FaultKind::UnknownMessageType => "UnknownMessageType",
            FaultKind::AttachmentSizeLimitExceeded { .. } => "AttachmentSizeLimitExceeded",
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
            FaultKind::DestinationOverflow { .. } | FaultKind::QuoteLimitExceeded { .. } => RetryClass::BackOffAndAlert,
            // A fault without detail is most often a gateway or proxy in front of SMEV failing: retry it.
            FaultKind::Unspecified => RetryClass::Retry,
            _ => RetryClass::Final,
        }
    }

    /// Whether the faults schema of `version` has this fault. Only `PersonalAccessDenied` is missing from 1.2.
    pub fn exists_in(&self, version: Version) -> bool {
        !matches!((self, version), (FaultKind::PersonalAccessDenied, Version::V1_2))
    }

    /// The fault an endpoint of `version` answers for this one: itself, or the closest fault its schema has.
    /// 1.2 has no `PersonalAccessDenied`; its `AccessDenied` ("this sender may not send to this recipient") is what
    /// SMEV 1.2 had for a refused sender before personal access certificates came with 1.3.
    pub fn in_version(&self, version: Version) -> FaultKind {
        if self.exists_in(version) {
            return self.clone();
        }
        FaultKind::AccessDenied
    }

    /// Whether the detail element's type derives from `basic:SmevFault`, so that it may carry `Code` and
    /// `Description`. The other faults are `basic:Void`: an empty element, whose message goes in `faultstring` only.
    /// `EndOfLifeReached` is `Void` in 1.2 and `SmevFault` in 1.3.
    pub fn has_code_and_description(&self, version: Version) -> bool {
        match self {
            FaultKind::EndOfLifeReached => version == Version::V1_3,
            FaultKind::BusinessDataTypeIsNotSupported { .. }
            | FaultKind::InvalidContent(_)
            | FaultKind::TransactionCodeInvalid
            | FaultKind::AttachmentSizeLimitExceeded { .. }
            | FaultKind::QuoteLimitExceeded { .. }
            | FaultKind::PersonalAccessDenied
            | FaultKind::SignatureVerification(_)
            | FaultKind::DestinationOverflow { .. } => true,
            FaultKind::MessageIsAlreadySent
            | FaultKind::StaleMessageId
            | FaultKind::SmevFailure
            | FaultKind::SenderIsNotRegistered
            | FaultKind::RecipientIsNotFound
            | FaultKind::AccessDenied
            | FaultKind::InvalidMessageIdFormat
            | FaultKind::UnknownMessageType
            | FaultKind::TargetMessageIsNotFound
            | FaultKind::AttachmentContentMiscoordination
            | FaultKind::RequestIsNotFound
            | FaultKind::IncorrectResponseContentType
            | FaultKind::Unspecified => false,
        }
    }

    /// The name of the faults schema's complex type of this fault, for `xsi:type` where a fault stands in an
    /// element typed `basic:SmevFault` (`AsyncProcessingStatus/SmevFault`): only the faults with fields of their own
    /// have one (named as the element); the others are plain `SmevFault`s there.
    pub fn complex_type_name(&self) -> Option<&'static str> {
        match self {
            FaultKind::InvalidContent(_)
            | FaultKind::SignatureVerification(_)
            | FaultKind::BusinessDataTypeIsNotSupported { .. }
            | FaultKind::DestinationOverflow { .. }
            | FaultKind::QuoteLimitExceeded { .. }
            | FaultKind::AttachmentSizeLimitExceeded { .. } => Some(self.name()),
            _ => None,
        }
    }
}

/// The most characters `basic:SmevFault/Code` may hold in `version` (`string-50` in 1.2, `string-100` in 1.3).
pub fn code_max_chars(version: Version) -> usize {
    match version {
        Version::V1_2 => 50,
        Version::V1_3 => 100,
    }
}

/// A fault returned by SMEV (or mock-smev).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmevFault {
    /// The typed detail.
    pub kind: FaultKind,
    /// SOAP `faultcode`: [`SERVER_FAULTCODE`] for every typed fault, `soap:Client` only for a request mock-smev could
    /// not read at all.
    pub faultcode: String,
    /// SOAP `faultstring`: a message for people.
    pub faultstring: String,
    /// SMEV's internal `Code`, when given.
    pub code: Option<String>,
    /// SMEV's `Description`, when given.
    pub description: Option<String>,
}

impl SmevFault {
    /// A fault of a kind with a readable message, as mock-smev raises them (`faultcode` `soap:Server`, as SMEV's).
    /// The message is also kept as `Description`, which the builder writes only where the fault's type has one.
    pub fn new(kind: FaultKind, message: impl Into<String>) -> SmevFault {
        let message = message.into();
        SmevFault {
            kind,
            faultcode: SERVER_FAULTCODE.to_string(),
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
            (
                FaultKind::QuoteLimitExceeded { remained_total_quote_size: 0, real_total_attachment_size: 1 },
                RetryClass::BackOffAndAlert,
            ),
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
            (
                FaultKind::AttachmentSizeLimitExceeded {
                    permitted_total_attachment_size: 1,
                    real_total_attachment_size: 2,
                },
                RetryClass::Final,
            ),
        ];
        for (kind, class) in cases {
            assert_eq!(kind.retry_class(), class, "{}", kind.name());
        }
    }

    #[test]
    fn personal_access_denied_is_answered_as_access_denied_in_1_2() {
        let kind = FaultKind::PersonalAccessDenied;
        assert!(kind.exists_in(Version::V1_3) && !kind.exists_in(Version::V1_2));
        assert_eq!(kind.in_version(Version::V1_3), kind);
        assert_eq!(kind.in_version(Version::V1_2), FaultKind::AccessDenied);
        assert_eq!(FaultKind::SmevFailure.in_version(Version::V1_2), FaultKind::SmevFailure);
    }

    #[test]
    fn end_of_life_reached_is_void_in_1_2_only() {
        assert!(!FaultKind::EndOfLifeReached.has_code_and_description(Version::V1_2));
        assert!(FaultKind::EndOfLifeReached.has_code_and_description(Version::V1_3));
        assert!(!FaultKind::MessageIsAlreadySent.has_code_and_description(Version::V1_3));
    }

    #[test]
    fn every_fault_is_answered_as_server() {
        let f = SmevFault::new(FaultKind::SignatureVerification(SignatureFaultKind::SignatureIsInvalid), "x");
        assert_eq!(f.faultcode, "soap:Server");
        assert_eq!(SmevFault::new(FaultKind::AccessDenied, "x").faultcode, "soap:Server");
    }
}
