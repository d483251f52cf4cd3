//! The label sets of the metric families, as types: a closed set of values is an enum, so that a series can only be
//! minted from a value the code names; an open value (a kind of data, a queue, a destination: configuration or the
//! outbox's own names) is a [`Text`], bounded and escaped.
use crate::outbox::{DeadCause, StateFilter};
use crate::school::timed::{Call, CallOutcome};
use crate::smev::Operation;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use std::fmt::{self, Write as _};

/// How many characters of an open label value are kept: enough for any configured name, and a bound on what one
/// series can cost.
const MAX_TEXT: usize = 64;

/// A value of a closed set that can be a label: its name in the exposition, and the value a name stands for.
pub trait LabelName: Copy + Eq + std::hash::Hash + fmt::Debug + Send + Sync + 'static {
    /// The label value.
    fn label(self) -> &'static str;
    /// The value whose label is `name`.
    fn parse(name: &str) -> Option<Self>;
}

/// A label value from a closed set, or `other` for a name the set does not have.
///
/// It exists so that the gateway can pass either the typed value or, as it does today, its name: a name outside the
/// set is counted as `other` rather than minting a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Closed<T>(
    /// The value, or `None` for a name outside the set.
    pub Option<T>,
);

impl<T: LabelName> From<T> for Closed<T> {
    fn from(value: T) -> Closed<T> {
        Closed(Some(value))
    }
}

impl<T: LabelName> From<&str> for Closed<T> {
    fn from(name: &str) -> Closed<T> {
        Closed(T::parse(name))
    }
}

impl<T: LabelName> EncodeLabelValue for Closed<T> {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        encoder.write_str(self.0.map_or("other", LabelName::label))
    }
}

/// Defines a closed set of label values: the enum, its names and its [`LabelName`].
macro_rules! label_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in the order the catalogue lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
        }

        impl LabelName for $name {
            fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            fn parse(name: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|value| value.label() == name)
            }
        }
    };
}

label_enum! {
    /// How a message taken from SMEV was dealt with.
    Received {
        /// Answered now.
        Answered => "answered",
        /// Waits for the school system; answered later.
        Deferred => "deferred",
        /// Delivered again and answered from the inbox.
        Redelivered => "redelivered",
        /// Its signatures failed or its sender is not trusted for the kind.
        Untrusted => "untrusted",
        /// It could not be parsed: acknowledged and kept as a dead letter.
        Unreadable => "unreadable",
        /// Not processed now; SMEV delivers it again.
        Left => "left",
    }
}

label_enum! {
    /// How an attempt of the outbox (a send or an acknowledgement) ended.
    Attempt {
        /// It succeeded.
        Ok => "ok",
        /// It failed and was rescheduled.
        Retry => "retry",
        /// It failed and was dead-lettered.
        Dead => "dead",
        /// Its outcome could not be recorded.
        Error => "error",
    }
}

label_enum! {
    /// What was done with a signature.
    SignatureOperation {
        /// One was made, with the envelope around it.
        Sign => "sign",
        /// One was checked.
        Verify => "verify",
    }
}

label_enum! {
    /// Whether a signature was made or checked successfully.
    SignatureOutcome {
        /// It was.
        Ok => "ok",
        /// It was not.
        Failed => "failed",
    }
}

label_enum! {
    /// A circuit breaker's state as the metrics name it; the gateway converts its own breaker's state into it, so
    /// that the metrics know nothing of the gateway.
    BreakerState {
        /// Calls go through.
        Closed => "closed",
        /// Calls are refused.
        Open => "open",
        /// One probe call is let through.
        HalfOpen => "half-open",
    }
}

impl LabelName for Operation {
    fn label(self) -> &'static str {
        self.name()
    }

    fn parse(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|operation| operation.name() == name)
    }
}

impl LabelName for DeadCause {
    fn label(self) -> &'static str {
        self.as_str()
    }

    fn parse(name: &str) -> Option<DeadCause> {
        DeadCause::parse(name)
    }
}

impl LabelName for StateFilter {
    fn label(self) -> &'static str {
        self.as_str()
    }

    fn parse(name: &str) -> Option<StateFilter> {
        StateFilter::parse(name)
    }
}

impl LabelName for Call {
    fn label(self) -> &'static str {
        self.as_str()
    }

    fn parse(name: &str) -> Option<Call> {
        Call::ALL.iter().copied().find(|call| call.as_str() == name)
    }
}

impl LabelName for CallOutcome {
    fn label(self) -> &'static str {
        self.as_str()
    }

    fn parse(name: &str) -> Option<CallOutcome> {
        CallOutcome::ALL.iter().copied().find(|outcome| outcome.as_str() == name)
    }
}

/// An open label value: configuration (a kind of data, a destination), an outbox queue's name or a fault's type.
/// At most [`MAX_TEXT`] characters, with the characters simple parsers split on replaced; escaped when written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Text(
    /// The bounded value, unescaped.
    String,
);

impl Text {
    /// The label value of `value`.
    pub fn new(value: &str) -> Text {
        Text(
            value
                .chars()
                .take(MAX_TEXT)
                .map(|c| if c == ',' || c == '=' || c.is_control() { '_' } else { c })
                .collect(),
        )
    }

    /// The value as written before escaping.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl EncodeLabelValue for Text {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        // The crate writes label values as given; the text format wants backslash and double quote escaped (line
        // feeds cannot occur: `new` replaced them).
        for c in self.0.chars() {
            match c {
                '\\' => encoder.write_str("\\\\")?,
                '"' => encoder.write_str("\\\"")?,
                c => encoder.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// `edugate_messages_received_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReceivedLabels {
    /// The kind polled, `response`, or `unverified`.
    pub kind: Text,
    /// How it was dealt with.
    pub outcome: Closed<Received>,
}

/// `edugate_messages_sent_total` and `edugate_messages_acknowledged_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct AttemptLabels {
    /// The exchange's kind of data.
    pub kind: Text,
    /// How the attempt ended.
    pub outcome: Closed<Attempt>,
}

/// `edugate_outbox_retries_total` and `edugate_outbox_oldest_pending_age_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct QueueLabels {
    /// The outbox queue.
    pub queue: Text,
}

/// `edugate_outbox_dead_letters_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DeadLetterLabels {
    /// The outbox queue.
    pub queue: Text,
    /// Why the item was given up.
    pub cause: Closed<DeadCause>,
}

/// `edugate_outbox_items`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct QueueStateLabels {
    /// The outbox queue.
    pub queue: Text,
    /// The items' state.
    pub state: Closed<StateFilter>,
}

/// `edugate_smev_faults_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct FaultLabels {
    /// The fault's element name or the kind of failure (`transport`, `http-503`...): derived from closed sets.
    pub r#type: Text,
    /// The SMEV operation that failed.
    pub operation: Closed<Operation>,
}

/// `edugate_smev_call_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SmevCallLabels {
    /// The SMEV operation.
    pub operation: Closed<Operation>,
}

/// `edugate_school_call_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SchoolCallLabels {
    /// The school system's method.
    pub operation: Closed<Call>,
    /// How the call ended.
    pub outcome: Closed<CallOutcome>,
}

/// `edugate_signatures_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SignatureLabels {
    /// Made or checked.
    pub operation: SignatureOperation,
    /// Whether it succeeded.
    pub outcome: SignatureOutcome,
}

/// `edugate_signature_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct SignatureDurationLabels {
    /// Made or checked.
    pub operation: SignatureOperation,
}

/// `edugate_circuit_breaker_state`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct BreakerLabels {
    /// The breaker's destination (`smev`, or the school system's name).
    pub destination: Text,
    /// One of the states; the series of the current one is 1.
    pub state: BreakerState,
}

/// `edugate_kind_paused`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct KindLabels {
    /// The configured kind of data (its root element).
    pub kind: Text,
}

/// Lets a [`LabelName`] enum be a label value directly, where no name ever comes as a string.
macro_rules! encode_as_label {
    ($($name:ty),+) => {
        $(impl EncodeLabelValue for $name {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
                encoder.write_str(self.label())
            }
        })+
    };
}

encode_as_label!(SignatureOperation, SignatureOutcome, BreakerState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_values_are_bounded_and_stripped() {
        assert_eq!(Text::new("a,b=c\nd").as_str(), "a_b_c_d");
        assert_eq!(Text::new(&"x".repeat(100)).as_str().len(), MAX_TEXT);
    }

    #[test]
    fn names_parse_to_their_values_and_unknown_names_to_other() {
        assert_eq!(Closed::<Received>::from("deferred"), Closed(Some(Received::Deferred)));
        assert_eq!(Closed::<Received>::from("invented"), Closed(None));
        assert_eq!(Closed::<Operation>::from("GetRequest"), Closed(Some(Operation::GetRequest)));
        assert_eq!(Closed::<DeadCause>::from("too-old"), Closed(Some(DeadCause::TooOld)));
        for state in BreakerState::ALL {
            assert_eq!(BreakerState::parse(state.label()), Some(*state));
        }
    }
}
