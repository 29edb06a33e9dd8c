//! The HTTP API, host-independent: an `http::Request` in, an `http::Response` out.
//!
//! | request               | answer                                                        |
//! |-----------------------|---------------------------------------------------------------|
//! | `GET /todos`          | `200`, a page of todos by id (`isComplete`, `page`, `pageSize`) |
//! | `POST /todos`         | `201`, `Location: /todos/{id}`                                |
//! | `GET /todos/{id}`     | `200` with `ETag`; `304` on a matching `If-None-Match`        |
//! | `PUT /todos/{id}`     | `200`, the whole todo replaced                                |
//! | `PATCH /todos/{id}`   | `200`, a JSON Merge Patch applied                             |
//! | `DELETE /todos/{id}`  | `204`                                                         |
//! | `GET /healthz`        | `200` while the component runs                                |
//! | `GET /readyz`         | `200` when the store answers, else `503`                      |
//! | `GET /openapi.json`   | the OpenAPI 3.1 document of all of this                       |
//!
//! Writes to an existing todo honour `If-Match` (a stale tag gets `412` and changes
//! nothing). Every error is an RFC 9457 problem (see [`crate::problem`]).
//!
//! Around the handlers, as [`crate::config::Config`] says: CORS preflights are answered
//! before anything else and every answer gets its CORS headers ([`crate::cors`]); bearer
//! tokens are checked after routing and before a handler reads the body ([`crate::jwt`]).

use std::io::Read;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{Config, ConfigError, Limits};
use crate::cors::Cors;
use crate::jwt::{Rejected, TokenPolicy};
use crate::problem::Problem;
use crate::store::{ListQuery, Store, StoreError, Versioned, Written};
use crate::todo::{self, FieldErrors, TodoId, TodoPatch};

pub const DEFAULT_PAGE_SIZE: u64 = 100;
pub const MAX_PAGE_SIZE: u64 = 1000;
/// Every status the API answers with, for any input (the README's tables; hostile-input
/// tests hold every answer to this set).
pub const STATUSES: &[u16] = &[
    200, 201, 204, 304, 400, 401, 403, 404, 405, 412, 413, 415, 500, 503,
];
/// How often a write without `If-Match` re-reads and retries after losing a race.
const WRITE_RETRIES: usize = 16;

/// The OpenAPI 3.1 document served at `/openapi.json` (`src/openapi.json`, minified by
/// `build.rs`); `tests/openapi.rs` keeps it in step with [`ROUTES`].
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.min.json"));

/// Every path the API serves and the methods each allows: the route table.
pub const ROUTES: &[(&str, &[Method])] = &[
    ("/todos", &[Method::GET, Method::POST]),
    (
        "/todos/{id}",
        &[Method::GET, Method::PUT, Method::PATCH, Method::DELETE],
    ),
    ("/healthz", &[Method::GET]),
    ("/readyz", &[Method::GET]),
    ("/openapi.json", &[Method::GET]),
];

/// Answers one request under `config`. The body is read only as far as the request
/// needs and never past `config.limits.max_body_bytes + 1` bytes. Never panics on any input.
pub fn handle<S: Store, B: Read>(
    store: &S,
    config: &Config,
    request: Request<B>,
) -> Response<Vec<u8>> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    let found = route(path);
    if let Some((_, allowed, _)) = found
        && Cors::is_preflight(&parts.method, &parts.headers)
    {
        return config.cors.preflight(&parts.headers, allowed);
    }
    let result = match found {
        None => Err(Problem::new(
            StatusCode::NOT_FOUND,
            format!("Nothing is served at {path}."),
        )),
        Some((_, allowed, _)) if !allowed.contains(&parts.method) => {
            Err(method_not_allowed(&parts.method, path, allowed))
        }
        Some((pattern, _, id)) => {
            authorize(config.auth.as_ref(), &parts.method, pattern, &parts.headers).and_then(|()| {
                let request = Incoming {
                    headers: &parts.headers,
                    query: parts.uri.query(),
                    body,
                    limits: &config.limits,
                };
                dispatch(store, &parts.method, pattern, id, request)
            })
        }
    };
    let mut response = result.unwrap_or_else(Problem::into_response);
    config.cors.apply(&parts.headers, &mut response);
    response
}

/// The answer to every request while a setting is invalid: `500`, naming the setting
/// (its value and what is wrong with it go only to the log).
pub fn misconfigured(error: &ConfigError) -> Response<Vec<u8>> {
    crate::log::error(format_args!("{error}"));
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!(
            "The service is misconfigured: setting {} is invalid; its log says why.",
            error.setting
        ),
    )
    .into_response()
}

/// The parts of a request a handler reads.
struct Incoming<'a, B> {
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    body: B,
    limits: &'a Limits,
}

// ---------------------------------------------------------------------------------------
// Authentication

/// Checks the bearer token where the policy asks for one: on every write, and on reads
/// of todos when `protect_reads` is set. Probes and the OpenAPI document stay open.
fn authorize(
    policy: Option<&TokenPolicy>,
    method: &Method,
    pattern: &str,
    headers: &HeaderMap,
) -> Result<(), Problem> {
    let Some(policy) = policy else {
        return Ok(());
    };
    let write = *method != Method::GET;
    let protected = write || (policy.protect_reads && pattern.starts_with("/todos"));
    if !protected {
        return Ok(());
    }
    let token = bearer_token(headers).ok_or_else(|| {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "This request needs a bearer token: send Authorization: Bearer <token>.",
        )
        .with_header(header::WWW_AUTHENTICATE, "Bearer")
    })?;
    let grant = policy.verify(token, unix_now()).map_err(|Rejected(why)| {
        Problem::new(StatusCode::UNAUTHORIZED, why).with_header(
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"invalid_token\", error_description=\"{why}\""),
        )
    })?;
    match &policy.write_scope {
        Some(scope) if write && !grant.has_scope(scope) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!("The token does not grant the scope '{scope}', which writes need."),
        )
        .with_header(
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
        )),
        _ => Ok(()),
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

type Answer = Result<Response<Vec<u8>>, Problem>;

/// Finds the route table entry for `path`, with the id for `/todos/{id}`. Like ASP.NET
/// Core's routing, which the seed sample's clients were written against, matching ignores
/// ASCII case and one trailing slash. An id segment that is not a positive integer names
/// nothing: `404`.
fn route(path: &str) -> Option<(&'static str, &'static [Method], Option<TodoId>)> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let (pattern, id) = match path.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("/todos/") => {
            ("/todos/{id}", Some(TodoId::parse(&path[7..])?))
        }
        _ => (path, None),
    };
    ROUTES
        .iter()
        .find(|(candidate, _)| candidate.eq_ignore_ascii_case(pattern))
        .map(|(pattern, methods)| (*pattern, *methods, id))
}

fn dispatch<S: Store, B: Read>(
    store: &S,
    method: &Method,
    pattern: &str,
    id: Option<TodoId>,
    request: Incoming<'_, B>,
) -> Answer {
    match (pattern, id) {
        ("/todos", _) if method == Method::GET => list_todos(store, request.query),
        ("/todos", _) => create_todo(store, request),
        ("/todos/{id}", Some(id)) => match *method {
            Method::GET => get_todo(store, id, request.headers),
            Method::PUT => replace_todo(store, id, request),
            Method::PATCH => patch_todo(store, id, request),
            _ => delete_todo(store, id, request.headers),
        },
        ("/healthz", _) => Ok(text(StatusCode::OK, "Healthy")),
        ("/readyz", _) => store
            .check_ready()
            .map(|()| text(StatusCode::OK, "Healthy"))
            .map_err(store_problem),
        ("/openapi.json", _) => Ok(json_bytes(StatusCode::OK, OPENAPI_JSON.as_bytes().to_vec())),
        _ => Err(Problem::new(
            StatusCode::NOT_FOUND,
            "Nothing is served here.",
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Handlers

fn list_todos<S: Store>(store: &S, query: Option<&str>) -> Answer {
    let params = ListParams::parse(query.unwrap_or(""))?;
    let page = store
        .list(&ListQuery {
            is_complete: params.is_complete,
            offset: (params.page - 1).saturating_mul(params.page_size),
            limit: params.page_size,
        })
        .map_err(store_problem)?;
    let todos: Vec<_> = page.items.iter().map(|stored| &stored.todo).collect();
    let mut response = json(StatusCode::OK, &todos);
    let headers = response.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    if let Some(link) = params.link_header(page.total)
        && let Ok(value) = HeaderValue::try_from(link)
    {
        headers.insert(header::LINK, value);
    }
    Ok(response)
}

fn get_todo<S: Store>(store: &S, id: TodoId, headers: &HeaderMap) -> Answer {
    let stored = store
        .get(id)
        .map_err(store_problem)?
        .ok_or_else(|| not_found(id))?;
    let tag = etag(stored.revision);
    if if_none_match(headers, &tag) {
        let mut response = Response::new(Vec::new());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        insert_etag(&mut response, &tag);
        return Ok(response);
    }
    Ok(todo_response(StatusCode::OK, &stored))
}

fn create_todo<S: Store, B: Read>(store: &S, request: Incoming<'_, B>) -> Answer {
    let limits = request.limits;
    let body = read_json_object(request, &[JSON])?;
    let fields =
        todo::parse_new_todo(&body, limits.max_title_chars).map_err(Problem::validation)?;
    let stored = store.create(&fields).map_err(store_problem)?;
    let mut response = todo_response(StatusCode::CREATED, &stored);
    let location = format!("/todos/{}", stored.todo.id);
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

fn replace_todo<S: Store, B: Read>(store: &S, id: TodoId, request: Incoming<'_, B>) -> Answer {
    let (headers, limits) = (request.headers, request.limits);
    let body = read_json_object(request, &[JSON])?;
    let fields =
        todo::parse_new_todo(&body, limits.max_title_chars).map_err(Problem::validation)?;
    let stored = write_conditionally(store, id, headers, |current| {
        store
            .update(id, current.revision, &fields)
            .map_err(store_problem)
    })?;
    Ok(todo_response(StatusCode::OK, &stored))
}

fn patch_todo<S: Store, B: Read>(store: &S, id: TodoId, request: Incoming<'_, B>) -> Answer {
    let (headers, limits) = (request.headers, request.limits);
    let body = read_json_object(request, &[MERGE_PATCH, JSON])?;
    let patch = TodoPatch::parse(&body, limits.max_title_chars).map_err(Problem::validation)?;
    let stored = write_conditionally(store, id, headers, |current| {
        let fields = patch.apply(&current.todo.fields());
        store
            .update(id, current.revision, &fields)
            .map_err(store_problem)
    })?;
    Ok(todo_response(StatusCode::OK, &stored))
}

fn delete_todo<S: Store>(store: &S, id: TodoId, headers: &HeaderMap) -> Answer {
    write_conditionally(store, id, headers, |current| {
        store.delete(id, current.revision).map_err(store_problem)
    })?;
    let mut response = Response::new(Vec::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// Reads the current todo, checks `If-Match`, and makes `write` against the revision it
/// read. Without `If-Match` a write that lost a race is retried on the newer todo; with
/// it, the client's tag is now stale, so the answer is `412`.
fn write_conditionally<S: Store, T>(
    store: &S,
    id: TodoId,
    headers: &HeaderMap,
    write: impl Fn(&Versioned) -> Result<Written<T>, Problem>,
) -> Result<T, Problem> {
    let precondition = IfMatch::parse(headers);
    for _ in 0..WRITE_RETRIES {
        let current = store
            .get(id)
            .map_err(store_problem)?
            .ok_or_else(|| not_found(id))?;
        precondition.check(&current)?;
        match write(&current)? {
            Written::Done(done) => return Ok(done),
            Written::NotFound => return Err(not_found(id)),
            Written::Conflict => precondition.on_conflict()?,
        }
    }
    Err(contention(id))
}

// ---------------------------------------------------------------------------------------
// Query strings

/// `GET /todos` query parameters, parsed: `isComplete`, `page` (1-based), `pageSize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ListParams {
    is_complete: Option<bool>,
    page: u64,
    page_size: u64,
}

impl ListParams {
    fn parse(query: &str) -> Result<Self, Problem> {
        let mut params = Self {
            is_complete: None,
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        };
        let mut errors = FieldErrors::new();
        let mut reject = |field: &str, message: String| {
            errors.entry(field.to_owned()).or_default().push(message);
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "isComplete" => match &*value {
                    "true" => params.is_complete = Some(true),
                    "false" => params.is_complete = Some(false),
                    _ => reject("isComplete", format!("'{value}' is not true or false.")),
                },
                "page" => match value.parse::<u32>() {
                    Ok(page) if page >= 1 => params.page = u64::from(page),
                    _ => reject(
                        "page",
                        format!("'{value}' is not a page number (1 or more)."),
                    ),
                },
                "pageSize" => match value.parse::<u64>() {
                    Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => params.page_size = size,
                    _ => reject(
                        "pageSize",
                        format!("'{value}' is not a page size from 1 to {MAX_PAGE_SIZE}."),
                    ),
                },
                // Unknown parameters are ignored, as the seed's minimal API does.
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(params)
        } else {
            Err(Problem::validation(errors))
        }
    }

    /// RFC 8288 links to the neighbouring pages that exist.
    fn link_header(&self, total: u64) -> Option<String> {
        let last_page = total.div_ceil(self.page_size).max(1);
        let mut links = Vec::new();
        if self.page < last_page {
            links.push(format!("<{}>; rel=\"next\"", self.url(self.page + 1)));
        }
        if self.page > 1 {
            links.push(format!(
                "<{}>; rel=\"prev\"",
                self.url((self.page - 1).min(last_page))
            ));
        }
        (!links.is_empty()).then(|| links.join(", "))
    }

    fn url(&self, page: u64) -> String {
        let filter = match self.is_complete {
            Some(flag) => format!("isComplete={flag}&"),
            None => String::new(),
        };
        format!("/todos?{filter}page={page}&pageSize={}", self.page_size)
    }
}

// ---------------------------------------------------------------------------------------
// Bodies

const JSON: &str = "application/json";
const MERGE_PATCH: &str = "application/merge-patch+json";

/// Checks the content type against `accepted`, reads the body within the size limit and
/// parses it as one JSON object.
fn read_json_object<B: Read>(
    request: Incoming<'_, B>,
    accepted: &[&str],
) -> Result<Map<String, Value>, Problem> {
    let media_type = request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if !media_type.is_some_and(|media_type| accepted.contains(&media_type.as_str())) {
        let mut problem = Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("The body must be sent as {}.", accepted.join(" or ")),
        );
        if accepted.contains(&MERGE_PATCH) {
            problem = problem.with_header(
                header::HeaderName::from_static("accept-patch"),
                accepted.join(", "),
            );
        }
        return Err(problem);
    }
    let bytes = read_limited(request.headers, request.body, request.limits.max_body_bytes)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "The request body is empty; send a JSON object.",
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "The request body must be a JSON object.",
        )),
        Err(error) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!("The request body is not valid JSON: {error}."),
        )),
    }
}

/// Reads at most `limit` bytes; a declared or actual body past it is refused with `413`
/// without reading the rest.
fn read_limited<B: Read>(headers: &HeaderMap, body: B, limit: usize) -> Result<Vec<u8>, Problem> {
    let too_large = || {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(declared.map_or(0, |length| length as usize));
    body.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                format!("The request body could not be read: {error}."),
            )
        })?;
    if bytes.len() > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------------------
// Entity tags

/// The strong entity tag of a revision.
fn etag(revision: u64) -> String {
    format!("\"{revision}\"")
}

/// The entity tags a header lists, comma-separated, across all its lines.
fn listed_tags(headers: &HeaderMap, name: header::HeaderName) -> Option<Vec<&str>> {
    let mut tags = Vec::new();
    let mut present = false;
    for value in headers.get_all(name) {
        present = true;
        // A value that is not visible ASCII lists no tag of ours.
        if let Ok(value) = value.to_str() {
            tags.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|tag| !tag.is_empty()),
            );
        }
    }
    present.then_some(tags)
}

/// `If-None-Match` on a read, with weak comparison (RFC 9110 13.1.2).
fn if_none_match(headers: &HeaderMap, tag: &str) -> bool {
    listed_tags(headers, header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.iter()
            .any(|&listed| listed == "*" || listed.strip_prefix("W/").unwrap_or(listed) == tag)
    })
}

/// `If-Match` on a write, with strong comparison (RFC 9110 13.1.1): `None` when absent.
struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    fn parse(headers: &HeaderMap) -> Self {
        Self(
            listed_tags(headers, header::IF_MATCH)
                .map(|tags| tags.into_iter().map(str::to_owned).collect()),
        )
    }

    fn check(&self, current: &Versioned) -> Result<(), Problem> {
        let Some(tags) = &self.0 else { return Ok(()) };
        let tag = etag(current.revision);
        if tags.iter().any(|listed| listed == "*" || *listed == tag) {
            Ok(())
        } else {
            Err(precondition_failed(current.todo.id))
        }
    }

    /// A write lost a race: fine to retry without `If-Match`, a `412` with it.
    fn on_conflict(&self) -> Result<(), Problem> {
        match &self.0 {
            None => Ok(()),
            Some(_) => Err(Problem::new(
                StatusCode::PRECONDITION_FAILED,
                "The todo was changed by another request; fetch it again and retry.",
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Answers

fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Vec<u8>> {
    // Todos are plain strings, numbers and booleans: serializing them cannot fail.
    json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
}

fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn text(status: StatusCode, body: &str) -> Response<Vec<u8>> {
    let mut response = Response::new(body.as_bytes().to_vec());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn todo_response(status: StatusCode, stored: &Versioned) -> Response<Vec<u8>> {
    let mut response = json(status, &stored.todo);
    insert_etag(&mut response, &etag(stored.revision));
    response
}

fn insert_etag(response: &mut Response<Vec<u8>>, tag: &str) {
    if let Ok(value) = HeaderValue::try_from(tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
}

fn not_found(id: TodoId) -> Problem {
    Problem::new(StatusCode::NOT_FOUND, format!("No todo has id {id}."))
}

fn precondition_failed(id: TodoId) -> Problem {
    Problem::new(
        StatusCode::PRECONDITION_FAILED,
        format!("Todo {id} does not match If-Match; fetch it again and retry."),
    )
}

fn contention(id: TodoId) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("Todo {id} is being changed by many requests at once; retry shortly."),
    )
}

fn method_not_allowed(method: &Method, path: &str, allowed: &[Method]) -> Problem {
    let allow = allowed
        .iter()
        .map(Method::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {path}; use {allow}."),
    )
    .with_header(header::ALLOW, allow)
}

/// Maps a store failure to its answer and logs the cause, which the client never sees.
fn store_problem(error: StoreError) -> Problem {
    crate::log::error(format_args!("{error}"));
    match error {
        StoreError::Unavailable(_) => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The todo store is unavailable; try again later.",
        ),
        StoreError::Corrupt(_) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The todo store holds data that cannot be read.",
        ),
    }
}
