//! A school system whose every call is timed and reported to an observer; everything else is the inner system's.
//!
//! It lives next to the port it wraps, not in the metrics: it knows the port's methods, and whoever watches the
//! calls (the metrics today, a tracing span tomorrow) is a callback, so that the metrics stay a registry.
use super::{
    BoxFuture, EnrollmentApplication, Marks, Pupil, PupilId, SchoolError, SchoolSystem, Snils, StatusChange,
    SubmitOutcome,
};
use crate::school::kindergarten::{
    Admission, AdmissionApplication, Cancelled, Filed, KindergartenApplication, KindergartenChange, Kindergartens,
    QueueAnswer, QueuePosition, QueueReasons, Status, Subscribed, Subscription,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A method of the [`SchoolSystem`] port, as observers name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// [`SchoolSystem::linked_children`].
    LinkedChildren,
    /// [`SchoolSystem::marks`].
    Marks,
    /// [`SchoolSystem::submit_application`].
    SubmitApplication,
    /// [`SchoolSystem::status_changes`].
    StatusChanges,
    /// [`Kindergartens::file`].
    KindergartenFile,
    /// [`Kindergartens::application`].
    KindergartenApplication,
    /// [`Kindergartens::queue_position`].
    KindergartenQueuePosition,
    /// [`Kindergartens::queue_reasons`].
    KindergartenQueueReasons,
    /// [`Kindergartens::cancel`].
    KindergartenCancel,
    /// [`Kindergartens::admit`].
    KindergartenAdmit,
    /// [`Kindergartens::admission`].
    KindergartenAdmission,
    /// [`Kindergartens::refuse_offer`].
    KindergartenRefuseOffer,
    /// [`Kindergartens::subscribe`].
    KindergartenSubscribe,
    /// [`Kindergartens::status_changes`].
    KindergartenStatusChanges,
    /// [`SchoolSystem::enrollment_application`].
    EnrollmentApplication,
    /// [`SchoolSystem::cancel_application`].
    CancelApplication,
}

impl Call {
    /// Every method.
    pub const ALL: &'static [Call] = &[
        Call::LinkedChildren,
        Call::Marks,
        Call::SubmitApplication,
        Call::StatusChanges,
        Call::KindergartenFile,
        Call::KindergartenApplication,
        Call::KindergartenQueuePosition,
        Call::KindergartenQueueReasons,
        Call::KindergartenCancel,
        Call::KindergartenAdmit,
        Call::KindergartenAdmission,
        Call::KindergartenRefuseOffer,
        Call::KindergartenSubscribe,
        Call::KindergartenStatusChanges,
        Call::EnrollmentApplication,
        Call::CancelApplication,
    ];

    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Call::LinkedChildren => "linked_children",
            Call::Marks => "marks",
            Call::SubmitApplication => "submit_application",
            Call::StatusChanges => "status_changes",
            Call::KindergartenFile => "kindergarten_file",
            Call::KindergartenApplication => "kindergarten_application",
            Call::KindergartenQueuePosition => "kindergarten_queue_position",
            Call::KindergartenQueueReasons => "kindergarten_queue_reasons",
            Call::KindergartenCancel => "kindergarten_cancel",
            Call::KindergartenAdmit => "kindergarten_admit",
            Call::KindergartenAdmission => "kindergarten_admission",
            Call::KindergartenRefuseOffer => "kindergarten_refuse_offer",
            Call::KindergartenSubscribe => "kindergarten_subscribe",
            Call::KindergartenStatusChanges => "kindergarten_status_changes",
            Call::EnrollmentApplication => "enrollment_application",
            Call::CancelApplication => "cancel_application",
        }
    }
}

/// How a call ended, as far as an observer cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallOutcome {
    /// It answered.
    Ok,
    /// It failed in a way the outbox retries.
    Unavailable,
    /// It failed for good.
    Error,
}

impl CallOutcome {
    /// Every outcome.
    pub const ALL: &'static [CallOutcome] = &[CallOutcome::Ok, CallOutcome::Unavailable, CallOutcome::Error];

    /// The outcome of `result`.
    pub fn of<T>(result: &Result<T, SchoolError>) -> CallOutcome {
        match result {
            Ok(_) => CallOutcome::Ok,
            Err(e) if e.is_retryable() => CallOutcome::Unavailable,
            Err(_) => CallOutcome::Error,
        }
    }

    /// The outcome's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Unavailable => "unavailable",
            CallOutcome::Error => "error",
        }
    }
}

/// Told of every call: which method, how it ended, how long it took.
pub type Observer = Arc<dyn Fn(Call, CallOutcome, Duration) + Send + Sync>;

/// A school system whose calls are timed into an [`Observer`].
pub struct TimedSchool {
    /// The system that answers.
    inner: Arc<dyn SchoolSystem>,
    /// Where the timings go.
    observer: Observer,
}

impl TimedSchool {
    /// Wraps `inner`, telling `observer` of each call.
    pub fn new(inner: Arc<dyn SchoolSystem>, observer: Observer) -> TimedSchool {
        TimedSchool { inner, observer }
    }

    /// Times `future` as a call of `call`.
    async fn timed<T>(&self, call: Call, future: BoxFuture<'_, Result<T, SchoolError>>) -> Result<T, SchoolError> {
        let started = Instant::now();
        let result = future.await;
        (self.observer)(call, CallOutcome::of(&result), started.elapsed());
        result
    }
}

impl SchoolSystem for TimedSchool {
    fn linked_children<'a>(&'a self, guardian: &'a Snils) -> BoxFuture<'a, Result<Vec<Pupil>, SchoolError>> {
        Box::pin(self.timed(Call::LinkedChildren, self.inner.linked_children(guardian)))
    }

    fn marks<'a>(
        &'a self,
        pupil: &'a PupilId,
        from: time::Date,
        to: time::Date,
    ) -> BoxFuture<'a, Result<Marks, SchoolError>> {
        Box::pin(self.timed(Call::Marks, self.inner.marks(pupil, from, to)))
    }

    fn submit_application<'a>(
        &'a self,
        application: &'a EnrollmentApplication,
    ) -> BoxFuture<'a, Result<SubmitOutcome, SchoolError>> {
        Box::pin(self.timed(Call::SubmitApplication, self.inner.submit_application(application)))
    }

    fn status_changes<'a>(&'a self, since: u64, limit: usize) -> BoxFuture<'a, Result<Vec<StatusChange>, SchoolError>> {
        Box::pin(self.timed(Call::StatusChanges, self.inner.status_changes(since, limit)))
    }

    fn enrollment_application<'a>(
        &'a self,
        order_id: i64,
    ) -> BoxFuture<'a, Result<Option<EnrollmentApplication>, SchoolError>> {
        Box::pin(self.timed(Call::EnrollmentApplication, self.inner.enrollment_application(order_id)))
    }

    fn cancel_application<'a>(
        &'a self,
        order_id: i64,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Cancelled, SchoolError>> {
        Box::pin(self.timed(Call::CancelApplication, self.inner.cancel_application(order_id, reason)))
    }

    fn name(&self) -> &str {
        self.inner.name()
    }

    fn kindergartens(&self) -> Option<&dyn Kindergartens> {
        // The queue's calls are timed here too, forwarded to the inner system's queue.
        self.inner.kindergartens().map(|_| self as &dyn Kindergartens)
    }
}

impl TimedSchool {
    /// The inner system's queue; only reached through [`SchoolSystem::kindergartens`], which is `None` without it.
    fn queue(&self) -> Result<&dyn Kindergartens, SchoolError> {
        self.inner
            .kindergartens()
            .ok_or_else(|| SchoolError::Rejected("this school system has no kindergarten queue".to_owned()))
    }

    /// Times the queue's call `make` as `call`.
    fn timed_queue<'a, T: Send + 'a>(
        &'a self,
        call: Call,
        make: impl FnOnce(&'a dyn Kindergartens) -> BoxFuture<'a, Result<T, SchoolError>> + Send + 'a,
    ) -> BoxFuture<'a, Result<T, SchoolError>> {
        Box::pin(async move {
            let queue = self.queue()?;
            self.timed(call, make(queue)).await
        })
    }
}

impl Kindergartens for TimedSchool {
    fn file<'a>(&'a self, application: &'a KindergartenApplication) -> BoxFuture<'a, Result<Filed, SchoolError>> {
        self.timed_queue(Call::KindergartenFile, move |q| q.file(application))
    }

    fn application<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<Option<KindergartenApplication>, SchoolError>> {
        self.timed_queue(Call::KindergartenApplication, move |q| q.application(order_id))
    }

    fn queue_position<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<QueueAnswer<QueuePosition>, SchoolError>> {
        self.timed_queue(Call::KindergartenQueuePosition, move |q| q.queue_position(order_id))
    }

    fn queue_reasons<'a>(
        &'a self,
        order_id: i64,
        from: time::Date,
        to: time::Date,
    ) -> BoxFuture<'a, Result<QueueAnswer<QueueReasons>, SchoolError>> {
        self.timed_queue(Call::KindergartenQueueReasons, move |q| q.queue_reasons(order_id, from, to))
    }

    fn cancel<'a>(&'a self, order_id: i64, reason: Option<&'a str>) -> BoxFuture<'a, Result<Cancelled, SchoolError>> {
        self.timed_queue(Call::KindergartenCancel, move |q| q.cancel(order_id, reason))
    }

    fn admit<'a>(&'a self, admission: &'a AdmissionApplication) -> BoxFuture<'a, Result<Status, SchoolError>> {
        self.timed_queue(Call::KindergartenAdmit, move |q| q.admit(admission))
    }

    fn admission<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<Option<Admission>, SchoolError>> {
        self.timed_queue(Call::KindergartenAdmission, move |q| q.admission(order_id))
    }

    fn refuse_offer<'a>(
        &'a self,
        order_id: i64,
        kindergarten_code: Option<&'a str>,
        comment: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Status, SchoolError>> {
        self.timed_queue(Call::KindergartenRefuseOffer, move |q| q.refuse_offer(order_id, kindergarten_code, comment))
    }

    fn subscribe<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<Subscribed, SchoolError>> {
        self.timed_queue(Call::KindergartenSubscribe, move |q| q.subscribe(subscription))
    }

    fn status_changes<'a>(
        &'a self,
        since: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<KindergartenChange>, SchoolError>> {
        self.timed_queue(Call::KindergartenStatusChanges, move |q| q.status_changes(since, limit))
    }
}
