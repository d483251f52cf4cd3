//! Errors of signing and verification, one variant per way a signature can be wrong.
#![forbid(unsafe_code)]

use crate::crypto::CryptoError;
use crate::xml::{CanonError, XmlError};

/// Why a signature could not be made or did not verify. Each variant is a distinct verdict, so that callers (and
/// mock-smev's fault mapping) can tell a tampered message from an unknown algorithm or an expired certificate.
#[derive(Debug, thiserror::Error)]
pub enum DsigError {
    /// The input is not acceptable XML.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// Canonicalization or the SMEV transform failed.
    #[error(transparent)]
    Canon(#[from] CanonError),
    /// The document holds no `ds:Signature`.
    #[error("no ds:Signature found")]
    NoSignature,
    /// A `ds:Signature` lacks a required part or has one twice.
    #[error("malformed ds:Signature: {0}")]
    Malformed(String),
    /// An algorithm URI edugate does not implement (SMEV uses only GOST R 34.10/34.11-2012).
    #[error("unknown or unsupported algorithm '{uri}' in {context}")]
    UnknownAlgorithm {
        /// The URI found.
        uri: String,
        /// Where it was found: `SignatureMethod`, `DigestMethod`, `CanonicalizationMethod` or `Transform`.
        context: &'static str,
    },
    /// The document holds more `ds:Signature` elements than the verifier's limit: refused before any is checked,
    /// since each costs a signature check and digests.
    #[error("more than {limit} ds:Signature elements in one document")]
    TooManySignatures {
        /// The limit (`VerifyLimits::max_signatures`).
        limit: usize,
    },
    /// A signature has more `ds:Reference` elements than the verifier's limit (SMEV uses one): each could make the
    /// verifier digest the whole document.
    #[error("more than {limit} ds:Reference elements in one signature")]
    TooManyReferences {
        /// The limit (`VerifyLimits::max_references`).
        limit: usize,
    },
    /// An InclusiveNamespaces PrefixList names more prefixes than the verifier's limit: each is looked up on every
    /// element canonicalized.
    #[error("more than {limit} prefixes in an InclusiveNamespaces PrefixList")]
    TooManyInclusivePrefixes {
        /// The limit (`VerifyLimits::max_inclusive_prefixes`).
        limit: usize,
    },
    /// A Reference URI that is not a same-document `#Id` reference.
    #[error("unsupported Reference URI '{0}' (only '#Id' references are accepted)")]
    UnsupportedReference(String),
    /// No element carries the referenced Id.
    #[error("no element with Id '{0}'")]
    IdNotFound(String),
    /// More than one element carries the referenced Id: which one was signed would be ambiguous.
    #[error("Id '{id}' is on {count} elements")]
    DuplicateId {
        /// The Id value.
        id: String,
        /// How many elements carry it.
        count: usize,
    },
    /// The referenced element's digest differs from `DigestValue`: the element was changed after signing.
    #[error("digest mismatch for '#{0}': the signed element was changed")]
    DigestMismatch(String),
    /// `SignatureValue` does not verify over `SignedInfo`: SignedInfo was changed or another key signed it.
    #[error("SignatureValue does not verify over SignedInfo with the signer's certificate")]
    SignatureInvalid,
    /// Neither KeyInfo nor the caller supplied a certificate.
    #[error("no certificate: KeyInfo has no X509Certificate and none was supplied")]
    NoCertificate,
    /// The certificate in KeyInfo cannot be parsed.
    #[error("bad certificate in KeyInfo: {0}")]
    BadCertificate(CryptoError),
    /// The certificate in KeyInfo is not the one the caller trusts for this signer.
    #[error("the certificate in KeyInfo ({subject}) is not the trusted certificate")]
    CertificateNotTrusted {
        /// Subject of the certificate found in KeyInfo.
        subject: String,
    },
    /// The certificate's validity period does not cover the verification time.
    #[error("certificate is outside its validity period: {0}")]
    CertificateValidity(CryptoError),
    /// The SignatureMethod's key size differs from the certificate's key.
    #[error("SignatureMethod is {method} but the certificate holds a {key} key")]
    AlgorithmMismatch {
        /// The algorithm named by SignatureMethod.
        method: &'static str,
        /// The algorithm of the certificate's key.
        key: &'static str,
    },
    /// When signing: the certificate does not belong to the private key.
    #[error("the certificate does not match the private key")]
    CertificateKeyMismatch,
    /// When signing: the target element already carries a signature in its CallerInformationSystemSignature.
    #[error("the element with Id '{0}' is already signed")]
    AlreadySigned(String),
    /// Base64 content that does not decode.
    #[error("{field} is not valid base64")]
    Base64 {
        /// Which element held it.
        field: &'static str,
    },
    /// Any other failure of the cryptography layer.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}
