//! The gateway: the provider loop (requests from SMEV to handlers and back), the consumer loop (requests the
//! gateway sends and their responses), the workers that drain the outbox, and the policies around every call.
#![forbid(unsafe_code)]

pub mod breaker;
pub mod handlers;
pub mod verify;
