//! The EPGU concentrator's kindergarten formats: a pure codec (no I/O, no async) between their XML and the domain
//! model of `school::kindergarten`.
//!
//! - kindergarten 3.1.1, 3.2.1 and 4.0.1 (the region as the provider): [`read`] reads a `FormData` of any of them
//!   into a [`FormData`] (its [`Version`], `@oktmo` and one [`Request`]); [`write_answer`] writes the
//!   `FormDataResponse` in the version of the request it answers. [`write_request`] writes a `FormData` as the
//!   portal sends it (for the portal emulator and the tests).
//! - kindergarten-order 1.0.0 and 1.0.1 (the region as a consumer): [`write_order_request`] and
//!   [`read_order_response`].
//!
//! Reading is strict, in schema order: every element in the root's namespace, each value checked against its
//! type and length, 4.0.1's `attribute`/`refInfo` tails accepted and skipped; any deviation is a [`ReadError`]
//! naming the element by its path (with the `orderId` when it was read first), never a panic. Writing checks the
//! same limits, so that what it writes validates against the version's schema, or it is a [`WriteError`].
//! The schemas are in `xsd/epgu/`; the facts behind them in `../shared/docs/epgu-concentrator.md`.
#![forbid(unsafe_code)]

mod answer;
mod cursor;
mod order;
mod read;
mod read311;
mod shape;
pub mod types;
mod write;
mod write311;

pub use answer::{write_answer, write_answer_in, write_request};
pub use order::{read_order_response, write_order_request, STATUS_COMMENT_MAX};
pub use read::{read, read_as};
pub use types::{
    Answer, ChangeOrderInfo, Env, ForeignBirthDoc311, FormData, KindergartenQueue311, Legacy311, OrderRequest,
    OrderResponse, OrderVersion, Queue311, ReadError, Request, Sex, StatusCode, StatusEntry, Version, WriteError,
};
pub use write::COMMENT_MAX;
