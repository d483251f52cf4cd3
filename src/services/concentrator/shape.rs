//! How the application block differs between the schemas that carry it (3.2.1, 4.0.1, kindergarten-order 1.0.0 and
//! 1.0.1): one reader and one writer follow these switches instead of four copies of the block.
#![forbid(unsafe_code)]

/// The application block's features and limits in one schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// The schema's name, for messages.
    pub name: &'static str,
    /// `ChildBirthAct` is a birth document.
    pub birth_act: bool,
    /// `ChildBirthDocRF`'s act number and date are optional.
    pub rf_act_optional: bool,
    /// `IdentityDocSeries` / `IdentityDocNumber` length.
    pub identity_len: usize,
    /// `IdentityDocIssued` is optional.
    pub identity_issued_optional: bool,
    /// `ChildBirthDocForeign/ChildBirthDocSeries` length.
    pub foreign_series_len: usize,
    /// `EntryParams/AgreementOnOtherDayGroup` exists.
    pub other_day_group: bool,
    /// `AdaptationProgram/AgreementAdaptationEducationGroup` exists.
    pub adaptation_education_group: bool,
    /// `EduOrganizations/AllowOfferOther` is optional.
    pub allow_offer_other_optional: bool,
    /// `AppliedDocumentType/CodeDocument` length.
    pub code_document_len: usize,
    /// `BenefitInfo/BenefitFile` at most.
    pub benefit_files: usize,
    /// `ConfirmingRightIsLocatedRF` exists (0..4).
    pub stay_right: bool,
    /// Requests end with `attribute*` then `refInfo*`, answers with `refInfo*` then `attribute*`.
    pub tails: bool,
    /// `ApplicationRejectionRequest/eduOrganizationCode` exists.
    pub rejection_code: bool,
}

/// kindergarten 3.2.1.
pub(crate) const V3_2_1: Shape = Shape {
    name: "3.2.1",
    birth_act: false,
    rf_act_optional: false,
    identity_len: 10,
    identity_issued_optional: false,
    foreign_series_len: 10,
    other_day_group: false,
    adaptation_education_group: false,
    allow_offer_other_optional: false,
    code_document_len: 50,
    benefit_files: 2,
    stay_right: false,
    tails: false,
    rejection_code: false,
};

/// kindergarten 4.0.1.
pub(crate) const V4_0_1: Shape = Shape {
    name: "4.0.1",
    birth_act: true,
    rf_act_optional: true,
    identity_len: 20,
    identity_issued_optional: true,
    foreign_series_len: 20,
    other_day_group: true,
    adaptation_education_group: true,
    allow_offer_other_optional: true,
    code_document_len: 256,
    benefit_files: 4,
    stay_right: true,
    tails: true,
    rejection_code: true,
};

/// kindergarten-order 1.0.0: the 3.2.1 block without files.
pub(crate) const ORDER_1_0_0: Shape = Shape { name: "kindergarten-order 1.0.0", ..V3_2_1 };

/// kindergarten-order 1.0.1: the 4.0.1 person and child changes, but the Russian certificate's act stays required
/// and the foreign series stays at 10.
pub(crate) const ORDER_1_0_1: Shape = Shape {
    name: "kindergarten-order 1.0.1",
    rf_act_optional: false,
    foreign_series_len: 10,
    tails: false,
    rejection_code: false,
    stay_right: false,
    ..V4_0_1
};
