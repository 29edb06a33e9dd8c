//! A real PostgreSQL for the tests: the private server `make test` starts
//! (`tests/postgres.sh`), named by `TODO_TEST_POSTGRES_URL`, and a database of its own per
//! test; the store reaches it through `todo_api::testing::PostgresExecutor`.

use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::{Client, NoTls};
#[allow(unused_imports)] // Not every test binary reaches PostgreSQL.
pub use todo_api::testing::PostgresExecutor;

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
