//! The API, natively, on both real stores: every row of the API table and every error.

mod support;

use std::io::Read;

use http::Response;
use serde_json::{Value, json};
use support::native::{body, problem, request};
use tempfile::TempDir;
use todo_api::api;
use todo_api::config::Config;
use todo_api::store::Store;
use todo_api::store::dir::DirStore;
use todo_api::store::sqlite::SqliteStore;

struct Api<S> {
    store: S,
    config: Config,
    _dir: TempDir,
}

fn dir_api() -> Api<DirStore> {
    let dir = TempDir::new().unwrap();
    Api {
        store: DirStore::new(dir.path()),
        config: Config::default(),
        _dir: dir,
    }
}

fn sqlite_api() -> Api<SqliteStore<support::RusqliteExecutor>> {
    let dir = TempDir::new().unwrap();
    Api {
        store: SqliteStore::new(support::RusqliteExecutor::open(&dir.path().join("t.db"))),
        config: Config::default(),
        _dir: dir,
    }
}

impl<S: Store> Api<S> {
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response<Vec<u8>> {
        self.send_reader(method, path, headers, body)
    }

    fn send_reader(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Read,
    ) -> Response<Vec<u8>> {
        api::handle(
            &self.store,
            &self.config,
            request(method, path, headers, body),
        )
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

fn post_creates_with_201_location_etag_and_body<S: Store>(api: Api<S>) {
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

fn post_ignores_a_client_sent_id<S: Store>(api: Api<S>) {
    let response =
        api.post(json!({"id": 42, "title": "a", "isComplete": true, "dueBy": "2026-01-31"}));
    assert_eq!(
        body(&response),
        json!({"id": 1, "title": "a", "dueBy": "2026-01-31", "isComplete": true})
    );
    assert_eq!(api.get("/todos/42").status(), 404);
}

fn get_by_id_answers_200_with_etag_and_304_when_it_matches<S: Store>(api: Api<S>) {
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

fn unknown_ids_and_paths_answer_404<S: Store>(api: Api<S>) {
    for path in [
        "/todos/1",
        "/todos/0",
        "/todos/-1",
        "/todos/abc",
        "/todos/1.5",
        "/todos/99999999999999999999",
        "/todos/1/extra",
        "/todos//1",
        "/todos/1//",
        "/nothing",
        "/",
    ] {
        problem(&api.get(path), 404);
    }
}

fn paths_match_like_the_seed_samples_routing_ignoring_case_and_a_trailing_slash<S: Store>(
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
}

fn a_known_path_with_the_wrong_method_answers_405_with_allow<S: Store>(api: Api<S>) {
    let response = api.send("DELETE", "/todos", &[], b"");
    problem(&response, 405);
    assert_eq!(header(&response, "allow"), "GET, POST");
    let response = api.send("POST", "/todos/1", &[JSON], b"{}");
    problem(&response, 405);
    assert_eq!(header(&response, "allow"), "GET, PUT, PATCH, DELETE");
    assert_eq!(
        header(&api.send("POST", "/healthz", &[], b""), "allow"),
        "GET"
    );
}

fn the_list_is_ordered_by_id_and_filters_by_completion<S: Store>(api: Api<S>) {
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

fn the_list_pages_with_total_count_and_links<S: Store>(api: Api<S>) {
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

fn invalid_list_queries_answer_400_naming_the_parameter<S: Store>(api: Api<S>) {
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

fn put_replaces_the_whole_todo<S: Store>(api: Api<S>) {
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

fn patch_merges_and_null_clears_due_by<S: Store>(api: Api<S>) {
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

fn delete_answers_204_then_the_todo_is_gone<S: Store>(api: Api<S>) {
    api.post(json!({"title": "a"}));
    let response = api.send("DELETE", "/todos/1", &[], b"");
    assert_eq!(response.status(), 204);
    assert!(response.body().is_empty());
    problem(&api.get("/todos/1"), 404);
    problem(&api.send("DELETE", "/todos/1", &[], b""), 404);
    assert_eq!(body(&api.post(json!({"title": "b"})))["id"], 2);
}

fn a_stale_if_match_answers_412_and_changes_nothing<S: Store>(api: Api<S>) {
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

fn bad_bodies_answer_400_and_change_nothing<S: Store>(api: Api<S>) {
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

fn a_non_json_content_type_answers_415<S: Store>(api: Api<S>) {
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
    problem(
        &api.send(
            "PUT",
            "/todos/1",
            &[("content-type", "application/merge-patch+json")],
            b"{}",
        ),
        415,
    );
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

fn an_oversized_body_answers_413_without_being_read_to_the_end<S: Store>(api: Api<S>) {
    let limit = api.config.limits.max_body_bytes;
    let read = std::cell::Cell::new(0);
    // Declared too large: refused before reading anything.
    let declared = [JSON, ("content-length", "10000000")];
    let body = CountingBody {
        remaining: 10_000_000,
        read: &read,
    };
    problem(&api.send_reader("POST", "/todos", &declared, body), 413);
    assert_eq!(read.get(), 0);
    // Undeclared (chunked) and too large: refused after at most limit + 1 bytes.
    let body = CountingBody {
        remaining: 10_000_000,
        read: &read,
    };
    problem(&api.send_reader("POST", "/todos", &[JSON], body), 413);
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

fn health_and_readiness_answer_200<S: Store>(api: Api<S>) {
    assert_eq!(api.get("/healthz").status(), 200);
    assert_eq!(api.get("/readyz").status(), 200);
}

fn the_openapi_document_is_served<S: Store>(api: Api<S>) {
    let response = api.get("/openapi.json");
    assert_eq!(response.status(), 200);
    assert!(
        body(&response)["openapi"]
            .as_str()
            .unwrap()
            .starts_with("3.1")
    );
}

macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod dir_store {
            $(#[test] fn $test() { super::$test(super::dir_api()); })*
        }
        mod sqlite_store {
            $(#[test] fn $test() { super::$test(super::sqlite_api()); })*
        }
    };
}

on_both_stores!(
    post_creates_with_201_location_etag_and_body,
    post_ignores_a_client_sent_id,
    get_by_id_answers_200_with_etag_and_304_when_it_matches,
    unknown_ids_and_paths_answer_404,
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
);

#[test]
fn a_store_that_is_down_answers_503_without_internals_and_readyz_says_not_ready() {
    let dir = TempDir::new().unwrap();
    let secret_path = dir.path().join("secret-missing-dir");
    let api = Api {
        store: DirStore::new(&secret_path),
        config: Config::default(),
        _dir: TempDir::new().unwrap(),
    };
    for response in [api.get("/readyz"), api.post(json!({"title": "a"}))] {
        let problem = problem(&response, 503);
        assert!(
            !problem.to_string().contains("secret-missing-dir"),
            "{problem}"
        );
    }
    assert_eq!(api.get("/healthz").status(), 200);
}

#[test]
fn an_unreadable_record_answers_500_without_internals() {
    let api = dir_api();
    api.post(json!({"title": "a"}));
    std::fs::write(api._dir.path().join("todos/1/1.json"), b"not json").unwrap();
    let problem = problem(&api.get("/todos/1"), 500);
    assert!(!problem.to_string().contains("1.json"), "{problem}");
}

#[test]
fn an_invalid_patch_answers_400_before_any_precondition_is_checked() {
    // RFC 9110 lets a server refuse bad content before it evaluates preconditions; the
    // answer then says what is wrong with the body, not that the tag is stale.
    let api = dir_api();
    api.post(json!({"title": "a"}));
    let stale = [
        ("content-type", "application/merge-patch+json"),
        ("if-match", "\"9\""),
    ];
    let refused = api.send("PATCH", "/todos/1", &stale, br#"{"title": {}}"#);
    assert!(problem(&refused, 400)["errors"]["title"].is_array());
    problem(
        &api.send("PATCH", "/todos/1", &stale, br#"{"title": "b"}"#),
        412,
    );
}
