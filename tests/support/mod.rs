//! Test support shared by the integration tests: the real parts they run on (what other
//! code shares too is in `todo_api::testing`).
//! - [`postgres`], [`libsql`]: the SQL store on a real PostgreSQL and a real sqld;
//! - [`component`]: builds a component in release mode, once per test binary;
//! - [`Server`]: a `wasmtime serve` process on a free port, stopped when dropped;
//! - [`native`]: requests for the core called directly, and checks on its answers;
#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub mod black_box;
pub mod libsql;
pub mod nginx;
pub mod postgres;
pub mod semantics;
pub mod spin;

/// The builds of the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// WASI only, data in a directory: what `make serve` runs under `wasmtime serve`.
    Portable,
    /// Spin's SQLite: what `spin build` produces.
    Spin,
    /// Spin's PostgreSQL client: what `spin build -f spin-postgres.toml` produces.
    SpinPostgres,
}

impl Build {
    pub fn target_dir(self) -> PathBuf {
        let name = match self {
            Build::Portable => "portable",
            Build::Spin => "spin",
            Build::SpinPostgres => "spin-postgres",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(name)
    }
}

/// Builds `build` in release mode (once per test binary) and returns the component's path.
/// `TODO_TEST_PORTABLE_WASM`, `TODO_TEST_SPIN_WASM` or `TODO_TEST_SPIN_POSTGRES_WASM` names another component of
/// that build instead (an earlier release's, to show what a test finds in it).
pub fn component(build: Build) -> PathBuf {
    let instead = match build {
        Build::Portable => "TODO_TEST_PORTABLE_WASM",
        Build::Spin => "TODO_TEST_SPIN_WASM",
        Build::SpinPostgres => "TODO_TEST_SPIN_POSTGRES_WASM",
    };
    if let Some(path) = std::env::var_os(instead) {
        return PathBuf::from(path);
    }
    static PORTABLE: OnceLock<PathBuf> = OnceLock::new();
    static SPIN: OnceLock<PathBuf> = OnceLock::new();
    static SPIN_POSTGRES: OnceLock<PathBuf> = OnceLock::new();
    let cell = match build {
        Build::Portable => &PORTABLE,
        Build::Spin => &SPIN,
        Build::SpinPostgres => &SPIN_POSTGRES,
    };
    cell.get_or_init(|| {
        let target_dir = build.target_dir();
        let mut command = Command::new(env!("CARGO"));
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target_dir);
        match build {
            Build::Portable => {}
            Build::Spin => {
                command.args(["--features", "spin"]);
            }
            Build::SpinPostgres => {
                command.args(["--features", "spin-postgres"]);
            }
        }
        let output = command.output().expect("run cargo build");
        assert!(
            output.status.success(),
            "building the {build:?} component failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        target_dir.join("wasm32-wasip2/release/todo_api.wasm")
    })
    .clone()
}

/// The `wasmtime` CLI: `$WASMTIME`, else the one `make` installs under `.tools`, else PATH.
pub fn wasmtime() -> PathBuf {
    if let Some(path) = std::env::var_os("WASMTIME") {
        return PathBuf::from(path);
    }
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools");
    std::fs::read_dir(tools)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("wasmtime_cli/wasmtime"))
        .find(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from("wasmtime"))
}

/// A data directory `data` inside a temporary directory (kept while the first is).
pub fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::TempDir::new().unwrap();
    let data = temp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    (temp, data)
}

/// The host options of a plain `wasmtime serve`: the WASI CLI interfaces only.
const CLI: &[&str] = &["-S", "cli"];

/// A `wasmtime serve` process serving the portable component with `data` mounted at
/// `/data`. Dropping it kills the process.
pub struct Server {
    child: Child,
    log: PathBuf,
    pub base: String,
}

impl Server {
    pub fn start(data: &Path) -> Self {
        Self::spawn(data, true, &[], false)
    }

    /// Serves with the host itself capturing backtraces (`RUST_BACKTRACE=1` in its
    /// environment), so that every error it reports carries one, with `env` settings, and
    /// `data` mounted unless `mount` is false (the store is missing then).
    pub fn start_with_backtraces(data: &Path, mount: bool, env: &[(&str, &str)]) -> Self {
        Self::spawn_with(data, mount, env, false, &[("RUST_BACKTRACE", "1")])
    }

    /// Serves with settings passed as environment variables (`--env NAME=VALUE`), as
    /// `make serve` passes them on.
    pub fn start_with_env(data: &Path, env: &[(&str, &str)]) -> Self {
        Self::spawn(data, true, env, false)
    }

    /// Serves from a mount namespace of its own in which `data` is a bind mount, so a
    /// test can make it read-only and writable again under the running host
    /// ([`Server::remount`]): a disk failing, as root cannot fake with file modes.
    pub fn start_on_own_mount(data: &Path) -> Self {
        Self::spawn(data, true, &[], true)
    }

    /// Remounts the data directory read-only or writable, inside the host's namespace.
    pub fn remount(&self, data: &Path, writable: bool) {
        let options = if writable {
            "remount,bind,rw"
        } else {
            "remount,bind,ro"
        };
        let status = Command::new("nsenter")
            .args([
                "-t",
                &self.child.id().to_string(),
                "-m",
                "mount",
                "-o",
                options,
            ])
            .arg(data)
            .status()
            .expect("run nsenter");
        assert!(status.success(), "remount {options} failed");
    }

    /// Ends the host at once, as a crash or `kill -9` would, and waits for it.
    pub fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Serves without preopening any directory: the store is missing. `data` only
    /// decides where the host's log goes.
    pub fn start_without_data(data: &Path) -> Self {
        Self::spawn(data, false, &[], false)
    }

    /// Serves on `port` of 127.0.0.1: a replica started again where its clients look.
    pub fn start_at(data: &Path, port: u16) -> Self {
        Self::start_at_with(data, port, &[])
    }

    /// [`Server::start_at`] with `env` as settings.
    pub fn start_at_with(data: &Path, port: u16, env: &[(&str, &str)]) -> Self {
        Self::spawn_on(data, true, env, false, &[], port, CLI)
    }

    /// Serves as `make serve` does: with exactly its host options (`make serve-options`:
    /// the pooling allocator, its capacity, the concurrency limit), `env` as settings.
    pub fn start_as_make_serve(data: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_as_make_serve_with(data, env, &[])
    }

    /// As [`Server::start_as_make_serve`], with `extra` host options after make serve's.
    pub fn start_as_make_serve_with(data: &Path, env: &[(&str, &str)], extra: &[&str]) -> Self {
        let output = Command::new("make")
            .args(["-s", "--no-print-directory", "serve-options"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run make serve-options");
        assert!(output.status.success(), "make serve-options failed");
        let options = String::from_utf8(output.stdout).expect("options are text");
        let mut options: Vec<&str> = options.split_whitespace().collect();
        options.extend_from_slice(extra);
        Self::spawn_on(data, true, env, false, &[], free_port(), &options)
    }

    fn spawn(data: &Path, mount: bool, env: &[(&str, &str)], own_mount: bool) -> Self {
        Self::spawn_with(data, mount, env, own_mount, &[])
    }

    fn spawn_with(
        data: &Path,
        mount: bool,
        env: &[(&str, &str)],
        own_mount: bool,
        host_env: &[(&str, &str)],
    ) -> Self {
        Self::spawn_on(data, mount, env, own_mount, host_env, free_port(), CLI)
    }

    fn spawn_on(
        data: &Path,
        mount: bool,
        env: &[(&str, &str)],
        own_mount: bool,
        host_env: &[(&str, &str)],
        port: u16,
        host_options: &[&str],
    ) -> Self {
        let component = component(Build::Portable);
        let log = data
            .parent()
            .unwrap_or(data)
            .join(format!("wasmtime-serve-{port}.log"));
        // Appended to: a replica started again on its port keeps what it said before.
        let log_file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .expect("create server log");
        let mut command = if own_mount {
            // `sh` binds the directory onto itself in a new mount namespace, then becomes
            // wasmtime (exec), so the child's pid names the namespace for `remount`.
            let mut command = Command::new("unshare");
            command
                .args(["-m", "sh", "-c", r#"mount --bind "$0" "$0" && exec "$@""#])
                .arg(data)
                .arg(wasmtime());
            command
        } else {
            Command::new(wasmtime())
        };
        command
            .arg("serve")
            .args(host_options)
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"));
        if mount {
            command
                .arg("--dir")
                .arg(format!("{}::/data", data.display()));
        }
        for (name, value) in env {
            command.arg("--env").arg(format!("{name}={value}"));
        }
        let child = command
            .envs(host_env.iter().copied())
            .arg(&component)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", wasmtime().display()));
        let mut server = Self {
            child,
            log,
            base: format!("http://127.0.0.1:{port}"),
        };
        server.wait_until_serving();
        server
    }

    fn wait_until_serving(&mut self) {
        // Any answer means it serves (a misconfigured component answers 500).
        wait_until_serving("wasmtime serve", &mut self.child, &self.base, &self.log, 60);
    }

    /// What the host printed so far: its own messages and the component's log lines.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One request; `Err` when no answer came (the host is gone or the connection broke).
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, String> {
        request_to(&self.base, method, path, headers, body)
    }

    /// One request that must be answered.
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.try_call(method, path, headers, body)
            .unwrap_or_else(|error| panic!("{method} {path} failed: {error}\n{}", self.output()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Spin-faithful host's binary (`tests/spin-host`, profile `host`, as make bench runs
/// it), built once per test binary: for tests that need the host as a process of its own.
pub fn spin_host_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let target_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
            let output = Command::new(env!("CARGO"))
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .args([
                    "build",
                    "--profile",
                    "host",
                    "-p",
                    "spin-host",
                    "--target-dir",
                ])
                .arg(&target_dir)
                .output()
                .expect("run cargo build");
            assert!(
                output.status.success(),
                "building spin-host failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            target_dir.join("host/spin-host")
        })
        .clone()
}

/// A Spin build served by the Spin-faithful host as a process of its own, as `spin up
/// --from MANIFEST` would serve it, application variables given as `SPIN_VARIABLE_*`.
/// Dropping it kills the process.
pub struct SpinHostProcess {
    child: Child,
    log: PathBuf,
    pub base: String,
}

impl SpinHostProcess {
    /// Serves `manifest` (relative to the repository) with `build`'s component on `port`,
    /// its log in `log_dir`.
    pub fn start(
        build: Build,
        manifest: &str,
        variables: &[(&str, &str)],
        port: u16,
        log_dir: &Path,
    ) -> Self {
        let log = log_dir.join(format!("spin-host-{port}.log"));
        let log_file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .expect("create host log");
        let mut command = Command::new(spin_host_binary());
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--manifest",
                manifest,
            ])
            .arg("--source")
            .arg(component(build))
            .arg("--log-dir")
            .arg(log_dir.join(format!("spin-host-{port}-logs")));
        for (name, value) in variables {
            command.env(
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file)
            .spawn()
            .expect("start spin-host");
        let mut host = Self {
            child,
            log,
            base: format!("http://127.0.0.1:{port}"),
        };
        wait_until_serving("spin-host", &mut host.child, &host.base, &host.log, 60);
        host
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Ends the host at once, as a crash or `kill -9` would, and waits for it.
    pub fn kill_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SpinHostProcess {
    fn drop(&mut self) {
        self.kill_now();
        // The host stands for Spin 4.0.2: a PostgreSQL query it would have hung on fails
        // the test that sent it.
        if !std::thread::panicking() {
            let output = self.output();
            assert!(
                !output.contains("never returns"),
                "on Spin 4.0.2 a query would have hung (spin#3671):\n{output}"
            );
        }
    }
}

/// Waits until the host `child`, started as `what`, answers `/healthz` at `base` (with any
/// status), for at most `seconds`; fails with the host's output (the file `log`) if it
/// exits or does not answer in time.
pub fn wait_until_serving(what: &str, child: &mut Child, base: &str, log: &Path, seconds: u64) {
    let output = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status}:\n{}", output());
        }
        if request_to(base, "GET", "/healthz", &[], b"").is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not start in time:\n{}",
            output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `bytes` as they are to `address` (`127.0.0.1:PORT`) and reads what comes back
/// until the server closes the connection (`true`) or `wait` passes without it (`false`):
/// for what no HTTP client would send.
pub fn raw_exchange(address: &str, bytes: &[u8], wait: Duration) -> (String, bool) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(bytes).expect("send");
    let mut reply = Vec::new();
    let closed = stream.read_to_end(&mut reply).is_ok();
    (String::from_utf8_lossy(&reply).into_owned(), closed)
}

/// One request to the server at `base` (`http://127.0.0.1:PORT`); `Err` when no answer came.
pub fn request_to(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Reply, String> {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(body.to_vec()).map_err(|e| e.to_string())?;
    let (parts, mut body) = agent()
        .run(request)
        .map_err(|e| e.to_string())?
        .into_parts();
    // No cap on what is read: the largest answer the API gives (largest_page) is ~60 MB.
    let body = body
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    Ok(Reply::from(http::Response::from_parts(parts, body)))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("find a free port")
}

/// An HTTP client that hands back every status as a response instead of an error.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// The largest answer the API can give: a page of `MAX_PAGE_SIZE` todos whose titles are
/// as long as `max_title_length` may allow, in the character JSON writes longest
/// (a control character, six bytes as `\u0001`). Stores it in `store`; returns the title
/// and the settings (`max_title_length`) a host needs to accept it.
pub mod largest_page {
    use todo_api::store::Store;
    use todo_api::todo::{MAX_TITLE_CHARS_CEILING, Title, TodoFields};

    pub const MAX_TITLE_LENGTH: &str = "10000";
    pub const PATH: &str = "/todos?pageSize=1000";

    pub fn title() -> String {
        "\u{1}".repeat(MAX_TITLE_CHARS_CEILING)
    }

    pub fn seed(store: &impl Store) {
        let fields = TodoFields {
            title: Title::parse(title(), MAX_TITLE_CHARS_CEILING).expect("a valid title"),
            is_complete: false,
            due_by: None,
        };
        for _ in 0..todo_api::api::MAX_PAGE_SIZE {
            store.create(&fields).expect("store a todo");
        }
    }

    /// Checks that `reply` is that page, whole.
    pub fn assert_whole(reply: &super::Reply) {
        assert_eq!(reply.status, 200);
        assert!(reply.body.len() > 60_000_000, "{} bytes", reply.body.len());
        assert_eq!(
            reply.header("content-length"),
            Some(reply.body.len().to_string().as_str())
        );
        let page = reply.json();
        let todos = page.as_array().expect("a JSON array");
        assert_eq!(todos.len() as u64, todo_api::api::MAX_PAGE_SIZE);
        assert!(todos.iter().all(|todo| todo["title"] == title().as_str()));
    }
}

/// A response as the HTTP tests read it, whichever host answered.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl From<http::Response<Vec<u8>>> for Reply {
    fn from(response: http::Response<Vec<u8>>) -> Self {
        Self {
            status: response.status().as_u16(),
            headers: response
                .headers()
                .iter()
                .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: response.into_body(),
        }
    }
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Whether this is an RFC 9457 problem with `status`.
    pub fn is_problem(&self, status: u16) -> bool {
        self.status == status
            && self.header("content-type") == Some("application/problem+json")
            && self.json()["status"] == status
    }
}

/// The core called natively: requests as a host hands them over, and checks on answers.
pub mod native {
    use std::io::Read;

    use http::{Method, Request, Response};
    use serde_json::Value;
    use tempfile::TempDir;
    use todo_api::config::Config;
    use todo_api::store::Owners;
    use todo_api::store::dir::DirStore;
    use todo_api::store::sqlite::SqliteStore;
    use todo_api::testing::{PostgresExecutor, RusqliteExecutor};

    /// The API over one store, called directly with `config`; the store's directory `dir`
    /// lasts as long as it (a PostgreSQL database, as long as the test's server).
    pub struct Api<S> {
        pub store: S,
        pub config: Config,
        pub dir: TempDir,
    }

    impl<S: Owners> Api<S> {
        /// The API over `store`, made by the caller.
        pub fn over(store: S, config: Config) -> Self {
            Self {
                store,
                config,
                dir: TempDir::new().unwrap(),
            }
        }

        /// What the API answers `method path` with `headers` and `body`.
        pub fn handle(
            &self,
            method: &str,
            path: &str,
            headers: &[(&str, &str)],
            body: impl Read,
        ) -> Response<Vec<u8>> {
            todo_api::api::handle(
                &self.store,
                &self.config,
                request(method, path, headers, body),
            )
        }
    }

    impl Api<DirStore> {
        /// On the directory store, in a new temporary directory.
        pub fn on_dir(config: Config) -> Self {
            let dir = TempDir::new().unwrap();
            Self {
                store: DirStore::new(dir.path()),
                config,
                dir,
            }
        }
    }

    impl Api<SqliteStore<RusqliteExecutor>> {
        /// On the SQL store over a new SQLite file (rusqlite, the component's SQL).
        pub fn on_sqlite(config: Config) -> Self {
            let dir = TempDir::new().unwrap();
            Self {
                store: SqliteStore::new(RusqliteExecutor::open(&dir.path().join("t.db"))),
                config,
                dir,
            }
        }
    }

    impl Api<SqliteStore<PostgresExecutor>> {
        /// On the SQL store over a new database of the test's PostgreSQL server.
        pub fn on_postgres(config: Config) -> Self {
            let database = super::postgres::Database::create();
            Self::over(
                SqliteStore::new(PostgresExecutor::connect(&database.url)),
                config,
            )
        }
    }

    /// Runs each test function (taking an [`Api`]) on every store, as `dir_store::NAME`,
    /// `sqlite_store::NAME` and `postgres_store::NAME`, with the `Config` that the function
    /// `$config` of the calling file gives.
    #[macro_export]
    macro_rules! on_every_store {
        ($config:ident; $($test:ident),* $(,)?) => {
            mod dir_store {
                use $crate::support::native::Api;
                $(#[test] fn $test() { super::$test(Api::on_dir(super::$config())); })*
            }
            mod sqlite_store {
                use $crate::support::native::Api;
                $(#[test] fn $test() { super::$test(Api::on_sqlite(super::$config())); })*
            }
            mod postgres_store {
                use $crate::support::native::Api;
                $(#[test] fn $test() { super::$test(Api::on_postgres(super::$config())); })*
            }
        };
    }

    pub fn request<B>(method: &str, path: &str, headers: &[(&str, &str)], body: B) -> Request<B> {
        let mut request = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body).unwrap()
    }

    pub fn body(response: &Response<Vec<u8>>) -> Value {
        serde_json::from_slice(response.body()).unwrap_or(Value::Null)
    }

    /// Asserts an RFC 9457 problem with `status` and returns its body.
    pub fn problem(response: &Response<Vec<u8>>, status: u16) -> Value {
        assert_eq!(
            response.status(),
            status,
            "body: {}",
            String::from_utf8_lossy(response.body())
        );
        assert_eq!(
            response.headers().get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/problem+json"[..])
        );
        let problem = body(response);
        assert_eq!(problem["status"], status);
        assert!(problem["type"].is_string() && problem["title"].is_string());
        assert!(problem["detail"].is_string());
        problem
    }
}

/// The page's files (`web/`) as `sha256sum web/*` lists them: written beside the
/// screenshots the browser test takes, and kept with them in docs/screenshots/ (`make
/// screenshots`), so a test can tell when the pictures no longer show the page.
pub fn page_digest() -> String {
    use sha2::Digest;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(root.join("web"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
        .iter()
        .map(|name| {
            let bytes = std::fs::read(root.join("web").join(name)).unwrap();
            let hex: String = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect();
            format!("{hex}  web/{name}\n")
        })
        .collect()
}
