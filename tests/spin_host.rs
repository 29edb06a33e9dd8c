//! The Spin builds on the Spin-faithful host in `tests/spin-host`, for what real Spin
//! (tests/spin_up.rs) cannot show: the order checks the host counts, and the behaviour of
//! the releases it stands for, 4.0.2 (its PostgreSQL `query` hang on zero rows recorded
//! and failing the test, never hanging it) and 3.6.3 (SpinKube's shim). It serves over
//! TCP as Spin's HTTP trigger serves (hyper-util's `auto::Builder`, no `TCP_NODELAY`), a
//! fresh instance per request on an engine configured as Spin's, Spin's SQLite on a real
//! file, PostgreSQL through a pool as Spin's, component output in per-component log
//! files, and the component's variables resolved from `spin.toml` itself, their templates
//! filled from the application variables' defaults or from overrides, as
//! `SPIN_VARIABLE_<NAME>` gives them to `spin up`.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::json;
use spin_host::wasmtime::Engine;
use spin_host::wasmtime::component::Component;
use spin_host::{App, SpinHost, SpinRelease};
use support::{Build, Reply, component, request_to};
use tempfile::TempDir;

/// The Spin build served by the Spin-faithful host on a free port of this process; the
/// server stops when this is dropped (with its runtime).
struct SpinServer {
    base: String,
    host: SpinHost,
    runtime: Option<tokio::runtime::Runtime>,
    logs: TempDir,
}

impl SpinServer {
    /// Serves `spin.toml`'s component with the `default` database in `database`; `None`
    /// serves it as a manifest that grants no database would.
    fn start(database: Option<PathBuf>) -> Self {
        Self::with_variables(database, &[])
    }

    /// A server whose application variables `overrides` set, as `SPIN_VARIABLE_*` would.
    fn with_variables(database: Option<PathBuf>, overrides: &[(&str, &str)]) -> Self {
        let mut app =
            load_app("spin.toml", overrides).expect("spin.toml is a manifest Spin serves");
        if database.is_none() {
            app.sqlite_databases.clear();
        }
        Self::serve(Build::Spin, app, database)
    }

    /// `spin-postgres.toml`'s component, its variables pointing at `database`, as a user
    /// gives them (`SPIN_VARIABLE_DATABASE_URL`, `SPIN_VARIABLE_DATABASE_HOST`).
    fn postgres(database: &support::postgres::Database) -> Self {
        Self::postgres_on(SpinRelease::V4_0_2, database)
    }

    /// [`SpinServer::postgres`] as Spin `release` serves it.
    fn postgres_on(release: SpinRelease, database: &support::postgres::Database) -> Self {
        let host = database.host();
        let overrides = [
            ("database_url", database.url.as_str()),
            ("database_host", &host),
        ];
        let app = load_app("spin-postgres.toml", &overrides)
            .expect("spin-postgres.toml is a manifest Spin serves");
        Self::serve_on(release, Build::SpinPostgres, app, None)
    }

    fn serve(build: Build, app: App, database: Option<PathBuf>) -> Self {
        Self::serve_on(SpinRelease::V4_0_2, build, app, database)
    }

    fn serve_on(release: SpinRelease, build: Build, app: App, database: Option<PathBuf>) -> Self {
        // Compiling a component is the slow part; like Spin, do it once and reuse it.
        static ENGINE: OnceLock<Engine> = OnceLock::new();
        static COMPILED: [OnceLock<Component>; 2] = [OnceLock::new(), OnceLock::new()];
        let engine = ENGINE.get_or_init(|| spin_host::engine().expect("engine"));
        let slot = usize::from(build == Build::SpinPostgres);
        let compiled = COMPILED[slot]
            .get_or_init(|| Component::from_file(engine, component(build)).expect("compile"));
        let logs = TempDir::new().expect("log directory");
        let host = SpinHost::new(
            engine,
            compiled,
            app,
            release,
            database,
            Some(logs.path().to_owned()),
        )
        .expect("link the Spin build");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let serving = host.clone();
        runtime.spawn(async move { serving.serve(listener).await });
        Self {
            base,
            host,
            runtime: Some(runtime),
            logs,
        }
    }

    /// One request; fails the test if it made a PostgreSQL `query` that would have hung
    /// on the Spin release the host stands for.
    fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let reply = request_to(&self.base, method, path, headers, body)
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        self.assert_nothing_hung(&format!("{method} {path}"));
        reply
    }

    fn assert_nothing_hung(&self, after: &str) {
        let hung = self.host.postgres().hung_queries();
        assert!(
            hung.is_empty(),
            "{after}: on Spin 4.0.2 these queries never return (spin#3671): {hung:#?}"
        );
    }

    /// What the component wrote to stdout, from its log file.
    fn stdout_log(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("todo-api_stdout.txt")).unwrap_or_default()
    }
}

impl Drop for SpinServer {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        if !std::thread::panicking() {
            self.assert_nothing_hung("at the end");
        }
    }
}

/// A manifest as Spin reads it, with application variables set by `overrides`.
fn load_app(manifest: &str, overrides: &[(&str, &str)]) -> spin_host::Result<App> {
    let overrides: Vec<(String, String)> = overrides
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    App::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join(manifest),
        &overrides,
        false,
    )
}

const JSON: (&str, &str) = ("content-type", "application/json");

fn database_file(dir: &Path) -> PathBuf {
    dir.join("sqlite_db.db")
}

#[test]
fn the_spin_build_serves_the_seed_flow_from_spin_sqlite() {
    let dir = TempDir::new().unwrap();
    let host = SpinServer::start(Some(database_file(dir.path())));
    let body = json!({"title": "Walk the dog", "dueBy": "2026-12-24"}).to_string();
    let created = host.call("POST", "/todos", &[JSON], body.as_bytes());
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(created.header("location"), Some("/todos/1"));
    let expected =
        json!({"id": 1, "title": "Walk the dog", "dueBy": "2026-12-24", "isComplete": false});
    assert_eq!(created.json(), expected);
    assert_eq!(host.call("GET", "/todos/1", &[], b"").json(), expected);
    assert_eq!(
        host.call("GET", "/todos", &[], b"").json(),
        json!([expected])
    );
    // The todo is in Spin's database file, in the schema the component created.
    let db = rusqlite::Connection::open(database_file(dir.path())).unwrap();
    let title: String = db
        .query_row("SELECT title FROM todos WHERE id = 1", [], |row| row.get(0))
        .unwrap();
    assert_eq!(title, "Walk the dog");
}

#[test]
fn the_spin_build_writes_conditionally_and_never_reuses_ids() {
    let dir = TempDir::new().unwrap();
    let host = SpinServer::start(Some(database_file(dir.path())));
    for title in ["a", "b"] {
        let body = json!({"title": title}).to_string();
        assert_eq!(
            host.call("POST", "/todos", &[JSON], body.as_bytes()).status,
            201
        );
    }
    let stale = [JSON, ("if-match", "\"7\"")];
    assert_eq!(
        host.call("PUT", "/todos/2", &stale, br#"{"title":"x"}"#)
            .status,
        412
    );
    let fresh = [
        ("content-type", "application/merge-patch+json"),
        ("if-match", "\"1\""),
    ];
    let patched = host.call("PATCH", "/todos/2", &fresh, br#"{"isComplete":true}"#);
    assert_eq!(
        patched.json(),
        json!({"id": 2, "title": "b", "dueBy": null, "isComplete": true})
    );
    assert_eq!(patched.header("etag"), Some("\"2\""));
    assert_eq!(host.call("DELETE", "/todos/2", &[], b"").status, 204);
    // A new host on the same file: data kept, and id 2 is not handed out again.
    let restarted = SpinServer::start(Some(database_file(dir.path())));
    let listed = restarted.call("GET", "/todos?isComplete=false", &[], b"");
    assert_eq!(listed.header("x-total-count"), Some("1"));
    let next = restarted.call("POST", "/todos", &[JSON], br#"{"title":"c"}"#);
    assert_eq!(next.json()["id"], 3);
}

#[test]
fn concurrent_creates_on_the_spin_build_get_unique_ids() {
    let dir = TempDir::new().unwrap();
    let host = Arc::new(SpinServer::start(Some(database_file(dir.path()))));
    assert_eq!(
        forty_concurrent_creates(&host),
        (1..=40).collect::<Vec<_>>()
    );
}

/// Forty clients create a todo each at once; the ids they are given, sorted.
fn forty_concurrent_creates(host: &Arc<SpinServer>) -> Vec<i64> {
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let host = host.clone();
            std::thread::spawn(move || {
                let body = json!({"title": format!("client {n}")}).to_string();
                let reply = host.call("POST", "/todos", &[JSON], body.as_bytes());
                assert_eq!(
                    reply.status,
                    201,
                    "{}",
                    String::from_utf8_lossy(&reply.body)
                );
                reply.json()["id"].as_i64().unwrap()
            })
        })
        .collect();
    let mut ids: Vec<i64> = tasks.into_iter().map(|task| task.join().unwrap()).collect();
    ids.sort_unstable();
    ids
}

// ---------------------------------------------------------------------------------------
// The PostgreSQL build (spin-postgres.toml), on the private server `make test` starts

#[test]
fn the_postgres_build_serves_the_seed_flow_and_keeps_todos_across_restarts() {
    let database = support::postgres::Database::create();
    let host = SpinServer::postgres(&database);
    let body = json!({"title": "Walk the dog", "dueBy": "2026-12-24"}).to_string();
    let created = host.call("POST", "/todos", &[JSON], body.as_bytes());
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(created.header("location"), Some("/todos/1"));
    let expected =
        json!({"id": 1, "title": "Walk the dog", "dueBy": "2026-12-24", "isComplete": false});
    assert_eq!(host.call("GET", "/todos/1", &[], b"").json(), expected);
    let tag = created.header("etag").unwrap().to_owned();
    let stale = host.call(
        "PATCH",
        "/todos/1",
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", "\"9\""),
        ],
        b"{}",
    );
    assert!(stale.is_problem(412));
    let deleted = host.call("DELETE", "/todos/1", &[("if-match", &tag)], b"");
    assert_eq!(deleted.status, 204);
    drop(host);
    // A new host (a restarted replica) finds what the first one wrote, and a new id.
    let restarted = SpinServer::postgres(&database);
    assert!(restarted.call("GET", "/todos/1", &[], b"").is_problem(404));
    let again = restarted.call("POST", "/todos", &[JSON], body.as_bytes());
    assert_eq!(again.header("location"), Some("/todos/2"));
    assert_eq!(restarted.call("GET", "/readyz", &[], b"").status, 200);
    // The rows are in PostgreSQL, in the schema the component created.
    let mut client = postgres::Client::connect(&database.url, postgres::NoTls).unwrap();
    let title: String = client
        .query_one("SELECT title FROM todos WHERE id = 2", &[])
        .unwrap()
        .get(0);
    assert_eq!(title, "Walk the dog");
}

#[test]
fn forty_concurrent_creates_on_the_postgres_build_get_unique_ids() {
    let database = support::postgres::Database::create();
    let host = Arc::new(SpinServer::postgres(&database));
    // All forty on an empty database: each instance that finds no schema migrates, one
    // after the other under the advisory lock.
    let mut ids = forty_concurrent_creates(&host);
    ids.dedup();
    assert_eq!(ids.len(), 40);
    let listed = host.call("GET", "/todos?pageSize=100", &[], b"");
    assert_eq!(listed.header("x-total-count"), Some("40"));
}

#[test]
fn http_semantics_hold_on_the_postgres_build() {
    let database = support::postgres::Database::create();
    let host = SpinServer::postgres(&database);
    support::semantics::check(|method, path, headers, body| host.call(method, path, headers, body));
}

/// SpinKube's shim runs Spin 3.6.3, whose `query` returns on zero rows: the same suite
/// holds there.
#[test]
fn http_semantics_hold_on_the_postgres_build_under_spin_3_6_3() {
    let database = support::postgres::Database::create();
    let host = SpinServer::postgres_on(SpinRelease::V3_6_3, &database);
    support::semantics::check(|method, path, headers, body| host.call(method, path, headers, body));
}

/// The host in its 4.0.2 behaviour turns a zero-row `query` into a failure, whatever the
/// component answers: a statement that matches nothing, sent as the store once sent its
/// readiness probe, fails the test that sent it.
#[test]
fn a_zero_row_query_fails_the_test_on_spin_4_0_2_and_passes_on_3_6_3() {
    let database = support::postgres::Database::create();
    for (release, hangs) in [(SpinRelease::V4_0_2, true), (SpinRelease::V3_6_3, false)] {
        let host = SpinServer::postgres_on(release, &database);
        assert_eq!(host.call("GET", "/readyz", &[], b"").status, 200);
        let clients = spin_host::PostgresClients::new(release);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let answer = runtime.block_on(clients.query(&database.url, "SELECT 1 WHERE false"));
        assert_eq!(answer.is_err(), hangs, "{release:?}: {answer:?}");
        assert_eq!(
            clients.hung_queries().len(),
            usize::from(hangs),
            "{release:?}"
        );
    }
}

/// As `spin up` by default: the component's output goes to its log file.
#[test]
fn the_spin_build_logs_each_request_to_its_component_log_file() {
    let dir = TempDir::new().unwrap();
    let host = SpinServer::start(Some(database_file(dir.path())));
    assert_eq!(host.call("GET", "/todos", &[], b"").status, 200);
    assert!(
        host.stdout_log().contains("GET /todos 200"),
        "{}",
        host.stdout_log()
    );
}

#[test]
fn without_its_database_url_the_postgres_build_is_live_but_not_ready() {
    let app = load_app(
        "spin-postgres.toml",
        &[("database_url", ""), ("database_host", "127.0.0.1:1")],
    )
    .unwrap();
    let host = SpinServer::serve(Build::SpinPostgres, app, None);
    assert_eq!(host.call("GET", "/healthz", &[], b"").status, 200);
    let unready = host.call("GET", "/readyz", &[], b"");
    assert!(unready.is_problem(503));
    assert!(!String::from_utf8_lossy(&unready.body).contains("database_url"));
}

#[test]
fn the_postgres_build_reaches_only_the_host_its_manifest_allows() {
    let database = support::postgres::Database::create();
    // database_host names another port than database_url's: allowed_outbound_hosts (from
    // database_host) does not admit the database, so the host refuses the connection.
    let app = load_app(
        "spin-postgres.toml",
        &[
            ("database_url", &database.url),
            ("database_host", "127.0.0.1:1"),
        ],
    )
    .unwrap();
    let host = SpinServer::serve(Build::SpinPostgres, app, None);
    assert_eq!(host.call("GET", "/healthz", &[], b"").status, 200);
    let unready = host.call("GET", "/readyz", &[], b"");
    assert!(unready.is_problem(503));
    let refused = host.call("POST", "/todos", &[JSON], br#"{"title":"a"}"#);
    assert!(refused.is_problem(503));
    let body = String::from_utf8_lossy(&refused.body);
    assert!(
        !body.contains("permitted") && !body.contains("127.0.0.1"),
        "{body}"
    );
}

#[test]
fn http_semantics_hold_on_the_spin_build() {
    let dir = TempDir::new().unwrap();
    let host = SpinServer::start(Some(database_file(dir.path())));
    support::semantics::check(|method, path, headers, body| host.call(method, path, headers, body));
}

#[test]
fn without_a_granted_database_the_spin_build_is_live_but_not_ready() {
    let host = SpinServer::start(None);
    assert_eq!(host.call("GET", "/healthz", &[], b"").status, 200);
    let ready = host.call("GET", "/readyz", &[], b"");
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.header("content-type"),
        Some("application/problem+json")
    );
    let refused = host.call("POST", "/todos", &[JSON], br#"{"title":"a"}"#);
    assert_eq!(refused.status, 503);
}

#[test]
fn spin_toml_declares_and_binds_every_setting() {
    let variables = load_app("spin.toml", &[])
        .unwrap()
        .variables
        .get_all()
        .unwrap();
    for setting in todo_api::config::SETTINGS {
        assert_eq!(
            variables
                .iter()
                .find(|(name, _)| name == setting)
                .map(|(_, value)| value.as_str()),
            Some(""),
            "{setting} must be a component variable defaulting to empty (unset)"
        );
    }
    assert_eq!(variables.len(), todo_api::config::SETTINGS.len());
    // The PostgreSQL build's manifest: the same settings, and the database's address.
    let overrides = [
        ("database_url", "postgres://u@h:1/d"),
        ("database_host", "h:1"),
    ];
    let variables = load_app("spin-postgres.toml", &overrides)
        .unwrap()
        .variables
        .get_all()
        .unwrap();
    for setting in todo_api::config::SETTINGS {
        let value = variables.iter().find(|(name, _)| name == setting);
        assert_eq!(
            value.map(|(_, v)| v.as_str()),
            Some(""),
            "spin-postgres.toml: {setting}"
        );
    }
    let url = variables.iter().find(|(name, _)| name == "database_url");
    assert_eq!(url.map(|(_, v)| v.as_str()), Some("postgres://u@h:1/d"));
    assert_eq!(variables.len(), todo_api::config::SETTINGS.len() + 1);
}

#[test]
fn spin_variables_configure_cors_and_bearer_tokens() {
    let dir = TempDir::new().unwrap();
    let host = SpinServer::with_variables(
        Some(database_file(dir.path())),
        &[
            ("jwt_hs256_secret", todo_api::testing::tokens::SECRET),
            ("jwt_write_scope", "todos:write"),
            ("cors_allowed_origins", "https://app.example.com"),
        ],
    );
    let origin = ("origin", "https://app.example.com");
    let refused = host.call("POST", "/todos", &[JSON, origin], br#"{"title":"a"}"#);
    assert!(refused.is_problem(401));
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let claims = json!({"exp": todo_api::testing::tokens::now() + 600, "scope": "todos:write"});
    let bearer = format!(
        "Bearer {}",
        todo_api::testing::tokens::hs256(todo_api::testing::tokens::SECRET.as_bytes(), &claims)
    );
    let created = host.call(
        "POST",
        "/todos",
        &[JSON, ("authorization", &bearer)],
        br#"{"title":"a"}"#,
    );
    assert_eq!(created.status, 201);
    let preflight = host.call(
        "OPTIONS",
        "/todos/1",
        &[origin, ("access-control-request-method", "DELETE")],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET, PUT, PATCH, DELETE")
    );
}

#[test]
fn an_invalid_spin_variable_answers_500_wherever_it_is_read_and_readiness_reads_all() {
    let host = SpinServer::with_variables(None, &[("max_body_bytes", "a lot")]);
    // Liveness reads no setting; a write reads the limits; readiness reads every one.
    assert_eq!(host.call("GET", "/healthz", &[], b"").status, 200);
    for (method, path) in [("POST", "/todos"), ("GET", "/readyz")] {
        let reply = host.call(method, path, &[JSON], br#"{"title":"x"}"#);
        assert!(reply.is_problem(500), "{method} {path}");
        assert!(
            reply.json()["detail"]
                .as_str()
                .unwrap()
                .contains("max_body_bytes")
        );
    }
}

// ---------------------------------------------------------------------------------------
// Every answer leaves complete

/// A request (method, path, headers, body) and the status it must get.
type Exchange<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a [u8], u16);

/// The answers a client can meet, one of each kind: plain text, JSON, the OpenAPI
/// document, created, listed, changed, deleted (no content), not modified, problems, a
/// preflight. Each must reach the host with its body written and finished, and carry
/// `Content-Length` (204 and 304 carry none), so that a server without `TCP_NODELAY`
/// sends it in one go instead of holding its tail for the client's delayed ACK.
#[test]
fn every_answer_is_complete_when_the_component_hands_it_over() {
    let dir = TempDir::new().unwrap();
    let server = SpinServer::with_variables(
        Some(database_file(dir.path())),
        &[("cors_allowed_origins", "https://app.example.com")],
    );
    let merge = ("content-type", "application/merge-patch+json");
    let requests: &[Exchange] = &[
        ("GET", "/healthz", &[], b"", 200),
        ("GET", "/readyz", &[], b"", 200),
        ("GET", "/openapi.json", &[], b"", 200),
        ("POST", "/todos", &[JSON], br#"{"title":"a"}"#, 201),
        ("GET", "/todos/1", &[], b"", 200),
        ("GET", "/todos/1", &[("if-none-match", "\"1\"")], b"", 304),
        ("GET", "/todos", &[], b"", 200),
        ("PUT", "/todos/1", &[JSON], br#"{"title":"b"}"#, 200),
        (
            "PATCH",
            "/todos/1",
            &[merge, ("if-match", "\"9\"")],
            b"{}",
            412,
        ),
        ("POST", "/todos", &[JSON], br#"{"title":""}"#, 400),
        (
            "POST",
            "/todos",
            &[("content-type", "text/plain")],
            b"a",
            415,
        ),
        ("GET", "/todos/99", &[], b"", 404),
        ("PUT", "/todos", &[JSON], b"{}", 405),
        (
            "OPTIONS",
            "/todos",
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "POST"),
            ],
            b"",
            204,
        ),
        ("DELETE", "/todos/1", &[], b"", 204),
    ];
    for (method, path, headers, body, status) in requests {
        let reply = server.call(method, path, headers, body);
        assert_eq!(reply.status, *status, "{method} {path}");
        assert_eq!(reply.header("transfer-encoding"), None, "{method} {path}");
        let length = reply.header("content-length");
        if matches!(status, 204 | 304) {
            assert_eq!(length, None, "{method} {path}");
        } else {
            assert_eq!(
                length,
                Some(reply.body.len().to_string().as_str()),
                "{method} {path}"
            );
        }
    }
    let handoffs = server.host.handoffs();
    assert_eq!(
        handoffs.streamed(),
        0,
        "answers handed over before their body was done"
    );
    assert_eq!(handoffs.complete(), requests.len() as u64);
}

/// An answer larger than the host buffers before anyone reads is handed over first and
/// streamed after: it must arrive whole, never wait on itself.
#[test]
fn the_largest_page_the_api_gives_arrives_whole() {
    let dir = TempDir::new().unwrap();
    let database = database_file(dir.path());
    let store = todo_api::store::sqlite::SqliteStore::new(
        todo_api::testing::RusqliteExecutor::open(&database),
    );
    store.migrate().unwrap();
    support::largest_page::seed(&store);
    let server = SpinServer::with_variables(
        Some(database),
        &[("max_title_length", support::largest_page::MAX_TITLE_LENGTH)],
    );
    let reply = server.call("GET", support::largest_page::PATH, &[], b"");
    support::largest_page::assert_whole(&reply);
    assert_eq!(server.host.handoffs().streamed(), 1);
}
