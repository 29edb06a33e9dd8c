//! Real Spin, as its users run it: `spin build -f MANIFEST`, then `spin up -f MANIFEST`
//! with a state directory of its own (the SQLite file, the component logs), variables as
//! `SPIN_VARIABLE_*`, and for replicas a runtime config naming a shared libSQL database.
//!
//! The `spin` command: `$TODO_TEST_SPIN`, else the Spin 4.0.2 CLI `make test` unpacks
//! under `target/spin-cli/`, else `spin` on PATH.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use super::Reply;

/// The `spin` command the tests run.
pub fn spin_cli() -> PathBuf {
    if let Some(path) = std::env::var_os("TODO_TEST_SPIN") {
        return PathBuf::from(path);
    }
    let unpacked = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/spin-cli/spin");
    if unpacked.exists() {
        return unpacked;
    }
    PathBuf::from("spin")
}

/// Runs `spin build -f manifest` (the manifest's own build command), once per manifest per
/// test binary; with `TODO_TEST_SPIN_POSTGRES_WASM` set, the PostgreSQL manifest is not
/// built (that component is served instead, see [`super::component`]).
pub fn spin_build(manifest: &str) {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if built.iter().any(|done| done == manifest) {
        return;
    }
    let output = Command::new(spin_cli())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "-f", manifest])
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "run {} build: {error} (make test unpacks Spin 4.0.2 from ../shared/spin; \
                 elsewhere put spin on PATH or set TODO_TEST_SPIN)",
                spin_cli().display()
            )
        });
    assert!(
        output.status.success(),
        "spin build -f {manifest} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    built.push(manifest.to_owned());
}

/// `spin up` serving one manifest on a port of 127.0.0.1, in a process group of its own
/// (`spin up` runs the HTTP trigger as a child process): dropping it kills the group.
pub struct SpinUp {
    child: Child,
    output: PathBuf,
    state_dir: PathBuf,
    pub base: String,
}

/// How to start one `spin up`.
#[derive(Clone, Debug)]
pub struct SpinUpConfig {
    /// The manifest, relative to the repository.
    pub manifest: String,
    /// Application variables, given as `SPIN_VARIABLE_<NAME>`.
    pub variables: Vec<(String, String)>,
    /// A runtime config file (`--runtime-config-file`), e.g. a libSQL `default` database.
    pub runtime_config: Option<PathBuf>,
}

impl SpinUpConfig {
    pub fn new(manifest: &str, variables: &[(&str, &str)]) -> Self {
        Self {
            manifest: manifest.to_owned(),
            variables: variables
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            runtime_config: None,
        }
    }

    /// The Spin build on PostgreSQL (`spin-postgres.toml`) with its database at `url`, on
    /// the server at `host` (the one outbound host the manifest allows).
    pub fn on_postgres(url: &str, host: &str) -> Self {
        Self::new(
            "spin-postgres.toml",
            &[("database_url", url), ("database_host", host)],
        )
    }

    /// The same, with `settings` given as `make serve` takes them (`TODO_*` environment
    /// variables) added as the application variables Spin reads them from.
    pub fn with_settings(mut self, settings: &[(&str, &str)]) -> Self {
        for (name, value) in settings {
            let name = name.trim_start_matches("TODO_").to_ascii_lowercase();
            self.variables.push((name, (*value).to_owned()));
        }
        self
    }

    /// The same, with the `default` SQLite database on the libSQL server at `url` (as a
    /// SpinKube SpinApp's runtime config gives it), its file written into `dir`.
    pub fn on_libsql(mut self, url: &str, dir: &Path) -> Self {
        let file = dir.join("runtime-config.toml");
        std::fs::write(
            &file,
            format!(
                "[sqlite_database.default]\ntype = \"libsql\"\nurl = \"{url}\"\ntoken = \"none\"\n"
            ),
        )
        .expect("write runtime config");
        self.runtime_config = Some(file);
        self
    }
}

impl SpinUp {
    /// Builds the manifest's component (once) and serves it on `port`, state in
    /// `state_dir`; waits until it answers `/healthz`.
    pub fn start(config: &SpinUpConfig, port: u16, state_dir: &Path) -> Self {
        if config.manifest != "spin-postgres.toml"
            || std::env::var_os("TODO_TEST_SPIN_POSTGRES_WASM").is_none()
        {
            spin_build(&config.manifest);
        }
        std::fs::create_dir_all(state_dir).expect("state directory");
        let output = state_dir.join(format!("spin-up-{port}.log"));
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&output)
            .expect("spin up log");
        let manifest = match std::env::var_os("TODO_TEST_SPIN_POSTGRES_WASM") {
            Some(wasm) if config.manifest == "spin-postgres.toml" => {
                // An earlier build's component in place of the manifest's source.
                let text = std::fs::read_to_string(
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("spin-postgres.toml"),
                )
                .expect("read spin-postgres.toml")
                .replace(
                    "source = \"target/spin-postgres/wasm32-wasip2/release/todo_api.wasm\"",
                    &format!("source = {:?}", wasm.to_string_lossy()),
                );
                let copy = state_dir.join("spin-postgres.toml");
                std::fs::write(&copy, text).expect("write manifest");
                copy
            }
            _ => PathBuf::from(&config.manifest),
        };
        let mut command = Command::new(spin_cli());
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("up")
            .arg("-f")
            .arg(&manifest)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--state-dir")
            .arg(state_dir);
        if let Some(file) = &config.runtime_config {
            command.arg("--runtime-config-file").arg(file);
        }
        for (name, value) in &config.variables {
            command.env(
                format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()),
                value,
            );
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", spin_cli().display()));
        let mut spin = Self {
            child,
            output,
            state_dir: state_dir.to_owned(),
            base: format!("http://127.0.0.1:{port}"),
        };
        super::wait_until_serving("spin up", &mut spin.child, &spin.base, &spin.output, 120);
        spin
    }

    /// One request; `Err` when no answer came (the agent gives up after 30 s: a request
    /// that hangs in the host fails the test).
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        super::request_to(&self.base, method, path, headers, body).unwrap_or_else(|error| {
            panic!(
                "{method} {path}: no answer from spin up: {error}\n{}",
                self.output()
            )
        })
    }

    /// What `spin up` printed, the component output it follows included.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }

    /// The component's stdout, from the log file `spin up` keeps in its state directory.
    pub fn component_stdout(&self) -> String {
        std::fs::read_to_string(self.state_dir.join("logs/todo-api_stdout.txt")).unwrap_or_default()
    }

    /// Ends `spin up` and its trigger at once, as a crash or `kill -9` would.
    pub fn kill_now(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

impl Drop for SpinUp {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// Serialises `spin up` suites that must not share the machine's two cores at once.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
