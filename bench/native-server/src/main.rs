//! The todo core compiled natively behind a plain HTTP/1.1 server (hyper on tokio): the
//! benchmark's physical limit, the same `api::handle` and stores with no isolation and
//! no per-request instantiation. Not a way to deploy the API: it exists to be measured.
//!
//! ```sh
//! cargo run --release --manifest-path bench/native-server/Cargo.toml -- 127.0.0.1:3100 dir:/tmp/todos
//! cargo run --release --manifest-path bench/native-server/Cargo.toml -- 127.0.0.1:3100 sqlite:/tmp/todos.db
//! cargo run --release --manifest-path bench/native-server/Cargo.toml -- 127.0.0.1:3100 postgres://user@host/db
//! ```

use std::cell::RefCell;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use todo_api::api;
use todo_api::config::Config;
use todo_api::store::dir::DirStore;
use todo_api::store::sqlite::SqliteStore;
use tokio::net::TcpListener;

enum Backend {
    Dir(DirStore),
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Postgres(String),
}

thread_local! {
    /// One SQLite connection per worker thread, opened on first use.
    static SQLITE: RefCell<Option<SqliteStore<todo_api::testing::RusqliteExecutor>>> = const { RefCell::new(None) };
    /// One PostgreSQL connection per worker thread, opened on first use.
    static POSTGRES: RefCell<Option<SqliteStore<todo_api::testing::PostgresExecutor>>> = const { RefCell::new(None) };
}

impl Backend {
    fn answer(&self, config: &Config, request: http::Request<&[u8]>) -> http::Response<Vec<u8>> {
        match self {
            Self::Dir(store) => api::handle(store, config, request),
            Self::Sqlite(path) => SQLITE.with(|cell| {
                let mut cell = cell.borrow_mut();
                let store = cell
                    .get_or_insert_with(|| SqliteStore::new(todo_api::testing::RusqliteExecutor::open(path)));
                api::handle(store, config, request)
            }),
            // The `postgres` client blocks on a runtime of its own: off this one's workers.
            Self::Postgres(url) => tokio::task::block_in_place(|| {
                POSTGRES.with(|cell| {
                    let mut cell = cell.borrow_mut();
                    let store = cell.get_or_insert_with(|| {
                        SqliteStore::new(todo_api::testing::PostgresExecutor::connect(url))
                    });
                    api::handle(store, config, request)
                })
            }),
        }
    }
}

async fn serve(
    backend: Arc<Backend>,
    config: Arc<Config>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let limit = config.limits.max_body_bytes + 1;
    // A body past the limit is cut at limit + 1 bytes, which the core refuses with 413.
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::from(vec![b' '; limit]),
    };
    let request = http::Request::from_parts(parts, bytes.as_ref());
    let (parts, body) = backend.answer(&config, request).into_parts();
    Ok(Response::from_parts(parts, Full::new(Bytes::from(body))))
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let address = args.next().unwrap_or_else(|| "127.0.0.1:3100".into());
    let args_store = args.next();
    let backend = match args_store
        .as_deref()
        .and_then(|store| store.split_once(':'))
    {
        Some(("dir", path)) => Backend::Dir(DirStore::new(path)),
        Some(("sqlite", path)) => Backend::Sqlite(PathBuf::from(path)),
        Some(("postgres", _)) => Backend::Postgres(args_store.clone().unwrap_or_default()),
        _ => {
            eprintln!("usage: native_server ADDRESS dir:PATH|sqlite:PATH|postgres://URL");
            std::process::exit(2);
        }
    };
    let (backend, config) = (Arc::new(backend), Arc::new(
        // Settings as wasmtime serve's component takes them: TODO_* from the environment.
        Config::read(|name| Ok(std::env::var(todo_api::config::env_name(name)).ok()))
            .expect("valid TODO_* settings"),
    ));
    let listener = TcpListener::bind(&address).await.expect("bind");
    println!("Serving HTTP on http://{address}/");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (backend, config) = (backend.clone(), config.clone());
        tokio::spawn(async move {
            let service =
                service_fn(move |request| serve(backend.clone(), config.clone(), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
