//! Fuzzes the core's one entry point, `api::handle`, as the component calls it: any
//! method, path, query, headers and body, on a real directory store holding three todos,
//! with default settings or with tokens, CORS and a small body limit. A crash is a panic,
//! a status outside the documented set, a 5xx, or a refused request that changed data.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use todo_api::store::dir::DirStore;
use todo_api::testing::oracle;

/// One request, structured so the fuzzer reaches every route quickly: known methods,
/// paths and header values, each with a raw alternative that can hold anything.
#[derive(Arbitrary, Debug)]
struct Input {
    method: Choice<KnownMethod>,
    path: Path,
    query: Option<String>,
    headers: Vec<(Header, Choice<KnownValue>)>,
    body: Body,
    secured: bool,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Header {
    ContentType,
    ContentLength,
    IfMatch,
    IfNoneMatch,
    Authorization,
    Origin,
    AccessControlRequestMethod,
}

impl Header {
    fn name(self) -> &'static str {
        match self {
            Self::ContentType => "content-type",
            Self::ContentLength => "content-length",
            Self::IfMatch => "if-match",
            Self::IfNoneMatch => "if-none-match",
            Self::Authorization => "authorization",
            Self::Origin => "origin",
            Self::AccessControlRequestMethod => "access-control-request-method",
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Choice<T> {
    Known(T),
    Raw(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum KnownMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Head,
}

#[derive(Arbitrary, Debug)]
enum Path {
    Todos,
    Todo(i64),
    TodoRaw(String),
    Healthz,
    Readyz,
    OpenApi,
    Raw(String),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum KnownValue {
    Json,
    MergePatch,
    Tag(u8),
    WeakTag(u8),
    Star,
    Origin,
    Method(KnownMethod),
    Length(u32),
    Bearer,
}

#[derive(Arbitrary, Debug)]
enum Body {
    /// A JSON object with these members: the shapes todo bodies take.
    Object(Vec<(Member, Value)>),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Member {
    Title,
    IsComplete,
    DueBy,
    Id,
    TitleUpper,
}

#[derive(Arbitrary, Debug)]
enum Value {
    Null,
    Bool(bool),
    Number(f64),
    Integer(i64),
    Text(String),
    Date(u16, u8, u8),
    Array,
    Object,
}

impl KnownMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Head => "HEAD",
        }
    }
}

impl Path {
    fn render(&self) -> String {
        match self {
            Self::Todos => "/todos".into(),
            Self::Todo(id) => format!("/todos/{id}"),
            Self::TodoRaw(segment) => format!("/todos/{segment}"),
            Self::Healthz => "/healthz".into(),
            Self::Readyz => "/readyz".into(),
            Self::OpenApi => "/openapi.json".into(),
            Self::Raw(path) => format!("/{path}"),
        }
    }
}

impl KnownValue {
    fn render(self) -> String {
        match self {
            Self::Json => "application/json".into(),
            Self::MergePatch => "application/merge-patch+json".into(),
            Self::Tag(n) => format!("\"{n}\""),
            Self::WeakTag(n) => format!("W/\"{n}\""),
            Self::Star => "*".into(),
            Self::Origin => "https://app.example.com".into(),
            Self::Method(method) => method.as_str().into(),
            Self::Length(n) => n.to_string(),
            Self::Bearer => "Bearer e30.e30.".into(),
        }
    }
}

impl Body {
    fn render(&self) -> Vec<u8> {
        match self {
            Self::Raw(bytes) => bytes.clone(),
            Self::Object(members) => {
                let object: serde_json::Map<String, serde_json::Value> = members
                    .iter()
                    .map(|(member, value)| (member.name().to_owned(), value.to_json()))
                    .collect();
                serde_json::to_vec(&object).unwrap()
            }
        }
    }
}

impl Member {
    fn name(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::IsComplete => "isComplete",
            Self::DueBy => "dueBy",
            Self::Id => "id",
            Self::TitleUpper => "Title",
        }
    }
}

impl Value {
    fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Self::Null => json!(null),
            Self::Bool(flag) => json!(flag),
            Self::Number(number) => json!(number),
            Self::Integer(number) => json!(number),
            Self::Text(text) => json!(text),
            Self::Date(year, month, day) => json!(format!("{year:04}-{month:02}-{day:02}")),
            Self::Array => json!([1, "a"]),
            Self::Object => json!({"a": {}}),
        }
    }
}

fuzz_target!(|input: Input| {
    let method = match &input.method {
        Choice::Known(method) => method.as_str().to_owned(),
        Choice::Raw(method) => method.clone(),
    };
    let mut uri = input.path.render();
    if let Some(query) = &input.query {
        uri = format!("{uri}?{query}");
    }
    let (Ok(method), Ok(uri)) = (
        http::Method::from_bytes(method.as_bytes()),
        uri.parse::<http::Uri>(),
    ) else {
        return;
    };
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (header, value) in &input.headers {
        let value = match value {
            Choice::Known(value) => value.render(),
            Choice::Raw(value) => value.clone(),
        };
        let Ok(value) = http::HeaderValue::from_str(&value) else {
            return;
        };
        builder = builder.header(header.name(), value);
    }
    let body = input.body.render();
    let Ok(request) = builder.body(body.as_slice()) else {
        return;
    };

    // A fresh store per input, on tmpfs where there is one, so runs are repeatable.
    let parent = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "."
    };
    let dir = tempfile::tempdir_in(parent).expect("temporary directory");
    let store = DirStore::new(dir.path());
    oracle::seed(&store);
    if let Err(why) = oracle::check(&store, &oracle::config(input.secured), request) {
        panic!("{why}");
    }
});
