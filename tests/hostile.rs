//! Hostile input, property-based: arbitrary methods, paths, query strings, headers and
//! bodies fed to the core on both real stores, with and without CORS and bearer tokens.
//! Whatever comes in: no panic, a status from the documented set, errors as problem
//! details, and a refused request leaves the stored todos exactly as they were.

mod support;

use proptest::prelude::*;
use proptest::test_runner::Config as Cases;
use tempfile::TempDir;
use todo_api::store::Owners;
use todo_api::store::dir::DirStore;
use todo_api::store::sqlite::SqliteStore;
use todo_api::testing::oracle;

/// One request as a host could hand it over.
#[derive(Debug, Clone)]
struct Input {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    secured: bool,
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE", "CONNECT", "get",
            "BREW",
        ])
        .prop_map(str::to_owned),
        "[A-Z]{1,12}",
    ]
}

/// Paths near the real ones, and anything a URI may carry.
fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        prop::sample::select(vec![
            "todos",
            "Todos",
            "TODOS",
            "1",
            "2",
            "3",
            "0",
            "-1",
            "007",
            "1.5",
            "healthz",
            "readyz",
            "openapi.json",
            "..",
            ".",
            "%2e%2e",
            "%00",
            "9223372036854775807",
            "9223372036854775808",
            "99999999999999999999999",
            "",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9._~%!$&'()*+,;=:@-]{0,20}",
    ];
    (prop::collection::vec(segment, 0..5), any::<bool>()).prop_map(|(segments, slash)| {
        let mut path = format!("/{}", segments.join("/"));
        if slash {
            path.push('/');
        }
        path
    })
}

fn query() -> impl Strategy<Value = Option<String>> {
    let pair = prop_oneof![
        prop::sample::select(vec![
            "isComplete=true",
            "isComplete=false",
            "isComplete=maybe",
            "page=1",
            "page=0",
            "page=-1",
            "page=4294967296",
            "pageSize=1",
            "pageSize=1000",
            "pageSize=1001",
            "pageSize=0",
            "page=18446744073709551615",
            "pageSize=%31",
            "x=%ZZ",
            "=",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9=&%+._~-]{0,30}",
    ];
    prop::option::of(prop::collection::vec(pair, 0..4).prop_map(|pairs| pairs.join("&")))
}

fn header() -> impl Strategy<Value = (&'static str, String)> {
    let name = prop::sample::select(vec![
        "content-type",
        "content-length",
        "if-match",
        "if-none-match",
        "authorization",
        "origin",
        "access-control-request-method",
        "access-control-request-headers",
    ]);
    let value = prop_oneof![
        prop::sample::select(vec![
            "application/json",
            "application/merge-patch+json",
            "text/plain",
            "application/json; charset=utf-8",
            "\"1\"",
            "\"2\", \"1\"",
            "W/\"1\"",
            "*",
            "0",
            "5",
            "18446744073709551616",
            "Bearer x.y.z",
            "Bearer ",
            "https://app.example.com",
            "null",
            "POST",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,40}",
    ];
    (name, value)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            r#"{"title":"a"}"#,
            r#"{"title":"b","isComplete":true,"dueBy":"2026-02-29"}"#,
            r#"{"title":null}"#,
            r#"{"isComplete":"yes"}"#,
            r#"{"dueBy":"2024-02-29"}"#,
            r#"{"title":"   "}"#,
            r#"[]"#,
            "null",
            "",
            "{",
            r#"{"title":"\ud800"}"#,
            r#"{"TITLE":"x","title":"y"}"#,
            r#"{"title":1e999}"#,
        ])
        .prop_map(|text| text.as_bytes().to_vec()),
        "\\PC{0,60}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..80),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    (
        method(),
        path(),
        query(),
        prop::collection::vec(header(), 0..5),
        body(),
        any::<bool>(),
    )
        .prop_map(|(method, path, query, headers, body, secured)| Input {
            method,
            path,
            query,
            headers,
            body,
            secured,
        })
}

/// The request, or `None` where `http` itself refuses the parts (a host could not hand
/// such a request over either).
fn request(input: &Input) -> Option<http::Request<&[u8]>> {
    let uri = match &input.query {
        Some(query) => format!("{}?{query}", input.path),
        None => input.path.clone(),
    };
    let mut builder = http::Request::builder()
        .method(http::Method::from_bytes(input.method.as_bytes()).ok()?)
        .uri(uri.parse::<http::Uri>().ok()?);
    for (name, value) in &input.headers {
        builder = builder.header(*name, http::HeaderValue::from_str(value).ok()?);
    }
    builder.body(input.body.as_slice()).ok()
}

fn check(store: &impl Owners, input: &Input) -> Result<(), TestCaseError> {
    let Some(request) = request(input) else {
        return Ok(());
    };
    oracle::check(store, &oracle::config(input.secured), request)
        .map_err(|why| TestCaseError::fail(format!("{why} for {input:?}")))
}

proptest! {
    #![proptest_config(Cases { cases: 400, ..Cases::default() })]

    #[test]
    fn any_request_on_the_directory_store_gets_a_documented_answer(inputs in prop::collection::vec(input(), 1..6)) {
        let dir = TempDir::new().unwrap();
        let store = DirStore::new(dir.path());
        oracle::seed(&store);
        for input in &inputs {
            check(&store, input)?;
        }
    }

    #[test]
    fn any_request_on_the_sqlite_store_gets_a_documented_answer(inputs in prop::collection::vec(input(), 1..6)) {
        let dir = TempDir::new().unwrap();
        let store = SqliteStore::new(todo_api::testing::RusqliteExecutor::open(&dir.path().join("t.db")));
        oracle::seed(&store);
        for input in &inputs {
            check(&store, input)?;
        }
    }
}
