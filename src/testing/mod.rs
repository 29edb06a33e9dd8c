//! Test support that code outside the crate's own tests shares: the integration tests, the
//! fuzz target, the examples and the benchmark's native server. Behind the `testing`
//! feature (on for this crate's tests), never in a component.
//! - [`RusqliteExecutor`] (feature `testing-sqlite`): the SQL store on SQLite through
//!   `rusqlite`, natively;
//! - [`store`]: fields to write and what a list says, for tests of any store;
//! - [`oracle`]: what any request must get, whatever it holds (property tests, fuzzing);
//! - [`tokens`]: bearer tokens signed as an identity provider signs them.

pub mod oracle;
#[cfg(any(test, feature = "testing-sqlite"))]
mod sqlite;
pub mod store;
pub mod tokens;

#[cfg(any(test, feature = "testing-sqlite"))]
pub use sqlite::RusqliteExecutor;
