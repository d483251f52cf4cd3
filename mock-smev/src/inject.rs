//! Fault injection: the emulator failing on demand, so that integrators can see how their systems cope with what the
//! real SMEV does on a bad day.
//!
//! A [`Rule`] says what happens to calls of an operation (or of every operation): they fail with a SOAP fault of any
//! [`FaultKind`], their connection is dropped without an answer, or they are answered late. A rule fires either on
//! the next `count` matching calls or on each matching call with a probability. The HTTP layer asks
//! [`Injector::decide`] once per SOAP call, before the SOAP core sees the call, so an injected failure never changes
//! a queue.
//!
//! # Order
//! Per call, at most one latency rule and at most one failure (fault or drop) rule fire:
//! - latency: the first latency rule (in the order added) that matches and is not used up;
//! - failure: the first counted fault or drop rule that matches and is not used up; if none, each probability rule
//!   in turn rolls the dice, and the first that hits fires.
//!
//! Probabilities draw from a generator seeded at start (and again on every [`Injector::clear`]), so the same
//! sequence of calls meets the same failures in every run.
#![forbid(unsafe_code)]

use edugate::smev::fault::ValidationError;
use edugate::smev::{FaultKind, Operation, SignatureFaultKind, SmevFault};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Why a rule could not be added; the control API answers 400 with the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    /// The operation name is none of the WSDL's.
    #[error("unknown operation '{0}' (expected one of SendRequest, SendResponse, GetRequest, GetResponse, Ack, GetStatus, GetIncomingQueueStatistics, or '*' for every operation)")]
    UnknownOperation(String),
    /// The fault name is none of the faults schema's.
    #[error("unknown fault '{name}' (expected one of: {known})")]
    UnknownFault {
        /// The name given.
        name: String,
        /// Every accepted name, comma separated.
        known: String,
    },
    /// A probability outside 0..=1, or a count of zero, or both a count and a probability.
    #[error("{0}")]
    BadTrigger(String),
}

/// When a rule fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Trigger {
    /// On the next `remaining` matching calls; a rule at zero is used up (and kept, so its `fired` stays visible).
    Count {
        /// How many more calls it fires on.
        remaining: u64,
    },
    /// On each matching call with this probability (0 never, 1 always).
    Probability(f64),
    /// On every matching call until the rules are cleared (latency only).
    Always,
}

impl Trigger {
    /// A trigger from the control API's optional `count` and `probability`: neither means the next call only.
    pub fn from_options(count: Option<u64>, probability: Option<f64>) -> Result<Trigger, InjectError> {
        match (count, probability) {
            (Some(_), Some(_)) => Err(InjectError::BadTrigger("give either count or probability, not both".into())),
            (Some(0), None) => Err(InjectError::BadTrigger("count must be at least 1".into())),
            (Some(n), None) => Ok(Trigger::Count { remaining: n }),
            (None, Some(p)) if (0.0..=1.0).contains(&p) => Ok(Trigger::Probability(p)),
            (None, Some(p)) => Err(InjectError::BadTrigger(format!("probability {p} is not between 0 and 1"))),
            (None, None) => Ok(Trigger::Count { remaining: 1 }),
        }
    }
}

/// What a rule does to a call it fires on.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Answer with this SOAP fault instead of running the call.
    Fault(FaultKind),
    /// Close the connection without answering.
    Drop,
    /// Wait this long before going on with the call.
    Latency(Duration),
}

/// One injection, as added through the control API.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its number, for the control API's listing.
    pub id: u64,
    /// The operation whose calls it affects; `None` affects every call.
    pub operation: Option<Operation>,
    /// What it does.
    pub effect: Effect,
    /// When it fires.
    pub trigger: Trigger,
    /// How many calls it fired on so far, so a test can check that an injection really happened.
    pub fired: u64,
}

impl Rule {
    /// Whether the rule applies to a call of `operation` (`None`: the operation could not be told).
    fn matches(&self, operation: Option<Operation>) -> bool {
        self.operation.is_none() || self.operation == operation
    }

    /// Whether it is a counted rule with calls left.
    fn counted_and_live(&self) -> bool {
        matches!(self.trigger, Trigger::Count { remaining } if remaining > 0)
    }

    /// Uses up one call of a counted rule and counts the firing.
    fn fire(&mut self) {
        if let Trigger::Count { remaining } = &mut self.trigger {
            *remaining = remaining.saturating_sub(1);
        }
        self.fired += 1;
    }
}

/// What the HTTP layer does with one call.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Hand the call to the SOAP core.
    Pass,
    /// Answer with this fault.
    Fault(SmevFault),
    /// Close the connection without answering.
    Drop,
}

/// The injector's verdict on one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// How long to wait first, if a latency rule fired.
    pub delay: Option<Duration>,
    /// What to do after waiting.
    pub action: Action,
}

/// A small, seedable generator (SplitMix64): probabilities need reproducible dice, not cryptographic ones.
#[derive(Debug, Clone)]
struct Dice {
    /// The generator's state.
    state: u64,
}

impl Dice {
    /// A generator that always yields the same sequence for `seed`.
    fn new(seed: u64) -> Dice {
        Dice { state: seed }
    }

    /// The next number in `[0, 1)`.
    fn next_unit(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits make a double in [0, 1) with every value equally likely.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The rules in force and the dice; one lock, held only for bookkeeping, never across a wait.
#[derive(Debug)]
struct Rules {
    /// Every rule, in the order added.
    rules: Vec<Rule>,
    /// The number the next rule gets.
    next_id: u64,
    /// The generator probability rules draw from.
    dice: Dice,
}

/// The fault injection state shared by every connection.
#[derive(Debug)]
pub struct Injector {
    /// The seed the dice restart from on [`Injector::clear`].
    seed: u64,
    /// The rules.
    inner: Mutex<Rules>,
}

impl Injector {
    /// An injector with no rules, whose probabilities draw from a generator seeded with `seed`.
    pub fn new(seed: u64) -> Injector {
        Injector { seed, inner: Mutex::new(Rules { rules: Vec::new(), next_id: 1, dice: Dice::new(seed) }) }
    }

    /// The rules, even after a panic elsewhere: every change below is a single step, so the state stays coherent.
    fn lock(&self) -> MutexGuard<'_, Rules> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a rule and returns it with its id.
    pub fn add(&self, operation: Option<Operation>, effect: Effect, trigger: Trigger) -> Result<Rule, InjectError> {
        match (&effect, trigger) {
            (Effect::Latency(_), _) => {}
            (_, Trigger::Always) => {
                return Err(InjectError::BadTrigger("a fault or drop needs a count or a probability".into()))
            }
            _ => {}
        }
        let mut rules = self.lock();
        let rule = Rule { id: rules.next_id, operation, effect, trigger, fired: 0 };
        rules.next_id += 1;
        rules.rules.push(rule.clone());
        Ok(rule)
    }

    /// Every rule, in the order added, with what it fired so far.
    pub fn rules(&self) -> Vec<Rule> {
        self.lock().rules.clone()
    }

    /// Removes every rule and reseeds the dice; returns how many rules there were.
    pub fn clear(&self) -> usize {
        let mut rules = self.lock();
        let count = rules.rules.len();
        rules.rules.clear();
        rules.dice = Dice::new(self.seed);
        count
    }

    /// Decides the fate of one call of `operation` (`None` when it could not be told; only rules for every
    /// operation apply then), using up counted rules that fire.
    pub fn decide(&self, operation: Option<Operation>) -> Decision {
        let mut guard = self.lock();
        let Rules { rules, dice, .. } = &mut *guard;
        let mut delay = None;
        let latency = rules.iter_mut().find(|r| {
            matches!(r.effect, Effect::Latency(_))
                && r.matches(operation)
                && (r.trigger == Trigger::Always || r.counted_and_live())
        });
        if let Some(rule) = latency {
            rule.fire();
            if let Effect::Latency(d) = rule.effect {
                delay = Some(d);
            }
        }
        let is_failure = |r: &Rule| !matches!(r.effect, Effect::Latency(_)) && r.matches(operation);
        let mut chosen = rules.iter_mut().position(|r| is_failure(r) && r.counted_and_live());
        if chosen.is_none() {
            chosen = rules.iter().position(|r| match r.trigger {
                Trigger::Probability(p) if is_failure(r) => dice.next_unit() < p,
                _ => false,
            });
        }
        let action = match chosen {
            None => Action::Pass,
            Some(i) => {
                let rule = &mut rules[i];
                rule.fire();
                match &rule.effect {
                    Effect::Fault(kind) => Action::Fault(injected_fault(kind.clone())),
                    Effect::Drop => Action::Drop,
                    Effect::Latency(_) => Action::Pass,
                }
            }
        };
        Decision { delay, action }
    }
}

/// The fault answered for an injected `kind`.
pub fn injected_fault(kind: FaultKind) -> SmevFault {
    let label = fault_label(&kind);
    SmevFault::new(kind, format!("{label} injected by the mock-smev control API"))
}

/// The operation named `name` as in the WSDL (`SendRequest`, ...); `*` or nothing means every operation.
pub fn parse_operation(name: Option<&str>) -> Result<Option<Operation>, InjectError> {
    match name {
        None | Some("*") | Some("") => Ok(None),
        Some(name) => Operation::ALL
            .into_iter()
            .find(|op| op.name() == name)
            .map(Some)
            .ok_or_else(|| InjectError::UnknownOperation(name.to_string())),
    }
}

/// The attachment limit an injected `AttachmentSizeLimitExceeded` reports: 5 MiB, the size above which SMEV wants
/// attachments sent through its file store rather than inside the message.
pub const INJECTED_ATTACHMENT_LIMIT: i64 = 5 * 1024 * 1024;

/// Every fault the injector can raise, with placeholder details where the fault carries fields. A fault the polled
/// version's schema lacks (`PersonalAccessDenied` on 1.2) is answered as its closest one there
/// ([`FaultKind::in_version`]).
pub fn injectable_faults() -> Vec<FaultKind> {
    let mut kinds = vec![
        FaultKind::MessageIsAlreadySent,
        FaultKind::StaleMessageId,
        FaultKind::SmevFailure,
        FaultKind::EndOfLifeReached,
        FaultKind::DestinationOverflow { broker: "mock-smev".into(), destination: "injected".into() },
        FaultKind::QuoteLimitExceeded { remained_total_quote_size: 0, real_total_attachment_size: 1 },
        FaultKind::InvalidContent(vec![ValidationError { message: "injected validation error".into(), position: -1 }]),
    ];
    kinds.extend(SignatureFaultKind::ALL.into_iter().map(FaultKind::SignatureVerification));
    kinds.extend([
        FaultKind::SenderIsNotRegistered,
        FaultKind::RecipientIsNotFound,
        FaultKind::AccessDenied,
        FaultKind::BusinessDataTypeIsNotSupported {
            namespace_uri: "urn://injected".into(),
            root_element: "Injected".into(),
        },
        FaultKind::InvalidMessageIdFormat,
        FaultKind::TransactionCodeInvalid,
        FaultKind::UnknownMessageType,
        FaultKind::AttachmentSizeLimitExceeded {
            permitted_total_attachment_size: INJECTED_ATTACHMENT_LIMIT,
            real_total_attachment_size: INJECTED_ATTACHMENT_LIMIT + 1,
        },
        FaultKind::TargetMessageIsNotFound,
        FaultKind::PersonalAccessDenied,
        FaultKind::AttachmentContentMiscoordination,
        FaultKind::RequestIsNotFound,
        FaultKind::IncorrectResponseContentType,
        FaultKind::Unspecified,
    ]);
    kinds
}

/// The name the control API uses for a fault: the faults schema's element name, and for a signature fault its
/// subtype after a slash (`SignatureVerificationFault/SignatureIsInvalid`).
pub fn fault_label(kind: &FaultKind) -> String {
    match kind {
        FaultKind::SignatureVerification(sub) => format!("{}/{}", kind.name(), sub.as_str()),
        other => other.name().to_string(),
    }
}

/// The fault named `name` (see [`fault_label`]); a bare `SignatureVerificationFault` means `SignatureIsInvalid`.
pub fn parse_fault(name: &str) -> Result<FaultKind, InjectError> {
    if name == "SignatureVerificationFault" {
        return Ok(FaultKind::SignatureVerification(SignatureFaultKind::SignatureIsInvalid));
    }
    let kinds = injectable_faults();
    kinds.iter().find(|k| fault_label(k) == name).cloned().ok_or_else(|| InjectError::UnknownFault {
        name: name.to_string(),
        known: kinds.iter().map(fault_label).collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails to compile when the faults schema grows a fault that [`injectable_faults`] does not list.
    fn listed(kind: &FaultKind) -> bool {
        match kind {
            FaultKind::MessageIsAlreadySent
            | FaultKind::StaleMessageId
            | FaultKind::SmevFailure
            | FaultKind::EndOfLifeReached
            | FaultKind::DestinationOverflow { .. }
            | FaultKind::QuoteLimitExceeded { .. }
            | FaultKind::InvalidContent(_)
            | FaultKind::SignatureVerification(_)
            | FaultKind::SenderIsNotRegistered
            | FaultKind::RecipientIsNotFound
            | FaultKind::AccessDenied
            | FaultKind::BusinessDataTypeIsNotSupported { .. }
            | FaultKind::InvalidMessageIdFormat
            | FaultKind::TransactionCodeInvalid
            | FaultKind::UnknownMessageType
            | FaultKind::AttachmentSizeLimitExceeded { .. }
            | FaultKind::TargetMessageIsNotFound
            | FaultKind::PersonalAccessDenied
            | FaultKind::AttachmentContentMiscoordination
            | FaultKind::RequestIsNotFound
            | FaultKind::IncorrectResponseContentType
            | FaultKind::Unspecified => true,
        }
    }

    #[test]
    fn every_fault_is_injectable_by_its_label() {
        let kinds = injectable_faults();
        // 20 fault elements, the signature fault once per subtype, and the fault without detail.
        assert_eq!(kinds.len(), 20 + SignatureFaultKind::ALL.len() + 1);
        for kind in &kinds {
            assert!(listed(kind));
            assert_eq!(&parse_fault(&fault_label(kind)).unwrap(), kind);
        }
        assert!(matches!(parse_fault("SmevFailure"), Err(InjectError::UnknownFault { .. })));
    }

    #[test]
    fn counted_rules_fire_in_order_then_run_out() {
        let injector = Injector::new(1);
        let fault = Effect::Fault(FaultKind::SmevFailure);
        injector.add(Some(Operation::SendRequest), Effect::Drop, Trigger::Count { remaining: 1 }).unwrap();
        injector.add(Some(Operation::SendRequest), fault, Trigger::Count { remaining: 2 }).unwrap();
        let actions: Vec<_> = (0..4).map(|_| injector.decide(Some(Operation::SendRequest)).action).collect();
        assert_eq!(actions[0], Action::Drop);
        assert!(matches!(&actions[1], Action::Fault(f) if f.kind == FaultKind::SmevFailure));
        assert!(matches!(&actions[2], Action::Fault(_)));
        assert_eq!(actions[3], Action::Pass);
        assert_eq!(injector.decide(Some(Operation::GetRequest)).action, Action::Pass);
        assert_eq!(injector.rules().iter().map(|r| r.fired).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn probabilities_are_reproducible() {
        let run = || {
            let injector = Injector::new(42);
            injector.add(None, Effect::Drop, Trigger::Probability(0.5)).unwrap();
            (0..64).map(|_| injector.decide(None).action == Action::Drop).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let hits = first.iter().filter(|&&d| d).count();
        assert!((16..=48).contains(&hits), "{hits} of 64");
    }

    #[test]
    fn probability_bounds_and_latency() {
        let injector = Injector::new(7);
        injector.add(None, Effect::Fault(FaultKind::SmevFailure), Trigger::Probability(0.0)).unwrap();
        injector.add(Some(Operation::Ack), Effect::Latency(Duration::from_millis(5)), Trigger::Always).unwrap();
        for _ in 0..100 {
            assert_eq!(injector.decide(Some(Operation::GetStatus)), Decision { delay: None, action: Action::Pass });
        }
        assert_eq!(injector.decide(Some(Operation::Ack)).delay, Some(Duration::from_millis(5)));
        injector.add(None, Effect::Drop, Trigger::Probability(1.0)).unwrap();
        for _ in 0..100 {
            assert_eq!(injector.decide(None).action, Action::Drop);
        }
        assert_eq!(injector.clear(), 3);
        assert_eq!(injector.decide(Some(Operation::Ack)), Decision { delay: None, action: Action::Pass });
    }

    #[test]
    fn triggers_are_checked() {
        assert!(Trigger::from_options(Some(1), Some(0.5)).is_err());
        assert!(Trigger::from_options(Some(0), None).is_err());
        assert!(Trigger::from_options(None, Some(1.5)).is_err());
        assert_eq!(Trigger::from_options(None, None).unwrap(), Trigger::Count { remaining: 1 });
        assert!(Injector::new(0).add(None, Effect::Drop, Trigger::Always).is_err());
        assert_eq!(parse_operation(Some("*")).unwrap(), None);
        assert!(parse_operation(Some("Send")).is_err());
    }
}
