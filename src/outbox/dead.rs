//! Why an item was dead-lettered, on its own so that the retry policy (which decides two of the causes) and the item
//! rules can both name it without using each other.
#![forbid(unsafe_code)]

/// Why an item was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadCause {
    /// The worker reported a failure that can never succeed.
    Final,
    /// The policy's `max_attempts` were all used.
    AttemptsExhausted,
    /// The item kept failing for longer than the policy's `max_age`.
    TooOld,
}

impl DeadCause {
    /// The cause's name in stored records and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadCause::Final => "final",
            DeadCause::AttemptsExhausted => "attempts-exhausted",
            DeadCause::TooOld => "too-old",
        }
    }

    /// The cause named `name`.
    pub fn parse(name: &str) -> Option<DeadCause> {
        [DeadCause::Final, DeadCause::AttemptsExhausted, DeadCause::TooOld].into_iter().find(|c| c.as_str() == name)
    }
}
