//! `spin-host`: serves a Spin application as `spin up` would, for make bench.
//!
//! ```text
//! spin-host --listen 127.0.0.1:3000 [--manifest spin.toml] [--source todo_api.wasm]
//!           [--sqlite-file .spin/sqlite_db.db]
//! ```
//! Application variables come from `SPIN_VARIABLE_<NAME>`, as for `spin up`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use wasmtime::component::Component;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut listen = "127.0.0.1:3000".to_owned();
    let mut manifest = PathBuf::from("spin.toml");
    let mut source = None;
    let mut sqlite_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--manifest" => manifest = value()?.into(),
            "--source" => source = Some(PathBuf::from(value()?)),
            "--sqlite-file" => sqlite_file = Some(PathBuf::from(value()?)),
            other => bail!("unknown argument {other}"),
        }
    }
    let app = spin_host::App::load(&manifest, &[], true)?;
    let source = source.unwrap_or_else(|| app.source.clone());
    let sqlite_file = sqlite_file.unwrap_or_else(|| {
        manifest
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(".spin/sqlite_db.db")
    });
    if let Some(parent) = sqlite_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let engine = spin_host::engine()?;
    let component = Component::from_file(&engine, &source)
        .map_err(|error| anyhow::anyhow!("compile {}: {error:?}", source.display()))?;
    let host = spin_host::SpinHost::new(&engine, &component, app, Some(sqlite_file))?;
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("Serving http://{}", listener.local_addr()?);
    host.serve(listener).await
}
