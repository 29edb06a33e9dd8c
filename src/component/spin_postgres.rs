//! The SQL executor over Spin's PostgreSQL client (`spin:postgres/postgres@3.0.0`, offered
//! by Spin 3.x and 4.x). The connection opens on first use, once per request, at the
//! address the `database_url` variable gives, read then.

use std::cell::OnceCell;

use spin_sdk::pg3::{Connection, DbValue, ParameterValue, PgError};

use crate::store::sql::{Dialect, SqlError, SqlExecutor, SqlValue};

pub struct SpinPostgres {
    url: fn() -> Option<String>,
    connection: OnceCell<Connection>,
}

impl SpinPostgres {
    /// The database at the address `url` gives when first needed (`None`: the variable is
    /// unset, and every statement fails).
    pub fn new(url: fn() -> Option<String>) -> Self {
        Self {
            url,
            connection: OnceCell::new(),
        }
    }

    fn connection(&self) -> Result<&Connection, SqlError> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection);
        }
        let url = (self.url)()
            .ok_or_else(|| SqlError("the database_url variable is not set".to_owned()))?;
        let connection = Connection::open(&url).map_err(describe)?;
        Ok(self.connection.get_or_init(|| connection))
    }
}

impl SqlExecutor for SpinPostgres {
    const DIALECT: Dialect = Dialect::Postgres;

    /// Spin's `execute`: safe for statements that yield no rows on every Spin.
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), SqlError> {
        let params: Vec<ParameterValue> = params.iter().map(to_spin).collect();
        self.connection()?
            .execute(sql, &params)
            .map(drop)
            .map_err(describe)
    }

    /// Spin's `query`: the store sends only statements that yield at least one row, as on
    /// Spin 4.0.0-4.0.2 one that yields none never returns (spinframework/spin#3671).
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError> {
        let params: Vec<ParameterValue> = params.iter().map(to_spin).collect();
        let result = self.connection()?.query(sql, &params).map_err(describe)?;
        result
            .rows
            .into_iter()
            .map(|row| row.into_iter().map(from_spin).collect())
            .collect()
    }
}

fn to_spin(value: &SqlValue) -> ParameterValue {
    match value {
        SqlValue::Null => ParameterValue::DbNull,
        SqlValue::Integer(number) => ParameterValue::Int64(*number),
        SqlValue::Real(number) => ParameterValue::Floating64(*number),
        SqlValue::Text(text) => ParameterValue::Str(text.clone()),
        SqlValue::Blob(bytes) => ParameterValue::Binary(bytes.clone()),
    }
}

fn from_spin(value: DbValue) -> Result<SqlValue, SqlError> {
    Ok(match value {
        DbValue::DbNull => SqlValue::Null,
        DbValue::Int64(number) => SqlValue::Integer(number),
        DbValue::Int32(number) => SqlValue::Integer(i64::from(number)),
        DbValue::Int16(number) => SqlValue::Integer(i64::from(number)),
        DbValue::Int8(number) => SqlValue::Integer(i64::from(number)),
        DbValue::Boolean(flag) => SqlValue::Integer(i64::from(flag)),
        DbValue::Floating64(number) => SqlValue::Real(number),
        DbValue::Str(text) => SqlValue::Text(text),
        DbValue::Binary(bytes) => SqlValue::Blob(bytes),
        _ => {
            return Err(SqlError(
                "a column of a type the store does not read".to_owned(),
            ));
        }
    })
}

fn describe(error: PgError) -> SqlError {
    SqlError(match error {
        PgError::ConnectionFailed(message)
        | PgError::BadParameter(message)
        | PgError::QueryFailed(message)
        | PgError::ValueConversionFailed(message)
        | PgError::Other(message) => message,
    })
}
