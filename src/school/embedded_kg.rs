//! The embedded school system's kindergarten queue: [`Kindergartens`] over the data file's kindergarten sections
//! (the catalog) and the journal's kindergarten records (the book), with the rules in
//! [`queue`](crate::school::kindergarten::queue).
//!
//! Every call that changes something appends to the journal, fsynced, under the journal's lock, and runs on a
//! blocking thread; a repeat of the same call finds its first effect in the book and answers as the first did.
//! Applications filed through the gateway get the region's number `ДОУ-<year>-Е<seq>`; those filed in person carry
//! the number the data file gives them.
#![forbid(unsafe_code)]

use time::{Date, OffsetDateTime};

use crate::school::embedded::EmbeddedSchool;
use crate::school::error::{BoxFuture, SchoolError};
use crate::school::journal::Journal;
use crate::school::kindergarten::model::{
    Admission, AdmissionApplication, CancelResult, Cancelled, Coded, Filed, KindergartenApplication,
    KindergartenChange, QueueAnswer, QueuePosition, QueueReasons, Status, Subscribed, Subscription,
};
use crate::school::kindergarten::queue::{
    self, changed_fields, comparable, first_priority, items, position, reasons, refusal, registered_comment,
    russian_date, same_birth_doc, same_child, Book, Catalog, Event, CHANGE_REFUSED, CONSENT, ENROLLED, OFFERED,
    OFFER_REFUSED, REFUSED,
};
use crate::school::kindergarten::records::{ApplicationRec, SubscriptionRec};
use crate::school::kindergarten::Kindergartens;

/// 150 "not found", as the package words it.
const NOT_FOUND: &str = "Заявление не найдено в региональной информационной системе.";

/// The comment of the 150 a cancellation records.
pub const CANCELLED_COMMENT: &str = "Работа по заявлению прекращена: заявление отменено по вашей просьбе.";

impl EmbeddedSchool {
    /// [`Kindergartens::file`] without the future. Blocking (fsync).
    pub fn file_kindergarten(&self, application: &KindergartenApplication) -> Result<Filed, SchoolError> {
        self.with_journal(|snapshot, journal| file_now(&snapshot.kindergartens, journal, application, now()))
    }

    /// [`Kindergartens::cancel`] without the future. Blocking (fsync).
    pub fn cancel_kindergarten(&self, order_id: i64, reason: Option<&str>) -> Result<Cancelled, SchoolError> {
        self.with_journal(|_, journal| cancel_now(journal, order_id, reason, now()))
    }

    /// [`Kindergartens::admit`] without the future. Blocking (fsync).
    pub fn admit_kindergarten(&self, admission: &AdmissionApplication) -> Result<Status, SchoolError> {
        self.with_journal(|snapshot, journal| admit_now(&snapshot.kindergartens, journal, admission, now()))
    }

    /// [`Kindergartens::refuse_offer`] without the future. Blocking (fsync).
    pub fn refuse_kindergarten_offer(
        &self,
        order_id: i64,
        code: Option<&str>,
        comment: Option<&str>,
    ) -> Result<Status, SchoolError> {
        self.with_journal(|snapshot, journal| {
            refuse_offer_now(&snapshot.kindergartens, journal, order_id, code, comment, now())
        })
    }

    /// [`Kindergartens::subscribe`] without the future. Blocking (fsync).
    pub fn subscribe_kindergarten(&self, subscription: &Subscription) -> Result<Subscribed, SchoolError> {
        self.with_journal(|snapshot, journal| subscribe_now(&snapshot.kindergartens, journal, subscription, now()))
    }

    /// Sets a kindergarten application's status as the region's system would (for the demo and tests), by the
    /// portal order it is pushed under (its own, or a subscription's); 190 offers the first-priority kindergarten
    /// (or the data file's `offered`). An unknown order or a code that is not a kindergarten status is
    /// [`SchoolError::Rejected`]. Blocking (fsync).
    pub fn set_kindergarten_status(
        &self,
        order_id: i64,
        code: u16,
        comment: Option<&str>,
    ) -> Result<KindergartenChange, SchoolError> {
        if !queue::is_kindergarten_status(code) {
            return Err(SchoolError::Rejected(format!("{code} is not a kindergarten status (110, 120, ... 250)")));
        }
        let change = self.with_journal(|snapshot, journal| {
            let app = journal.kindergartens().by_order(order_id).ok_or_else(|| {
                SchoolError::Rejected(format!("order {order_id} is not known to the kindergarten queue"))
            })?;
            let number = app.number.clone();
            let offered =
                (code == OFFERED).then(|| journal.kindergartens().offered_of(&snapshot.kindergartens, &number));
            let event = Event::Status {
                number,
                status: code,
                comment: comment.map(str::to_owned),
                file: None,
                offered: offered.flatten(),
                cancelled: false,
            };
            journal.append_kindergarten(event, now())?;
            Ok::<_, SchoolError>(journal.kindergartens().last_change().expect("a change was just recorded").clone())
        })?;
        tracing::info!(order_id, status = code, cursor = change.cursor, "kindergarten application status set");
        Ok(change)
    }

    /// The application as held under a portal order, with its region number and status (for tests and the demo).
    pub fn kindergarten_status(&self, order_id: i64) -> Option<(String, Status)> {
        self.with_journal(|_, journal| {
            journal.kindergartens().by_order(order_id).map(|app| (app.number.clone(), app.current()))
        })
    }

    /// [`Kindergartens::queue_position`] without the future.
    pub fn kindergarten_queue_position(&self, order_id: i64) -> QueueAnswer<QueuePosition> {
        self.with_journal(|snapshot, journal| {
            let book = journal.kindergartens();
            let Some(app) = book.by_order(order_id) else {
                return QueueAnswer::Refused(queue::status(REFUSED, NOT_FOUND));
            };
            let all = items(&snapshot.kindergartens, book);
            match position(&all, &app.number, now()) {
                Some(found) => QueueAnswer::Found(found),
                None => QueueAnswer::Refused(not_in_queue()),
            }
        })
    }

    /// [`Kindergartens::queue_reasons`] without the future.
    pub fn kindergarten_queue_reasons(&self, order_id: i64, from: Date, to: Date) -> QueueAnswer<QueueReasons> {
        self.with_journal(|snapshot, journal| {
            let book = journal.kindergartens();
            let Some(app) = book.by_order(order_id) else {
                return QueueAnswer::Refused(queue::status(REFUSED, NOT_FOUND));
            };
            if !queue::in_queue(app.status) {
                return QueueAnswer::Refused(not_in_queue());
            }
            let all = items(&snapshot.kindergartens, book);
            match reasons(&all, &app.number, from, to) {
                Some(r) if r.increase_queue + r.got_a_place + r.increase_benefits > 0 => QueueAnswer::Found(r),
                _ => QueueAnswer::Refused(queue::status(REFUSED, "Изменений положения в очереди за период нет.")),
            }
        })
    }

    /// [`Kindergartens::application`] without the future: the application filed on the portal, or the one filed
    /// in person that a subscription under `order_id` found (see [`queue::held_application`]).
    pub fn kindergarten_application(&self, order_id: i64) -> Option<KindergartenApplication> {
        self.with_journal(|snapshot, journal| {
            let app = journal.kindergartens().by_order(order_id)?;
            queue::held_application(&snapshot.kindergartens, app)
        })
    }

    /// [`Kindergartens::admission`] without the future.
    pub fn kindergarten_admission(&self, order_id: i64) -> Option<Admission> {
        self.with_journal(|snapshot, journal| {
            let app = journal.kindergartens().by_order(order_id)?;
            if app.status != OFFERED {
                return None;
            }
            let application = queue::held_application(&snapshot.kindergartens, app)?;
            let code = app.offered.clone().or_else(|| first_priority(&application).map(str::to_owned))?;
            let name = snapshot.kindergartens.name_of(&code);
            Some(Admission { application, kindergarten: Coded { code, text: name } })
        })
    }

    /// [`Kindergartens::status_changes`] without the future.
    pub fn kindergarten_changes(&self, since: u64, limit: usize) -> Vec<KindergartenChange> {
        self.with_journal(|_, journal| journal.kindergartens().changes_since(since, limit))
    }

    /// Runs `f` with a clone of this system on a blocking thread (the journal's fsync blocks).
    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(EmbeddedSchool) -> Result<T, SchoolError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, SchoolError>> {
        let school = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(school))
                .await
                .map_err(|e| SchoolError::Unavailable(format!("the journal write did not finish: {e}")))?
        })
    }
}

/// The 150 for an application that does not wait in the queue.
fn not_in_queue() -> Status {
    Status {
        code: REFUSED,
        comment: Some("Заявление не находится в очереди в детский сад.".to_owned()),
        cancel_allowed: true,
    }
}

/// The current time.
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Files a new application or an edit.
fn file_now(
    catalog: &Catalog,
    journal: &mut Journal,
    application: &KindergartenApplication,
    now: OffsetDateTime,
) -> Result<Filed, SchoolError> {
    let order_id = application.order_id;
    let book = journal.kindergartens();
    if let Some(app) = book.by_order(order_id).filter(|app| app.is_portal()) {
        return edit_now(catalog, journal, application, now, app.number.clone());
    }
    if let Some((rec, reason)) = book.refused(order_id) {
        if rec.to_model().ok().as_ref() == Some(application) {
            return Ok(Filed::Refused(queue::status(REFUSED, refused_comment(reason))));
        }
    }
    if let Some(reason) = refusal(application, catalog, now.date()).or_else(|| duplicate(catalog, book, application)) {
        let event = Event::Refused { reason: reason.clone(), application: Box::new(ApplicationRec::of(application)) };
        journal.append_kindergarten(event, now)?;
        tracing::info!(order_id, status = REFUSED, "kindergarten application refused");
        return Ok(Filed::Refused(queue::status(REFUSED, refused_comment(&reason))));
    }
    let number = book.next_number(now.date());
    let mut application = application.clone();
    application.filed_at.get_or_insert(now);
    let event = Event::Filed { number: number.clone(), application: Box::new(ApplicationRec::of(&application)) };
    journal.append_kindergarten(event, now)?;
    tracing::info!(order_id, status = queue::REGISTERED, "kindergarten application registered");
    let status = queue::status(queue::REGISTERED, registered_comment(&number, now.date()));
    Ok(Filed::Registered { number, status })
}

/// The 150 comment for a refusal at filing.
fn refused_comment(reason: &str) -> String {
    format!("Вам отказано в постановке на учёт: {reason}.")
}

/// Another active application for the same child, as a refusal reason (without building the whole queue: this
/// runs on every filing, under the journal's lock).
fn duplicate(catalog: &Catalog, book: &Book, application: &KindergartenApplication) -> Option<String> {
    let active = |status: u16| status != REFUSED && status != ENROLLED;
    let child = &application.child;
    // The child is compared first (its birth date before anything else), so that an application is looked up in
    // the book, and names are normalized, only for the few entries of a child born the same day.
    let elsewhere = catalog.entries.iter().filter(|entry| same_child(&entry.child, child)).find_map(|entry| {
        let status = book.by_number(&entry.number).map_or(entry.file.status, |app| app.status);
        active(status).then(|| (entry.number.clone(), entry.filed_at, status))
    });
    let found = elsewhere.or_else(|| {
        book.portal_apps().find_map(|app| {
            let held = app.portal.as_ref()?;
            (same_child(&held.child, child) && active(app.status))
                .then(|| (app.number.clone(), held.filed_at.unwrap_or(OffsetDateTime::UNIX_EPOCH), app.status))
        })
    })?;
    let (number, filed_at, status) = found;
    Some(format!(
        "на этого ребёнка уже подано заявление № {number} от {} (статус {status})",
        russian_date(filed_at.date())
    ))
}

/// Files an edit of the application `number`, filed on the portal.
fn edit_now(
    catalog: &Catalog,
    journal: &mut Journal,
    application: &KindergartenApplication,
    now: OffsetDateTime,
    number: String,
) -> Result<Filed, SchoolError> {
    let app = journal.kindergartens().by_number(&number).expect("found by order");
    let held = app.portal.as_ref().expect("filed on the portal");
    let edited = comparable(application, held.filed_at);
    if &edited == held {
        return Ok(Filed::AlreadyFiled(app.current()));
    }
    if !queue::in_queue(app.status) {
        let reason = format!("Изменение не принято: заявление не активно (статус {}).", app.status);
        return Ok(Filed::Refused(queue::status(CHANGE_REFUSED, reason)));
    }
    if let Some(reason) = refusal(&edited, catalog, now.date()) {
        return Ok(Filed::Refused(queue::status(CHANGE_REFUSED, format!("Изменение не принято: {reason}."))));
    }
    let comment = format!("Внесены следующие изменения: {}", changed_fields(held, &edited).join("; "));
    let current = app.current();
    let event = Event::Edited { number, application: Box::new(ApplicationRec::of(&edited)), comment };
    journal.append_kindergarten(event, now)?;
    tracing::info!(order_id = application.order_id, status = queue::CHANGED, "kindergarten application edited");
    Ok(Filed::Edited(Status {
        code: queue::REGISTERED,
        comment: Some("Изменения заявления приняты.".to_owned()),
        cancel_allowed: current.cancel_allowed,
    }))
}

/// Cancels at the applicant's request.
fn cancel_now(
    journal: &mut Journal,
    order_id: i64,
    _reason: Option<&str>,
    now: OffsetDateTime,
) -> Result<Cancelled, SchoolError> {
    let rejected = |comment: &str| Ok(Cancelled { result: CancelResult::Rejected, comment: Some(comment.to_owned()) });
    let Some(app) = journal.kindergartens().by_order(order_id) else {
        return rejected("Заявление не найдено в региональной информационной системе: отменять нечего.");
    };
    let done = Cancelled {
        result: CancelResult::Cancelled, comment: Some("Ваше заявление отменено.".to_owned())
    };
    if app.cancelled {
        return Ok(done);
    }
    match app.status {
        ENROLLED => return rejected("Ребёнок уже зачислен в детский сад: заявление нельзя отменить."),
        REFUSED => return rejected("Работа по заявлению уже прекращена."),
        _ => {}
    }
    let event = Event::Status {
        number: app.number.clone(),
        status: REFUSED,
        comment: Some(CANCELLED_COMMENT.to_owned()),
        file: None,
        offered: None,
        cancelled: true,
    };
    journal.append_kindergarten(event, now)?;
    tracing::info!(order_id, status = REFUSED, "kindergarten application cancelled");
    Ok(done)
}

/// The applicant's consent to the place offered.
fn admit_now(
    catalog: &Catalog,
    journal: &mut Journal,
    admission: &AdmissionApplication,
    now: OffsetDateTime,
) -> Result<Status, SchoolError> {
    let Some(app) = journal.kindergartens().by_order(admission.order_id) else {
        return Ok(queue::status(REFUSED, NOT_FOUND));
    };
    let offered = app.offered.clone().unwrap_or_default();
    if app.status == CONSENT {
        return Ok(app.current());
    }
    if app.status != OFFERED {
        return Ok(queue::status(CHANGE_REFUSED, "Место в детском саду вам не предлагалось."));
    }
    if !offered.is_empty() && offered != admission.kindergarten_code {
        let name = catalog.name_of(&offered);
        return Ok(queue::status(CHANGE_REFUSED, format!("Направление выдано в другой детский сад: {name}.")));
    }
    let name = catalog.name_of(&admission.kindergarten_code);
    let address = catalog.address_of(&admission.kindergarten_code);
    let comment = format!("Ваше согласие на место в детском саду «{name}» ({address}) передано на рассмотрение.");
    let event = Event::Status {
        number: app.number.clone(),
        status: CONSENT,
        comment: Some(comment),
        file: None,
        offered: None,
        cancelled: false,
    };
    journal.append_kindergarten(event, now)?;
    Ok(journal.kindergartens().by_order(admission.order_id).expect("still there").current())
}

/// The applicant refuses the place offered.
fn refuse_offer_now(
    catalog: &Catalog,
    journal: &mut Journal,
    order_id: i64,
    code: Option<&str>,
    comment: Option<&str>,
    now: OffsetDateTime,
) -> Result<Status, SchoolError> {
    let Some(app) = journal.kindergartens().by_order(order_id) else {
        return Ok(queue::status(REFUSED, NOT_FOUND));
    };
    if app.status == OFFER_REFUSED {
        return Ok(app.current());
    }
    if app.status != OFFERED {
        return Ok(queue::status(CHANGE_REFUSED, "Место в детском саду вам не предлагалось."));
    }
    let offered = app.offered.clone().unwrap_or_default();
    if code.is_some_and(|code| !offered.is_empty() && code != offered) {
        let name = catalog.name_of(&offered);
        return Ok(queue::status(CHANGE_REFUSED, format!("Место предложено в другом детском саду: {name}.")));
    }
    let mut text = format!(
        "Заявление приостановлено: вы отказались от места в детском саду «{}». Измените заявление или отмените его.",
        catalog.name_of(&offered)
    );
    if let Some(comment) = comment.filter(|c| !c.trim().is_empty()) {
        text.push_str(&format!(" Ваш комментарий: {comment}"));
    }
    let event = Event::Status {
        number: app.number.clone(),
        status: OFFER_REFUSED,
        comment: Some(text),
        file: None,
        offered: None,
        cancelled: false,
    };
    journal.append_kindergarten(event, now)?;
    Ok(journal.kindergartens().by_order(order_id).expect("still there").current())
}

/// Finds the application filed elsewhere that a subscription names and links it.
fn subscribe_now(
    catalog: &Catalog,
    journal: &mut Journal,
    subscription: &Subscription,
    now: OffsetDateTime,
) -> Result<Subscribed, SchoolError> {
    let child = &subscription.child;
    let Some(doc) = &child.birth_doc else {
        return Ok(Subscribed::NotFound("Не указан документ о рождении ребёнка.".to_owned()));
    };
    if child.surname.trim().is_empty() || child.name.trim().is_empty() {
        return Ok(Subscribed::NotFound("Не указаны фамилия или имя ребёнка.".to_owned()));
    }
    let book = journal.kindergartens();
    let on_portal = book.portal_apps().any(|app| {
        let held = &app.portal.as_ref().expect("filed on the portal").child;
        same_child(held, child) && held.birth_doc.as_ref().is_some_and(|held| same_birth_doc(doc, held))
    });
    if on_portal {
        return Ok(Subscribed::FiledOnPortal(queue::status(
            REFUSED,
            "Подписка недоступна: заявление подано на портале, следите за его статусом в личном кабинете.",
        )));
    }
    let found = catalog.entries.iter().find(|entry| {
        let status = book.by_number(&entry.number).map_or(entry.file.status, |app| app.status);
        status != REFUSED
            && same_child(&entry.child, child)
            && entry.child.birth_doc.as_ref().is_some_and(|held| same_birth_doc(doc, held))
    });
    let Some(entry) = found else {
        return Ok(Subscribed::NotFound(
            "Заявление не найдено: проверьте фамилию, имя, дату рождения ребёнка и реквизиты документа о рождении."
                .to_owned(),
        ));
    };
    let number = entry.number.clone();
    let linked = book.by_order(subscription.order_id).is_some_and(|app| app.number == number);
    if !linked {
        let event = Event::Linked {
            number: number.clone(),
            order_id: subscription.order_id,
            subscription: Some(Box::new(SubscriptionRec::of(subscription))),
        };
        journal.append_kindergarten(event, now)?;
        tracing::info!(order_id = subscription.order_id, "kindergarten subscription linked");
    }
    Ok(Subscribed::Found { number })
}

impl Kindergartens for EmbeddedSchool {
    fn file<'a>(&'a self, application: &'a KindergartenApplication) -> BoxFuture<'a, Result<Filed, SchoolError>> {
        let application = application.clone();
        self.blocking(move |school| school.file_kindergarten(&application))
    }

    fn application<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<Option<KindergartenApplication>, SchoolError>> {
        Box::pin(async move { Ok(self.kindergarten_application(order_id)) })
    }

    fn queue_position<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<QueueAnswer<QueuePosition>, SchoolError>> {
        Box::pin(async move { Ok(self.kindergarten_queue_position(order_id)) })
    }

    fn queue_reasons<'a>(
        &'a self,
        order_id: i64,
        from: Date,
        to: Date,
    ) -> BoxFuture<'a, Result<QueueAnswer<QueueReasons>, SchoolError>> {
        Box::pin(async move { Ok(self.kindergarten_queue_reasons(order_id, from, to)) })
    }

    fn cancel<'a>(&'a self, order_id: i64, reason: Option<&'a str>) -> BoxFuture<'a, Result<Cancelled, SchoolError>> {
        let reason = reason.map(str::to_owned);
        self.blocking(move |school| school.cancel_kindergarten(order_id, reason.as_deref()))
    }

    fn admit<'a>(&'a self, admission: &'a AdmissionApplication) -> BoxFuture<'a, Result<Status, SchoolError>> {
        let admission = admission.clone();
        self.blocking(move |school| school.admit_kindergarten(&admission))
    }

    fn admission<'a>(&'a self, order_id: i64) -> BoxFuture<'a, Result<Option<Admission>, SchoolError>> {
        Box::pin(async move { Ok(self.kindergarten_admission(order_id)) })
    }

    fn refuse_offer<'a>(
        &'a self,
        order_id: i64,
        kindergarten_code: Option<&'a str>,
        comment: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Status, SchoolError>> {
        let code = kindergarten_code.map(str::to_owned);
        let comment = comment.map(str::to_owned);
        self.blocking(move |school| school.refuse_kindergarten_offer(order_id, code.as_deref(), comment.as_deref()))
    }

    fn subscribe<'a>(&'a self, subscription: &'a Subscription) -> BoxFuture<'a, Result<Subscribed, SchoolError>> {
        let subscription = subscription.clone();
        self.blocking(move |school| school.subscribe_kindergarten(&subscription))
    }

    fn status_changes<'a>(
        &'a self,
        since: u64,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<KindergartenChange>, SchoolError>> {
        Box::pin(async move { Ok(self.kindergarten_changes(since, limit)) })
    }
}
