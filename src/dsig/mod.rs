//! XMLDSig for SMEV 3: detached GOST signatures over elements referenced by `Id`, with exclusive c14n and the SMEV
//! transform, and the enveloped-signature transform for `PersonalSignature`.
//!
//! [`Signer`] makes signatures; [`verify_document`] and [`verify_signature`] check them and report which element
//! each one covers, so that a caller can insist the element it processes is the one that was signed.
#![forbid(unsafe_code)]

mod error;
mod limits;
mod model;
mod sign;
mod verify;

pub use crate::xml::TransformVariant;
pub use error::DsigError;
pub use limits::VerifyLimits;
pub use model::{Reference, SignatureModel, Transform};
pub use sign::{Placement, Signer};
pub(crate) use verify::resolve_id;
pub use verify::{
    find_signatures, verify_document, verify_signature, KeySelection, SignatureReport, Validity, VerifiedReference,
    VerifiedSignature, VerifyOptions,
};

/// The XMLDSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Exclusive XML Canonicalization 1.0 without comments.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// The SMEV transform.
pub const SMEV_TRANSFORM: &str = "urn://smev-gov-ru/xmldsig/transform";
/// The enveloped-signature transform.
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
