//! The component entry (wasm32 only, thin): exports `wasi:http/incoming-handler@0.2.0`,
//! converts the WASI request to `http` types with a streaming body, picks this build's
//! store, runs [`crate::api::handle`], writes the answer back and logs one line.
//!
//! The handler is exported through the `wasi` crate's bindings directly rather than
//! spin-sdk's `#[http_component]`: the same entry then serves Spin and `wasmtime serve`,
//! the body can be refused past its limit without being buffered, and no async executor
//! runs per request. spin-sdk is used only for Spin's SQLite, in the Spin build.

#[cfg(feature = "spin")]
mod spin_sqlite;
#[cfg(not(feature = "spin"))]
mod wasi_reader;

use std::io::{self, Read};
use std::time::Instant;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, InputStream, Method as WasiMethod, OutgoingBody,
    OutgoingResponse, ResponseOutparam,
};
use wasi::io::streams::{OutputStream, StreamError};

use crate::api;
use crate::config::Config;
use crate::log;

struct TodoComponent;

wasi::http::proxy::export!(TodoComponent);

impl Guest for TodoComponent {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let started = Instant::now();
        let request = match into_http_request(request) {
            Ok(request) => request,
            Err(message) => {
                // The host handed us something http cannot represent (a bad method or URI).
                let problem = crate::problem::Problem::new(http::StatusCode::BAD_REQUEST, message);
                return send(problem.into_response(), response_out);
            }
        };
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let response = match Config::read(host_setting) {
            Ok(config) => api::handle(&host_store(), &config, request),
            Err(error) => api::misconfigured(&error),
        };
        let status = response.status().as_u16();
        send(response, response_out);
        // Integer arithmetic keeps float formatting (some 15 KB) out of the component.
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        log_request(&format!(
            "{method} {path} {status} {}.{:03}ms\n",
            micros / 1000,
            micros % 1000
        ));
    }
}

/// The request log line, on stdout. Written straight to the host's stream: `std::io::stdout`
/// takes five host calls per line where this takes two. Like every log write here, it never
/// panics; a line the host refuses is dropped.
fn log_request(line: &str) {
    let _ = write_all(&wasi::cli::stdout::get_stdout(), line.as_bytes());
}

/// The Spin build keeps todos in Spin's SQLite database `default`.
#[cfg(feature = "spin")]
fn host_store() -> crate::store::sqlite::SqliteStore<spin_sqlite::SpinSqlite> {
    crate::store::sqlite::SqliteStore::new(spin_sqlite::SpinSqlite::default_database())
}

/// The Spin build reads settings from Spin variables (declared in `spin.toml`); one the
/// manifest does not define counts as unset.
#[cfg(feature = "spin")]
fn host_setting(name: &'static str) -> Result<Option<String>, String> {
    use spin_sdk::variables::{self, Error};
    match variables::get(name) {
        Ok(value) => Ok(Some(value)),
        Err(Error::Undefined(_)) => Ok(None),
        Err(error) => Err(format!("the Spin variable could not be read: {error}")),
    }
}

/// The portable build reads settings from the environment (`wasmtime serve --env`).
#[cfg(not(feature = "spin"))]
fn host_setting(name: &'static str) -> Result<Option<String>, String> {
    let variable = crate::config::env_name(name);
    match std::env::var(&variable) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{variable} is not UTF-8")),
    }
}

/// The portable build keeps todos in the directory the host preopens at `/data`
/// (or at `TODO_DATA_DIR`), and reads it through the host's filesystem interface directly.
#[cfg(not(feature = "spin"))]
fn host_store() -> crate::store::dir::DirStore<wasi_reader::WasiReader> {
    let root = std::env::var("TODO_DATA_DIR").unwrap_or_else(|_| "/data".to_owned());
    let reader = wasi_reader::WasiReader::new(&root);
    crate::store::dir::DirStore::with_reader(root, reader)
}

fn into_http_request(request: IncomingRequest) -> Result<http::Request<BodyReader>, String> {
    let method = match request.method() {
        WasiMethod::Get => http::Method::GET,
        WasiMethod::Head => http::Method::HEAD,
        WasiMethod::Post => http::Method::POST,
        WasiMethod::Put => http::Method::PUT,
        WasiMethod::Delete => http::Method::DELETE,
        WasiMethod::Connect => http::Method::CONNECT,
        WasiMethod::Options => http::Method::OPTIONS,
        WasiMethod::Trace => http::Method::TRACE,
        WasiMethod::Patch => http::Method::PATCH,
        WasiMethod::Other(other) => http::Method::from_bytes(other.as_bytes())
            .map_err(|_| format!("'{other}' is not an HTTP method."))?,
    };
    let uri = request.path_with_query().unwrap_or_else(|| "/".to_owned());
    let mut builder = http::Request::builder().method(method).uri(&uri);
    for (name, value) in request.headers().entries() {
        builder = builder.header(name, value);
    }
    let body = BodyReader::new(request);
    builder
        .body(body)
        .map_err(|error| format!("The request cannot be read: {error}."))
}

/// The request body as `std::io::Read`, pulled from the host only as far as it is read,
/// and only opened on the first read: most requests (every GET) have none to read.
struct BodyReader {
    // Field order matters: the stream must be dropped before the body it belongs to,
    // and the body before the request.
    stream: Option<InputStream>,
    body: Option<IncomingBody>,
    request: IncomingRequest,
    opened: bool,
}

impl BodyReader {
    fn new(request: IncomingRequest) -> Self {
        Self {
            stream: None,
            body: None,
            request,
            opened: false,
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if !self.opened {
            self.opened = true;
            self.body = self.request.consume().ok();
            self.stream = self.body.as_ref().and_then(|body| body.stream().ok());
        }
        let Some(stream) = &self.stream else {
            return Ok(0);
        };
        match stream.blocking_read(buffer.len() as u64) {
            Ok(chunk) => {
                buffer[..chunk.len()].copy_from_slice(&chunk);
                Ok(chunk.len())
            }
            Err(StreamError::Closed) => Ok(0),
            Err(StreamError::LastOperationFailed(error)) => {
                Err(io::Error::other(error.to_debug_string()))
            }
        }
    }
}

/// Writes `response` to the host. Failures here mean the client went away; there is
/// nobody left to tell, so they are only logged.
fn send(response: http::Response<Vec<u8>>, response_out: ResponseOutparam) {
    let (parts, body) = response.into_parts();
    let headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let fields = match Fields::from_list(&headers) {
        Ok(fields) => fields,
        Err(error) => {
            log::error(format_args!(
                "response headers refused by the host: {error:?}"
            ));
            Fields::new()
        }
    };
    let outgoing = OutgoingResponse::new(fields);
    // A new response is 200 already: one host call fewer for most answers.
    if parts.status != http::StatusCode::OK
        && outgoing.set_status_code(parts.status.as_u16()).is_err()
    {
        log::error(format_args!("status {} refused by the host", parts.status));
    }
    let Ok(outgoing_body) = outgoing.body() else {
        log::error(format_args!("response body unavailable"));
        return;
    };
    ResponseOutparam::set(response_out, Ok(outgoing));
    if let Err(error) = write_body(&outgoing_body, &body) {
        log::error(format_args!("writing the response failed: {error}"));
    }
    if let Err(error) = OutgoingBody::finish(outgoing_body, None) {
        log::error(format_args!("finishing the response failed: {error:?}"));
    }
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), String> {
    let stream = body.write().map_err(|()| "no output stream".to_owned())?;
    write_all(&stream, bytes).map_err(|error| format!("{error:?}"))
}

/// Writes `bytes` to a host stream and flushes it, blocking until the host took them.
fn write_all(stream: &OutputStream, bytes: &[u8]) -> Result<(), StreamError> {
    // blocking-write-and-flush accepts at most 4096 bytes per call.
    for chunk in bytes.chunks(4096) {
        stream.blocking_write_and_flush(chunk)?;
    }
    Ok(())
}
