//! The SQL store's executor seam over the `postgres` client (feature `testing-postgres`),
//! so native code runs the very SQL the PostgreSQL Spin build runs, on a real server: the
//! tests on the private one `make test` starts, the benchmark's native server on its own.

use std::sync::Mutex;

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};

use crate::store::sql::{
    Dialect, Rows, SqlError, SqlExecutor, SqlValue, Statement, run_transaction,
};

/// Runs statements on one connection, as one Spin `Connection` does.
pub struct PostgresExecutor {
    client: Mutex<Client>,
}

impl PostgresExecutor {
    pub fn connect(url: &str) -> Self {
        Self {
            client: Mutex::new(Client::connect(url, NoTls).expect("connect to PostgreSQL")),
        }
    }
}

impl SqlExecutor for PostgresExecutor {
    const DIALECT: Dialect = Dialect::Postgres;

    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
        query_on(&mut self.client.lock().expect("client lock"), sql, params)
    }

    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), SqlError> {
        execute_on(&mut self.client.lock().expect("client lock"), sql, params)
    }

    /// Holds the connection for the whole transaction: threads may share this executor.
    fn transaction(&self, statements: &[Statement<'_>]) -> Result<Vec<Rows>, SqlError> {
        let client = std::cell::RefCell::new(self.client.lock().expect("client lock"));
        run_transaction(
            Dialect::Postgres,
            |statement| match *statement {
                Statement::Query(sql, params) => query_on(&mut client.borrow_mut(), sql, params),
                Statement::Execute(sql, params) => {
                    execute_on(&mut client.borrow_mut(), sql, params).map(|()| Vec::new())
                }
            },
            statements,
        )
    }
}

fn fail(error: postgres::Error) -> SqlError {
    SqlError(match error.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => error.to_string(),
    })
}

type Parameters = Vec<Box<dyn ToSql + Sync>>;

fn parameters(params: &[SqlValue]) -> Parameters {
    params
        .iter()
        .map(|value| -> Box<dyn ToSql + Sync> {
            match value {
                SqlValue::Null => Box::new(None::<String>),
                SqlValue::Integer(number) => Box::new(*number),
                SqlValue::Real(number) => Box::new(*number),
                SqlValue::Text(text) => Box::new(text.clone()),
                SqlValue::Blob(bytes) => Box::new(bytes.clone()),
            }
        })
        .collect()
}

/// A statement run as Spin's `execute` runs it: for its effect, no rows read.
fn execute_on(client: &mut Client, sql: &str, params: &[SqlValue]) -> Result<(), SqlError> {
    let values = parameters(params);
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|value| value.as_ref()).collect();
    client.execute(sql, &refs).map(drop).map_err(fail)
}

/// A statement run as Spin's `query` runs it. One that yields no rows fails (a test, or the benchmark): on
/// Spin 4.0.0-4.0.2 it would never return.
fn query_on(client: &mut Client, sql: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
    let values = parameters(params);
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|value| value.as_ref()).collect();
    let rows = client.query(sql, &refs).map_err(fail)?;
    assert!(!rows.is_empty(), "{}", super::zero_row_query(sql));
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|index| {
                    let kind = row.columns()[index].type_().clone();
                    let value = match kind {
                        Type::INT8 => row
                            .try_get::<_, Option<i64>>(index)
                            .map(|v| v.map(SqlValue::Integer)),
                        Type::INT4 => row
                            .try_get::<_, Option<i32>>(index)
                            .map(|v| v.map(|n| SqlValue::Integer(i64::from(n)))),
                        Type::TEXT | Type::VARCHAR => row
                            .try_get::<_, Option<String>>(index)
                            .map(|v| v.map(SqlValue::Text)),
                        Type::FLOAT8 => row
                            .try_get::<_, Option<f64>>(index)
                            .map(|v| v.map(SqlValue::Real)),
                        Type::BYTEA => row
                            .try_get::<_, Option<Vec<u8>>>(index)
                            .map(|v| v.map(SqlValue::Blob)),
                        other => {
                            return Err(SqlError(format!("column type {other} not read here")));
                        }
                    };
                    value.map(|v| v.unwrap_or(SqlValue::Null)).map_err(fail)
                })
                .collect()
        })
        .collect()
}
