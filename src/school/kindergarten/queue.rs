//! The embedded system's kindergarten queue, without I/O: the [`Catalog`] read from the data file (kindergartens,
//! benefit categories, applications filed elsewhere and the statuses the school sets), the [`Book`] that the
//! journal's kindergarten records add up to (applications filed through the gateway, statuses, subscriptions and the
//! feed of changes), and the rules over both: validation of a new application, the queue's order, its reasons,
//! subscription matching.
//!
//! # The queue
//!
//! An application waits in the queue of its first-priority kindergarten and of its child's age group (full years on
//! the desired entry date, 0 to 7) while its status is one of 110, 120, 130, 140, 160, 170, 180. Within a queue, applications stand by
//! right (out-of-turn, then first-turn, then priority, then none) and then by filing time; the right comes from the
//! benefit category (the data file's `benefit_categories`), or is "priority" for a brother or sister already
//! attending a kindergarten.
#![forbid(unsafe_code)]

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::school::kindergarten::model::{
    Adaptation, Address, Benefit, BirthDoc, Child, Coded, DesiredKindergarten, DocInfo, EntryParams,
    KindergartenApplication, KindergartenChange, QueuePosition, QueueReasons, Status, Subscription,
};
use crate::school::kindergarten::records::{
    parse_date, parse_timestamp, ApplicationRec, BenefitCategoryRec, CodedRec, KindergartenRec, QueueEntryRec,
    SubscriptionRec,
};

/// 110: registered.
pub const REGISTERED: u16 = 110;
/// 150: refused, cancelled or archived.
pub const REFUSED: u16 = 150;
/// 170: the application was changed.
pub const CHANGED: u16 = 170;
/// 180: a change was refused.
pub const CHANGE_REFUSED: u16 = 180;
/// 190: a place was offered.
pub const OFFERED: u16 = 190;
/// 220: the applicant refused the place offered.
pub const OFFER_REFUSED: u16 = 220;
/// 230: the applicant's consent is under review.
pub const CONSENT: u16 = 230;
/// 250: enrolled.
pub const ENROLLED: u16 = 250;

/// Whether `code` is a department status of the kindergarten service (110 .. 250 by tens; there is no 200).
pub fn is_kindergarten_status(code: u16) -> bool {
    (110..=250).contains(&code) && code.is_multiple_of(10) && code != 200
}

/// Whether an application of this status waits in the queue.
pub fn in_queue(code: u16) -> bool {
    matches!(code, 110 | 120 | 130 | 140 | 160 | 170 | 180)
}

/// Whether the portal may offer "cancel" for an application of this status.
pub fn cancel_allowed(code: u16) -> bool {
    !matches!(code, REFUSED | CONSENT | 240 | ENROLLED)
}

/// A status with the cancel flag its code implies.
pub fn status(code: u16, comment: impl Into<String>) -> Status {
    Status { code, comment: Some(comment.into()), cancel_allowed: cancel_allowed(code) }
}

/// The right an application stands by in the queue; the order of the variants is the queue's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Right {
    /// Out-of-turn (внеочередное).
    OutOfTurn,
    /// First-turn (первоочередное).
    FirstTurn,
    /// Priority (преимущественное).
    Priority,
    /// None: the general queue.
    General,
}

impl Right {
    /// Reads the data file's name of a right.
    fn parse(text: &str) -> Option<Right> {
        match text {
            "out_of_turn" => Some(Right::OutOfTurn),
            "first_turn" => Some(Right::FirstTurn),
            "priority" => Some(Right::Priority),
            _ => None,
        }
    }
}

/// A kindergarten of the region.
#[derive(Debug, Clone)]
pub struct Kindergarten {
    /// Its municipality's OKTMO.
    pub oktmo: String,
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: String,
}

/// An application filed elsewhere, from the data file.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// The region's number.
    pub number: String,
    /// When it was filed.
    pub filed_at: OffsetDateTime,
    /// The child.
    pub child: Child,
    /// Desired kindergartens by priority, most wanted first.
    pub kindergartens: Vec<String>,
    /// The desired entry date.
    pub entry_date: Date,
    /// The right its benefit gives.
    pub right: Right,
    /// The kindergarten offered (190), if not the first-priority one.
    pub offered: Option<String>,
    /// The status as the file sets it.
    pub file: FileStatusRec,
    /// Desired kindergartens with their priorities, as written.
    pub priorities: Vec<(String, u8)>,
    /// The benefit category's code.
    pub benefit: Option<String>,
    /// The child's address as one line (empty when not recorded).
    pub address: String,
    /// Language, schedule and group orientation (empty when not recorded).
    pub language: Coded,
    /// The day schedule.
    pub schedule: Coded,
    /// The group's orientation.
    pub group: Coded,
}

/// A status the data file sets, as the journal remembers it to tell whether the file changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStatusRec {
    /// The status.
    pub status: u16,
    /// The comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `changed_at` as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<String>,
}

/// The kindergarten sections of the data file, checked and indexed.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Kindergartens by code.
    pub kindergartens: HashMap<String, Kindergarten>,
    /// Benefit categories' rights by code.
    pub rights: HashMap<String, Right>,
    /// Benefit categories' names by code.
    pub benefit_names: HashMap<String, String>,
    /// Applications filed elsewhere, in file order.
    pub entries: Vec<FileEntry>,
    /// Index of `entries` by number.
    pub by_number: HashMap<String, usize>,
    /// Statuses the school sets for applications filed on the portal, by order.
    pub portal_statuses: Vec<(i64, FileStatusRec)>,
}

impl Catalog {
    /// The right a benefit category gives (none for an unknown category: it waits in the general queue until the
    /// school confirms it).
    pub fn right_of(&self, category: Option<&str>) -> Right {
        category.and_then(|code| self.rights.get(code).copied()).unwrap_or(Right::General)
    }

    /// The address of a kindergarten, empty when unknown.
    pub fn address_of(&self, code: &str) -> String {
        self.kindergartens.get(code).map_or_else(String::new, |k| k.address.clone())
    }

    /// The name of a kindergarten, or its code when unknown.
    pub fn name_of(&self, code: &str) -> String {
        self.kindergartens.get(code).map_or_else(|| code.to_owned(), |k| k.name.clone())
    }
}

/// Checks the data file's kindergarten sections and indexes them; an error names the section, index and field.
pub fn build_catalog(
    kindergartens: &[KindergartenRec],
    benefits: &[BenefitCategoryRec],
    queue: &[QueueEntryRec],
    portal: &[(i64, FileStatusRec)],
) -> Result<Catalog, String> {
    let mut catalog = Catalog::default();
    for (i, rec) in kindergartens.iter().enumerate() {
        let at = format!("kindergartens[{i}]");
        check_kindergarten(&at, rec)?;
        let kg = Kindergarten { oktmo: rec.oktmo.clone(), name: rec.name.clone(), address: rec.address.clone() };
        if catalog.kindergartens.insert(rec.code.clone(), kg).is_some() {
            return Err(format!("{at}.code: kindergarten {} appears twice", rec.code));
        }
    }
    for (i, rec) in benefits.iter().enumerate() {
        let at = format!("benefit_categories[{i}]");
        let right = Right::parse(&rec.right)
            .ok_or_else(|| format!("{at}.right: {:?} is not out_of_turn, first_turn or priority", rec.right))?;
        catalog.benefit_names.insert(rec.code.clone(), rec.name.clone());
        if catalog.rights.insert(rec.code.clone(), right).is_some() {
            return Err(format!("{at}.code: benefit category {} appears twice", rec.code));
        }
    }
    for (i, rec) in queue.iter().enumerate() {
        let at = format!("kindergarten_queue[{i}] ({})", rec.number);
        let entry = build_entry(&at, rec, &catalog)?;
        if catalog.by_number.insert(rec.number.clone(), i).is_some() {
            return Err(format!("{at}.number: the application appears twice"));
        }
        catalog.entries.push(entry);
    }
    let mut seen = HashSet::new();
    for (i, (order_id, rec)) in portal.iter().enumerate() {
        let at = format!("kindergarten_statuses[{i}] (order {order_id})");
        check_file_status(&at, rec)?;
        if !seen.insert(*order_id) {
            return Err(format!("{at}: the order appears twice"));
        }
    }
    catalog.portal_statuses = portal.to_vec();
    Ok(catalog)
}

/// Checks one kindergarten record.
fn check_kindergarten(at: &str, rec: &KindergartenRec) -> Result<(), String> {
    if rec.code.is_empty() || rec.code.chars().count() > 50 {
        return Err(format!("{at}.code: the ESNSI code must have 1 to 50 characters"));
    }
    if !((rec.oktmo.len() == 8 || rec.oktmo.len() == 11) && rec.oktmo.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("{at}.oktmo: {:?} is not an OKTMO code (8 or 11 digits)", rec.oktmo));
    }
    for (j, group) in rec.groups.iter().enumerate() {
        if group.age_from > group.age_to || group.age_to > 7 {
            return Err(format!("{at}.groups[{j}]: ages must run from 0 to 7, the first not above the last"));
        }
    }
    Ok(())
}

/// Checks a status the file sets.
fn check_file_status(at: &str, rec: &FileStatusRec) -> Result<(), String> {
    if !is_kindergarten_status(rec.status) {
        return Err(format!("{at}.status: {} is not a department status (110, 120, ... 250; no 200)", rec.status));
    }
    if let Some(text) = &rec.changed_at {
        parse_timestamp(text).map_err(|p| format!("{at}.changed_at: {p}"))?;
    }
    Ok(())
}

/// One application filed elsewhere, checked against the kindergartens and benefit categories.
fn build_entry(at: &str, rec: &QueueEntryRec, catalog: &Catalog) -> Result<FileEntry, String> {
    if rec.number.is_empty() {
        return Err(format!("{at}.number: must not be empty"));
    }
    let file = FileStatusRec { status: rec.status, comment: rec.comment.clone(), changed_at: rec.changed_at.clone() };
    check_file_status(at, &file)?;
    let filed_at = parse_timestamp(&rec.filed_at).map_err(|p| format!("{at}.filed_at: {p}"))?;
    let child = rec.child.to_model(&format!("{at}.child"))?;
    let entry_date = parse_date(&rec.entry_date).map_err(|p| format!("{at}.entry_date: the date {p}"))?;
    let mut wanted = rec.kindergartens.clone();
    if wanted.is_empty() {
        return Err(format!("{at}.kindergartens: at least one kindergarten is needed"));
    }
    for (j, (code, _)) in wanted.iter().enumerate() {
        if !catalog.kindergartens.contains_key(code) {
            return Err(format!("{at}.kindergartens[{j}]: no kindergarten has the code {code:?}"));
        }
    }
    wanted.sort_by_key(|(_, priority)| *priority);
    if let Some(code) = &rec.benefit {
        if !catalog.rights.contains_key(code) {
            return Err(format!("{at}.benefit: no benefit category has the code {code:?}"));
        }
    }
    if let Some(code) = &rec.offered {
        if !catalog.kindergartens.contains_key(code) {
            return Err(format!("{at}.offered: no kindergarten has the code {code:?}"));
        }
    }
    let coded = |value: &Option<CodedRec>| value.as_ref().map(CodedRec::to_model).unwrap_or_default();
    Ok(FileEntry {
        number: rec.number.clone(),
        filed_at,
        child,
        priorities: wanted.clone(),
        benefit: rec.benefit.clone(),
        address: rec.address.clone().unwrap_or_default(),
        language: coded(&rec.language),
        schedule: coded(&rec.schedule),
        group: coded(&rec.group),
        kindergartens: wanted.into_iter().map(|(code, _)| code).collect(),
        entry_date,
        right: catalog.right_of(rec.benefit.as_deref()),
        offered: rec.offered.clone(),
        file,
    })
}

/// One kindergarten record of the journal (the line's `event`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// An application filed through the gateway, registered (110) under `number`.
    Filed {
        /// The region's number given to it.
        number: String,
        /// The application.
        application: Box<ApplicationRec>,
    },
    /// An application refused at filing (150), so that a repeat gets the same answer.
    Refused {
        /// The reason, as the parent was told.
        reason: String,
        /// The application.
        application: Box<ApplicationRec>,
    },
    /// An edit of an application held: the new application, and the 170 change listing what changed.
    Edited {
        /// The region's number.
        number: String,
        /// The application as edited.
        application: Box<ApplicationRec>,
        /// The 170 comment.
        comment: String,
    },
    /// A status change of the application `number`.
    Status {
        /// The region's number.
        number: String,
        /// The new status.
        status: u16,
        /// The comment for the parent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        /// The data file's entry, if the change came from an edit of the file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<FileStatusRec>,
        /// The kindergarten offered, with 190.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offered: Option<String>,
        /// Whether this is the applicant's cancellation.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        cancelled: bool,
    },
    /// The data file's statuses of applications, remembered without being changes (the first time the file names
    /// them, or when it merely confirms the current status).
    Seen {
        /// `[number, entry]`.
        entries: Vec<(String, FileStatusRec)>,
    },
    /// A subscription linked to an application filed elsewhere; its current status is pushed under the order.
    Linked {
        /// The region's number.
        number: String,
        /// The subscription's order.
        order_id: i64,
        /// The subscription (the applicant and their document, for the application the portal's order carries).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subscription: Option<Box<SubscriptionRec>>,
    },
}

/// What the journal knows of one application.
#[derive(Debug, Clone)]
pub struct App {
    /// The region's number.
    pub number: String,
    /// The application, when filed through the gateway.
    pub portal: Option<KindergartenApplication>,
    /// The portal order its changes are pushed under: the application's own, or a subscription's.
    pub order_id: Option<i64>,
    /// The current status.
    pub status: u16,
    /// Its comment.
    pub comment: Option<String>,
    /// The data file's entry when last compared.
    pub file: Option<FileStatusRec>,
    /// The kindergarten offered, while the status is 190 or later.
    pub offered: Option<String>,
    /// When a place was offered (for the queue's reasons).
    pub offered_at: Option<OffsetDateTime>,
    /// When an edit added a benefit (for the queue's reasons).
    pub benefit_at: Option<OffsetDateTime>,
    /// Whether the applicant cancelled it.
    pub cancelled: bool,
    /// The subscription linked to it, for one filed elsewhere.
    pub subscription: Option<Subscription>,
}

impl App {
    /// The current status with its cancel flag.
    pub fn current(&self) -> Status {
        Status { code: self.status, comment: self.comment.clone(), cancel_allowed: cancel_allowed(self.status) }
    }
}

/// The state the journal's kindergarten records add up to.
#[derive(Debug, Default)]
pub struct Book {
    /// Applications by number.
    apps: HashMap<String, App>,
    /// Numbers by portal order (applications filed on the portal, and subscriptions).
    by_order: HashMap<i64, String>,
    /// Applications refused at filing: the record, and the reason.
    refused: HashMap<i64, (ApplicationRec, String)>,
    /// How many applications were filed through the gateway: the next number's sequence.
    filed: u64,
    /// Every change pushed to the portal, by cursor.
    changes: Vec<KindergartenChange>,
}

impl Book {
    /// Adds the effect of the record at `cursor`.
    pub fn apply(&mut self, cursor: u64, at: OffsetDateTime, event: Event) -> Result<(), String> {
        match event {
            Event::Filed { number, application } => {
                let application = application.to_model().map_err(|p| format!("application.{p}"))?;
                let order_id = application.order_id;
                let comment = registered_comment(&number, at.date());
                self.refused.remove(&order_id);
                self.by_order.insert(order_id, number.clone());
                self.filed += 1;
                self.apps.insert(number.clone(), App::portal(number, application, comment));
            }
            Event::Refused { reason, application } => {
                self.refused.insert(application.order_id, (*application, reason));
            }
            Event::Edited { number, application, comment } => {
                let application = application.to_model().map_err(|p| format!("application.{p}"))?;
                let app = self.apps.get_mut(&number).ok_or_else(|| format!("no application {number} to edit"))?;
                let before = app.portal.as_ref().is_some_and(|a| a.benefit.is_some());
                if !before && application.benefit.is_some() {
                    app.benefit_at = Some(at);
                }
                app.portal = Some(application);
                let order_id = app.order_id;
                self.push(cursor, order_id, status(CHANGED, comment), at);
            }
            Event::Status { number, status: code, comment, file, offered, cancelled } => {
                let app = self.apps.get_mut(&number).ok_or_else(|| format!("no application {number}"))?;
                app.status = code;
                app.comment = comment.clone();
                app.cancelled = cancelled;
                if file.is_some() {
                    app.file = file;
                }
                if code == OFFERED {
                    app.offered = offered;
                    app.offered_at = Some(at);
                }
                let order_id = app.order_id;
                let change = Status { code, comment, cancel_allowed: cancel_allowed(code) };
                self.push(cursor, order_id, change, at);
            }
            Event::Seen { entries } => {
                for (number, file) in entries {
                    let app = self.apps.entry(number.clone()).or_insert_with(|| App::elsewhere(number));
                    app.status = file.status;
                    app.comment = file.comment.clone();
                    app.file = Some(file);
                }
            }
            Event::Linked { number, order_id, subscription } => {
                let subscription =
                    subscription.map(|s| s.to_model()).transpose().map_err(|p| format!("subscription.{p}"))?;
                let app = self.apps.get_mut(&number).ok_or_else(|| format!("no application {number} to link"))?;
                app.subscription = subscription;
                if let Some(old) = app.order_id.replace(order_id) {
                    self.by_order.remove(&old);
                }
                self.by_order.insert(order_id, number);
                let current = app.current();
                self.push(cursor, Some(order_id), current, at);
            }
        }
        Ok(())
    }

    /// Adds a change to the feed, when there is an order to push it under.
    fn push(&mut self, cursor: u64, order_id: Option<i64>, status: Status, at: OffsetDateTime) {
        let Some(order_id) = order_id else { return };
        let filed_on_portal = self.by_order.get(&order_id).and_then(|n| self.apps.get(n)).is_some_and(App::is_portal);
        self.changes.push(KindergartenChange { cursor, order_id, status, at, filed_on_portal });
    }

    /// The application under a portal order (its own or a subscription's).
    pub fn by_order(&self, order_id: i64) -> Option<&App> {
        self.by_order.get(&order_id).and_then(|number| self.apps.get(number))
    }

    /// The application with this number.
    pub fn by_number(&self, number: &str) -> Option<&App> {
        self.apps.get(number)
    }

    /// An order refused at filing: the application as sent and the reason.
    pub fn refused(&self, order_id: i64) -> Option<&(ApplicationRec, String)> {
        self.refused.get(&order_id)
    }

    /// Applications filed through the gateway.
    pub fn portal_apps(&self) -> impl Iterator<Item = &App> {
        self.apps.values().filter(|app| app.is_portal())
    }

    /// The number the next application filed through the gateway gets, in the year of `on`.
    pub fn next_number(&self, on: Date) -> String {
        format!("ДОУ-{}-Е{:06}", on.year(), self.filed + 1)
    }

    /// Up to `limit` changes with a cursor above `since`, oldest first.
    pub fn changes_since(&self, since: u64, limit: usize) -> Vec<KindergartenChange> {
        let start = self.changes.partition_point(|change| change.cursor <= since);
        self.changes[start..].iter().take(limit).cloned().collect()
    }

    /// The last change recorded.
    pub fn last_change(&self) -> Option<&KindergartenChange> {
        self.changes.last()
    }

    /// What the data file's statuses call for: entries never seen (or merely confirming the current status) to
    /// remember, and status changes to record.
    pub fn reconciliation(&self, catalog: &Catalog) -> (Vec<(String, FileStatusRec)>, Vec<Event>) {
        let mut seen = Vec::new();
        let mut changes = Vec::new();
        let file_entries = catalog.entries.iter().map(|entry| (entry.number.clone(), entry.file.clone()));
        let portal_entries = catalog
            .portal_statuses
            .iter()
            .filter_map(|(order_id, file)| Some((self.by_order.get(order_id)?.clone(), file.clone())));
        for (number, file) in file_entries.chain(portal_entries) {
            let Some(app) = self.apps.get(&number) else {
                seen.push((number, file));
                continue;
            };
            if app.file.as_ref() == Some(&file) {
                continue;
            }
            if app.status == file.status && app.comment == file.comment {
                seen.push((number, file));
                continue;
            }
            let offered = (file.status == OFFERED).then(|| self.offered_of(catalog, &number)).flatten();
            changes.push(Event::Status {
                number,
                status: file.status,
                comment: file.comment.clone(),
                file: Some(file),
                offered,
                cancelled: false,
            });
        }
        (seen, changes)
    }

    /// The kindergarten a place is offered in: the entry's `offered`, else the first-priority one.
    pub fn offered_of(&self, catalog: &Catalog, number: &str) -> Option<String> {
        if let Some(app) = self.apps.get(number).and_then(|app| app.portal.as_ref()) {
            return first_priority(app).map(str::to_owned);
        }
        let entry = &catalog.entries[*catalog.by_number.get(number)?];
        entry.offered.clone().or_else(|| entry.kindergartens.first().cloned())
    }
}

impl App {
    /// An application filed on the portal, registered now.
    fn portal(number: String, application: KindergartenApplication, comment: String) -> App {
        App {
            number,
            order_id: Some(application.order_id),
            portal: Some(application),
            status: REGISTERED,
            comment: Some(comment),
            file: None,
            offered: None,
            offered_at: None,
            benefit_at: None,
            cancelled: false,
            subscription: None,
        }
    }

    /// An application filed elsewhere, first seen in the data file.
    fn elsewhere(number: String) -> App {
        App {
            number,
            portal: None,
            order_id: None,
            status: REGISTERED,
            comment: None,
            file: None,
            offered: None,
            offered_at: None,
            benefit_at: None,
            cancelled: false,
            subscription: None,
        }
    }

    /// Whether it was filed on the portal.
    pub fn is_portal(&self) -> bool {
        self.portal.is_some()
    }
}

/// The application as the region holds it under a portal order: the one filed on the portal, or, for one filed
/// elsewhere and subscribed to, the data file's entry with the subscription's applicant (the queue's file keeps the
/// child, the kindergartens, the entry date, the benefit, the address line, language, schedule and group; the
/// benefit's proof is noted as presented at filing, and the address's parts are empty).
pub fn held_application(catalog: &Catalog, app: &App) -> Option<KindergartenApplication> {
    if let Some(application) = &app.portal {
        return Some(application.clone());
    }
    let subscription = app.subscription.as_ref()?;
    let entry = &catalog.entries[*catalog.by_number.get(&app.number)?];
    let first = catalog.kindergartens.get(entry.kindergartens.first()?)?;
    let benefit = entry.benefit.as_ref().map(|code| Benefit {
        category: Coded { code: code.clone(), text: catalog.benefit_names.get(code).cloned().unwrap_or_default() },
        doc: DocInfo {
            issue_date: entry.filed_at.date(),
            issued: "представлен при подаче заявления".into(),
            expires: None,
        },
        files: Vec::new(),
    });
    Some(KindergartenApplication {
        order_id: subscription.order_id,
        oktmo: first.oktmo.clone(),
        service_type: subscription.service_type.clone(),
        filed_at: Some(entry.filed_at),
        applicant: subscription.applicant.clone(),
        identity: subscription.identity.clone(),
        child: entry.child.clone(),
        address: Address { full: entry.address.clone(), ..Address::default() },
        entry: EntryParams {
            entry_date: entry.entry_date,
            language: entry.language.clone(),
            schedule: entry.schedule.clone(),
            full_day_group: None,
            other_day_group: None,
        },
        adaptation: Adaptation {
            group: entry.group.clone(),
            group_type: None,
            education_group: None,
            general_group: None,
            care_group: None,
            special_care: None,
        },
        medical: None,
        kindergartens: entry
            .priorities
            .iter()
            .map(|(code, priority)| DesiredKindergarten {
                code: code.clone(),
                name: catalog.name_of(code),
                priority: *priority,
            })
            .collect(),
        allow_offer_other: None,
        siblings: Vec::new(),
        benefit,
        stay_right_files: Vec::new(),
    })
}

/// The 110 comment: the number and the next step.
pub fn registered_comment(number: &str, on: Date) -> String {
    format!(
        "Заявление передано в региональную информационную систему и зарегистрировано {} под номером {number}. \
         Ожидайте рассмотрения в течение 7 дней.",
        russian_date(on)
    )
}

/// `DD.MM.YYYY`, as parents read dates.
pub fn russian_date(date: Date) -> String {
    format!("{:02}.{:02}.{:04}", date.day(), date.month() as u8, date.year())
}

/// The first-priority kindergarten's code.
pub fn first_priority(app: &KindergartenApplication) -> Option<&str> {
    app.kindergartens.iter().min_by_key(|k| k.priority).map(|k| k.code.as_str())
}

/// Full years from `birth` to `on` (0 before the first birthday; negative never: 0 for a date before birth).
pub fn full_years(birth: Date, on: Date) -> i32 {
    let had_birthday = (on.month() as u8, on.day()) >= (birth.month() as u8, birth.day());
    (on.year() - birth.year() - if had_birthday { 0 } else { 1 }).max(0)
}

/// The age group of a child on the entry date: full years, 0 to 7.
pub fn age_group(birth: Date, entry: Date) -> u8 {
    full_years(birth, entry).clamp(0, 7) as u8
}

/// Why a new application cannot be registered, for the parent, or `None`.
pub fn refusal(app: &KindergartenApplication, catalog: &Catalog, today: Date) -> Option<String> {
    if app.kindergartens.is_empty() {
        return Some("не выбран ни один детский сад".to_owned());
    }
    if let Some(k) = app.kindergartens.iter().find(|k| !catalog.kindergartens.contains_key(&k.code)) {
        return Some(format!("детский сад с кодом {} не найден в региональной информационной системе", k.code));
    }
    let birth = app.child.birth_date;
    if birth > today {
        return Some("дата рождения ребёнка указана позже сегодняшнего дня".to_owned());
    }
    if full_years(birth, today) >= 8 {
        return Some("ребёнку уже исполнилось 8 лет: в детский сад принимают детей до 8 лет".to_owned());
    }
    if app.entry.entry_date < today {
        return Some(format!("желаемая дата зачисления {} уже прошла", russian_date(app.entry.entry_date)));
    }
    None
}

/// Whether two children are the same person by names and birth date (letter case and ё/е aside).
pub fn same_child(a: &Child, b: &Child) -> bool {
    a.birth_date == b.birth_date && same_text(&a.surname, &b.surname) && same_text(&a.name, &b.name)
}

/// Compares names as a clerk would: trimmed, case-insensitive, ё as е.
fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().to_lowercase().replace('ё', "е");
    norm(a) == norm(b)
}

/// Compares document numbers: spaces, hyphens and case aside.
fn same_doc_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_lowercase).collect::<String>()
    };
    norm(a) == norm(b)
}

/// Whether a subscription's birth document names the held one: series and number for a certificate, act number and
/// date for an act (an act also matches a Russian certificate recording the same act).
pub fn same_birth_doc(asked: &BirthDoc, held: &BirthDoc) -> bool {
    match (asked, held) {
        (BirthDoc::Russian { series: s1, number: n1, .. }, BirthDoc::Russian { series: s2, number: n2, .. }) => {
            same_doc_text(s1, s2) && same_doc_text(n1, n2)
        }
        (BirthDoc::Foreign { series: s1, number: n1, .. }, BirthDoc::Foreign { series: s2, number: n2, .. }) => {
            same_doc_text(s1.as_deref().unwrap_or(""), s2.as_deref().unwrap_or("")) && same_doc_text(n1, n2)
        }
        (BirthDoc::Act { act_number: n1, act_date: d1, .. }, BirthDoc::Act { act_number: n2, act_date: d2, .. }) => {
            same_doc_text(n1, n2) && d1 == d2
        }
        (BirthDoc::Act { act_number, act_date, .. }, BirthDoc::Russian { act_number: n2, act_date: d2, .. }) => {
            n2.as_deref().is_some_and(|n2| same_doc_text(act_number, n2)) && *d2 == Some(*act_date)
        }
        _ => false,
    }
}

/// One application as the queue sees it.
#[derive(Debug, Clone)]
pub struct Item {
    /// The region's number.
    pub number: String,
    /// The first-priority kindergarten.
    pub kindergarten: String,
    /// The age group.
    pub group: u8,
    /// The right.
    pub right: Right,
    /// When it was filed.
    pub filed_at: OffsetDateTime,
    /// The current status.
    pub status: u16,
    /// When a place was offered.
    pub offered_at: Option<OffsetDateTime>,
    /// When an edit added a benefit.
    pub benefit_at: Option<OffsetDateTime>,
}

impl Item {
    /// The key the queue is sorted by.
    fn key(&self) -> (Right, OffsetDateTime, &str) {
        (self.right, self.filed_at, &self.number)
    }
}

/// Every application, filed elsewhere or on the portal, as the queue sees it.
pub fn items(catalog: &Catalog, book: &Book) -> Vec<Item> {
    let elsewhere = catalog.entries.iter().map(|entry| {
        let app = book.by_number(&entry.number);
        Item {
            number: entry.number.clone(),
            kindergarten: entry.kindergartens[0].clone(),
            group: age_group(entry.child.birth_date, entry.entry_date),
            right: entry.right,
            filed_at: entry.filed_at,
            status: app.map_or(entry.file.status, |app| app.status),
            offered_at: app.and_then(|app| app.offered_at),
            benefit_at: None,
        }
    });
    let portal = book.portal_apps().filter_map(|app| {
        let application = app.portal.as_ref()?;
        Some(Item {
            number: app.number.clone(),
            kindergarten: first_priority(application)?.to_owned(),
            group: age_group(application.child.birth_date, application.entry.entry_date),
            right: portal_right(application, catalog),
            filed_at: application.filed_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            status: app.status,
            offered_at: app.offered_at,
            benefit_at: app.benefit_at,
        })
    });
    elsewhere.chain(portal).collect()
}

/// The right of an application filed on the portal: its benefit's, or priority for a sibling in a kindergarten.
pub fn portal_right(app: &KindergartenApplication, catalog: &Catalog) -> Right {
    let benefit = catalog.right_of(app.benefit.as_ref().map(|b| b.category.code.as_str()));
    let sibling = if app.siblings.is_empty() { Right::General } else { Right::Priority };
    benefit.min(sibling)
}

/// The position of `number` in its queue, or `None` if it does not wait in one.
pub fn position(items: &[Item], number: &str, now: OffsetDateTime) -> Option<QueuePosition> {
    let me = items.iter().find(|item| item.number == number)?;
    if !in_queue(me.status) {
        return None;
    }
    let mut queue: Vec<&Item> = items
        .iter()
        .filter(|item| item.kindergarten == me.kindergarten && item.group == me.group && in_queue(item.status))
        .collect();
    queue.sort_by(|a, b| a.key().cmp(&b.key()));
    let index = queue.iter().position(|item| item.number == number)?;
    let ahead = &queue[..index];
    let count = |right: Right| ahead.iter().filter(|item| item.right == right).count().min(u16::MAX as usize) as u16;
    Some(QueuePosition {
        position: index as u64 + 1,
        total: queue.len() as u64,
        without_queue: count(Right::OutOfTurn),
        first_queue: count(Right::FirstTurn),
        advantage_queue: count(Right::Priority),
        relevant_at: now.replace_nanosecond(0).unwrap_or(now),
    })
}

/// What moved `number`'s position between `from` and `to` (inclusive): applications filed in the period that stand
/// ahead by a right, applications ahead given a benefit by an edit in the period, and applications ahead offered a
/// place in the period. `None` when `number` is unknown.
pub fn reasons(items: &[Item], number: &str, from: Date, to: Date) -> Option<QueueReasons> {
    let me = items.iter().find(|item| item.number == number)?;
    let within = |at: Option<OffsetDateTime>| at.is_some_and(|at| (from..=to).contains(&at.date()));
    let mut reasons = QueueReasons { increase_queue: 0, got_a_place: 0, increase_benefits: 0 };
    let peers = items
        .iter()
        .filter(|item| item.number != me.number && item.kindergarten == me.kindergarten && item.group == me.group);
    for peer in peers.filter(|peer| peer.key() < me.key()) {
        if within(Some(peer.filed_at)) && peer.filed_at > me.filed_at {
            reasons.increase_queue += 1;
        }
        if within(peer.benefit_at) {
            reasons.increase_benefits += 1;
        }
        if within(peer.offered_at) {
            reasons.got_a_place += 1;
        }
    }
    Some(reasons)
}

/// The fields an edit changed, as the 170 comment lists them: "1. Желаемая дата зачисления: было …, стало …".
pub fn changed_fields(old: &KindergartenApplication, new: &KindergartenApplication) -> Vec<String> {
    type Show = fn(&KindergartenApplication) -> String;
    let shown: &[(&str, Show)] = &[
        ("Желаемая дата зачисления", |a| russian_date(a.entry.entry_date)),
        ("Детские сады", |a| {
            let mut wanted: Vec<_> = a.kindergartens.iter().collect();
            wanted.sort_by_key(|k| k.priority);
            wanted.iter().map(|k| format!("{} ({})", k.code, k.priority)).collect::<Vec<_>>().join(", ")
        }),
        ("Режим пребывания", |a| a.entry.schedule.text.clone()),
        ("Язык обучения", |a| a.entry.language.text.clone()),
        ("Направленность группы", |a| a.adaptation.group.text.clone()),
        ("Льгота", |a| a.benefit.as_ref().map_or_else(|| "нет".to_owned(), |b| b.category.text.clone())),
        ("Телефон", |a| a.applicant.phone.clone()),
        ("Электронная почта", |a| a.applicant.email.clone()),
        ("Адрес", |a| a.address.full.clone()),
    ];
    let mut fields: Vec<String> = shown
        .iter()
        .filter_map(|(label, show)| {
            let (was, is) = (show(old), show(new));
            (was != is).then(|| format!("{label}: было «{was}», стало «{is}»"))
        })
        .collect();
    type Same = fn(&KindergartenApplication, &KindergartenApplication) -> bool;
    let named: &[(&str, Same)] = &[
        ("Сведения о ребёнке", |a, b| a.child == b.child),
        ("Сведения о заявителе", |a, b| {
            (&a.applicant.surname, &a.applicant.name, &a.applicant.middle_name, &a.identity)
                == (&b.applicant.surname, &b.applicant.name, &b.applicant.middle_name, &b.identity)
        }),
        ("Братья и сёстры", |a, b| a.siblings == b.siblings),
        ("Медицинское заключение", |a, b| a.medical == b.medical),
    ];
    fields.extend(named.iter().filter(|(_, same)| !same(old, new)).map(|(label, _)| format!("{label}: изменены")));
    if fields.is_empty() {
        fields.push("Прочие сведения заявления: изменены".to_owned());
    }
    fields.into_iter().enumerate().map(|(i, field)| format!("{}. {field}", i + 1)).collect()
}

/// A comparable form of an edit: the application with the first filing's time (an edit does not send it, and it
/// must not move the application in the queue if it did).
pub fn comparable(app: &KindergartenApplication, filed_at: Option<OffsetDateTime>) -> KindergartenApplication {
    let mut app = app.clone();
    app.filed_at = filed_at.or(app.filed_at);
    app
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn statuses() {
        assert!(is_kindergarten_status(110) && is_kindergarten_status(250) && !is_kindergarten_status(200));
        assert!(in_queue(140) && !in_queue(190) && !in_queue(150));
        assert!(cancel_allowed(110) && !cancel_allowed(250) && !cancel_allowed(150));
    }

    #[test]
    fn ages() {
        assert_eq!(age_group(date!(2024 - 03 - 10), date!(2026 - 09 - 01)), 2);
        assert_eq!(age_group(date!(2024 - 09 - 02), date!(2026 - 09 - 01)), 1);
        assert_eq!(age_group(date!(2015 - 01 - 01), date!(2026 - 09 - 01)), 7);
        assert_eq!(full_years(date!(2026 - 01 - 01), date!(2025 - 01 - 01)), 0);
    }

    #[test]
    fn documents_match_by_kind() {
        let d = date!(2024 - 01 - 10);
        let russian = |series: &str, number: &str| BirthDoc::Russian {
            series: series.into(),
            number: number.into(),
            issue_date: d,
            act_number: Some("1101".into()),
            act_date: Some(d),
            issued: "ЗАГС".into(),
        };
        assert!(same_birth_doc(&russian("I-КБ", "123456"), &russian("i-кб ", "123456")));
        assert!(!same_birth_doc(&russian("I-КБ", "123456"), &russian("I-КБ", "123457")));
        let act = BirthDoc::Act { act_number: "1101".into(), act_date: d, issued: None };
        assert!(same_birth_doc(&act, &act) && same_birth_doc(&act, &russian("I-КБ", "1")));
        let foreign = BirthDoc::Foreign {
            name: "Birth certificate".into(),
            series: None,
            number: "AB 12".into(),
            issue_date: d,
            issued: "Registry".into(),
        };
        assert!(same_birth_doc(&foreign, &foreign) && !same_birth_doc(&foreign, &act));
    }
}
