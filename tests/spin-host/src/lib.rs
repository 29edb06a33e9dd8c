//! A Spin-faithful host for the Spin builds of the Todo component, where the Spin CLI
//! cannot be installed. It serves a `spin.toml` application over TCP the way Spin's HTTP
//! trigger does (Spin 3.x/4.x, `crates/trigger-http`), so that tests and benchmarks of the
//! Spin builds meet what `spin up` users meet:
//! - connections served by hyper-util's `auto::Builder` (HTTP/1.1 and h2c) on a
//!   `TcpListener`, with no `TCP_NODELAY` on accepted sockets;
//! - a fresh instance per request, from one compiled component, on an engine configured as
//!   Spin's (`spin-core`: pooling allocator keeping 2 MiB of each memory resident, epoch
//!   interruption with a far deadline);
//! - the response taken when the component sets it, its body streamed after that while the
//!   component runs on;
//! - Spin's interfaces over real parts: `fermyon:spin/sqlite@2.0.0` on a SQLite file,
//!   `fermyon:spin/variables@2.0.0` and `wasi:config/store@0.2.0-draft-2024-09-27` resolving
//!   the manifest's variables on every call as Spin's provider chain does, the environment
//!   read inside `tokio::task::block_in_place` per variable ([`manifest`]),
//!   `spin:postgres/postgres@3.0.0` on real PostgreSQL connections from a pool per address
//!   (deadpool-postgres, as Spin), with Spin 4.0.2's zero-row `query` hang recorded
//!   ([`SpinRelease`], [`PostgresClients::hung_queries`]);
//! - component stdout and stderr appended to per-component log files, opened per
//!   instance, as `spin up` writes them by default;
//!
//! It also counts, for every response, whether its body was complete when the component
//! handed it over ([`Handoffs`]): deterministic, because the count is taken inside the
//! `response-outparam.set` call, while the component waits for it.

pub mod manifest;
mod postgres;
mod sqlite;
mod stdio;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{Error as HttpError, WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub use anyhow::Result;
pub use manifest::{AllowedHosts, App, Variables};
pub use postgres::PostgresClients;

/// The Spin release this host stands for, where what a component can observe differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpinRelease {
    /// SpinKube's containerd shim 0.24.
    V3_6_3,
    /// Its PostgreSQL `query` never returns when a statement yields no rows
    /// (spinframework/spin#3671, 4.0.0-4.0.2).
    V4_0_2,
}
/// The wasmtime this host runs on, for callers that compile components for it.
pub use wasmtime;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/spin@2.0.0",
        interfaces: "
            import fermyon:spin/sqlite@2.0.0;
            import fermyon:spin/variables@2.0.0;
        ",
        imports: { default: async },
        with: { "fermyon:spin/sqlite.connection": crate::sqlite::SqliteConnection },
    });
}

mod postgres_bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/spin-postgres@3.0.0",
        interfaces: "import spin:postgres/postgres@3.0.0;",
        imports: { default: async },
        with: { "spin:postgres/postgres.connection": crate::postgres::PgConnection },
    });
}

mod config_bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/config@0.2.0-draft-2024-09-27",
        interfaces: "import wasi:config/store@0.2.0-draft-2024-09-27;",
        imports: { default: async },
    });
}

use bindings::fermyon::spin::variables;
use config_bindings::wasi::config::store;

/// An engine configured as `spin up` configures its own (`spin-core`'s defaults).
pub fn engine() -> anyhow::Result<Engine> {
    const MB: usize = 1 << 20;
    let max_instances = 1_000;
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(max_instances)
        .total_memories(max_instances)
        .total_tables(2 * max_instances)
        .total_stacks(max_instances)
        .total_core_instances(4 * max_instances)
        .table_elements(100_000)
        .max_component_instance_size(10 * MB)
        .max_core_instance_size(10 * MB)
        .max_core_instances_per_component(200)
        .max_tables_per_component(64)
        .max_memories_per_component(32)
        .max_tables_per_module(2)
        .max_memories_per_module(2)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(2 * MB)
        .table_keep_resident(MB / 2);
    let mut config = wasmtime::Config::new();
    #[cfg(feature = "profiling")]
    if std::env::var_os("SPIN_HOST_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
        .epoch_interruption(true)
        .wasm_component_model(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    let engine = Engine::new(&config)?;
    // Spin's epoch ticker: deadlines are counted in 10 ms ticks.
    let weak = engine.weak();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(10));
            let Some(engine) = weak.upgrade() else { break };
            engine.increment_epoch();
        }
    });
    Ok(engine)
}

/// How many responses arrived with their body complete, and how many had more to stream.
#[derive(Debug, Default)]
pub struct Handoffs {
    complete: AtomicU64,
    streamed: AtomicU64,
}

impl Handoffs {
    /// Responses whose body was written and finished before the component handed them over.
    pub fn complete(&self) -> u64 {
        self.complete.load(Ordering::SeqCst)
    }

    /// Responses handed over before their body was complete.
    pub fn streamed(&self) -> u64 {
        self.streamed.load(Ordering::SeqCst)
    }

    /// Takes what the body holds at this instant (the component is inside `set`, so it
    /// cannot add to it), counts the response, and gives back a body that replays it.
    fn observe(
        &self,
        response: hyper::Response<HyperOutgoingBody>,
    ) -> hyper::Response<HyperOutgoingBody> {
        let (parts, mut body) = response.into_parts();
        let mut context = Context::from_waker(Waker::noop());
        let mut seen = VecDeque::new();
        let complete = loop {
            match Pin::new(&mut body).poll_frame(&mut context) {
                Poll::Ready(Some(frame)) => seen.push_back(frame),
                Poll::Ready(None) => break true,
                Poll::Pending => break false,
            }
        };
        let counter = if complete {
            &self.complete
        } else {
            &self.streamed
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let rest = (!complete).then_some(body);
        hyper::Response::from_parts(parts, Replay { seen, rest }.boxed_unsync())
    }
}

/// A body: the frames already taken, then whatever the original body still yields.
struct Replay {
    seen: VecDeque<Result<Frame<Bytes>, HttpError>>,
    rest: Option<HyperOutgoingBody>,
}

impl Body for Replay {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        if let Some(frame) = self.seen.pop_front() {
            return Poll::Ready(Some(frame));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(context),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.seen.is_empty() && self.rest.is_none()
    }
}

/// Per-request host state, as Spin keeps it.
pub struct InstanceState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: NoOutboundHttp,
    granted_databases: Arc<Vec<String>>,
    default_database: Option<PathBuf>,
    variables: Arc<Variables>,
    allowed_outbound_hosts: Arc<AllowedHosts>,
    postgres: Arc<PostgresClients>,
}

/// Outbound requests fail, as an empty `allowed_outbound_hosts` asks.
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

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl variables::Host for InstanceState {
    async fn get(&mut self, name: String) -> Result<String, variables::Error> {
        match self.variables.get(&name) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(variables::Error::Undefined(name)),
            Err(message) => Err(variables::Error::Provider(message)),
        }
    }
}

impl store::Host for InstanceState {
    async fn get(&mut self, key: String) -> Result<Option<String>, store::Error> {
        self.variables.get(&key).map_err(store::Error::Upstream)
    }

    async fn get_all(&mut self) -> Result<Vec<(String, String)>, store::Error> {
        self.variables.get_all().map_err(store::Error::Upstream)
    }
}

/// A compiled application, ready to serve.
#[derive(Clone)]
pub struct SpinHost {
    inner: Arc<Inner>,
}

struct Inner {
    pre: ProxyPre<InstanceState>,
    granted_databases: Arc<Vec<String>>,
    default_database: Option<PathBuf>,
    variables: Arc<Variables>,
    allowed_outbound_hosts: Arc<AllowedHosts>,
    postgres: Arc<PostgresClients>,
    stdio: stdio::ComponentStdio,
    handoffs: Handoffs,
}

impl SpinHost {
    /// Links `component` (compiled on `engine`, which [`engine`] makes) for `app`, as Spin
    /// `release` serves it. The database labelled `default` lives in `default_database`
    /// (`spin up` keeps it at `.spin/sqlite_db.db`), if the manifest grants it. With a
    /// `log_dir` (`spin up`'s default: `.spin/logs`), each instance appends its stdout and
    /// stderr to `{component}_stdout.txt` and `{component}_stderr.txt` there, opened per
    /// instance, and follows them to this process's own streams, as `spin up` does;
    /// without one, it writes to this process's streams alone.
    pub fn new(
        engine: &Engine,
        component: &Component,
        app: App,
        release: SpinRelease,
        default_database: Option<PathBuf>,
        log_dir: Option<PathBuf>,
    ) -> anyhow::Result<Self> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        bindings::fermyon::spin::sqlite::add_to_linker::<_, HasSelf<InstanceState>>(
            &mut linker,
            |s| s,
        )?;
        postgres_bindings::spin::postgres::postgres::add_to_linker::<_, HasSelf<InstanceState>>(
            &mut linker,
            |s| s,
        )?;
        variables::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)?;
        store::add_to_linker::<_, HasSelf<InstanceState>>(&mut linker, |s| s)?;
        let pre = ProxyPre::new(linker.instantiate_pre(component)?)?;
        let stdio = stdio::ComponentStdio::new(log_dir, &app.component_id)?;
        Ok(Self {
            inner: Arc::new(Inner {
                pre,
                postgres: Arc::new(PostgresClients::new(release)),
                stdio,
                granted_databases: Arc::new(app.sqlite_databases.clone()),
                variables: Arc::new(app.variables),
                allowed_outbound_hosts: Arc::new(app.allowed_outbound_hosts),
                default_database,
                handoffs: Handoffs::default(),
            }),
        })
    }

    /// The host's PostgreSQL clients, and what they saw.
    pub fn postgres(&self) -> &PostgresClients {
        &self.inner.postgres
    }

    /// What the host saw of each response's body when the component handed it over.
    pub fn handoffs(&self) -> &Handoffs {
        &self.inner.handoffs
    }

    /// Serves connections from `listener` until the task is dropped.
    pub async fn serve(&self, listener: TcpListener) -> anyhow::Result<()> {
        loop {
            let (stream, client) = listener.accept().await?;
            let inner = self.inner.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    inner.clone().handle(request, client)
                });
                if let Err(error) = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    eprintln!("spin-host: error serving a connection: {error:?}");
                }
            });
        }
    }
}

impl Inner {
    async fn handle(
        self: Arc<Self>,
        mut request: hyper::Request<Incoming>,
        client: SocketAddr,
    ) -> anyhow::Result<hyper::Response<HyperOutgoingBody>> {
        add_spin_headers(&mut request, client);
        let mut wasi = WasiCtx::builder();
        self.stdio.attach(&mut wasi)?;
        let mut store = Store::new(
            self.pre.engine(),
            InstanceState {
                wasi: wasi.build(),
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                hooks: NoOutboundHttp,
                granted_databases: self.granted_databases.clone(),
                default_database: self.default_database.clone(),
                variables: self.variables.clone(),
                allowed_outbound_hosts: self.allowed_outbound_hosts.clone(),
                postgres: self.postgres.clone(),
            },
        );
        // As Spin's store builder: with epoch interruption there must be some deadline.
        store.set_epoch_deadline(u64::MAX / 2);
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let observer = self.clone();
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam_from_callback(move |response| {
                let _ = sender.send(response.map(|response| observer.handoffs.observe(response)));
            })?;
        let pre = self.pre.clone();
        let guest = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => {
                // The component runs on (it may still be streaming the body).
                tokio::spawn(async move {
                    if let Ok(Err(error)) = guest.await {
                        eprintln!(
                            "spin-host: component error after the response started: {error:?}"
                        );
                    }
                });
                Ok(response)
            }
            Ok(Err(code)) => {
                eprintln!("spin-host: the component answered with an error: {code:?}");
                Ok(internal_error())
            }
            Err(_) => {
                match guest.await {
                    Ok(Err(error)) => eprintln!("spin-host: component failed: {error:?}"),
                    Err(error) => eprintln!("spin-host: component task failed: {error:?}"),
                    Ok(Ok(())) => eprintln!("spin-host: the component returned without a response"),
                }
                Ok(internal_error())
            }
        }
    }
}

/// Spin's answer when the component fails: `500`, empty.
fn internal_error() -> hyper::Response<HyperOutgoingBody> {
    let mut response = hyper::Response::new(
        http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
    response
}

/// The headers Spin adds to every request for a `/...` route.
fn add_spin_headers(request: &mut hyper::Request<Incoming>, client: SocketAddr) {
    let path = request.uri().path().to_owned();
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let full_url = format!(
        "http://{host}{}",
        request
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let pairs = [
        ("spin-full-url", full_url),
        ("spin-path-info", path),
        ("spin-matched-route", "/...".to_owned()),
        ("spin-raw-component-route", "/...".to_owned()),
        ("spin-component-route", String::new()),
        ("spin-base-path", "/".to_owned()),
        ("spin-client-addr", client.to_string()),
        ("spin-path-match-n", String::new()),
    ];
    for (name, value) in pairs {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            // After any the client sent, as Spin appends its own (trigger-http, headers.rs).
            request.headers_mut().append(name, value);
        }
    }
}
