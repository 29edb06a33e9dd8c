//! The SQL executor over Spin's SQLite (`fermyon:spin/sqlite@2.0.0`, offered by Spin 2 and
//! later, Fermyon Cloud and SpinKube). The connection opens on first use, once per request.

use std::cell::OnceCell;

use spin_sdk::sqlite::{Connection, Error, Value};

use crate::store::sqlite::{SqlError, SqlExecutor, SqlValue};

pub struct SpinSqlite {
    connection: OnceCell<Connection>,
}

impl SpinSqlite {
    /// The database labelled `default`, granted by `sqlite_databases = ["default"]`.
    pub fn default_database() -> Self {
        Self {
            connection: OnceCell::new(),
        }
    }

    fn connection(&self) -> Result<&Connection, SqlError> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection);
        }
        let connection = Connection::open_default().map_err(describe)?;
        Ok(self.connection.get_or_init(|| connection))
    }
}

impl SqlExecutor for SpinSqlite {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), SqlError> {
        self.query(sql, params).map(drop)
    }

    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError> {
        let params: Vec<Value> = params.iter().map(to_spin).collect();
        let result = self.connection()?.execute(sql, &params).map_err(describe)?;
        Ok(result
            .rows
            .into_iter()
            .map(|row| row.values.into_iter().map(from_spin).collect())
            .collect())
    }
}

fn to_spin(value: &SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(number) => Value::Integer(*number),
        SqlValue::Real(number) => Value::Real(*number),
        SqlValue::Text(text) => Value::Text(text.clone()),
        SqlValue::Blob(bytes) => Value::Blob(bytes.clone()),
    }
}

fn from_spin(value: Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Integer(number) => SqlValue::Integer(number),
        Value::Real(number) => SqlValue::Real(number),
        Value::Text(text) => SqlValue::Text(text),
        Value::Blob(bytes) => SqlValue::Blob(bytes),
    }
}

fn describe(error: Error) -> SqlError {
    SqlError(match error {
        Error::Io(message) => message,
        other => format!("{other:?}"),
    })
}
