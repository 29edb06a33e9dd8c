//! `spin-host`: serves a Spin application as `spin up` would, for make bench.
//!
//! ```text
//! spin-host --listen 127.0.0.1:3000 [--manifest spin.toml] [--source todo_api.wasm]
//!           [--sqlite-file .spin/sqlite_db.db] [--log-dir .spin/logs] [--spin 4.0.2|3.6.3]
//! ```
//! Application variables come from `SPIN_VARIABLE_<NAME>`, as for `spin up`; component
//! output goes to per-component files in the log directory (and to stderr), as `spin up`
//! writes it; `--spin` names the release whose behaviour it serves (default 4.0.2).

use std::path::PathBuf;

use anyhow::{Context, bail};
use wasmtime::component::Component;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut listen = "127.0.0.1:3000".to_owned();
    let mut manifest = PathBuf::from("spin.toml");
    let mut source = None;
    let mut sqlite_file = None;
    let mut log_dir = None;
    let mut release = spin_host::SpinRelease::V4_0_2;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--manifest" => manifest = value()?.into(),
            "--source" => source = Some(PathBuf::from(value()?)),
            "--sqlite-file" => sqlite_file = Some(PathBuf::from(value()?)),
            "--log-dir" => log_dir = Some(PathBuf::from(value()?)),
            "--spin" => {
                release = match value()?.as_str() {
                    "4.0.2" => spin_host::SpinRelease::V4_0_2,
                    "3.6.3" => spin_host::SpinRelease::V3_6_3,
                    other => bail!("--spin {other}: this host stands for 4.0.2 or 3.6.3"),
                }
            }
            other => bail!("unknown argument {other}"),
        }
    }
    let app = spin_host::App::load(&manifest, &[], true)?;
    let source = source.unwrap_or_else(|| app.source.clone());
    let state_dir = manifest
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(".spin");
    let sqlite_file = sqlite_file.unwrap_or_else(|| state_dir.join("sqlite_db.db"));
    let log_dir = log_dir.unwrap_or_else(|| state_dir.join("logs"));
    if let Some(parent) = sqlite_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let engine = spin_host::engine()?;
    let component = Component::from_file(&engine, &source)
        .map_err(|error| anyhow::anyhow!("compile {}: {error:?}", source.display()))?;
    let host = spin_host::SpinHost::new(
        &engine,
        &component,
        app,
        release,
        Some(sqlite_file),
        Some(log_dir),
    )?;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("Serving http://{}", listener.local_addr()?);
    host.serve(listener).await
}
