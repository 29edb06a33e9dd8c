//! Routing: a request's path to a typed [`Route`], and a route with a method to the
//! [`Operation`] that answers it. [`operation`] is the one table of what is served: the
//! `405` answer's `Allow`, `OPTIONS`, CORS preflights and `HEAD` all read it.

use http::Method;

use super::failure::{Failure, RouteError};
use crate::todo::TodoId;

/// Every path the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Todos,
    Todo(TodoId),
    Health,
    Ready,
    OpenApi,
    /// One of the page's files (`super::page::PAGE_FILES`, by index).
    Page(usize),
}

/// What a request asks for: a route and a method matched together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ListTodos,
    CreateTodo,
    GetTodo(TodoId),
    ReplaceTodo(TodoId),
    PatchTodo(TodoId),
    DeleteTodo(TodoId),
    Health,
    Ready,
    OpenApi,
    Page(usize),
    /// `OPTIONS` on any route: which methods it allows.
    Describe(Route),
}

impl Operation {
    /// A write of todos: what needs a token wherever tokens are configured.
    pub fn writes_todos(self) -> bool {
        matches!(
            self,
            Self::CreateTodo | Self::ReplaceTodo(_) | Self::PatchTodo(_) | Self::DeleteTodo(_)
        )
    }

    /// A read of todos. `OPTIONS` on a todo says whether it exists and, with
    /// preconditions, how often it was written: a read like `GET`. (CORS preflights are
    /// answered before any operation, the same for every id, as browsers send them
    /// without credentials.)
    pub fn reads_todos(self) -> bool {
        matches!(
            self,
            Self::ListTodos | Self::GetTodo(_) | Self::Describe(Route::Todos | Route::Todo(_))
        )
    }
}

/// The methods the API knows, in the order `Allow` lists them.
const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// The operation `method` names on `route`, if it is allowed there. `HEAD` is served
/// wherever `GET` is, by the same operation (RFC 9110 §9.3.2).
pub fn operation(route: Route, method: &Method) -> Option<Operation> {
    let read = *method == Method::GET || *method == Method::HEAD;
    Some(match (route, method.as_str()) {
        (_, "OPTIONS") => Operation::Describe(route),
        (Route::Todos, _) if read => Operation::ListTodos,
        (Route::Todos, "POST") => Operation::CreateTodo,
        (Route::Todo(id), _) if read => Operation::GetTodo(id),
        (Route::Todo(id), "PUT") => Operation::ReplaceTodo(id),
        (Route::Todo(id), "PATCH") => Operation::PatchTodo(id),
        (Route::Todo(id), "DELETE") => Operation::DeleteTodo(id),
        (Route::Health, _) if read => Operation::Health,
        (Route::Ready, _) if read => Operation::Ready,
        (Route::OpenApi, _) if read => Operation::OpenApi,
        (Route::Page(index), _) if read => Operation::Page(index),
        _ => return None,
    })
}

impl Route {
    /// The route `path` names. Like ASP.NET Core's routing, which the seed sample's clients
    /// were written against, matching ignores ASCII case and one trailing slash, and
    /// percent-encoded unreserved characters mean themselves (RFC 3986 §6.2.2.2). The id
    /// of `/todos/{id}` binds as the seed's `int id` does ([`TodoId::parse_route_value`]).
    pub fn parse(path: &str) -> Result<Self, Failure> {
        let normal = decode_unreserved(path);
        let trimmed = match normal.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => &normal,
        };
        let not_found = || Failure::Route(RouteError::NothingAt(path.to_owned()));
        if let Some(prefix) = trimmed.get(..7)
            && prefix.eq_ignore_ascii_case("/todos/")
        {
            let segment = &trimmed[7..];
            if segment.is_empty() || segment.contains('/') {
                return Err(not_found());
            }
            // Route values are fully percent-decoded before they bind, as ASP.NET Core does.
            let value = percent_decode(segment);
            return match TodoId::parse_route_value(&value) {
                Ok(Some(id)) => Ok(Self::Todo(id)),
                Ok(None) => Err(Failure::Route(RouteError::NoTodoCanHave(value))),
                Err(_) => Err(Failure::Route(RouteError::NotAnId(value))),
            };
        }
        if let Some(index) = super::page::find(trimmed) {
            return Ok(Self::Page(index));
        }
        [Self::Todos, Self::Health, Self::Ready, Self::OpenApi]
            .into_iter()
            .find(|route| route.pattern().eq_ignore_ascii_case(trimmed))
            .ok_or_else(not_found)
    }

    /// The path pattern, as the OpenAPI document names it.
    pub fn pattern(self) -> &'static str {
        match self {
            Self::Todos => "/todos",
            Self::Todo(_) => "/todos/{id}",
            Self::Health => "/healthz",
            Self::Ready => "/readyz",
            Self::OpenApi => "/openapi.json",
            Self::Page(index) => super::page::PAGE_FILES[index].path,
        }
    }

    /// The methods this route allows, from [`operation`].
    pub fn allowed(self) -> Vec<Method> {
        METHODS
            .into_iter()
            .filter(|method| operation(self, method).is_some())
            .collect()
    }

    /// `Allow`'s value (RFC 9110 §10.2.1).
    pub fn allow_header(self) -> String {
        let allowed = self.allowed();
        let methods: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        methods.join(", ")
    }
}

/// Every path pattern the API serves and the methods each allows: the route table as
/// the OpenAPI document must describe it (`tests/openapi.rs`).
pub fn routes() -> Vec<(&'static str, Vec<Method>)> {
    let any_id = TodoId::new(1).map_or(Route::Todos, Route::Todo);
    [
        Route::Todos,
        any_id,
        Route::Health,
        Route::Ready,
        Route::OpenApi,
    ]
    .into_iter()
    .chain((0..super::page::PAGE_FILES.len()).map(Route::Page))
    .map(|route| (route.pattern(), route.allowed()))
    .collect()
}

/// `path` with every percent-encoded unreserved character (ALPHA, DIGIT, `-._~`)
/// decoded; other escapes stay as they are, so `%2F` never becomes a segment break.
fn decode_unreserved(path: &str) -> String {
    decode(path, |byte| {
        byte.is_ascii_alphanumeric() || b"-._~".contains(&byte)
    })
}

/// `segment` with every escape decoded (bytes that are not UTF-8 become U+FFFD).
fn percent_decode(segment: &str) -> String {
    decode(segment, |_| true)
}

fn decode(text: &str, wanted: impl Fn(u8) -> bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|&byte| wanted(byte));
        match escaped {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_escapes_mean_themselves_and_others_stay() {
        assert_eq!(decode_unreserved("/%74odos/%31"), "/todos/1");
        assert_eq!(decode_unreserved("/todos%2F1"), "/todos%2F1");
        assert_eq!(decode_unreserved("/a%7e%2D%5F%2e"), "/a~-_.");
        assert_eq!(decode_unreserved("/%zz%4"), "/%zz%4");
    }

    #[test]
    fn every_route_allows_head_where_it_allows_get_and_options_everywhere() {
        for (pattern, methods) in routes() {
            assert!(methods.contains(&Method::OPTIONS), "{pattern}");
            assert_eq!(
                methods.contains(&Method::GET),
                methods.contains(&Method::HEAD),
                "{pattern}"
            );
        }
    }
}
