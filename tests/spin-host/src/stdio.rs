//! A component's stdout and stderr as `spin up` handles them by default (Spin 3.x/4.x,
//! `crates/trigger/src/cli/stdio.rs`): for every instance, each stream's log file
//! (`{component}_stdout.txt`, `{component}_stderr.txt` in the log directory) is opened for
//! appending, and what the component writes goes to that file and, followed, to the
//! host's own stderr.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Where an application's component writes its stdio.
pub struct ComponentStdio {
    /// The two log files, or none: the host's own streams then.
    logs: Option<(PathBuf, PathBuf)>,
}

impl ComponentStdio {
    pub fn new(log_dir: Option<PathBuf>, component_id: &str) -> anyhow::Result<Self> {
        let logs = match log_dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)?;
                Some((
                    dir.join(format!("{component_id}_stdout.txt")),
                    dir.join(format!("{component_id}_stderr.txt")),
                ))
            }
            None => None,
        };
        Ok(Self { logs })
    }

    /// Gives one instance its streams, opening the log files as Spin does per instance.
    pub fn attach(&self, wasi: &mut WasiCtxBuilder) -> anyhow::Result<()> {
        match &self.logs {
            Some((stdout, stderr)) => {
                wasi.stdout(FollowedLog::open(stdout)?);
                wasi.stderr(FollowedLog::open(stderr)?);
            }
            None => {
                wasi.inherit_stdout().inherit_stderr();
            }
        }
        Ok(())
    }
}

/// A log file whose writes are also followed to the host's stderr.
#[derive(Clone)]
struct FollowedLog {
    file: Arc<File>,
}

impl FollowedLog {
    fn open(path: &PathBuf) -> std::io::Result<Self> {
        let file = File::options().create(true).append(true).open(path)?;
        Ok(Self {
            file: Arc::new(file),
        })
    }

    fn write_all(&self, bytes: &[u8]) -> std::io::Result<()> {
        (&*self.file).write_all(bytes)?;
        std::io::stderr().write_all(bytes)
    }
}

impl IsTerminal for FollowedLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for FollowedLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for FollowedLog {
    async fn ready(&mut self) {}
}

impl OutputStream for FollowedLog {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_all(&bytes)
            .map_err(|error| StreamError::LastOperationFailed(error.into()))
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for FollowedLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.write_all(bytes).map(|()| bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
