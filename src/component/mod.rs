//! The component entry (wasm32 only, thin): exports `wasi:http/incoming-handler@0.2.0`,
//! converts the WASI request to `http` types with a streaming body, picks this build's
//! store, runs [`crate::api::handle`], writes the answer back and logs one line.
//!
//! The handler is exported through the `wasi` crate's bindings directly rather than
//! spin-sdk's `#[http_component]`: the same entry then serves Spin and `wasmtime serve`,
//! the body can be refused past its limit without being buffered, and no async executor
//! runs per request. spin-sdk is used only for Spin's SQLite, in the Spin build.

#[cfg(all(feature = "spin", feature = "spin-postgres"))]
compile_error!("features `spin` and `spin-postgres` are two builds: choose one");

#[cfg(feature = "spin-postgres")]
mod spin_postgres;
#[cfg(feature = "spin")]
mod spin_sqlite;
#[cfg(any(feature = "spin", feature = "spin-postgres"))]
mod spin_settings {
    // Bindings for `wasi:config/store` only (world `spin-settings` in wit/).
    wit_bindgen::generate!({ world: "todo:api/spin-settings", path: "wit", generate_all });
}
#[cfg(not(any(feature = "spin", feature = "spin-postgres")))]
mod wasi_reader;

use std::io::{self, Read};
use std::time::Instant;

use wasi::clocks::monotonic_clock;
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, InputStream, Method as WasiMethod, OutgoingBody,
    OutgoingResponse, ResponseOutparam,
};
use wasi::io::poll::{self, Pollable};
use wasi::io::streams::{OutputStream, StreamError};

use crate::api;
use crate::config::{DEFAULT_BODY_TIMEOUT_MS, HostSettings, Settings};
use crate::log;

struct TodoComponent;

wasi::http::proxy::export!(TodoComponent);

impl Guest for TodoComponent {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let started = Instant::now();
        let arrived = monotonic_clock::now();
        let settings = HostSettings::new(host_setting);
        let request = match into_http_request(request, &settings, arrived) {
            Ok(request) => request,
            // The host handed us something http cannot represent (a bad method or URI).
            Err(cause) => return send(api::unreadable_request(cause), false, response_out),
        };
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let store = host_store();
        let response = api::handle(&store, &settings, request);
        let status = response.status().as_u16();
        send(response, method == http::Method::HEAD, response_out);
        // Only now close the store: on Spin, closing its SQLite connection runs in the host
        // (sqlite3_close, 30-45 µs here), and the client need not wait for it.
        drop(store);
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

/// A setting of the Spin builds: the component variable of that name, read with one
/// `wasi:config/store.get` call when a request first needs it (`None` where the manifest
/// does not define it). One call per setting a request uses, not one `get-all` for all of
/// them: Spin resolves every variable of a `get-all` through its provider chain, about
/// half of each request's time on real Spin when all ten were read (docs/performance.md).
#[cfg(any(feature = "spin", feature = "spin-postgres"))]
fn host_setting(name: &'static str) -> Result<Option<String>, String> {
    use spin_settings::wasi::config::store::{Error, get};
    get(name).map_err(|error| {
        let (Error::Upstream(message) | Error::Io(message)) = error;
        // The host's words go to the log, not to the client.
        log::error(format_args!(
            "wasi:config/store.get({name}) failed: {message}"
        ));
        "the Spin variables could not be read".to_owned()
    })
}

/// The Spin build keeps todos in Spin's SQLite database `default`.
#[cfg(feature = "spin")]
fn host_store() -> crate::store::sqlite::SqliteStore<spin_sqlite::SpinSqlite> {
    crate::store::sqlite::SqliteStore::new(spin_sqlite::SpinSqlite::default_database())
}

/// The PostgreSQL build keeps todos in the database its `database_url` variable names,
/// read when the store is first used.
#[cfg(feature = "spin-postgres")]
fn host_store() -> crate::store::sql::SqlStore<spin_postgres::SpinPostgres> {
    crate::store::sql::SqlStore::new(spin_postgres::SpinPostgres::new(|| {
        host_setting("database_url")
            .ok()
            .flatten()
            .filter(|url| !url.is_empty())
    }))
}

/// A setting of the portable build: the environment variable `TODO_<NAME>`
/// (`wasmtime serve --env`), read when a request first needs it.
#[cfg(not(any(feature = "spin", feature = "spin-postgres")))]
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
#[cfg(not(any(feature = "spin", feature = "spin-postgres")))]
fn host_store() -> crate::store::dir::DirStore<wasi_reader::WasiReader> {
    let root = std::env::var("TODO_DATA_DIR").unwrap_or_else(|_| "/data".to_owned());
    let reader = wasi_reader::WasiReader::new(&root);
    crate::store::dir::DirStore::with_reader(root, reader)
}

fn into_http_request<'a>(
    request: IncomingRequest,
    settings: &'a dyn Settings,
    arrived: u64,
) -> Result<http::Request<BodyReader<'a>>, String> {
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
            .map_err(|_| format!("'{other}' is not an HTTP method"))?,
    };
    let uri = request.path_with_query().unwrap_or_else(|| "/".to_owned());
    let mut builder = http::Request::builder().method(method).uri(&uri);
    for (name, value) in request.headers().entries() {
        builder = builder.header(name, value);
    }
    let body = BodyReader::new(request, settings, arrived);
    #[allow(unused_mut)]
    let mut request = builder
        .body(body)
        .map_err(|error| format!("{error} (URI {uri:?})"))?;
    // Spin reports the client's address (the rate limit's key where nothing else names the
    // client); wasmtime serve reports none, and a `spin-client-addr` a client sends it is
    // not trusted there.
    #[cfg(any(feature = "spin", feature = "spin-postgres"))]
    if let Some(address) = crate::api::ClientAddress::from_spin(request.headers()) {
        request.extensions_mut().insert(address);
    }
    Ok(request)
}

/// The request body as `std::io::Read`, pulled from the host only as far as it is read,
/// and only opened on the first read: most requests (every GET) have none to read.
///
/// The whole body must arrive within `body_timeout_ms` of the request (read from
/// `settings` when the body is opened): each read waits on the stream and on a timer
/// for that instant together, and once it has passed a read fails with `TimedOut` (the
/// API's `408`), however recently the last bytes came. An unfinished body would
/// otherwise hold this instance, and one of the host's pooled slots, for as long as the
/// client likes.
struct BodyReader<'a> {
    // Field order matters: pollables go before the stream they watch, the stream before
    // the body it belongs to, and the body before the request.
    waits: Option<BodyWaits>,
    stream: Option<InputStream>,
    body: Option<IncomingBody>,
    request: IncomingRequest,
    opened: bool,
    settings: &'a dyn Settings,
    /// When the request arrived, on the host's monotonic clock (nanoseconds).
    arrived: u64,
}

/// What a body read waits for: more of the body, or its deadline.
struct BodyWaits {
    readable: Pollable,
    deadline: Pollable,
}

impl<'a> BodyReader<'a> {
    fn new(request: IncomingRequest, settings: &'a dyn Settings, arrived: u64) -> Self {
        Self {
            waits: None,
            stream: None,
            body: None,
            request,
            opened: false,
            settings,
            arrived,
        }
    }

    fn open(&mut self) {
        self.opened = true;
        self.body = self.request.consume().ok();
        self.stream = self.body.as_ref().and_then(|body| body.stream().ok());
        // The API reads the limits before any body (an invalid value is answered `500`
        // first), so the default here only stands in for a value never used.
        let budget = self
            .settings
            .limits()
            .map_or(DEFAULT_BODY_TIMEOUT_MS, |limits| limits.body_timeout_ms);
        self.waits = self.stream.as_ref().map(|stream| BodyWaits {
            readable: stream.subscribe(),
            deadline: monotonic_clock::subscribe_instant(
                self.arrived + u64::from(budget) * 1_000_000,
            ),
        });
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if !self.opened {
            self.open();
        }
        let (Some(stream), Some(waits)) = (&self.stream, &self.waits) else {
            return Ok(0);
        };
        loop {
            // Checked before every read, so a body trickling in does not extend it.
            if waits.deadline.ready() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                ));
            }
            match stream.read(buffer.len() as u64) {
                Ok(chunk) if chunk.is_empty() => {
                    poll::poll(&[&waits.readable, &waits.deadline]);
                }
                Ok(chunk) => {
                    buffer[..chunk.len()].copy_from_slice(&chunk);
                    return Ok(chunk.len());
                }
                Err(StreamError::Closed) => return Ok(0),
                Err(StreamError::LastOperationFailed(error)) => {
                    return Err(io::Error::other(error.to_debug_string()));
                }
            }
        }
    }
}

/// Writes `response` (the answer to a `HEAD` when `to_head`) to the host, complete: with `Content-Length`, and with the body
/// written and finished before the response is handed over, whenever the host's stream
/// takes the whole body before anyone reads it (wasmtime-wasi-http buffers a few chunks of
/// up to 1 MiB each). A server that gets the head first and the body after writes them in
/// separate segments, and a host that does not set `TCP_NODELAY` (Spin) then holds the
/// last one until the client's delayed ACK, ~40 ms later. A body larger than the host
/// buffers is handed over first and streamed after, so no answer can wait on itself.
/// Failures here mean the client went away; there is nobody left to tell, so they are
/// only logged.
fn send(response: http::Response<Vec<u8>>, to_head: bool, response_out: ResponseOutparam) {
    let (mut parts, body) = response.into_parts();
    if to_head {
        // The API gives a HEAD answer the length of the content it leaves out, but
        // wasi:http holds a body to its Content-Length (an empty one then fails as
        // HttpResponseBodySize), so it goes: RFC 9110 §8.6 lets a HEAD answer omit it.
        parts.headers.remove(http::header::CONTENT_LENGTH);
    }
    let mut headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    if has_content(parts.status) && !to_head {
        let length = body.len().to_string();
        headers.push(("content-length".to_owned(), length.into_bytes()));
    }
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
    let Ok(stream) = outgoing_body.write() else {
        log::error(format_args!("response body stream unavailable"));
        return;
    };
    let rest = match write_unread(&stream, &body) {
        Ok(rest) => rest,
        Err(error) => {
            // Nothing is handed over: the host answers 500 rather than a cut-short answer.
            log::error(format_args!("writing the response failed: {error:?}"));
            return;
        }
    };
    if rest.is_empty() {
        close_body(stream, outgoing_body);
        ResponseOutparam::set(response_out, Ok(outgoing));
    } else {
        ResponseOutparam::set(response_out, Ok(outgoing));
        if let Err(error) = write_all(&stream, rest) {
            log::error(format_args!("writing the response failed: {error:?}"));
        }
        close_body(stream, outgoing_body);
    }
}

/// Whether an answer with `status` carries content, and so `Content-Length`
/// (RFC 9110 §8.6: never on 1xx or 204; a 304 would give the length of a body it omits).
fn has_content(status: http::StatusCode) -> bool {
    !(status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED)
}

/// Writes as much of `bytes` as the host's stream accepts without waiting, in writes as
/// large as it permits, and returns what is left.
fn write_unread<'a>(stream: &OutputStream, mut bytes: &'a [u8]) -> Result<&'a [u8], StreamError> {
    while !bytes.is_empty() {
        let permitted = usize::try_from(stream.check_write()?).unwrap_or(usize::MAX);
        if permitted == 0 {
            break;
        }
        let (now, later) = bytes.split_at(permitted.min(bytes.len()));
        stream.write(now)?;
        bytes = later;
    }
    Ok(bytes)
}

/// Ends a response body; its stream must go first (wasi:http traps otherwise).
fn close_body(stream: OutputStream, body: OutgoingBody) {
    drop(stream);
    if let Err(error) = OutgoingBody::finish(body, None) {
        log::error(format_args!("finishing the response failed: {error:?}"));
    }
}

/// Writes `bytes` to a host stream, in writes as large as it permits, waiting for it
/// where it must, then flushes it.
fn write_all(stream: &OutputStream, mut bytes: &[u8]) -> Result<(), StreamError> {
    while !bytes.is_empty() {
        bytes = write_unread(stream, bytes)?;
        if !bytes.is_empty() {
            stream.subscribe().block();
        }
    }
    stream.blocking_flush()
}
