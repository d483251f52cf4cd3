//! Kindergarten enrollment (постановка на учёт и направление в ДОО) as the region's e-queue system does it: the
//! [`Kindergartens`] trait is what the concentrator service (`services::kindergarten`) asks, one method per
//! `FormData` request of the EPGU concentrator, plus the feed of status changes it pushes to the portal.
//!
//! A school system that also runs the kindergarten queue returns itself from
//! [`crate::school::SchoolSystem::kindergartens`]; one that does not returns `None`, and the service answers every
//! request with 150 "the service is not available in this region".
//!
//! Every method is idempotent by the portal's `order_id` where it changes anything, so that the outbox may retry it.
#![forbid(unsafe_code)]

pub mod model;
pub(crate) mod queue;
pub mod records;

pub use model::{
    Adaptation, Address, Admission, AdmissionApplication, Applicant, Benefit, BirthDoc, CancelResult, Cancelled, Child,
    Coded, DesiredKindergarten, DocInfo, EntryParams, FileRef, Filed, IdentityDoc, KindergartenApplication,
    KindergartenChange, MedicalReport, QueueAnswer, QueuePosition, QueueReasons, Representative, SecondParent, Sibling,
    Status, Subscribed, Subscription,
};

use super::error::{BoxFuture, SchoolError};

/// The region's kindergarten queue, as the concentrator service sees it.
pub trait Kindergartens: Send + Sync {
    /// Files a new application, or an edit of one held under the same `order_id` (idempotent: the same
    /// application again answers [`Filed::AlreadyFiled`]).
    fn file<'a>(&'a self, application: &'a KindergartenApplication) -> BoxFuture<'a, Result<Filed, SchoolError>>;

    /// The application as held, for the portal's edit form; `None` when there is none under `order_id`.
    fn application<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<Option<KindergartenApplication>, SchoolError>>;

    /// The application's place in the queue.
    fn queue_position<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<QueueAnswer<QueuePosition>, SchoolError>>;

    /// Why the position changed between `from` and `to` (inclusive).
    fn queue_reasons<'a>(
        &'a self,
        order_id: i64,
        from: time::Date,
        to: time::Date,
    ) -> BoxFuture<'a, Result<QueueAnswer<QueueReasons>, SchoolError>>;

    /// Withdraws the application (idempotent: a second cancel answers as the first did).
    fn cancel<'a>(&'a self, order_id: i64, reason: Option<&'a str>) -> BoxFuture<'a, Result<Cancelled, SchoolError>>;

    /// Files the application for admission to the kindergarten offered.
    fn admit<'a>(&'a self, admission: &'a AdmissionApplication) -> BoxFuture<'a, Result<Status, SchoolError>>;

    /// The admission as held, for the portal's admission form; `None` when no place was offered under `order_id`.
    fn admission<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<Option<Admission>, SchoolError>>;

    /// The applicant refuses the place offered (optionally naming the kindergarten), with a comment.
    fn refuse_offer<'a>(
        &'a self,
        order_id: i64,
        kindergarten_code: Option<&'a str>,
        comment: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Status, SchoolError>>;

    /// Finds an application filed elsewhere by the subscription's child data and links it to the subscription's
    /// `order_id` (idempotent), so that its status changes are pushed under that order from now on.
    fn subscribe<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<Subscribed, SchoolError>>;

    /// Status changes with cursor > since, oldest first, at most `limit`.
    fn status_changes<'a>(
        &'a self,
        since: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<KindergartenChange>, SchoolError>>;
}
