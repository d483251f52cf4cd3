//! edugate: a gateway between SMEV 3 and regional school information systems.
//!
//! The crate is layered: [`crypto`] (GOST through OpenSSL), [`xml`] (bounded parsing, exclusive c14n, the SMEV
//! transform) and [`dsig`] (XMLDSig for SMEV) on top of both. See ARCHITECTURE.md.
#![deny(unsafe_code)]

pub mod config;
pub mod cpu;
pub mod crypto;
pub mod demo;
pub mod dsig;
pub mod gateway;
pub mod inbox;
pub mod metrics;
pub mod ops;
pub mod outbox;
pub mod schema;
pub mod school;
pub mod serve;
pub mod services;
pub mod smev;
pub mod state;
pub mod store;
pub mod xml;
