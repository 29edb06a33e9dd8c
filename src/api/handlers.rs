//! The handlers, one per operation. [`run`] first resolves the operation's target (the
//! checks that answer before any precondition: the todo exists, the query and the body's
//! headers are right), evaluates the preconditions against it, and only then lets the
//! handler read the body and write.

use std::io::Read;

use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, header};
use serde::Serialize;

use super::body::{self, JSON, MERGE_PATCH};
use super::encoding::{self, Accepted, BodyCoding};
use super::failure::Failure;
use super::preconditions::{Preconditions, Verdict};
use super::query::ListParams;
use super::route::{Operation, Route};
use crate::config::Limits;
use crate::store::{FNV_START, Store, Versioned, Written, fnv1a};
use serde_json::{Map, Value};

use crate::todo::{self, FieldErrors, TodoFields, TodoId, TodoPatch};

/// Every status a handler succeeds with.
pub const SUCCESS_STATUSES: &[StatusCode] = &[
    StatusCode::OK,
    StatusCode::CREATED,
    StatusCode::NO_CONTENT,
    StatusCode::NOT_MODIFIED,
];
/// How often a write re-reads and retries after losing a race (and its preconditions
/// still hold on the todo that won).
const WRITE_RETRIES: usize = 16;

pub type Answer = Result<Response<Vec<u8>>, Failure>;

/// The parts of a request a handler reads.
pub struct Incoming<'a, B> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query: Option<&'a str>,
    pub body: B,
    pub limits: &'a Limits,
    pub preconditions: Preconditions,
    /// What `Accept-Encoding` accepts: a `GET` compares `If-None-Match` with the tag of
    /// the representation it selects.
    pub accepted: &'a Accepted,
    /// Owner mode: whether the todo a request names exists (for the caller) is judged
    /// before the body's headers, so that a bad body cannot tell another owner's todo from
    /// one that never existed (in the shared list, the seed's bind-first order holds).
    pub existence_first: bool,
    /// With `existence_first`, why `If-Match` or `If-None-Match` did not parse: answered
    /// once the target is found.
    pub malformed_preconditions: Option<Failure>,
}

/// An operation with its target found.
enum Resolved {
    /// A list, with the collection's version read before its page.
    List(ListParams, u64),
    Create,
    /// A todo's answer, made before its preconditions are judged: the coding it goes out
    /// in, and so its tag, depend on its length; and its revision.
    Get(Response<Vec<u8>>, u64),
    Replace(Versioned),
    Patch(Versioned),
    Delete(Versioned),
    Health,
    Ready,
    OpenApi,
    Page(usize),
    /// `OPTIONS`, with the todo it names, which must exist like any other todo.
    Describe(Route, Option<Versioned>),
}

pub fn run<S: Store, B: Read>(
    store: &S,
    operation: Operation,
    mut request: Incoming<'_, B>,
) -> Answer {
    let resolved = resolve(store, operation, &request)?;
    if let Some(failure) = request.malformed_preconditions.take() {
        return Err(failure);
    }
    let tags: Vec<String> = match &resolved {
        // The representation a GET (or HEAD) selects: in gzip where `encoding::encode` will
        // send it so, which depends on its length.
        Resolved::Get(answer, revision) => {
            let length = answer.body().len();
            let coding = request.accepted.choose(encoding::RUN_TIME_CODINGS, length);
            vec![encoding::tag_in(&etag(*revision), coding)]
        }
        // A list's page is not read before a 304: its tag, in every coding it might go
        // out in, whatever its length.
        Resolved::List(params, version) => {
            let tag = list_etag(*version, params);
            let possible = request.accepted.possible(encoding::RUN_TIME_CODINGS);
            possible
                .into_iter()
                .map(|coding| encoding::tag_in(&tag, coding))
                .collect()
        }
        Resolved::Health | Resolved::Ready => vec![PROBE_ETAG.to_owned()],
        Resolved::Page(index) => vec![
            super::page::PAGE_FILES[*index]
                .content
                .tag(request.accepted),
        ],
        Resolved::OpenApi => vec![super::OPENAPI.tag(request.accepted)],
        Resolved::Replace(current)
        | Resolved::Patch(current)
        | Resolved::Delete(current)
        | Resolved::Describe(_, Some(current)) => {
            encoding::tags_of_every_coding(&etag(current.revision)).to_vec()
        }
        _ => Vec::new(),
    };
    if request.preconditions.evaluate(request.method, &tags)? == Verdict::NotModified {
        // What the 200 would have carried that describes it (RFC 9110 §15.4.5).
        let mut response = empty(StatusCode::NOT_MODIFIED);
        if let Some(tag) = request.preconditions.none_match_tag(&tags) {
            insert_etag(&mut response, tag);
        }
        encoding::vary(response.headers_mut());
        return Ok(response);
    }
    match resolved {
        Resolved::List(params, version) => list_todos(store, &params, version),
        Resolved::Create => create_todo(store, request),
        Resolved::Get(answer, _) => Ok(answer),
        Resolved::Replace(current) => change_todo(store, current, request, |body, max| {
            todo::parse_new_todo(body, max).map(Change::Replace)
        }),
        Resolved::Patch(current) => change_todo(store, current, request, |body, max| {
            TodoPatch::parse(body, max).map(Change::Patch)
        }),
        Resolved::Delete(current) => delete_todo(store, current, &request),
        Resolved::Health | Resolved::Ready => {
            let mut response = text(StatusCode::OK, "Healthy");
            insert_etag(&mut response, PROBE_ETAG);
            Ok(response)
        }
        // `Vary` as every JSON answer gets it, from `encoding::encode`.
        Resolved::OpenApi => Ok(super::OPENAPI.answer(request.accepted, JSON_UTF8)),
        Resolved::Page(index) => Ok(super::page::answer(index, request.accepted)),
        Resolved::Describe(route, _) => {
            let mut response = empty(StatusCode::NO_CONTENT);
            if let Ok(allow) = HeaderValue::try_from(route.allow_header()) {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            Ok(response)
        }
    }
}

/// The checks that take precedence over preconditions (RFC 9110 §13.2.1).
fn resolve<S: Store, B>(
    store: &S,
    operation: Operation,
    request: &Incoming<'_, B>,
) -> Result<Resolved, Failure> {
    let current = |id: TodoId| store.get(id)?.ok_or(Failure::NoTodo(id));
    let declared =
        |accepted| body::check_declared(request.headers, accepted, request.limits.max_body_bytes);
    // A write's target, and its body's headers checked: in the seed's order, the headers
    // first; in owner mode, whether the todo exists first (see `Incoming::existence_first`).
    let written = |id: TodoId, accepted| {
        if request.existence_first {
            let found = current(id)?;
            declared(accepted)?;
            Ok(found)
        } else {
            declared(accepted)?;
            current(id)
        }
    };
    Ok(match operation {
        Operation::ListTodos => {
            let params = ListParams::parse(request.query.unwrap_or(""))?;
            Resolved::List(params, store.list_version()?)
        }
        Operation::CreateTodo => {
            declared(&[JSON])?;
            Resolved::Create
        }
        Operation::GetTodo(id) => {
            let current = current(id)?;
            Resolved::Get(todo_response(StatusCode::OK, &current), current.revision)
        }
        Operation::ReplaceTodo(id) => Resolved::Replace(written(id, &[JSON])?),
        Operation::PatchTodo(id) => Resolved::Patch(written(id, &[MERGE_PATCH, JSON])?),
        Operation::DeleteTodo(id) => Resolved::Delete(current(id)?),
        Operation::Health => Resolved::Health,
        // Before any precondition: a `304` must not say a store that is down is ready.
        Operation::Ready => {
            store.check_ready()?;
            Resolved::Ready
        }
        Operation::OpenApi => Resolved::OpenApi,
        Operation::Page(index) => Resolved::Page(index),
        Operation::Describe(route) => match route {
            Route::Todo(id) => Resolved::Describe(route, Some(current(id)?)),
            _ => Resolved::Describe(route, None),
        },
    })
}

/// The strong entity tag of a probe's one answer, `Healthy` (probes are never stored, but
/// every `200` with content has a tag).
const PROBE_ETAG: &str = "\"healthy\"";

/// A list's strong entity tag: a fingerprint of the collection's version and of what the
/// parameters select. It changes with every write to the collection, and says nothing of
/// how many there were.
fn list_etag(version: u64, params: &ListParams) -> String {
    let fingerprint = fnv1a(
        fnv1a(FNV_START, &version.to_le_bytes()),
        &params.fingerprint().to_le_bytes(),
    );
    format!("\"l{fingerprint:016x}\"")
}

fn list_todos<S: Store>(store: &S, params: &ListParams, version: u64) -> Answer {
    let page = store.list(&params.store_query())?;
    let todos: Vec<_> = page.items.iter().map(|stored| &stored.todo).collect();
    let mut response = json(StatusCode::OK, &todos);
    insert_etag(&mut response, &list_etag(version, params));
    let headers = response.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(page.total));
    if let Some(link) = params.link_header(page.total)
        && let Ok(value) = HeaderValue::try_from(link)
    {
        headers.insert(header::LINK, value);
    }
    Ok(response)
}

fn create_todo<S: Store, B: Read>(store: &S, request: Incoming<'_, B>) -> Answer {
    let fields = new_todo(request)?;
    let stored = store.create(&fields)?;
    let mut response = todo_response(StatusCode::CREATED, &stored);
    let location = format!("/todos/{}", stored.todo.id);
    if let Ok(value) = HeaderValue::try_from(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// What a `PUT` or `PATCH` sets, given the todo it applies to.
enum Change {
    Replace(TodoFields),
    Patch(TodoPatch),
}

impl Change {
    fn applied_to(&self, current: &Versioned) -> TodoFields {
        match self {
            Self::Replace(fields) => fields.clone(),
            Self::Patch(patch) => patch.apply(&current.todo.fields()),
        }
    }
}

/// `PUT` and `PATCH`: reads the body as `parse` says and writes the change it asks for,
/// unless that leaves the todo as it is: then nothing is written and the todo keeps its
/// revision, so its `ETag` stays valid for everyone else.
fn change_todo<S: Store, B: Read>(
    store: &S,
    current: Versioned,
    mut request: Incoming<'_, B>,
    parse: fn(&Map<String, Value>, usize) -> Result<Change, FieldErrors>,
) -> Answer {
    let (limits, method) = (request.limits, request.method);
    let preconditions = std::mem::take(&mut request.preconditions);
    let body = read_todo_object(request)?;
    let change = parse(&body, limits.max_title_chars).map_err(Failure::Invalid)?;
    let preconditions = &preconditions;
    let stored = write_conditionally(store, method, preconditions, current, &|current| {
        let fields = change.applied_to(current);
        if fields == current.todo.fields() {
            return Ok(Written::Done(current.clone()));
        }
        Ok(store.update(current.todo.id, current.revision, &fields)?)
    })?;
    Ok(todo_response(StatusCode::OK, &stored))
}

fn delete_todo<S: Store, B>(store: &S, current: Versioned, request: &Incoming<'_, B>) -> Answer {
    write_conditionally(
        store,
        request.method,
        &request.preconditions,
        current,
        &|current| {
            Ok(match store.delete(current.todo.id, current.revision)? {
                Written::Done(()) => Written::Done(current.clone()),
                Written::NotFound => Written::NotFound,
                Written::Conflict => Written::Conflict,
            })
        },
    )?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Makes `write` against `current`, and answers the todo it leaves. A write that lost a
/// race reads the todo that won and, where the preconditions still hold on it, tries
/// again: without `If-Match`, and with `If-Match: *`, it goes ahead; a listed tag is stale
/// now, so that is `412`.
fn write_conditionally<S: Store>(
    store: &S,
    method: &Method,
    preconditions: &Preconditions,
    mut current: Versioned,
    write: &dyn Fn(&Versioned) -> Result<Written<Versioned>, Failure>,
) -> Result<Versioned, Failure> {
    let id = current.todo.id;
    for _ in 0..WRITE_RETRIES {
        match write(&current)? {
            Written::Done(done) => return Ok(done),
            Written::NotFound => return Err(Failure::NoTodo(id)),
            Written::Conflict => {
                current = store.get(id)?.ok_or(Failure::NoTodo(id))?;
                let tags = encoding::tags_of_every_coding(&etag(current.revision));
                preconditions.evaluate(method, &tags)?;
            }
        }
    }
    Err(Failure::Contention(id))
}

/// The request's body as a JSON object of the todo's members (`check_declared` has
/// refused every content coding but gzip).
fn read_todo_object<B: Read>(request: Incoming<'_, B>) -> Result<Map<String, Value>, Failure> {
    let coding = encoding::body_coding(request.headers).unwrap_or(BodyCoding::Identity);
    body::read_object(
        request.body,
        coding,
        request.limits.max_body_bytes,
        todo::MEMBERS,
    )
}

fn new_todo<B: Read>(request: Incoming<'_, B>) -> Result<TodoFields, Failure> {
    let limits = request.limits;
    let body = read_todo_object(request)?;
    todo::parse_new_todo(&body, limits.max_title_chars).map_err(Failure::Invalid)
}

// ---------------------------------------------------------------------------------------
// Answers

/// The strong entity tag of a revision.
fn etag(revision: u64) -> String {
    format!("\"{revision}\"")
}

fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response<Vec<u8>> {
    // Todos are plain strings, numbers and booleans: serializing them cannot fail.
    json_bytes(status, serde_json::to_vec(value).unwrap_or_default())
}

fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    response
}

/// The media type of every JSON answer but problems.
const JSON_UTF8: &str = "application/json; charset=utf-8";

fn text(status: StatusCode, body: &str) -> Response<Vec<u8>> {
    let mut response = Response::new(body.as_bytes().to_vec());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn empty(status: StatusCode) -> Response<Vec<u8>> {
    let mut response = Response::new(Vec::new());
    *response.status_mut() = status;
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
