//! The Spin build, run the way Spin runs it. The Spin CLI cannot be installed where these
//! tests run, so this file embeds what Spin is made of: wasmtime, instantiating the component
//! for every request and calling its `wasi:http/incoming-handler`, with Spin's
//! `fermyon:spin/sqlite@2.0.0` interface served from a real SQLite file (rusqlite, as Spin's
//! local database is). Only the database labelled `default` is granted, as `spin.toml` asks.
//! `fermyon:spin/variables@2.0.0` answers from `spin.toml` itself: the component's
//! variables, their templates resolved against the application variables' defaults or
//! against overrides, as `SPIN_VARIABLE_<NAME>` gives them to `spin up`.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use support::{Build, Reply, component};
use tempfile::TempDir;
use wasmtime::component::{Component, HasSelf, Linker, Resource, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::{Error as HttpError, WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

wasmtime::component::bindgen!({
    path: "wit/deps/spin@2.0.0",
    interfaces: "
        import fermyon:spin/sqlite@2.0.0;
        import fermyon:spin/variables@2.0.0;
    ",
    with: { "fermyon:spin/sqlite.connection": SqliteConnection },
});

use fermyon::spin::{sqlite, variables};

/// An open connection to the granted database.
pub struct SqliteConnection(rusqlite::Connection);

/// Per-request host state, as Spin keeps it.
struct Instance {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: NoOutboundHttp,
    /// The file behind the `default` database, if the component is granted one.
    database: Option<PathBuf>,
    /// The component's variables, resolved.
    variables: Arc<HashMap<String, String>>,
}

/// wasi:http's default behaviour; outbound requests fail, as `allowed_outbound_hosts = []` asks.
struct NoOutboundHttp;

type OutgoingFuture = Box<
    dyn std::future::Future<
            Output = Result<
                (
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl wasmtime_wasi_http::WasiHttpHooks for NoOutboundHttp {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _body_sent: Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>,
    ) -> OutgoingFuture {
        Box::new(async { Err(HttpError::HttpRequestDenied) })
    }
}

impl WasiView for Instance {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Instance {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl sqlite::Host for Instance {}

impl sqlite::HostConnection for Instance {
    fn open(&mut self, database: String) -> Result<Resource<SqliteConnection>, sqlite::Error> {
        if database != "default" {
            return Err(sqlite::Error::NoSuchDatabase);
        }
        let path = self.database.as_ref().ok_or(sqlite::Error::AccessDenied)?;
        let connection =
            rusqlite::Connection::open(path).map_err(|e| sqlite::Error::Io(e.to_string()))?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| sqlite::Error::Io(e.to_string()))?;
        self.table
            .push(SqliteConnection(connection))
            .map_err(|_| sqlite::Error::InvalidConnection)
    }

    fn execute(
        &mut self,
        connection: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<sqlite::QueryResult, sqlite::Error> {
        let connection = &self
            .table
            .get(&connection)
            .map_err(|_| sqlite::Error::InvalidConnection)?
            .0;
        run_statement(connection, &statement, parameters)
            .map_err(|error| sqlite::Error::Io(error.to_string()))
    }

    fn drop(&mut self, connection: Resource<SqliteConnection>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

impl variables::Host for Instance {
    fn get(&mut self, name: String) -> Result<String, variables::Error> {
        self.variables
            .get(&name)
            .cloned()
            .ok_or(variables::Error::Undefined(name))
    }
}

/// The component's variables as Spin resolves them from `spin.toml`: each
/// `[component.todo-api.variables]` entry's `{{ name }}` template filled with the
/// application variable `name`, from `overrides` (what `SPIN_VARIABLE_NAME` sets) or
/// else its default. Panics where Spin would refuse the manifest.
fn resolve_variables(overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let manifest: toml::Table =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("spin.toml"))
            .expect("read spin.toml")
            .parse()
            .expect("spin.toml is TOML");
    let application = manifest["variables"].as_table().expect("[variables]");
    let component = manifest["component"]["todo-api"]["variables"]
        .as_table()
        .expect("[component.todo-api.variables]");
    component
        .iter()
        .map(|(name, template)| {
            let template = template.as_str().expect("variable templates are strings");
            let source = template
                .strip_prefix("{{")
                .and_then(|rest| rest.strip_suffix("}}"))
                .map(str::trim)
                .unwrap_or_else(|| panic!("{name}: expected a {{{{ variable }}}} template"));
            let declared = application[source]
                .as_table()
                .unwrap_or_else(|| panic!("{source} is not declared in [variables]"));
            let value = overrides
                .iter()
                .find(|(key, _)| *key == source)
                .map(|(_, value)| (*value).to_owned())
                .or_else(|| {
                    declared
                        .get("default")
                        .and_then(|d| d.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| panic!("{source} is required and not set"));
            (name.clone(), value)
        })
        .collect()
}

fn run_statement(
    connection: &rusqlite::Connection,
    statement: &str,
    parameters: Vec<sqlite::Value>,
) -> rusqlite::Result<sqlite::QueryResult> {
    use rusqlite::types::{Value as Sql, ValueRef};
    let mut prepared = connection.prepare(statement)?;
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

/// The Spin build, compiled once, ready to instantiate per request.
struct SpinHost {
    pre: ProxyPre<Instance>,
    database: Option<PathBuf>,
    variables: Arc<HashMap<String, String>>,
}

impl SpinHost {
    fn new(database: Option<PathBuf>) -> Self {
        Self::with_variables(database, &[])
    }

    /// A host whose application variables `overrides` set, as `SPIN_VARIABLE_*` would.
    fn with_variables(database: Option<PathBuf>, overrides: &[(&str, &str)]) -> Self {
        // Compiling the component is the slow part; like Spin, do it once and reuse it.
        static COMPILED: OnceLock<(Engine, Component)> = OnceLock::new();
        let (engine, component) = COMPILED.get_or_init(|| {
            let engine = Engine::new(&Config::new()).expect("engine");
            let component = Component::from_file(&engine, component(Build::Spin)).expect("compile");
            (engine, component)
        });
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("link wasi");
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).expect("link http");
        sqlite::add_to_linker::<Instance, HasSelf<Instance>>(&mut linker, |state| state)
            .expect("link sqlite");
        variables::add_to_linker::<Instance, HasSelf<Instance>>(&mut linker, |state| state)
            .expect("link variables");
        let pre = ProxyPre::new(linker.instantiate_pre(component).expect("instantiate_pre"))
            .expect("the component exports wasi:http/incoming-handler");
        Self {
            pre,
            database,
            variables: Arc::new(resolve_variables(overrides)),
        }
    }

    /// Serves one request in a fresh instance, as Spin does.
    async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let mut store = Store::new(
            self.pre.engine(),
            Instance {
                wasi: WasiCtx::builder().inherit_stdio().build(),
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                hooks: NoOutboundHttp,
                database: self.database.clone(),
                variables: self.variables.clone(),
            },
        );
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://localhost{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(
                Full::new(Bytes::copy_from_slice(body))
                    .map_err(|never| -> ErrorCode { match never {} }),
            )
            .expect("request");
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .expect("incoming request");
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .expect("response outparam");
        let pre = self.pre.clone();
        let task = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
        });
        let response = receiver
            .await
            .expect("the component set a response")
            .expect("the response is not an error");
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes()
            .to_vec();
        task.await
            .expect("join")
            .expect("the handler returned without trapping");
        Reply {
            status,
            headers,
            body,
        }
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");

fn database_file(dir: &Path) -> PathBuf {
    dir.join("sqlite_db.db")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spin_build_serves_the_seed_flow_from_spin_sqlite() {
    let dir = TempDir::new().unwrap();
    let host = SpinHost::new(Some(database_file(dir.path())));
    let body = json!({"title": "Walk the dog", "dueBy": "2026-12-24"}).to_string();
    let created = host.call("POST", "/todos", &[JSON], body.as_bytes()).await;
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
    assert_eq!(
        host.call("GET", "/todos/1", &[], b"").await.json(),
        expected
    );
    assert_eq!(
        host.call("GET", "/todos", &[], b"").await.json(),
        json!([expected])
    );
    // The todo is in Spin's database file, in the schema the component created.
    let db = rusqlite::Connection::open(database_file(dir.path())).unwrap();
    let title: String = db
        .query_row("SELECT title FROM todos WHERE id = 1", [], |row| row.get(0))
        .unwrap();
    assert_eq!(title, "Walk the dog");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spin_build_writes_conditionally_and_never_reuses_ids() {
    let dir = TempDir::new().unwrap();
    let host = SpinHost::new(Some(database_file(dir.path())));
    for title in ["a", "b"] {
        let body = json!({"title": title}).to_string();
        assert_eq!(
            host.call("POST", "/todos", &[JSON], body.as_bytes())
                .await
                .status,
            201
        );
    }
    let stale = [JSON, ("if-match", "\"7\"")];
    assert_eq!(
        host.call("PUT", "/todos/2", &stale, br#"{"title":"x"}"#)
            .await
            .status,
        412
    );
    let fresh = [
        ("content-type", "application/merge-patch+json"),
        ("if-match", "\"1\""),
    ];
    let patched = host
        .call("PATCH", "/todos/2", &fresh, br#"{"isComplete":true}"#)
        .await;
    assert_eq!(
        patched.json(),
        json!({"id": 2, "title": "b", "dueBy": null, "isComplete": true})
    );
    assert_eq!(patched.header("etag"), Some("\"2\""));
    assert_eq!(host.call("DELETE", "/todos/2", &[], b"").await.status, 204);
    // A new host on the same file: data kept, and id 2 is not handed out again.
    let restarted = SpinHost::new(Some(database_file(dir.path())));
    let listed = restarted
        .call("GET", "/todos?isComplete=false", &[], b"")
        .await;
    assert_eq!(listed.header("x-total-count"), Some("1"));
    let next = restarted
        .call("POST", "/todos", &[JSON], br#"{"title":"c"}"#)
        .await;
    assert_eq!(next.json()["id"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_on_the_spin_build_get_unique_ids() {
    let dir = TempDir::new().unwrap();
    let host = Arc::new(SpinHost::new(Some(database_file(dir.path()))));
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let host = host.clone();
            tokio::spawn(async move {
                let body = json!({"title": format!("client {n}")}).to_string();
                let reply = host.call("POST", "/todos", &[JSON], body.as_bytes()).await;
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
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=40).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_granted_database_the_spin_build_is_live_but_not_ready() {
    let host = SpinHost::new(None);
    assert_eq!(host.call("GET", "/healthz", &[], b"").await.status, 200);
    let ready = host.call("GET", "/readyz", &[], b"").await;
    assert_eq!(ready.status, 503);
    assert_eq!(
        ready.header("content-type"),
        Some("application/problem+json")
    );
    let refused = host
        .call("POST", "/todos", &[JSON], br#"{"title":"a"}"#)
        .await;
    assert_eq!(refused.status, 503);
}

#[test]
fn spin_toml_declares_and_binds_every_setting() {
    let variables = resolve_variables(&[]);
    for setting in todo_api::config::SETTINGS {
        assert_eq!(
            variables.get(*setting).map(String::as_str),
            Some(""),
            "{setting} must be a component variable defaulting to empty (unset)"
        );
    }
    assert_eq!(variables.len(), todo_api::config::SETTINGS.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spin_variables_configure_cors_and_bearer_tokens() {
    let dir = TempDir::new().unwrap();
    let host = SpinHost::with_variables(
        Some(database_file(dir.path())),
        &[
            ("jwt_hs256_secret", support::tokens::SECRET),
            ("jwt_write_scope", "todos:write"),
            ("cors_allowed_origins", "https://app.example.com"),
        ],
    );
    let origin = ("origin", "https://app.example.com");
    let refused = host
        .call("POST", "/todos", &[JSON, origin], br#"{"title":"a"}"#)
        .await;
    assert!(refused.is_problem(401));
    assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let claims = json!({"exp": support::tokens::now() + 600, "scope": "todos:write"});
    let bearer = format!(
        "Bearer {}",
        support::tokens::hs256(support::tokens::SECRET.as_bytes(), &claims)
    );
    let created = host
        .call(
            "POST",
            "/todos",
            &[JSON, ("authorization", &bearer)],
            br#"{"title":"a"}"#,
        )
        .await;
    assert_eq!(created.status, 201);
    let preflight = host
        .call(
            "OPTIONS",
            "/todos/1",
            &[origin, ("access-control-request-method", "DELETE")],
            b"",
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET, PUT, PATCH, DELETE")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_spin_variable_answers_500_on_every_request() {
    let host = SpinHost::with_variables(None, &[("max_body_bytes", "a lot")]);
    for path in ["/healthz", "/todos"] {
        let reply = host.call("GET", path, &[], b"").await;
        assert!(reply.is_problem(500), "{path}");
        assert!(
            reply.json()["detail"]
                .as_str()
                .unwrap()
                .contains("max_body_bytes")
        );
    }
}
