//! The SQL store's executor seam over `rusqlite`, so native code runs the very SQL the Spin
//! build runs: for the tests and the benchmark's native server (`bench/native-server`).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::store::sql::{
    Dialect, Rows, SqlError, SqlExecutor, SqlValue, Statement, run_transaction,
};

/// Runs statements on one rusqlite connection. Writers wait for each other (busy timeout)
/// as Spin's SQLite does, so several connections can share one database file.
pub struct RusqliteExecutor {
    connection: Mutex<rusqlite::Connection>,
}

impl RusqliteExecutor {
    pub fn open(path: &Path) -> Self {
        Self::open_with_busy_timeout(path, Duration::from_secs(10))
    }

    /// Waits at most `timeout` for another connection's lock before failing a statement.
    pub fn open_with_busy_timeout(path: &Path, timeout: Duration) -> Self {
        let connection = rusqlite::Connection::open(path).expect("open SQLite database");
        connection.busy_timeout(timeout).expect("set busy timeout");
        Self {
            connection: Mutex::new(connection),
        }
    }
}

impl SqlExecutor for RusqliteExecutor {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
        let connection = self.connection.lock().expect("connection lock");
        query_on(&connection, sql, params)
    }

    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), SqlError> {
        let connection = self.connection.lock().expect("connection lock");
        execute_on(&connection, sql, params).map(drop)
    }

    /// Holds the connection for the whole transaction: threads may share this executor.
    fn transaction(&self, statements: &[Statement<'_>]) -> Result<Vec<Rows>, SqlError> {
        let connection = self.connection.lock().expect("connection lock");
        run_transaction(
            Dialect::Sqlite,
            |statement| match *statement {
                Statement::Query(sql, params) => query_on(&connection, sql, params),
                Statement::Execute(sql, params) => {
                    execute_on(&connection, sql, params).map(|_| Vec::new())
                }
            },
            statements,
        )
    }
}

/// A query's rows; a query that yields none fails the caller (see [`SqlExecutor`]): the
/// store must never send one, as it would hang on Spin 4.0.0-4.0.2's PostgreSQL.
fn query_on(
    connection: &rusqlite::Connection,
    sql: &str,
    params: &[SqlValue],
) -> Result<Rows, SqlError> {
    let rows = execute_on(connection, sql, params)?;
    assert!(!rows.is_empty(), "{}", super::zero_row_query(sql));
    Ok(rows)
}

fn execute_on(
    connection: &rusqlite::Connection,
    sql: &str,
    params: &[SqlValue],
) -> Result<Rows, SqlError> {
    let fail = |error: rusqlite::Error| SqlError(error.to_string());
    let mut statement = connection.prepare(sql).map_err(fail)?;
    let columns = statement.column_count();
    let params = rusqlite::params_from_iter(params.iter().map(|value| match value {
        SqlValue::Null => rusqlite::types::Value::Null,
        SqlValue::Integer(number) => rusqlite::types::Value::Integer(*number),
        SqlValue::Real(number) => rusqlite::types::Value::Real(*number),
        SqlValue::Text(text) => rusqlite::types::Value::Text(text.clone()),
        SqlValue::Blob(bytes) => rusqlite::types::Value::Blob(bytes.clone()),
    }));
    let mut rows = statement.query(params).map_err(fail)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(fail)? {
        let mut values = Vec::with_capacity(columns);
        for index in 0..columns {
            values.push(match row.get_ref(index).map_err(fail)? {
                rusqlite::types::ValueRef::Null => SqlValue::Null,
                rusqlite::types::ValueRef::Integer(number) => SqlValue::Integer(number),
                rusqlite::types::ValueRef::Real(number) => SqlValue::Real(number),
                rusqlite::types::ValueRef::Text(text) => {
                    SqlValue::Text(String::from_utf8_lossy(text).into_owned())
                }
                rusqlite::types::ValueRef::Blob(bytes) => SqlValue::Blob(bytes.to_vec()),
            });
        }
        out.push(values);
    }
    Ok(out)
}
