//! MessageIDs (RFC 4122 version-1 UUIDs) and xs:dateTime timestamps.
#![forbid(unsafe_code)]

use super::SmevError;
use std::fmt;
use std::sync::OnceLock;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// An SMEV MessageID: a lowercase version-1 UUID. SMEV rejects other versions and, as `StaleMessageId`, version-1
/// ids whose time is too old, so a retry that old must get a new id (and a new signature).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

/// The node part of this process's UUIDs: random, fixed for the process, with the multicast bit set as RFC 4122
/// requires for node ids that are not MAC addresses.
fn node_id() -> &'static [u8; 6] {
    static NODE: OnceLock<[u8; 6]> = OnceLock::new();
    NODE.get_or_init(|| {
        let mut node = *uuid::Uuid::new_v4().as_bytes().first_chunk::<6>().expect("16 bytes");
        node[0] |= 0x01;
        node
    })
}

impl MessageId {
    /// A fresh version-1 MessageID for now.
    pub fn new_v1() -> MessageId {
        MessageId(uuid::Uuid::now_v1(node_id()).hyphenated().to_string())
    }

    /// A version-1 MessageID for a given time, for tests of staleness.
    pub fn v1_at(unix_secs: u64, nanos: u32) -> MessageId {
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, unix_secs, nanos);
        MessageId(uuid::Uuid::new_v1(ts, node_id()).hyphenated().to_string())
    }

    /// Parses a MessageID: the UUID pattern of the SMEV schema (lowercase hex), any version.
    pub fn parse(text: &str) -> Result<MessageId, SmevError> {
        let ok = text.len() == 36
            && text.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            });
        if !ok {
            return Err(SmevError::InvalidValue {
                field: "MessageID",
                reason: format!("'{text}' is not a lowercase UUID"),
            });
        }
        Ok(MessageId(text.to_string()))
    }

    /// The UUID version (1 for ids SMEV accepts).
    pub fn version(&self) -> usize {
        uuid::Uuid::parse_str(&self.0).map(|u| u.get_version_num()).unwrap_or(0)
    }

    /// The time a version-1 id was made, in Unix seconds.
    pub fn unix_time(&self) -> Option<u64> {
        let uuid = uuid::Uuid::parse_str(&self.0).ok()?;
        uuid.get_timestamp().map(|ts| ts.to_unix().0)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Formats a time as xs:dateTime with milliseconds and offset, as SMEV writes them.
pub fn format_datetime(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(t.millisecond() as u32 * 1_000_000).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// The current time as xs:dateTime (UTC).
pub fn now_datetime() -> String {
    format_datetime(OffsetDateTime::now_utc())
}

/// Parses an xs:dateTime with an offset.
pub fn parse_datetime(text: &str) -> Result<OffsetDateTime, SmevError> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map_err(|e| SmevError::InvalidValue { field: "dateTime", reason: format!("'{text}': {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_version_1_lowercase_and_distinct() {
        let a = MessageId::new_v1();
        let b = MessageId::new_v1();
        assert_ne!(a, b);
        assert_eq!(a.version(), 1);
        assert_eq!(MessageId::parse(a.as_str()).unwrap(), a);
        let age = OffsetDateTime::now_utc().unix_timestamp() as u64 - a.unix_time().unwrap();
        assert!(age < 5, "a v1 id carries the time it was made");
    }

    #[test]
    fn parse_refuses_non_uuids() {
        for bad in [
            "",
            "39F52A38-9A54-11EA-B23A-3316E2108089",
            "39f52a38-9a54-11ea-b23a-3316e210808",
            "x9f52a38-9a54-11ea-b23a-3316e2108089",
        ] {
            assert!(MessageId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn datetimes_round_trip() {
        let text = now_datetime();
        assert!(parse_datetime(&text).is_ok(), "{text}");
        assert!(parse_datetime("2021-03-23T07:03:08.000+03:00").is_ok());
        assert!(parse_datetime("yesterday").is_err());
    }
}
