//! `fermyon:spin/sqlite@2.0.0` as `spin up` serves it locally: the database labelled
//! `default` is a file, a connection is opened (by rusqlite) on the first statement of each
//! `open`ed handle, and statements run on tokio's blocking pool, one at a time per handle.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use wasmtime::component::Resource;

use crate::InstanceState;
use crate::bindings::fermyon::spin::sqlite;

/// An open handle: the granted file, connected on first use.
pub struct SqliteConnection {
    path: PathBuf,
    connection: OnceLock<Arc<Mutex<rusqlite::Connection>>>,
}

impl SqliteConnection {
    fn connection(&self) -> Result<Arc<Mutex<rusqlite::Connection>>, sqlite::Error> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection.clone());
        }
        let opened =
            rusqlite::Connection::open(&self.path).map_err(|e| sqlite::Error::Io(e.to_string()))?;
        Ok(self
            .connection
            .get_or_init(|| Arc::new(Mutex::new(opened)))
            .clone())
    }
}

impl sqlite::Host for InstanceState {}

impl sqlite::HostConnection for InstanceState {
    async fn open(
        &mut self,
        database: String,
    ) -> Result<Resource<SqliteConnection>, sqlite::Error> {
        if !self.granted_databases.contains(&database) {
            return Err(sqlite::Error::AccessDenied);
        }
        if database != "default" {
            return Err(sqlite::Error::NoSuchDatabase);
        }
        let path = self
            .default_database
            .clone()
            .ok_or(sqlite::Error::NoSuchDatabase)?;
        self.table
            .push(SqliteConnection {
                path,
                connection: OnceLock::new(),
            })
            .map_err(|_| sqlite::Error::InvalidConnection)
    }

    async fn execute(
        &mut self,
        connection: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<sqlite::QueryResult, sqlite::Error> {
        let connection = self
            .table
            .get(&connection)
            .map_err(|_| sqlite::Error::InvalidConnection)?
            .connection()?;
        tokio::task::spawn_blocking(move || {
            let connection = connection
                .lock()
                .map_err(|_| sqlite::Error::Io("connection poisoned".into()))?;
            run_statement(&connection, &statement, parameters)
                .map_err(|e| sqlite::Error::Io(e.to_string()))
        })
        .await
        .map_err(|e| sqlite::Error::Io(e.to_string()))?
    }

    async fn drop(&mut self, connection: Resource<SqliteConnection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

fn run_statement(
    connection: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<sqlite::Value>,
) -> rusqlite::Result<sqlite::QueryResult> {
    use rusqlite::types::{Value as Sql, ValueRef};
    let mut prepared = connection.prepare_cached(statement)?;
    let columns: Vec<String> = prepared.column_names().map(str::to_owned).collect();
    let parameters = rusqlite::params_from_iter(parameters.into_iter().map(|value| match value {
        sqlite::Value::Integer(number) => Sql::Integer(number),
        sqlite::Value::Real(number) => Sql::Real(number),
        sqlite::Value::Text(text) => Sql::Text(text),
        sqlite::Value::Blob(bytes) => Sql::Blob(bytes),
        sqlite::Value::Null => Sql::Null,
    }));
    let mut rows = prepared.query(parameters)?;
    let mut results = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(columns.len());
        for index in 0..columns.len() {
            values.push(match row.get_ref(index)? {
                ValueRef::Null => sqlite::Value::Null,
                ValueRef::Integer(number) => sqlite::Value::Integer(number),
                ValueRef::Real(number) => sqlite::Value::Real(number),
                ValueRef::Text(text) => sqlite::Value::Text(String::from_utf8_lossy(text).into()),
                ValueRef::Blob(bytes) => sqlite::Value::Blob(bytes.to_vec()),
            });
        }
        results.push(sqlite::RowResult { values });
    }
    Ok(sqlite::QueryResult {
        columns,
        rows: results,
    })
}
