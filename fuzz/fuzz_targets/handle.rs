//! Fuzzes the core's one entry point, `api::handle`, as the component calls it: any
//! method, path, query, headers and body, on a real directory store holding three todos,
//! with default settings or with tokens, CORS and a small body limit. A crash is a panic,
//! a status outside the documented set, a 5xx, or a refused request that changed data.

#![no_main]

#[path = "../../tests/support/oracle.rs"]
mod oracle;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use todo_api::store::dir::DirStore;

#[derive(Arbitrary, Debug)]
struct Input {
    method: String,
    path_and_query: String,
    headers: Vec<(Header, String)>,
    body: Vec<u8>,
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

fuzz_target!(|input: Input| {
    let mut builder = http::Request::builder();
    match http::Method::from_bytes(input.method.as_bytes()) {
        Ok(method) => builder = builder.method(method),
        Err(_) => return,
    }
    let Ok(uri) = format!("/{}", input.path_and_query).parse::<http::Uri>() else {
        return;
    };
    builder = builder.uri(uri);
    for (header, value) in &input.headers {
        let Ok(value) = http::HeaderValue::from_str(value) else {
            return;
        };
        builder = builder.header(header.name(), value);
    }
    let Ok(request) = builder.body(input.body.as_slice()) else {
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
