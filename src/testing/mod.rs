//! Test support that code outside the crate's own tests shares: the integration tests, the
//! fuzz target, the examples and the benchmark's native server. Behind the `testing`
//! feature (on for this crate's tests), never in a component.
//! - [`RusqliteExecutor`] (feature `testing-sqlite`): the SQL store on SQLite through
//!   `rusqlite`, natively;
//! - [`PostgresExecutor`] (feature `testing-postgres`): the SQL store on a PostgreSQL
//!   server through the `postgres` client, natively;
//! - [`store`]: fields to write and what a list says, for tests of any store;
//! - [`oracle`]: what any request must get, whatever it holds (property tests, fuzzing);
//! - [`tokens`]: bearer tokens signed as an identity provider signs them.

pub mod oracle;
#[cfg(feature = "testing-postgres")]
mod postgres;
#[cfg(any(test, feature = "testing-sqlite"))]
mod sqlite;
pub mod store;
pub mod tokens;

#[cfg(feature = "testing-postgres")]
pub use postgres::PostgresExecutor;
#[cfg(any(test, feature = "testing-sqlite"))]
pub use sqlite::RusqliteExecutor;

/// Settings read from `settings` (name, value), as a host's lookup gives them: the others
/// unset.
pub fn config_of(
    settings: &[(&str, &str)],
) -> Result<crate::config::Config, crate::config::ConfigError> {
    crate::config::Config::read(|name| {
        Ok(settings
            .iter()
            .find(|(setting, _)| *setting == name)
            .map(|(_, value)| (*value).to_owned()))
    })
}

/// What a test executor says when the store sends a query that yields no rows: on Spin
/// 4.0.0-4.0.2, PostgreSQL's `query` never returns then (spinframework/spin#3671).
pub fn zero_row_query(sql: &str) -> String {
    format!(
        "the store sent a query that yields no rows, which never returns on Spin 4.0.0-4.0.2's \
         PostgreSQL (spinframework/spin#3671): {sql}"
    )
}
