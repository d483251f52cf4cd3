//! Deliveries the gateway cannot read: a `GetRequestResponse` or `GetResponseResponse` whose message does not parse
//! (not well-formed, over a limit, or not shaped as the schema says). SMEV delivers such a message again after every
//! visibility timeout until it is acknowledged, so the caller must acknowledge it (by the id found here) and keep
//! its bytes for operators, rather than fail the poll for ever.
#![forbid(unsafe_code)]

use super::Operation;
use crate::xml::Document;

/// A delivery that could not be read, with what is needed to acknowledge it and show it to an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableDelivery {
    /// The operation whose answer it was (`GetRequest` or `GetResponse`).
    pub operation: Operation,
    /// SMEV's id for the message (`MessageMetadata/MessageId`), or failing that the sender's `MessageID`: what the
    /// acknowledgement names. `None` when no id could be found: the delivery is then kept, not acknowledged.
    pub message_id: Option<String>,
    /// Why it could not be read.
    pub reason: String,
    /// The answer exactly as received (the root part of an MTOM answer).
    pub raw: Vec<u8>,
}

/// The longest id accepted: a UUID is 36 characters; anything far longer is not an id SMEV gives.
const MAX_ID_LEN: usize = 64;

/// Whether `operation` delivers messages (whose unreadable answers must still be acknowledged).
pub fn delivers(operation: Operation) -> bool {
    matches!(operation, Operation::GetRequest | Operation::GetResponse)
}

/// The id of the delivered message in a parsed answer: the first `MessageMetadata/MessageId`, else the first
/// `MessageID` (any namespace, since the message's structure is what could not be trusted).
pub fn message_id_in(doc: &Document<'_>) -> Option<String> {
    let named = |local: &str| doc.elements().find(|&e| doc.element(e).local == local);
    let metadata_id = doc.elements().find(|&e| {
        doc.element(e).local == "MessageId" && doc.parent(e).is_some_and(|p| doc.element(p).local == "MessageMetadata")
    });
    metadata_id.or_else(|| named("MessageID")).map(|e| doc.text(e)).and_then(|t| plausible_id(&t))
}

/// The id of the delivered message in an answer that does not even parse: the text of the first `MessageId`
/// element (any prefix), else of the first `MessageID`, when it looks like an id.
pub fn scan_message_id(text: &str) -> Option<String> {
    ["MessageId>", "MessageID>"].into_iter().find_map(|tag| {
        text.match_indices(tag).find_map(|(at, _)| {
            // A start tag: `<MessageId>` or `<prefix:MessageId>`, not `</...MessageId>`. Both scans stop at the
            // first character that cannot belong to the name or the id, so each looks at a few bytes and the whole
            // search stays linear in the text, however many tags it holds.
            let before = &text[..at];
            let name = before.chars().rev().take_while(|&c| c.is_alphanumeric() || c == ':' || c == '_');
            let open = before.len() - name.map(char::len_utf8).sum::<usize>();
            if !before[..open].ends_with('<') {
                return None;
            }
            let value = &text[at + tag.len()..];
            let end = value.find(|c: char| !(c.is_whitespace() || c.is_ascii_hexdigit() || c == '-'))?;
            if !value[end..].starts_with('<') {
                return None;
            }
            plausible_id(&value[..end])
        })
    })
}

/// `text` trimmed, if it can be an SMEV id: short, and only hex digits and hyphens (UUIDs).
fn plausible_id(text: &str) -> Option<String> {
    let id = text.trim();
    let ok = !id.is_empty() && id.len() <= MAX_ID_LEN && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    ok.then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4fd2b1e0-3c08-11e5-95e2-d4c9eff07b77";

    #[test]
    fn the_metadata_id_is_preferred_to_the_senders() {
        let xml = format!(
            "<Envelope><Body><R><m:MessageID xmlns:m=\"urn:x\">11111111-3c08-11e5-95e2-d4c9eff07b77</m:MessageID>\
             <MessageMetadata><MessageId> {ID} </MessageId></MessageMetadata></R></Body></Envelope>"
        );
        let doc = crate::xml::parse(&xml, &crate::xml::Limits::default()).unwrap();
        assert_eq!(message_id_in(&doc).as_deref(), Some(ID));
        assert_eq!(scan_message_id(&xml).as_deref(), Some(ID));
    }

    #[test]
    fn ids_are_found_in_broken_text_and_junk_is_not_an_id() {
        let broken = format!("<a><ns2:MessageId>{ID}</ns2:MessageId><unclosed");
        assert_eq!(scan_message_id(&broken).as_deref(), Some(ID));
        let only_sender = format!("<x:MessageID>{ID}</x:MessageID><<<");
        assert_eq!(scan_message_id(&only_sender).as_deref(), Some(ID));
        assert_eq!(scan_message_id("<MessageId>'; drop table</MessageId>"), None);
        assert_eq!(scan_message_id(&format!("<MessageId>{}</MessageId>", "a".repeat(65))), None);
        assert_eq!(scan_message_id("<html>502 Bad Gateway</html>"), None);
        assert_eq!(scan_message_id("</MessageId>abc<"), None);
        assert_eq!(scan_message_id(&format!("<MessageId>{ID} x</MessageId>")), None);
    }

    /// Regression: every tag found scanned back to the previous `<` and on to the next one, so a text of many
    /// tags and no brackets cost work quadratic in its size.
    #[test]
    fn many_tags_without_brackets_are_scanned_once() {
        let hostile = "MessageId>MessageID>".repeat(100_000);
        assert_eq!(scan_message_id(&hostile), None);
        let hostile = format!("<{}", "MessageId>  ".repeat(100_000));
        assert_eq!(scan_message_id(&hostile), None);
    }
}
