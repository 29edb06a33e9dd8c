//! The HTTP API, host-independent: an `http::Request` in, an `http::Response` out.
//!
//! | request                | answer                                                       |
//! |------------------------|--------------------------------------------------------------|
//! | `GET /todos`           | `200`, a page of todos (`isComplete`, `title`, `sort`, `page`, `pageSize`) |
//! | `POST /todos`          | `201`, `Location: /todos/{id}`                               |
//! | `GET /todos/{id}`      | `200` with `ETag`                                            |
//! | `PUT /todos/{id}`      | `200`, the whole todo replaced                               |
//! | `PATCH /todos/{id}`    | `200`, a JSON Merge Patch applied                            |
//! | `DELETE /todos/{id}`   | `204`                                                        |
//! | `GET /healthz`         | `200` while the component runs                               |
//! | `GET /readyz`          | `200` when the store answers, else `503`                     |
//! | `GET /openapi.json`    | the OpenAPI 3.1 document of all of this                      |
//! | `HEAD` wherever `GET`  | the same status and headers, no body                         |
//! | `OPTIONS` on any path  | `204` with `Allow`                                           |
//!
//! A request goes through, in order: [`route`] (path and method to an operation; `404`,
//! `405`), CORS preflights, bearer tokens ([`crate::jwt`]), the operation's own checks
//! and its [`preconditions`] (`304`, `412`), then the handler reads the [`body`] and
//! answers ([`handlers`]), in the content coding the client accepts ([`encoding`]). Every
//! failure is one [`failure::Failure`], answered as an RFC 9457 problem.

mod body;
mod encoding;
mod failure;
mod handlers;
mod page;
mod preconditions;
mod query;
mod route;

use std::io::Read;

use http::{HeaderMap, HeaderValue, Method, Request, Response, header};

pub use encoding::MIN_COMPRESSED_BYTES;
pub use failure::{FAILURE_STATUSES, Failure};
pub use handlers::SUCCESS_STATUSES;
pub use query::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use route::{Operation, Route, routes};

use crate::config::{ConfigError, Limits, RateLimiting, Settings};
use crate::cors::Cors;
use crate::jwt::Rejected;
use crate::ratelimit::{Admission, RateLimit};
use crate::store::{Owners, Store};
use crate::todo::TodoId;
use failure::Denied;
use handlers::Incoming;
use preconditions::Preconditions;

/// The OpenAPI 3.1 document served at `/openapi.json` (`src/openapi.json`, minified by
/// `build.rs`), as `build.rs` compressed it with brotli and with gzip, with its length and
/// strong tag (a fingerprint `build.rs` takes of it); `tests/openapi.rs` keeps it in step
/// with [`routes`]. The component carries only the two copies (9 KB, where the document
/// itself is 31 KB).
const OPENAPI: encoding::Precompressed = encoding::Precompressed {
    br: include_bytes!(concat!(env!("OUT_DIR"), "/openapi.min.json.br")),
    gzip: include_bytes!(concat!(env!("OUT_DIR"), "/openapi.min.json.gz")),
    length: include!(concat!(env!("OUT_DIR"), "/openapi.length")),
    etag: include_str!(concat!(env!("OUT_DIR"), "/openapi.etag")),
};

/// The OpenAPI document itself (for the rare client that takes neither brotli nor gzip).
pub fn openapi_json() -> Vec<u8> {
    OPENAPI.identity()
}

/// Every status the API answers with, for any input, sorted: what the handlers succeed
/// with and what [`Failure`] answers (the README's tables; hostile-input tests hold every
/// answer to this set).
pub fn statuses() -> Vec<u16> {
    let mut all: Vec<u16> = SUCCESS_STATUSES
        .iter()
        .chain(FAILURE_STATUSES)
        .map(|status| status.as_u16())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Answers one request under `settings`, reading only the settings it needs
/// ([`Settings`]). The body is read only as far as the request needs and never past
/// `max_body_bytes + 1` bytes. Never panics on any input.
///
/// Every answer says how caches may keep it (RFC 9111 §5.2): todos and lists `no-cache`
/// (stored, but revalidated by their `ETag` before each use), `private` too where reads
/// need a token; the OpenAPI document `public, max-age=300`; everything else (probes,
/// problems, preflights) `no-store`. A `304` says what its `200` would have said.
pub fn handle<S: Owners, B: Read>(
    store: &S,
    settings: &impl Settings,
    request: Request<B>,
) -> Response<Vec<u8>> {
    let mut response = respond(store, settings, request);
    if !response.headers().contains_key(header::CACHE_CONTROL) {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// How long caches may keep a successful answer to `operation` (see [`handle`]); `None`:
/// not at all.
fn cacheable(operation: Operation, settings: &impl Settings) -> Option<&'static str> {
    match operation {
        Operation::OpenApi => Some("public, max-age=300"),
        // Revalidated on every load (a strong tag makes that a 304): a deployment's new
        // page is seen at once.
        Operation::Page(_) => Some("no-cache"),
        Operation::Health | Operation::Ready | Operation::Describe(_) => None,
        // Reads and writes of todos: what they answer is the todo or the page as it is now.
        _ => Some(if settings.protect_reads().unwrap_or(true) {
            "private, no-cache"
        } else {
            "no-cache"
        }),
    }
}

fn respond<S: Owners, B: Read>(
    store: &S,
    settings: &impl Settings,
    request: Request<B>,
) -> Response<Vec<u8>> {
    let (parts, body) = request.into_parts();
    let route = Route::parse(parts.uri.path());
    if let Ok(route) = route
        && Cors::is_preflight(&parts.method, &parts.headers)
    {
        // What a preflight offers: the route's methods but HEAD (CORS-safelisted) and
        // OPTIONS (never preflighted).
        let mut methods = route.allowed();
        methods.retain(|method| *method != Method::HEAD && *method != Method::OPTIONS);
        return match settings.cors() {
            Ok(cors) => cors.preflight(&parts.headers, &methods),
            Err(error) => misconfigured(error),
        };
    }
    // CORS's origins decide every answer's `Vary`: read first, so that an invalid value
    // is named on every request.
    let cors = match settings.origins() {
        Ok(cors) => cors,
        Err(error) => return misconfigured(error),
    };
    let accepted = encoding::Accepted::parse(&parts.headers);
    let mut rate_limited = None;
    let answer = route.and_then(|route| {
        let operation =
            route::operation(route, &parts.method).ok_or_else(|| Failure::MethodNotAllowed {
                method: parts.method.clone(),
                route,
            })?;
        let caller = authorize(settings, operation, &parts.headers)?;
        // The rate limit, on reads and writes of todos (never probes, the document or CORS
        // preflights), once the token is verified and before anything is read or written:
        // a refused request changes nothing.
        if (operation.writes_todos() || operation.reads_todos())
            && let Some(limiting) = settings.rate_limit().map_err(Failure::Misconfigured)?
        {
            // In owner mode a client is its owner, else its token's subject; a token on a
            // request that needs none still names its client, where valid.
            let subject = match &caller {
                Some(Caller {
                    owner: Some(owner), ..
                }) => Some(owner.clone()),
                Some(Caller {
                    subject: Some(subject),
                    ..
                }) => Some(subject.clone()),
                _ => verified_subject(settings, &parts.headers),
            };
            let key = rate_limit_key(&limiting, subject, &parts);
            let admission = store.shared().take_token(&key, &limiting.limit)?;
            if !admission.admitted {
                return Err(Failure::RateLimited {
                    limit: limiting.limit,
                    admission,
                });
            }
            rate_limited = Some((limiting.limit, admission));
        }
        let limits = match operation {
            Operation::CreateTodo | Operation::ReplaceTodo(_) | Operation::PatchTodo(_) => {
                settings.limits().map_err(Failure::Misconfigured)?
            }
            // A readiness probe answers for every setting; no other request reads a body.
            Operation::Ready => {
                settings.check_all().map_err(Failure::Misconfigured)?;
                // A replica without owner mode on a store that holds owners' todos would
                // answer every list 500: it is not ready (the shared list's version is where
                // the store says so).
                if !settings.owner_mode().map_err(Failure::Misconfigured)? {
                    store.shared().list_version()?;
                }
                Limits::default()
            }
            _ => Limits::default(),
        };
        let existence_first = caller.as_ref().is_some_and(|caller| caller.owner.is_some());
        // In owner mode, malformed preconditions are judged after the todo is found.
        let (preconditions, malformed_preconditions) = match Preconditions::parse(&parts.headers) {
            Ok(preconditions) => (preconditions, None),
            Err(failure) if existence_first => (Preconditions::default(), Some(failure)),
            Err(failure) => return Err(failure),
        };
        let request = Incoming {
            method: &parts.method,
            headers: &parts.headers,
            query: parts.uri.query(),
            body,
            limits: &limits,
            preconditions,
            accepted: &accepted,
            existence_first,
            malformed_preconditions,
        };
        let mut response = match caller.as_ref().and_then(Caller::owner_mode) {
            None => handlers::run(&store.shared(), operation, request)?,
            Some(caller) => {
                let owner = whose_todos(store, operation, request.query, caller)?;
                handlers::run(&store.owned_by(&owner), operation, request)?
            }
        };
        if let Some(policy) = cacheable(operation, settings) {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
        }
        Ok(response)
    });
    let mut response = answer.unwrap_or_else(Failure::into_response);
    if let Some((limit, admission)) = rate_limited {
        insert_rate_limit_fields(&mut response, &limit, admission);
    }
    // Before HEAD drops the content: its Content-Length is the encoded length.
    encoding::encode(&mut response, &accepted);
    if parts.method == Method::HEAD {
        without_content(&mut response);
    }
    cors.apply(&parts.headers, &mut response);
    response
}

/// The answer to every request while a setting is invalid: `500`, naming the setting
/// (its value and what is wrong with it go only to the log).
pub fn misconfigured(error: ConfigError) -> Response<Vec<u8>> {
    Failure::Misconfigured(error).into_response()
}

/// The answer to a request the host handed over that cannot be represented (a bad
/// method or URI): `400`; `cause` goes only to the log.
pub fn unreadable_request(cause: String) -> Response<Vec<u8>> {
    Failure::Host(cause).into_response()
}

/// A `HEAD` answer: the `GET` answer's status and headers, with `Content-Length` giving
/// the length of the content it leaves out (RFC 9110 §9.3.2, §8.6).
fn without_content(response: &mut Response<Vec<u8>>) {
    let length = std::mem::take(response.body_mut()).len();
    if length > 0 {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
}

/// The client's address as the host reports it (Spin's `spin-client-addr`, its port left
/// out), put in a request's extensions by the host adapter: the rate limit's key where no
/// token and no trusted proxy header names the client. `wasmtime serve` reports none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

impl ClientAddress {
    /// The address in Spin's `spin-client-addr` value (`127.0.0.1:54321`, `[::1]:54321`):
    /// the last of its field lines, as Spin appends its own after any the client sent.
    pub fn from_spin(headers: &HeaderMap) -> Option<Self> {
        let value = headers
            .get_all("spin-client-addr")
            .iter()
            .next_back()?
            .to_str()
            .ok()?;
        let address = match value.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next()?,
            None => value.rsplit_once(':').map_or(value, |(host, _)| host),
        };
        (!address.is_empty()).then(|| Self(address.to_owned()))
    }
}

/// The `sub` of the request's bearer token, where tokens are configured and it is valid
/// (a request that needs no token is not refused for a bad one).
fn verified_subject(settings: &impl Settings, headers: &HeaderMap) -> Option<String> {
    let token = bearer_token(headers)?;
    let policy = settings.auth().ok()??;
    policy.verify(token, unix_now()).ok()?.subject
}

/// Whose bucket a request takes from: the verified token's `sub`; else the client's
/// address from the trusted proxy's header (`X-Forwarded-For`: its last address, the one
/// the proxy appended) or as the host reports it; else one bucket for every client.
fn rate_limit_key(
    limiting: &RateLimiting,
    subject: Option<String>,
    parts: &http::request::Parts,
) -> String {
    // A name as the client gave it, but never longer than 128 bytes in the store: a longer
    // one is kept as its fingerprint.
    let bounded = |name: String| {
        if name.len() <= 128 {
            name
        } else {
            let fingerprint = crate::store::fnv1a(crate::store::FNV_START, name.as_bytes());
            format!("{fingerprint:016x}")
        }
    };
    if let Some(subject) = subject {
        return format!("sub {}", bounded(subject));
    }
    let from_proxy = limiting.client_header.as_deref().and_then(|name| {
        let last_line = parts
            .headers
            .get_all(name)
            .iter()
            .next_back()?
            .to_str()
            .ok()?;
        let address = if name == "x-forwarded-for" {
            last_line.rsplit(',').next()?
        } else {
            last_line
        };
        Some(address.trim().to_owned()).filter(|address| !address.is_empty())
    });
    let address = from_proxy.or_else(|| {
        parts
            .extensions
            .get::<ClientAddress>()
            .map(|address| address.0.clone())
    });
    match address {
        Some(address) => format!("address {}", bounded(address)),
        None => "everyone".to_owned(),
    }
}

/// The rate limit's fields on an answer ([`crate::ratelimit`]).
fn insert_rate_limit_fields(
    response: &mut Response<Vec<u8>>,
    limit: &RateLimit,
    admission: Admission,
) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-policy", limit.policy_field()),
        ("ratelimit", limit.status_field(admission)),
    ] {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    }
}

/// Who asks, as far as a verified token says.
#[derive(Debug, Default)]
struct Caller {
    /// The token's `sub`.
    subject: Option<String>,
    /// In owner mode, whose todos the caller's are (never empty).
    owner: Option<String>,
    /// In owner mode, whether the token has `jwt_admin_scope`.
    admin: bool,
    /// `jwt_admin_scope`, to name in a refusal.
    admin_scope: Option<String>,
}

impl Caller {
    /// The caller, where todos belong to owners.
    fn owner_mode(&self) -> Option<&Self> {
        self.owner.as_ref().map(|_| self)
    }
}

/// Checks the bearer token where the policy asks for one: on every write; on reads of
/// todos (`GET`, `HEAD`, `OPTIONS`) when `protect_reads` is set or in owner mode, where
/// it must also name its owner. Probes, CORS preflights and the OpenAPI document stay
/// open. `None` where no token was checked.
fn authorize(
    settings: &impl Settings,
    operation: Operation,
    headers: &HeaderMap,
) -> Result<Option<Caller>, Failure> {
    let write = operation.writes_todos();
    let reads = operation.reads_todos();
    // A read asks only whether reads are protected (or owned); the token rules are read
    // when a token must be checked.
    let owner_mode = (write || reads) && settings.owner_mode().map_err(Failure::Misconfigured)?;
    let checked = write
        || owner_mode
        || (reads && settings.protect_reads().map_err(Failure::Misconfigured)?);
    if !checked {
        return Ok(None);
    }
    let Some(policy) = settings.auth().map_err(Failure::Misconfigured)? else {
        return Ok(None);
    };
    let token = bearer_token(headers).ok_or(Failure::Denied(Denied::NoToken))?;
    let grant = policy
        .verify(token, unix_now())
        .map_err(|Rejected(why)| Failure::Denied(Denied::InvalidToken(why)))?;
    if let Some(scope) = &policy.write_scope
        && write
        && !grant.has_scope(scope)
    {
        return Err(Failure::Denied(Denied::MissingScope(scope.clone())));
    }
    let owner = if owner_mode {
        let owner = grant
            .owner
            .clone()
            .ok_or(Failure::Denied(Denied::InvalidToken(
                "The token does not name its owner.",
            )))?;
        Some(owner)
    } else {
        None
    };
    let admin = owner_mode
        && policy
            .admin_scope
            .as_ref()
            .is_some_and(|scope| grant.has_scope(scope));
    Ok(Some(Caller {
        subject: grant.subject,
        owner,
        admin,
        admin_scope: policy.admin_scope.clone(),
    }))
}

/// In owner mode, whose todos an operation reaches: the caller's own; for an admin, a
/// todo's owner (by id), or the owner a list names (`?owner=`, empty for the todos of no
/// owner). Anyone else naming another owner's list is refused. Decided before anything
/// else is judged, so that another owner's todo answers as one that never existed.
fn whose_todos<S: Owners>(
    store: &S,
    operation: Operation,
    query: Option<&str>,
    caller: &Caller,
) -> Result<String, Failure> {
    let own = caller.owner.clone().unwrap_or_default();
    let by_id = |id: TodoId| -> Result<String, Failure> {
        match caller.admin {
            true => store.owner_of(id)?.ok_or(Failure::NoTodo(id)),
            false => Ok(own.clone()),
        }
    };
    match operation {
        Operation::GetTodo(id)
        | Operation::ReplaceTodo(id)
        | Operation::PatchTodo(id)
        | Operation::DeleteTodo(id)
        | Operation::Describe(Route::Todo(id)) => by_id(id),
        Operation::ListTodos => match query::owner_param(query.unwrap_or("")) {
            Some(named) if named != own => match caller.admin {
                true => Ok(named),
                false => Err(Failure::Denied(Denied::NotAdmin(
                    caller.admin_scope.clone(),
                ))),
            },
            _ => Ok(own),
        },
        _ => Ok(own),
    }
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 2.1; the scheme is
/// case-insensitive). Several `Authorization` headers are ambiguous: no token.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?.to_str().ok()?;
    if values.next().is_some() {
        return None;
    }
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Seconds since the Unix epoch on the host's wall clock (`wasi:clocks` in the component).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
