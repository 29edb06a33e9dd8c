//! Every way a request can fail: one typed error per layer (routing, authentication,
//! preconditions, bodies, validation, the store, the settings, the host), and the one
//! `match` that turns each into its problem answer. The statuses the API can fail with
//! are read off that match ([`FAILURE_STATUSES`]), not kept by hand.
//!
//! An answer never carries what a lower layer said (host errors, backtraces, SQL, paths):
//! those go to the log, and the client gets a plain sentence.

use std::fmt::Display;

use http::{HeaderName, Method, Response, StatusCode, header};

use super::route::Route;
use crate::config::ConfigError;
use crate::problem::Problem;
use crate::ratelimit::{Admission, RateLimit};
use crate::store::StoreError;
use crate::todo::{FieldErrors, TodoId};

/// Why a request failed.
#[derive(Debug)]
pub enum Failure {
    Route(RouteError),
    MethodNotAllowed {
        method: Method,
        route: Route,
    },
    NoTodo(TodoId),
    Denied(Denied),
    Precondition(PreconditionError),
    Body(BodyError),
    /// Query parameters or body fields that are missing or invalid, by name.
    Invalid(FieldErrors),
    Store(StoreError),
    /// A write without `If-Match` lost the race to other writers every time it tried.
    Contention(TodoId),
    Misconfigured(ConfigError),
    /// Over the rate limit: the bucket as the store left it.
    RateLimited {
        limit: RateLimit,
        admission: Admission,
    },
    /// The host handed over a request that `http` cannot represent; the cause is logged.
    Host(String),
}

#[derive(Debug)]
pub enum RouteError {
    NothingAt(String),
    /// `/todos/{id}` with a segment that does not bind as an integer.
    NotAnId(String),
    /// An integer no todo can have (zero or negative).
    NoTodoCanHave(String),
}

#[derive(Debug)]
pub enum Denied {
    NoToken,
    InvalidToken(&'static str),
    MissingScope(String),
    /// Another owner's list asked for (`?owner=`) without the admin scope.
    NotAdmin(Option<String>),
}

#[derive(Debug)]
pub enum PreconditionError {
    /// `If-Match` or `If-None-Match` that is not `*` or a list of entity tags.
    Malformed(HeaderName),
    Failed,
}

#[derive(Debug)]
pub enum BodyError {
    TooLarge(usize),
    /// Not a JSON media type; the media types the operation takes.
    NotJson(&'static [&'static str]),
    /// A charset other than UTF-8 declared.
    NotUtf8(String),
    /// A `Content-Encoding` other than gzip.
    UnsupportedCoding,
    /// Sent as gzip, and not gzip.
    NotGzip,
    /// The host failed to deliver the body (the client went away, say); the cause is
    /// for the log.
    Unreadable(String),
    /// The body did not arrive within the time allowed (`body_timeout_ms`).
    TooSlow,
    Empty,
    NotAnObject,
    NotJsonSyntax {
        line: usize,
        column: usize,
    },
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            // A deployment without owner mode on a store that has owners' todos: the
            // setting is what is wrong, not the store.
            StoreError::HoldsOwnedTodos => Self::Misconfigured(crate::config::ConfigError {
                setting: "jwt_owner_claim",
                message: "is not set, but the store holds todos that belong to owners: set it \
                          to the token claim that names them (usually sub)"
                    .into(),
            }),
            error => Self::Store(error),
        }
    }
}

/// Writes `cause` to the log and gives back the sentence for the client.
fn logged(cause: impl Display, sentence: &'static str) -> &'static str {
    crate::log::error(format_args!("{cause}"));
    sentence
}

/// The one match: each failure, its status, its sentence and any headers it needs.
/// Also defines [`FAILURE_STATUSES`], every status written here.
macro_rules! answers {
    ($($failure:pat => $status:ident, $detail:expr $(, .$with:ident($($arg:expr),*))*;)*) => {
        impl Failure {
            pub fn into_problem(self) -> Problem {
                match self {
                    $($failure => Problem::new(StatusCode::$status, $detail)$(.$with($($arg),*))*,)*
                }
            }
        }

        /// Every status a failure answers with (in the order of the match; with repeats).
        pub const FAILURE_STATUSES: &[StatusCode] = &[$(StatusCode::$status),*];
    };
}

answers! {
    Failure::Route(RouteError::NothingAt(path)) => NOT_FOUND,
        format!("Nothing is served at {path}.");
    Failure::Route(RouteError::NotAnId(segment)) => BAD_REQUEST,
        format!("'{segment}' is not a todo id; ids are integers.");
    Failure::Route(RouteError::NoTodoCanHave(id)) => NOT_FOUND,
        format!("No todo has id {id}.");
    Failure::NoTodo(id) => NOT_FOUND,
        format!("No todo has id {id}.");
    Failure::MethodNotAllowed { method, route } => METHOD_NOT_ALLOWED,
        format!("{method} is not allowed on {}; use {}.", route.pattern(), route.allow_header()),
        .with_header(header::ALLOW, route.allow_header());
    Failure::Denied(Denied::NoToken) => UNAUTHORIZED,
        "This request needs a bearer token: send Authorization: Bearer <token>.",
        .with_header(header::WWW_AUTHENTICATE, "Bearer");
    Failure::Denied(Denied::InvalidToken(why)) => UNAUTHORIZED,
        why,
        .with_header(
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"invalid_token\", error_description=\"{why}\"")
        );
    Failure::Denied(Denied::MissingScope(scope)) => FORBIDDEN,
        format!("The token does not grant the scope '{scope}', which writes need."),
        .with_header(
            header::WWW_AUTHENTICATE,
            format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\"")
        );
    Failure::Denied(Denied::NotAdmin(scope)) => FORBIDDEN,
        match &scope {
            Some(scope) => format!("Only a token with the scope '{scope}' may list another owner's todos."),
            None => "Only an admin may list another owner's todos.".to_owned(),
        },
        .with_header(
            header::WWW_AUTHENTICATE,
            match &scope {
                Some(scope) => format!("Bearer error=\"insufficient_scope\", scope=\"{scope}\""),
                None => "Bearer error=\"insufficient_scope\"".to_owned(),
            }
        );
    Failure::Precondition(PreconditionError::Malformed(name)) => BAD_REQUEST,
        format!("{name} must be * or a list of entity tags such as \"3\", W/\"3\".");
    Failure::Precondition(PreconditionError::Failed) => PRECONDITION_FAILED,
        "The todo's current state does not meet If-Match or If-None-Match; nothing changed. \
         Fetch it again and retry.";
    Failure::Body(BodyError::TooLarge(limit)) => PAYLOAD_TOO_LARGE,
        format!("The request body is larger than the limit of {limit} bytes.");
    Failure::Body(BodyError::NotJson(accepted)) => UNSUPPORTED_MEDIA_TYPE,
        format!("The body must be sent as {} (or another +json type).", accepted.join(" or ")),
        .with_accept_patch(accepted);
    Failure::Body(BodyError::NotUtf8(charset)) => UNSUPPORTED_MEDIA_TYPE,
        format!("JSON must be sent as UTF-8, not as charset {charset}.");
    Failure::Body(BodyError::UnsupportedCoding) => UNSUPPORTED_MEDIA_TYPE,
        "The body must be sent as it is or with Content-Encoding: gzip.",
        .with_header(header::ACCEPT_ENCODING, "gzip");
    Failure::Body(BodyError::NotGzip) => BAD_REQUEST,
        "The request body is not valid gzip, as its Content-Encoding says.";
    Failure::Body(BodyError::Unreadable(cause)) => BAD_REQUEST,
        logged(format_args!("request body unreadable: {cause}"), "The request body could not be read to its end.");
    Failure::Body(BodyError::TooSlow) => REQUEST_TIMEOUT,
        "The request body did not arrive within the time allowed; nothing changed. Send it again.";
    Failure::Body(BodyError::Empty) => BAD_REQUEST,
        "The request body is empty; send a JSON object.";
    Failure::Body(BodyError::NotAnObject) => BAD_REQUEST,
        "The request body must be a JSON object.";
    Failure::Body(BodyError::NotJsonSyntax { line, column }) => BAD_REQUEST,
        format!("The request body is not valid JSON (line {line}, column {column}).");
    Failure::Invalid(errors) => BAD_REQUEST,
        "The request has fields that are missing or invalid; see errors.",
        .with_field_errors(errors);
    Failure::Store(StoreError::Unavailable(cause)) => SERVICE_UNAVAILABLE,
        logged(format_args!("store unavailable: {cause}"), "The todo store is unavailable; try again later.");
    Failure::Store(StoreError::Corrupt(cause)) => INTERNAL_SERVER_ERROR,
        logged(format_args!("store data corrupt: {cause}"), "The todo store holds data that cannot be read.");
    Failure::Store(StoreError::HoldsOwnedTodos) => INTERNAL_SERVER_ERROR,
        "The service is misconfigured: setting jwt_owner_claim is invalid; its log says why.";
    Failure::Contention(id) => SERVICE_UNAVAILABLE,
        format!("Todo {id} is being changed by many requests at once; retry shortly.");
    Failure::Misconfigured(error) => INTERNAL_SERVER_ERROR,
        format!(
            "The service is misconfigured: setting {} is invalid; its log says why.",
            logged(&error, error.setting)
        );
    Failure::RateLimited { limit, admission } => TOO_MANY_REQUESTS,
        format!(
            "Over the rate limit of {} requests per {} s; nothing changed. Retry after {} s.",
            limit.limit,
            limit.period_secs,
            limit.retry_after_secs(admission)
        ),
        .with_header(header::RETRY_AFTER, limit.retry_after_secs(admission).to_string()),
        .with_header(HeaderName::from_static("ratelimit-policy"), limit.policy_field()),
        .with_header(HeaderName::from_static("ratelimit"), limit.status_field(admission));
    Failure::Host(cause) => BAD_REQUEST,
        logged(format_args!("request unreadable: {cause}"), "The request cannot be read.");
}

/// `Accept-Patch` on a `415` to a `PATCH` (RFC 5789 §3.1): the media types it takes.
trait AcceptPatch {
    fn with_accept_patch(self, accepted: &[&str]) -> Self;
}

impl AcceptPatch for Problem {
    fn with_accept_patch(self, accepted: &[&str]) -> Self {
        if accepted.contains(&super::body::MERGE_PATCH) {
            self.with_header(HeaderName::from_static("accept-patch"), accepted.join(", "))
        } else {
            self
        }
    }
}

impl Failure {
    pub fn into_response(self) -> Response<Vec<u8>> {
        self.into_problem().into_response()
    }
}
