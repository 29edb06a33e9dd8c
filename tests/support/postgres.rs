//! The SQL store's executor seam over the `postgres` client, so native tests run the very
//! SQL the PostgreSQL Spin build runs, on a real server: the private one `make test`
//! starts (`tests/postgres.sh`), named by `TODO_TEST_POSTGRES_URL`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};
use todo_api::store::sql::{
    Dialect, Rows, SqlError, SqlExecutor, SqlValue, Statement, run_transaction,
};

/// The server the tests run on. Every PostgreSQL test needs one: without it they fail
/// and say how to get one, rather than pass having tested nothing.
pub fn server_url() -> String {
    std::env::var("TODO_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "TODO_TEST_POSTGRES_URL is not set: run `make test`, or start a server with \
             `tests/postgres.sh start` and export what it prints"
        )
    })
}

/// A database of its own on the test server, created empty, named by `url`.
pub struct Database {
    pub url: String,
}

impl Database {
    pub fn create() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let server = server_url();
        let name = format!(
            "todo_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = Client::connect(&server, NoTls).expect("connect to the test server");
        for statement in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .batch_execute(&statement)
                .expect("create a test database");
        }
        let url = match server.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("TODO_TEST_POSTGRES_URL must name a database: {server}"),
        };
        Self { url }
    }

    /// The server's `host:port`: what `database_host` (the manifest's
    /// `allowed_outbound_hosts`) must name for the Spin build to reach this database.
    pub fn host(&self) -> String {
        self.url
            .split_once('@')
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(host, _)| host.to_owned())
            .expect("a postgres://user@host:port/name URL")
    }
}

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

/// A statement run as Spin's `query` runs it. One that yields no rows fails the test: on
/// Spin 4.0.0-4.0.2 it would never return.
fn query_on(client: &mut Client, sql: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
    let values = parameters(params);
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|value| value.as_ref()).collect();
    let rows = client.query(sql, &refs).map_err(fail)?;
    assert!(
        !rows.is_empty(),
        "{}",
        todo_api::testing::zero_row_query(sql)
    );
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
