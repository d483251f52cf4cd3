//! The education services: what a request of each kind of data means and what the answer is. They read requests,
//! ask the school system through the `SchoolSystem` trait and write answers; the gateway moves the messages.
#![forbid(unsafe_code)]

pub mod enrollment;
pub mod progress;
pub mod xmlout;
