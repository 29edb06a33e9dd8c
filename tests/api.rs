//! The API, natively, on every real store (the directory store, the SQL store on SQLite and
//! on PostgreSQL): every row of the API table and every error.

mod support;

use std::io::Read;

use http::Response;
use serde_json::{Value, json};
use support::native::{Api, body, problem, request};
use tempfile::TempDir;
use todo_api::api;
use todo_api::config::Config;
use todo_api::store::dir::DirStore;
use todo_api::store::sqlite::SqliteStore;
use todo_api::store::{ListPage, ListQuery, Owners, Store, StoreResult, Versioned, Written};
use todo_api::todo::{TodoFields, TodoId};

/// The settings of every test here: the defaults.
fn defaults() -> Config {
    Config::default()
}

impl<S: Owners> Api<S> {
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response<Vec<u8>> {
        self.handle(method, path, headers, body)
    }

    fn get(&self, path: &str) -> Response<Vec<u8>> {
        self.send("GET", path, &[], b"")
    }

    fn post(&self, body: Value) -> Response<Vec<u8>> {
        self.send("POST", "/todos", &[JSON], body.to_string().as_bytes())
    }

    fn all(&self) -> Value {
        body(&self.get("/todos?pageSize=1000"))
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");

fn header<'a>(response: &'a Response<Vec<u8>>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
        .unwrap_or("")
}

fn post_creates_with_201_location_etag_and_body<S: Owners>(api: Api<S>) {
    let response = api.post(json!({"title": "Walk the dog"}));
    assert_eq!(response.status(), 201);
    assert_eq!(header(&response, "location"), "/todos/1");
    assert_eq!(header(&response, "etag"), "\"1\"");
    assert_eq!(
        header(&response, "content-type"),
        "application/json; charset=utf-8"
    );
    assert_eq!(
        body(&response),
        json!({"id": 1, "title": "Walk the dog", "dueBy": null, "isComplete": false})
    );
}

fn post_ignores_a_client_sent_id<S: Owners>(api: Api<S>) {
    let response =
        api.post(json!({"id": 42, "title": "a", "isComplete": true, "dueBy": "2026-01-31"}));
    assert_eq!(
        body(&response),
        json!({"id": 1, "title": "a", "dueBy": "2026-01-31", "isComplete": true})
    );
    assert_eq!(api.get("/todos/42").status(), 404);
}

fn get_by_id_answers_200_with_etag_and_304_when_it_matches<S: Owners>(api: Api<S>) {
    api.post(json!({"title": "a"}));
    let response = api.get("/todos/1");
    assert_eq!(response.status(), 200);
    assert_eq!(body(&response)["title"], "a");
    let tag = header(&response, "etag").to_owned();
    for matching in [tag.as_str(), "*", "\"9\", \"1\"", "W/\"1\""] {
        let cached = api.send("GET", "/todos/1", &[("if-none-match", matching)], b"");
        assert_eq!(cached.status(), 304, "{matching}");
        assert_eq!(header(&cached, "etag"), tag);
        assert!(cached.body().is_empty());
    }
    let stale = api.send("GET", "/todos/1", &[("if-none-match", "\"0\"")], b"");
    assert_eq!(stale.status(), 200);
}

fn unknown_ids_and_paths_answer_404_and_ids_that_are_no_integers_400<S: Owners>(api: Api<S>) {
    // As the seed's `int id` binds: an integer that names nothing is 404, anything that
    // is not an integer (or does not fit) is 400.
    for path in [
        "/todos/abc",
        "/todos/1.5",
        "/todos/99999999999999999999",
        "/todos/%31x",
    ] {
        problem(&api.get(path), 400);
    }
    for path in [
        "/todos/1",
        "/todos/0",
        "/todos/-1",
        "/todos/1/extra",
        "/todos//1",
        "/todos/1//",
        "/nothing",
        "/index.html",
        "/app.js/x",
    ] {
        problem(&api.get(path), 404);
    }
}

fn paths_match_like_the_seed_samples_routing_ignoring_case_and_a_trailing_slash<S: Owners>(
    api: Api<S>,
) {
    api.post(json!({"title": "a"}));
    for path in ["/Todos/1", "/TODOS/1/", "/todos/1/"] {
        assert_eq!(body(&api.get(path))["id"], 1, "{path}");
    }
    for path in ["/Todos", "/todos/", "/TODOS/"] {
        assert_eq!(header(&api.get(path), "x-total-count"), "1", "{path}");
    }
    assert_eq!(api.get("/HEALTHZ").status(), 200);
    // Percent-encoded unreserved characters mean themselves; ids bind as `int` does.
    for path in [
        "/%74odos/1",
        "/todos/%31",
        "/todos/001",
        "/todos/+1",
        "/todos/%201",
    ] {
        assert_eq!(body(&api.get(path))["id"], 1, "{path}");
    }
    problem(&api.get("/todos%2F1"), 404);
}

fn a_known_path_with_the_wrong_method_answers_405_with_allow<S: Owners>(api: Api<S>) {
    let response = api.send("DELETE", "/todos", &[], b"");
    problem(&response, 405);
    assert_eq!(header(&response, "allow"), "GET, HEAD, POST, OPTIONS");
    let response = api.send("POST", "/todos/1", &[JSON], b"{}");
    problem(&response, 405);
    assert_eq!(
        header(&response, "allow"),
        "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"
    );
    assert_eq!(
        header(&api.send("POST", "/healthz", &[], b""), "allow"),
        "GET, HEAD, OPTIONS"
    );
}

fn the_list_is_ordered_by_id_and_filters_by_completion<S: Owners>(api: Api<S>) {
    for (title, done) in [("a", false), ("b", true), ("c", false)] {
        api.post(json!({"title": title, "isComplete": done}));
    }
    let response = api.get("/todos");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "x-total-count"), "3");
    let titles: Vec<_> = body(&response)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].clone())
        .collect();
    assert_eq!(titles, [json!("a"), json!("b"), json!("c")]);
    let done = api.get("/todos?isComplete=true");
    assert_eq!(header(&done, "x-total-count"), "1");
    assert_eq!(body(&done)[0]["title"], "b");
    let open = api.get("/todos?isComplete=false");
    assert_eq!(body(&open).as_array().unwrap().len(), 2);
}

fn the_list_pages_with_total_count_and_links<S: Owners>(api: Api<S>) {
    for n in 1..=5 {
        api.post(json!({"title": format!("t{n}")}));
    }
    let first = api.get("/todos?pageSize=2");
    assert_eq!(header(&first, "x-total-count"), "5");
    assert_eq!(body(&first).as_array().unwrap().len(), 2);
    assert_eq!(
        header(&first, "link"),
        "</todos?page=2&pageSize=2>; rel=\"next\""
    );
    let middle = api.get("/todos?page=2&pageSize=2");
    assert_eq!(body(&middle)[0]["id"], 3);
    assert_eq!(
        header(&middle, "link"),
        "</todos?page=3&pageSize=2>; rel=\"next\", </todos?page=1&pageSize=2>; rel=\"prev\""
    );
    let last = api.get("/todos?page=3&pageSize=2&isComplete=false");
    assert_eq!(
        body(&last),
        json!([{"id": 5, "title": "t5", "dueBy": null, "isComplete": false}])
    );
    assert_eq!(
        header(&last, "link"),
        "</todos?isComplete=false&page=2&pageSize=2>; rel=\"prev\""
    );
    let beyond = api.get("/todos?page=9&pageSize=2");
    assert_eq!(body(&beyond), json!([]));
    assert_eq!(
        header(&beyond, "link"),
        "</todos?page=3&pageSize=2>; rel=\"prev\""
    );
    assert_eq!(header(&api.get("/todos"), "link"), "");
}

fn invalid_list_queries_answer_400_naming_the_parameter<S: Owners>(api: Api<S>) {
    for (query, field) in [
        ("isComplete=yes", "isComplete"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
        ("pageSize=0", "pageSize"),
        ("pageSize=1001", "pageSize"),
        ("pageSize=", "pageSize"),
    ] {
        let problem = problem(&api.get(&format!("/todos?{query}")), 400);
        assert!(problem["errors"][field].is_array(), "{query}: {problem}");
    }
    assert_eq!(api.get("/todos?pageSize=1000&unknown=1").status(), 200);
}

fn put_replaces_the_whole_todo<S: Owners>(api: Api<S>) {
    api.post(json!({"title": "a", "isComplete": true, "dueBy": "2026-02-01"}));
    let response = api.send("PUT", "/todos/1", &[JSON], br#"{"title":"b"}"#);
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "etag"), "\"2\"");
    let expected = json!({"id": 1, "title": "b", "dueBy": null, "isComplete": false});
    assert_eq!(body(&response), expected);
    assert_eq!(body(&api.get("/todos/1")), expected);
    problem(
        &api.send("PUT", "/todos/2", &[JSON], br#"{"title":"b"}"#),
        404,
    );
}

fn patch_merges_and_null_clears_due_by<S: Owners>(api: Api<S>) {
    api.post(json!({"title": "a", "dueBy": "2026-02-01"}));
    let merge = [("content-type", "application/merge-patch+json")];
    let response = api.send("PATCH", "/todos/1", &merge, br#"{"isComplete":true}"#);
    assert_eq!(response.status(), 200);
    assert_eq!(
        body(&response),
        json!({"id": 1, "title": "a", "dueBy": "2026-02-01", "isComplete": true})
    );
    let response = api.send(
        "PATCH",
        "/todos/1",
        &[JSON],
        br#"{"dueBy":null,"title":"b"}"#,
    );
    assert_eq!(
        body(&response),
        json!({"id": 1, "title": "b", "dueBy": null, "isComplete": true})
    );
    assert_eq!(header(&response, "etag"), "\"3\"");
    problem(&api.send("PATCH", "/todos/7", &merge, b"{}"), 404);
}

fn delete_answers_204_then_the_todo_is_gone<S: Owners>(api: Api<S>) {
    api.post(json!({"title": "a"}));
    let response = api.send("DELETE", "/todos/1", &[], b"");
    assert_eq!(response.status(), 204);
    assert!(response.body().is_empty());
    problem(&api.get("/todos/1"), 404);
    problem(&api.send("DELETE", "/todos/1", &[], b""), 404);
    assert_eq!(body(&api.post(json!({"title": "b"})))["id"], 2);
}

fn a_stale_if_match_answers_412_and_changes_nothing<S: Owners>(api: Api<S>) {
    api.post(json!({"title": "a"}));
    api.send("PUT", "/todos/1", &[JSON], br#"{"title":"b"}"#);
    let before = api.all();
    for stale in ["\"1\"", "\"nope\"", "W/\"2\""] {
        let if_match = [JSON, ("if-match", stale)];
        problem(
            &api.send("PUT", "/todos/1", &if_match, br#"{"title":"x"}"#),
            412,
        );
        problem(
            &api.send("PATCH", "/todos/1", &if_match, br#"{"title":"x"}"#),
            412,
        );
        problem(
            &api.send("DELETE", "/todos/1", &[("if-match", stale)], b""),
            412,
        );
    }
    assert_eq!(api.all(), before);
    let fresh = [JSON, ("if-match", "\"2\"")];
    assert_eq!(
        api.send("PATCH", "/todos/1", &fresh, br#"{"title":"c"}"#)
            .status(),
        200
    );
    assert_eq!(
        api.send("DELETE", "/todos/1", &[("if-match", "*")], b"")
            .status(),
        204
    );
}

fn bad_bodies_answer_400_and_change_nothing<S: Owners>(api: Api<S>) {
    api.post(json!({"title": "a"}));
    let before = api.all();
    let long_title = json!({"title": "x".repeat(501)}).to_string();
    let cases: Vec<(&str, &[u8], Option<&str>)> = vec![
        ("malformed JSON", b"{\"title\": ", None),
        ("non-UTF-8", b"{\"title\": \"\xff\xfe\"}", None),
        ("array", b"[{\"title\": \"a\"}]", None),
        ("string", b"\"a\"", None),
        ("empty", b"", None),
        ("whitespace", b"  \n", None),
        ("title of wrong type", b"{\"title\": 5}", Some("title")),
        ("missing title", b"{\"isComplete\": true}", Some("title")),
        ("blank title", b"{\"title\": \"  \"}", Some("title")),
        ("long title", long_title.as_bytes(), Some("title")),
        (
            "isComplete of wrong type",
            b"{\"title\": \"a\", \"isComplete\": \"true\"}",
            Some("isComplete"),
        ),
        (
            "bad date",
            b"{\"title\": \"a\", \"dueBy\": \"2026-02-30\"}",
            Some("dueBy"),
        ),
    ];
    for (what, bytes, field) in cases {
        for (method, path) in [
            ("POST", "/todos"),
            ("PUT", "/todos/1"),
            ("PATCH", "/todos/1"),
        ] {
            if method == "PATCH" && what == "missing title" {
                continue; // a merge patch may leave the title out
            }
            let response = api.send(method, path, &[JSON], bytes);
            let problem = problem(&response, 400);
            if let Some(field) = field {
                assert!(
                    problem["errors"][field].is_array(),
                    "{method} {what}: {problem}"
                );
            }
        }
    }
    assert_eq!(api.all(), before);
}

fn a_non_json_content_type_answers_415<S: Owners>(api: Api<S>) {
    api.post(json!({"title": "a"}));
    let before = api.all();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let headers: Vec<_> = content_type
            .map(|value| ("content-type", value))
            .into_iter()
            .collect();
        problem(
            &api.send("POST", "/todos", &headers, br#"{"title":"b"}"#),
            415,
        );
        problem(
            &api.send("PUT", "/todos/1", &headers, br#"{"title":"b"}"#),
            415,
        );
        let patch = api.send("PATCH", "/todos/1", &headers, br#"{"title":"b"}"#);
        problem(&patch, 415);
        assert_eq!(
            header(&patch, "accept-patch"),
            "application/merge-patch+json, application/json"
        );
    }
    for not_json in [
        "text/json",
        "application/jsonx",
        "application/json; charset=utf-16",
    ] {
        problem(
            &api.send(
                "PUT",
                "/todos/1",
                &[("content-type", not_json)],
                br#"{"title":"b"}"#,
            ),
            415,
        );
    }
    assert_eq!(api.all(), before);
    let with_charset = [("content-type", "Application/JSON; charset=utf-8")];
    assert_eq!(
        api.send("POST", "/todos", &with_charset, br#"{"title":"b"}"#)
            .status(),
        201
    );
}

/// A body that counts how much of it was read.
struct CountingBody<'a> {
    remaining: usize,
    read: &'a std::cell::Cell<usize>,
}

impl Read for CountingBody<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = buffer.len().min(self.remaining);
        buffer[..n].fill(b' ');
        self.remaining -= n;
        self.read.set(self.read.get() + n);
        Ok(n)
    }
}

fn an_oversized_body_answers_413_without_being_read_to_the_end<S: Owners>(api: Api<S>) {
    let limit = api.config.limits.max_body_bytes;
    let read = std::cell::Cell::new(0);
    // Declared too large: refused before reading anything.
    let declared = [JSON, ("content-length", "10000000")];
    let body = CountingBody {
        remaining: 10_000_000,
        read: &read,
    };
    problem(&api.handle("POST", "/todos", &declared, body), 413);
    assert_eq!(read.get(), 0);
    // Undeclared (chunked) and too large: refused after at most limit + 1 bytes.
    let body = CountingBody {
        remaining: 10_000_000,
        read: &read,
    };
    problem(&api.handle("POST", "/todos", &[JSON], body), 413);
    assert!(read.get() <= limit + 1, "read {} bytes", read.get());
    // Exactly at the limit is accepted.
    let title = "x".repeat(100);
    let mut exact = format!("{{\"title\":\"{title}\"}}");
    exact.push_str(&" ".repeat(limit - exact.len()));
    assert_eq!(
        api.send("POST", "/todos", &[JSON], exact.as_bytes())
            .status(),
        201
    );
    assert_eq!(api.all().as_array().unwrap().len(), 1);
}

fn health_and_readiness_answer_200<S: Owners>(api: Api<S>) {
    assert_eq!(api.get("/healthz").status(), 200);
    assert_eq!(api.get("/readyz").status(), 200);
}

fn the_openapi_document_is_served<S: Owners>(api: Api<S>) {
    let response = api.get("/openapi.json");
    assert_eq!(response.status(), 200);
    assert!(
        body(&response)["openapi"]
            .as_str()
            .unwrap()
            .starts_with("3.1")
    );
}

// ---------------------------------------------------------------------------------------
// Content codings: compressed answers, their tags, gzip request bodies

const GZIP: (&str, &str) = ("accept-encoding", "gzip");

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut decoded)
        .expect("a gzip answer");
    decoded
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn vary(response: &Response<Vec<u8>>) -> Vec<&str> {
    let values = response.headers().get_all("vary").iter();
    values.map(|value| value.to_str().unwrap()).collect()
}

/// A title of 400 three-byte characters: its todo is over the compression threshold.
fn long_title() -> String {
    "€".repeat(400)
}

fn answers_are_compressed_as_accept_encoding_asks<S: Owners>(api: Api<S>) {
    for n in 0..30 {
        api.post(json!({ "title": format!("todo number {n} of a list long enough") }));
    }
    let plain = api.get("/todos");
    assert!(plain.body().len() >= api::MIN_COMPRESSED_BYTES);
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(vary(&plain), ["Accept-Encoding"]);
    for accept in [
        "gzip",
        "GZIP",
        "br, gzip;q=0.5",
        "*",
        "x-gzip",
        "identity;q=0.5, gzip",
    ] {
        let coded = api.send("GET", "/todos", &[("accept-encoding", accept)], b"");
        assert_eq!(header(&coded, "content-encoding"), "gzip", "{accept}");
        assert_eq!(vary(&coded), ["Accept-Encoding"]);
        assert_eq!(gunzip(coded.body()), plain.body().as_slice(), "{accept}");
        assert_eq!(header(&coded, "x-total-count"), "30");
        assert!(
            coded.body().len() < plain.body().len() / 3,
            "{}",
            coded.body().len()
        );
        // HEAD: the same headers, Content-Length the encoded length.
        let head = api.send("HEAD", "/todos", &[("accept-encoding", accept)], b"");
        let mut expected = coded.headers().clone();
        expected.insert("content-length", coded.body().len().into());
        assert_eq!(head.headers(), &expected, "{accept}");
    }
    for refused in [
        "gzip;q=0",
        "",
        "deflate",
        "identity",
        "gzip;q=0.5, identity",
        "gzip;q=x",
    ] {
        let identity = api.send("GET", "/todos", &[("accept-encoding", refused)], b"");
        assert!(
            identity.headers().get("content-encoding").is_none(),
            "{refused}"
        );
        assert_eq!(identity.body(), plain.body(), "{refused}");
        assert_eq!(vary(&identity), ["Accept-Encoding"]);
    }
    // A small answer goes out as it is, unless the client refuses identity.
    let small = api.send("GET", "/todos/1", &[GZIP], b"");
    assert!(small.headers().get("content-encoding").is_none());
    assert_eq!(vary(&small), ["Accept-Encoding"]);
    let refused = [("accept-encoding", "gzip, identity;q=0")];
    let forced = api.send("GET", "/todos/1", &refused, b"");
    assert_eq!(header(&forced, "content-encoding"), "gzip");
    assert_eq!(gunzip(forced.body()), small.body().as_slice());
    // Problems and answers without content are never encoded, nor vary.
    let missing = api.send("GET", "/todos/999", &refused, b"");
    problem(&missing, 404);
    assert!(missing.headers().get("content-encoding").is_none());
    assert!(vary(&missing).is_empty());
    // The OpenAPI document in brotli or gzip, compressed at build time.
    let document = api.get("/openapi.json");
    for (accept, coding) in [
        ("br", "br"),
        ("gzip, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0.1, gzip", "gzip"),
    ] {
        let coded = api.send("GET", "/openapi.json", &[("accept-encoding", accept)], b"");
        assert_eq!(header(&coded, "content-encoding"), coding, "{accept}");
        assert_eq!(vary(&coded), ["Accept-Encoding"]);
        let decoded = match coding {
            "br" => {
                let mut decoded = Vec::new();
                brotli::BrotliDecompress(&mut coded.body().as_slice(), &mut decoded).unwrap();
                decoded
            }
            _ => gunzip(coded.body()),
        };
        assert_eq!(decoded, document.body().as_slice(), "{accept}");
    }
}

fn each_representation_has_its_own_tag<S: Owners>(api: Api<S>) {
    let created = api.send(
        "POST",
        "/todos",
        &[JSON, GZIP],
        json!({ "title": long_title() }).to_string().as_bytes(),
    );
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "content-encoding"), "gzip");
    assert_eq!(header(&created, "etag"), "\"1-gzip\"");
    let plain = api.get("/todos/1");
    assert_eq!(header(&plain, "etag"), "\"1\"");
    let coded = api.send("GET", "/todos/1", &[GZIP], b"");
    assert_eq!(header(&coded, "etag"), "\"1-gzip\"");
    assert_eq!(gunzip(coded.body()), plain.body().as_slice());
    // If-None-Match on a GET compares with the representation it selects: a gzip tag never
    // makes an identity answer 304, nor the other way round.
    let revalidate = |tag: &str, accept: &[(&str, &str)]| {
        let mut headers = vec![("if-none-match", tag)];
        headers.extend_from_slice(accept);
        api.send("GET", "/todos/1", &headers, b"")
    };
    let not_modified = revalidate("\"1-gzip\"", &[GZIP]);
    assert_eq!(not_modified.status(), 304);
    assert_eq!(header(&not_modified, "etag"), "\"1-gzip\"");
    assert_eq!(vary(&not_modified), ["Accept-Encoding"]);
    assert_eq!(revalidate("\"1-gzip\"", &[]).status(), 200);
    assert_eq!(revalidate("\"1\"", &[GZIP]).status(), 200);
    assert_eq!(revalidate("\"1\"", &[]).status(), 304);
    let head = api.send(
        "HEAD",
        "/todos/1",
        &[("if-none-match", "\"1-gzip\""), GZIP],
        b"",
    );
    assert_eq!(head.status(), 304);
    // A write takes the tag of any representation of the current todo: no lost update, no
    // needless 412.
    let patch = |tag: &str, title: &str| {
        api.send(
            "PATCH",
            "/todos/1",
            &[
                ("if-match", tag),
                ("content-type", "application/merge-patch+json"),
            ],
            json!({ "title": title }).to_string().as_bytes(),
        )
    };
    let changed = patch("\"1-gzip\"", "b");
    assert_eq!(changed.status(), 200);
    assert_eq!(header(&changed, "etag"), "\"2\"");
    problem(&patch("\"1-gzip\"", "c"), 412);
    problem(&patch("\"1\"", "c"), 412);
    assert_eq!(patch("\"2\"", &long_title()).status(), 200);
    let kept = api.send(
        "PUT",
        "/todos/1",
        &[JSON, ("if-none-match", "\"3-gzip\"")],
        br#"{"title":"d"}"#,
    );
    problem(&kept, 412);
    let deleted = api.send("DELETE", "/todos/1", &[("if-match", "\"3-gzip\"")], b"");
    assert_eq!(deleted.status(), 204);
}

fn gzip_request_bodies_are_read_and_other_codings_refused<S: Owners>(api: Api<S>) {
    let gzipped = [JSON, ("content-encoding", "gzip")];
    let created = api.send("POST", "/todos", &gzipped, &gzip(br#"{"title":"zipped"}"#));
    assert_eq!(created.status(), 201);
    assert_eq!(body(&created)["title"], "zipped");
    let patched = api.send(
        "PATCH",
        "/todos/1",
        &[
            ("content-type", "application/merge-patch+json"),
            ("content-encoding", "x-gzip"),
        ],
        &gzip(br#"{"isComplete":true}"#),
    );
    assert_eq!(body(&patched)["isComplete"], true);
    for coding in ["br", "deflate", "gzip, gzip", "compress"] {
        let refused = api.send(
            "POST",
            "/todos",
            &[JSON, ("content-encoding", coding)],
            br#"{"title":"x"}"#,
        );
        problem(&refused, 415);
        assert_eq!(header(&refused, "accept-encoding"), "gzip", "{coding}");
    }
    problem(
        &api.send("POST", "/todos", &gzipped, br#"{"title":"not gzip"}"#),
        400,
    );
    // A gzip bomb: 16 MiB of spaces in some 16 KiB, under the default limit of 64 KiB
    // encoded: 413 once the decoded body passes the limit, decoded no further.
    let mut bomb_content = b"{\"title\":\"a\"".to_vec();
    bomb_content.resize(16 << 20, b' ');
    bomb_content.push(b'}');
    let bomb = gzip(&bomb_content);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    problem(&api.send("POST", "/todos", &gzipped, &bomb), 413);
    // Nothing refused was written.
    assert_eq!(api.all().as_array().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------
// HTTP caching: tags and 304 on lists and the document, Cache-Control on every answer

fn lists_revalidate_by_a_tag_that_moves_with_every_write<S: Owners>(api: Api<S>) {
    for title in ["a", "b", "c"] {
        api.post(json!({ "title": title }));
    }
    let list = api.get("/todos");
    let tag = header(&list, "etag").to_owned();
    assert!(tag.starts_with("\"l"), "{tag}");
    assert_eq!(header(&list, "cache-control"), "no-cache");
    let revalidate = |path: &str, tag: &str| api.send("GET", path, &[("if-none-match", tag)], b"");
    let not_modified = revalidate("/todos", &tag);
    assert_eq!(not_modified.status(), 304);
    assert!(not_modified.body().is_empty());
    assert_eq!(header(&not_modified, "etag"), tag);
    assert_eq!(header(&not_modified, "cache-control"), "no-cache");
    assert_eq!(vary(&not_modified), ["Accept-Encoding"]);
    assert_eq!(
        api.send("HEAD", "/todos", &[("if-none-match", &tag)], b"")
            .status(),
        304
    );
    // Per URL: what the parameters select is part of the tag, however it is spelled.
    let tag_of = |path: &str| header(&api.get(path), "etag").to_owned();
    let others = [
        "/todos?isComplete=false",
        "/todos?pageSize=2",
        "/todos?page=2&pageSize=2",
        "/todos?title=a",
        "/todos?sort=-title",
    ];
    for path in others {
        assert_ne!(tag_of(path), tag, "{path}");
        assert_eq!(revalidate(path, &tag).status(), 200, "{path}");
    }
    assert_eq!(tag_of("/todos?PAGESIZE=2"), tag_of("/todos?pageSize=2"));
    // Reads, a write that changes nothing and a refused write leave it.
    api.get("/todos/1");
    let unchanged = api.send("PUT", "/todos/1", &[JSON], br#"{"title":"a"}"#);
    assert_eq!(unchanged.status(), 200);
    problem(
        &api.send("DELETE", "/todos/1", &[("if-match", "\"9\"")], b""),
        412,
    );
    assert_eq!(revalidate("/todos", &tag).status(), 304);
    // Every write moves it: a change, on a page the change is not even on, too.
    let pages: Vec<String> = others.iter().map(|path| tag_of(path)).collect();
    for (method, path, body) in [
        ("PATCH", "/todos/1", r#"{"isComplete":true}"#),
        ("POST", "/todos", r#"{"title":"d"}"#),
        ("DELETE", "/todos/4", ""),
    ] {
        let before = tag_of("/todos");
        let written = api.send(
            method,
            path,
            &[("content-type", "application/merge-patch+json")],
            body.as_bytes(),
        );
        assert!(written.status().is_success(), "{method} {path}");
        assert_eq!(
            revalidate("/todos", &before).status(),
            200,
            "after {method}"
        );
        assert_ne!(tag_of("/todos"), before);
    }
    for (path, old) in others.iter().zip(&pages) {
        assert_eq!(revalidate(path, old).status(), 200, "{path}");
    }
}

fn a_compressed_list_revalidates_only_for_clients_that_accept_it<S: Owners>(api: Api<S>) {
    for n in 0..30 {
        api.post(json!({ "title": format!("todo number {n} of a list long enough") }));
    }
    let coded = api.send("GET", "/todos", &[GZIP], b"");
    let gzip_tag = header(&coded, "etag").to_owned();
    assert!(gzip_tag.ends_with("-gzip\""), "{gzip_tag}");
    let plain_tag = header(&api.get("/todos"), "etag").to_owned();
    assert_eq!(
        gzip_tag,
        format!("{}-gzip\"", plain_tag.trim_end_matches('"'))
    );
    let revalidate = |tag: &str, accept: &str| {
        api.send(
            "GET",
            "/todos",
            &[("if-none-match", tag), ("accept-encoding", accept)],
            b"",
        )
    };
    let not_modified = revalidate(&gzip_tag, "gzip");
    assert_eq!(not_modified.status(), 304);
    assert_eq!(header(&not_modified, "etag"), gzip_tag);
    // A gzip tag never makes an answer to a client that does not take gzip 304.
    for refusing in ["identity", "gzip;q=0", ""] {
        let answer = revalidate(&gzip_tag, refusing);
        assert_eq!(answer.status(), 200, "{refusing:?}");
        assert!(answer.headers().get("content-encoding").is_none());
    }
    // The identity representation stays acceptable to a client that takes gzip.
    let identity = revalidate(&plain_tag, "gzip");
    assert_eq!(identity.status(), 304);
    assert_eq!(header(&identity, "etag"), plain_tag);
    // Refusing identity: only the gzip tag holds.
    assert_eq!(revalidate(&plain_tag, "gzip, identity;q=0").status(), 200);
}

fn every_answer_says_how_caches_may_keep_it<S: Owners>(api: Api<S>) {
    api.post(json!({ "title": "a" }));
    let document = api.get("/openapi.json");
    assert_eq!(header(&document, "cache-control"), "public, max-age=300");
    assert_eq!(vary(&document), ["Accept-Encoding"]);
    let tag = header(&document, "etag").to_owned();
    assert!(tag.starts_with("\"o"), "{tag}");
    let cached = api.send("GET", "/openapi.json", &[("if-none-match", &tag)], b"");
    assert_eq!(cached.status(), 304);
    assert_eq!(header(&cached, "cache-control"), "public, max-age=300");
    let brotli = api.send("GET", "/openapi.json", &[("accept-encoding", "br")], b"");
    let brotli_tag = header(&brotli, "etag").to_owned();
    assert_eq!(brotli_tag, tag.trim_end_matches('"').to_owned() + "-br\"");
    assert_eq!(
        api.send(
            "GET",
            "/openapi.json",
            &[("if-none-match", &brotli_tag), ("accept-encoding", "br")],
            b""
        )
        .status(),
        304
    );
    assert_eq!(
        api.send(
            "GET",
            "/openapi.json",
            &[("if-none-match", &brotli_tag)],
            b""
        )
        .status(),
        200
    );
    for (method, path, body, policy) in [
        ("GET", "/todos/1", "", "no-cache"),
        ("POST", "/todos", r#"{"title":"b"}"#, "no-cache"),
        ("PUT", "/todos/1", r#"{"title":"c"}"#, "no-cache"),
        ("DELETE", "/todos/2", "", "no-cache"),
        ("GET", "/healthz", "", "no-store"),
        ("GET", "/readyz", "", "no-store"),
        ("OPTIONS", "/todos/1", "", "no-store"),
        ("GET", "/todos/99", "", "no-store"),
        ("GET", "/todos?page=0", "", "no-store"),
        ("POST", "/todos", "{", "no-store"),
        ("GET", "/nothing", "", "no-store"),
    ] {
        let answer = api.send(method, path, &[JSON], body.as_bytes());
        assert_eq!(header(&answer, "cache-control"), policy, "{method} {path}");
    }
}

// ---------------------------------------------------------------------------------------
// HTTP semantics: methods, preconditions, request content, search and sort

fn head_answers_as_get_does_without_the_content<S: Owners>(api: Api<S>) {
    for title in ["a", "b", "c"] {
        api.post(json!({ "title": title }));
    }
    for path in [
        "/todos",
        "/todos?pageSize=1&page=2",
        "/todos/1",
        "/todos/9",
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/nothing",
    ] {
        let get = api.get(path);
        let head = api.send("HEAD", path, &[], b"");
        assert_eq!(head.status(), get.status(), "{path}");
        assert!(head.body().is_empty(), "{path}");
        let mut expected = get.headers().clone();
        expected.insert("content-length", get.body().len().into());
        assert_eq!(head.headers(), &expected, "{path}");
    }
    let head = api.send("HEAD", "/todos/1", &[("if-none-match", "\"1\"")], b"");
    assert_eq!(head.status(), 304);
    assert_eq!(header(&head, "etag"), "\"1\"");
}

fn options_answers_204_with_allow_on_every_route<S: Owners>(api: Api<S>) {
    problem(&api.send("OPTIONS", "/todos/1", &[], b""), 404);
    api.post(json!({"title": "a"}));
    for (path, allow) in [
        ("/todos", "GET, HEAD, POST, OPTIONS"),
        ("/todos/1", "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"),
        ("/healthz", "GET, HEAD, OPTIONS"),
        ("/readyz", "GET, HEAD, OPTIONS"),
        ("/openapi.json", "GET, HEAD, OPTIONS"),
    ] {
        let answer = api.send("OPTIONS", path, &[], b"");
        assert_eq!(answer.status(), 204, "{path}");
        assert_eq!(header(&answer, "allow"), allow, "{path}");
        assert!(answer.body().is_empty());
    }
}

fn preconditions_hold_on_every_method_in_the_order_rfc_9110_gives<S: Owners>(api: Api<S>) {
    api.post(json!({"title": "a"}));
    let before = api.all();
    let with = |method: &str, path: &str, name: &str, value: &str| {
        let body: &[u8] = if method == "POST" || method == "PUT" || method == "PATCH" {
            br#"{"title":"b"}"#
        } else {
            b""
        };
        api.send(method, path, &[JSON, (name, value)], body)
            .status()
    };
    for method in ["GET", "HEAD", "PUT", "PATCH", "DELETE"] {
        assert_eq!(
            with(method, "/todos/1", "if-match", "\"9\""),
            412,
            "{method}"
        );
        assert_eq!(
            with(method, "/todos/1", "if-match", "W/\"1\""),
            412,
            "{method}"
        );
    }
    for method in ["PUT", "PATCH", "DELETE"] {
        assert_eq!(
            with(method, "/todos/1", "if-none-match", "\"1\""),
            412,
            "{method}"
        );
        assert_eq!(
            with(method, "/todos/1", "if-none-match", "W/\"1\""),
            412,
            "{method}"
        );
        assert_eq!(
            with(method, "/todos/1", "if-none-match", "*"),
            412,
            "{method}"
        );
    }
    for (name, value) in [("if-none-match", "*"), ("if-match", "\"1\"")] {
        assert_eq!(with("POST", "/todos", name, value), 412, "{name}: {value}");
    }
    // A list and the probes have no entity tag: only `*` matches them.
    assert_eq!(with("GET", "/todos", "if-none-match", "*"), 304);
    assert_eq!(with("GET", "/healthz", "if-match", "\"1\""), 412);
    assert_eq!(with("GET", "/todos", "if-match", "*"), 200);
    assert_eq!(api.all(), before, "a failed precondition changes nothing");
    // Malformed lists are the client's error, on any method.
    for bad in ["1", "\"1\" \"2\"", "*, \"1\"", "W/1", "\"1"] {
        for (method, path) in [("GET", "/todos/1"), ("PUT", "/todos/1"), ("POST", "/todos")] {
            assert_eq!(
                with(method, path, "if-match", bad),
                400,
                "{method} If-Match: {bad:?}"
            );
            assert_eq!(
                with(method, path, "if-none-match", bad),
                400,
                "{method} If-None-Match: {bad:?}"
            );
        }
    }
    assert_eq!(api.all(), before);
    // An empty field is an empty list: If-Match then holds for nothing, If-None-Match
    // never stops the request.
    assert_eq!(with("PUT", "/todos/1", "if-match", ""), 412);
    assert_eq!(with("GET", "/todos/1", "if-none-match", ""), 200);
    // A match lets the request through.
    assert_eq!(with("GET", "/todos/1", "if-match", "\"0\", \"1\""), 200);
    assert_eq!(with("PATCH", "/todos/1", "if-none-match", "\"7\""), 200);
    assert_eq!(with("DELETE", "/todos/1", "if-match", "*"), 204);
    // Missing targets are 404 whatever the preconditions (§13.2.1).
    assert_eq!(with("PUT", "/todos/1", "if-match", "*"), 404);
    assert_eq!(with("GET", "/todos/1", "if-none-match", "*"), 404);
}

fn a_write_that_changes_nothing_keeps_its_etag_and_writes_nothing<S: Owners>(api: Api<S>) {
    api.post(json!({"title": "a", "dueBy": "2030-01-01"}));
    let merge = ("content-type", "application/merge-patch+json");
    for (method, headers, sent) in [
        ("PATCH", merge, &b"{}"[..]),
        ("PATCH", merge, br#"{"title": "a", "isComplete": false}"#),
        ("PUT", JSON, br#"{"title": "a", "dueBy": "2030-01-01"}"#),
    ] {
        let answer = api.send(method, "/todos/1", &[headers, ("if-match", "\"1\"")], sent);
        assert_eq!(answer.status(), 200, "{method}");
        assert_eq!(header(&answer, "etag"), "\"1\"", "{method}");
        assert_eq!(body(&answer)["title"], "a");
    }
    assert_eq!(header(&api.get("/todos/1"), "etag"), "\"1\"");
    let changed = api.send("PATCH", "/todos/1", &[merge], br#"{"isComplete": true}"#);
    assert_eq!(header(&changed, "etag"), "\"2\"");
}

fn json_bodies_follow_one_stated_rule<S: Owners>(api: Api<S>) {
    for content_type in [
        "application/json",
        "application/vnd.todo+json",
        "application/merge-patch+json",
        "application/json; charset=UTF-8",
    ] {
        let created = api.send(
            "POST",
            "/todos",
            &[("content-type", content_type)],
            br#"{"title":"t"}"#,
        );
        assert_eq!(created.status(), 201, "{content_type}");
    }
    let before = api.all();
    for charset in ["utf-16", "iso-8859-1", "\"utf-32\""] {
        let content_type = format!("application/json; charset={charset}");
        let refused = api.send(
            "POST",
            "/todos",
            &[("content-type", &content_type)],
            br#"{"title":"t"}"#,
        );
        problem(&refused, 415);
    }
    assert_eq!(api.all(), before);
    let with_bom = api.send(
        "POST",
        "/todos",
        &[JSON],
        b"\xEF\xBB\xBF{\"title\":\"bom\"}",
    );
    assert_eq!(body(&with_bom)["title"], "bom");
    // Member names ignore case; the last of repeated members wins.
    let repeated = api.send(
        "POST",
        "/todos",
        &[JSON],
        br#"{"title":"first","Title":"last"}"#,
    );
    assert_eq!(body(&repeated)["title"], "last");
    // Members the API ignores are ignored whatever their value.
    for id in [
        "1e400",
        "-1",
        "\"x\"",
        "{\"deep\":[1,2,{\"x\":null}]}",
        "99999999999999999999999",
    ] {
        let sent = format!(r#"{{"id":{id},"title":"ignored id"}}"#);
        let created = api.send("POST", "/todos", &[JSON], sent.as_bytes());
        assert_eq!(created.status(), 201, "id {id}");
        assert_ne!(body(&created)["id"].to_string(), id);
    }
}

fn query_parameters_are_given_once<S: Owners>(api: Api<S>) {
    for (query, name) in [
        ("isComplete=true&isComplete=false", "isComplete"),
        ("page=1&page=1", "page"),
        ("pageSize=5&pageSize=6", "pageSize"),
        ("title=a&title=b", "title"),
        ("sort=id&sort=-id", "sort"),
    ] {
        let refused = api.get(&format!("/todos?{query}"));
        assert!(problem(&refused, 400)["errors"][name].is_array(), "{query}");
    }
    let unknown = api.get("/todos?sort=due");
    let message = problem(&unknown, 400)["errors"]["sort"][0].to_string();
    for allowed in ["id", "-id", "dueBy", "-dueBy", "title", "-title"] {
        assert!(message.contains(allowed), "{message}");
    }
    assert_eq!(api.get("/todos?other=1&other=2").status(), 200);
}

/// ASP.NET Core binds query names ignoring case, so the seed's clients may send `?Page=2`;
/// a name given twice in two cases is given twice.
fn query_names_bind_ignoring_case<S: Owners>(api: Api<S>) {
    for title in ["a", "b", "c"] {
        assert_eq!(api.post(json!({"title": title})).status(), 201);
    }
    let canonical = api.get("/todos?page=2&pageSize=1&sort=-id&isComplete=false");
    let cased = api.get("/todos?PAGE=2&pagesize=1&Sort=-id&ISCOMPLETE=false");
    assert_eq!(titles(&cased), ["b"]);
    assert_eq!(titles(&cased), titles(&canonical));
    assert_eq!(cased.headers().get("link"), canonical.headers().get("link"));
    let twice = api.get("/todos?page=1&Page=2");
    assert!(problem(&twice, 400)["errors"]["page"].is_array());
}

fn titles(response: &Response<Vec<u8>>) -> Vec<String> {
    body(response)
        .as_array()
        .unwrap()
        .iter()
        .map(|todo| todo["title"].as_str().unwrap().to_owned())
        .collect()
}

fn search_matches_titles_ignoring_case_and_sorts_by_every_key<S: Owners>(api: Api<S>) {
    for (title, done, due) in [
        ("Buy milk", false, Some("2030-05-01")),
        ("MILK chocolate", true, None),
        ("Straße fegen", false, Some("2029-01-01")),
        ("100% juice", false, None),
        ("under_score", true, Some("2030-05-01")),
        ("ſoup", false, Some("2031-01-01")),
    ] {
        api.post(json!({"title": title, "isComplete": done, "dueBy": due}));
    }
    let found = api.get("/todos?title=MiLk");
    assert_eq!(titles(&found), ["Buy milk", "MILK chocolate"]);
    assert_eq!(header(&found, "x-total-count"), "2");
    assert_eq!(
        titles(&api.get("/todos?title=milk&isComplete=true")),
        ["MILK chocolate"]
    );
    assert_eq!(titles(&api.get("/todos?title=STRAẞE")), ["Straße fegen"]);
    assert_eq!(titles(&api.get("/todos?title=SOUP")), ["ſoup"]);
    // LIKE's wildcards are plain characters here.
    assert_eq!(titles(&api.get("/todos?title=%25")), ["100% juice"]);
    assert_eq!(titles(&api.get("/todos?title=_")), ["under_score"]);
    assert_eq!(titles(&api.get("/todos?title=%5C")), Vec::<String>::new());
    assert_eq!(
        header(&api.get("/todos?title=nothing"), "x-total-count"),
        "0"
    );

    assert_eq!(
        titles(&api.get("/todos?sort=title")),
        [
            "100% juice",
            "Buy milk",
            "MILK chocolate",
            "ſoup",
            "Straße fegen",
            "under_score"
        ]
    );
    assert_eq!(
        titles(&api.get("/todos?sort=-title")),
        [
            "under_score",
            "Straße fegen",
            "ſoup",
            "MILK chocolate",
            "Buy milk",
            "100% juice"
        ]
    );
    assert_eq!(
        titles(&api.get("/todos?sort=dueBy")),
        [
            "Straße fegen",
            "Buy milk",
            "under_score",
            "ſoup",
            "MILK chocolate",
            "100% juice"
        ]
    );
    assert_eq!(
        titles(&api.get("/todos?sort=-dueBy")),
        [
            "ſoup",
            "under_score",
            "Buy milk",
            "Straße fegen",
            "100% juice",
            "MILK chocolate"
        ]
    );
    let newest_first = titles(&api.get("/todos?sort=-id"));
    assert_eq!(newest_first.first().map(String::as_str), Some("ſoup"));
    assert_eq!(titles(&api.get("/todos?sort=id"))[0], "Buy milk");

    // Paging keeps every parameter in Link, and the count is the matches'.
    let page = api.get("/todos?title=u&sort=-title&isComplete=false&pageSize=1&page=2");
    assert_eq!(titles(&page), ["Buy milk"]);
    assert_eq!(header(&page, "x-total-count"), "3");
    assert_eq!(
        header(&page, "link"),
        "</todos?isComplete=false&title=u&sort=-title&page=3&pageSize=1>; rel=\"next\", \
         </todos?isComplete=false&title=u&sort=-title&page=1&pageSize=1>; rel=\"prev\""
    );
    let spaced = api.get("/todos?title=buy+m&pageSize=1");
    assert_eq!(titles(&spaced), ["Buy milk"]);
    assert!(header(&api.get("/todos?title=%20&pageSize=1"), "link").contains("title=+&"));
}

crate::on_every_store!(
    defaults;
    post_creates_with_201_location_etag_and_body,
    post_ignores_a_client_sent_id,
    get_by_id_answers_200_with_etag_and_304_when_it_matches,
    unknown_ids_and_paths_answer_404_and_ids_that_are_no_integers_400,
    paths_match_like_the_seed_samples_routing_ignoring_case_and_a_trailing_slash,
    a_known_path_with_the_wrong_method_answers_405_with_allow,
    the_list_is_ordered_by_id_and_filters_by_completion,
    the_list_pages_with_total_count_and_links,
    invalid_list_queries_answer_400_naming_the_parameter,
    put_replaces_the_whole_todo,
    patch_merges_and_null_clears_due_by,
    delete_answers_204_then_the_todo_is_gone,
    a_stale_if_match_answers_412_and_changes_nothing,
    bad_bodies_answer_400_and_change_nothing,
    a_non_json_content_type_answers_415,
    an_oversized_body_answers_413_without_being_read_to_the_end,
    health_and_readiness_answer_200,
    the_openapi_document_is_served,
    head_answers_as_get_does_without_the_content,
    options_answers_204_with_allow_on_every_route,
    preconditions_hold_on_every_method_in_the_order_rfc_9110_gives,
    a_write_that_changes_nothing_keeps_its_etag_and_writes_nothing,
    json_bodies_follow_one_stated_rule,
    query_parameters_are_given_once,
    query_names_bind_ignoring_case,
    search_matches_titles_ignoring_case_and_sorts_by_every_key,
    answers_are_compressed_as_accept_encoding_asks,
    each_representation_has_its_own_tag,
    gzip_request_bodies_are_read_and_other_codings_refused,
    lists_revalidate_by_a_tag_that_moves_with_every_write,
    a_compressed_list_revalidates_only_for_clients_that_accept_it,
    every_answer_says_how_caches_may_keep_it,
);

#[test]
fn a_store_that_is_down_answers_503_without_internals_and_readyz_says_not_ready() {
    let dir = TempDir::new().unwrap();
    let secret_path = dir.path().join("secret-missing-dir");
    let api = Api::over(DirStore::new(&secret_path), Config::default());
    for response in [api.get("/readyz"), api.post(json!({"title": "a"}))] {
        let problem = problem(&response, 503);
        assert!(
            !problem.to_string().contains("secret-missing-dir"),
            "{problem}"
        );
    }
    assert_eq!(api.get("/healthz").status(), 200);
    // A probe's tag revalidates only what holds: never a readiness the store does not have.
    let tag = [("if-none-match", "\"healthy\"")];
    assert_eq!(api.send("GET", "/healthz", &tag, b"").status(), 304);
    problem(&api.send("GET", "/readyz", &tag, b""), 503);
}

#[test]
fn an_unreadable_record_answers_500_without_internals() {
    let api = Api::on_dir(defaults());
    api.post(json!({"title": "a"}));
    std::fs::write(api.dir.path().join("todos/1/1.json"), b"not json").unwrap();
    let problem = problem(&api.get("/todos/1"), 500);
    assert!(!problem.to_string().contains("1.json"), "{problem}");
}

#[test]
fn preconditions_are_judged_before_the_content() {
    // RFC 9110 §13.2.1: a stale If-Match with an invalid body is 412, not 400.
    let api = Api::on_dir(defaults());
    api.post(json!({"title": "a"}));
    let stale = [
        ("content-type", "application/merge-patch+json"),
        ("if-match", "\"9\""),
    ];
    for bad_body in [&br#"{"title": {}}"#[..], b"{not json", b""] {
        problem(&api.send("PATCH", "/todos/1", &stale, bad_body), 412);
    }
    let current = [
        ("content-type", "application/merge-patch+json"),
        ("if-match", "\"1\""),
    ];
    let refused = api.send("PATCH", "/todos/1", &current, br#"{"title": {}}"#);
    assert!(problem(&refused, 400)["errors"]["title"].is_array());
}

/// A store where another client writes todo 1 just before this request's first write,
/// so that write loses the race.
struct RacedOnce<'c, S> {
    inner: S,
    raced: &'c std::cell::Cell<bool>,
}

/// The API reaches the store through views: each view races as the store does.
impl<'c, S: Owners> Owners for RacedOnce<'c, S> {
    type Owned<'a>
        = RacedOnce<'a, S::Owned<'a>>
    where
        Self: 'a;
    fn owned_by<'a>(&'a self, owner: &str) -> Self::Owned<'a> {
        RacedOnce {
            inner: self.inner.owned_by(owner),
            raced: self.raced,
        }
    }
    fn shared(&self) -> Self::Owned<'_> {
        RacedOnce {
            inner: self.inner.shared(),
            raced: self.raced,
        }
    }
    fn owner_of(&self, id: TodoId) -> StoreResult<Option<String>> {
        self.inner.owner_of(id)
    }
}

impl<S: Store> RacedOnce<'_, S> {
    fn race(&self, id: TodoId) {
        if self.raced.replace(true) {
            return;
        }
        let current = self.inner.get(id).unwrap().unwrap();
        let mut fields = current.todo.fields();
        fields.is_complete = !fields.is_complete;
        self.inner.update(id, current.revision, &fields).unwrap();
    }
}

impl<S: Store> Store for RacedOnce<'_, S> {
    fn check_ready(&self) -> StoreResult<()> {
        self.inner.check_ready()
    }
    fn create(&self, fields: &TodoFields) -> StoreResult<Versioned> {
        self.inner.create(fields)
    }
    fn get(&self, id: TodoId) -> StoreResult<Option<Versioned>> {
        self.inner.get(id)
    }
    fn list(&self, query: &ListQuery) -> StoreResult<ListPage> {
        self.inner.list(query)
    }
    fn list_version(&self) -> StoreResult<u64> {
        self.inner.list_version()
    }
    fn take_token(
        &self,
        bucket: &str,
        limit: &todo_api::ratelimit::RateLimit,
    ) -> StoreResult<todo_api::ratelimit::Admission> {
        self.inner.take_token(bucket, limit)
    }
    fn update(
        &self,
        id: TodoId,
        expected: u64,
        fields: &TodoFields,
    ) -> StoreResult<Written<Versioned>> {
        self.race(id);
        self.inner.update(id, expected, fields)
    }
    fn delete(&self, id: TodoId, expected: u64) -> StoreResult<Written<()>> {
        self.race(id);
        self.inner.delete(id, expected)
    }
}

#[test]
fn if_match_star_never_fails_because_another_writer_got_in_between() {
    let merge = ("content-type", "application/merge-patch+json");
    for (if_match, expected) in [(Some("*"), 200), (None, 200), (Some("\"1\""), 412)] {
        let dir = TempDir::new().unwrap();
        let raced = std::cell::Cell::new(true);
        let store = RacedOnce {
            inner: SqliteStore::new(todo_api::testing::RusqliteExecutor::open(
                &dir.path().join("t.db"),
            )),
            raced: &raced,
        };
        let config = Config::default();
        let send = |method: &str, headers: &[(&str, &str)], body: &'static [u8]| {
            api::handle(&store, &config, request(method, "/todos/1", headers, body))
        };
        api::handle(
            &store,
            &config,
            request("POST", "/todos", &[JSON], &br#"{"title":"a"}"#[..]),
        );
        store.raced.set(false);
        let mut headers = vec![merge];
        headers.extend(if_match.map(|tag| ("if-match", tag)));
        let answer = send("PATCH", &headers, br#"{"title":"b"}"#);
        assert_eq!(answer.status(), expected, "If-Match: {if_match:?}");
        let now = body(&send("GET", &[], b""));
        // The other writer's change stays either way; ours lands on top of it or not at all.
        assert_eq!(now["isComplete"], true, "If-Match: {if_match:?}");
        assert_eq!(now["title"], if expected == 200 { "b" } else { "a" });
        store.raced.set(false);
        let deleted = send("DELETE", &headers[1..], b"");
        assert_eq!(
            deleted.status(),
            if expected == 200 { 204 } else { 412 },
            "DELETE, If-Match: {if_match:?}"
        );
    }
}
