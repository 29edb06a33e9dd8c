//! Black-box checks any host of the API must pass over real HTTP, shared by the hosts'
//! suites (wasmtime serve, real `spin up`). `call` sends one request and returns its
//! answer; each check says what store it needs.

use std::sync::Barrier;
use std::thread;

use serde_json::{Value, json};

use super::Reply;

const JSON: (&str, &str) = ("content-type", "application/json");

/// The seed sample's client, unchanged, on an empty store.
pub fn seed_flow(call: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply) {
    let created = call(
        "POST",
        "/todos",
        &[JSON],
        br#"{"title":"Walk the dog","isComplete":false}"#,
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(created.header("location"), Some("/todos/1"));
    let expected = json!({"id": 1, "title": "Walk the dog", "dueBy": null, "isComplete": false});
    assert_eq!(created.json(), expected);
    assert_eq!(call("GET", "/todos/1", &[], b"").json(), expected);
    assert_eq!(call("GET", "/todos", &[], b"").json(), json!([expected]));
}

/// `clients` creates at once, on any store: each gets `201` and an id of its own.
pub fn concurrent_creates(
    call: &(impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply + Sync),
    clients: usize,
) -> Vec<i64> {
    let barrier = Barrier::new(clients);
    let mut ids: Vec<i64> = thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|n| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let body = json!({"title": format!("client {n}")}).to_string();
                    barrier.wait();
                    let reply = call("POST", "/todos", &[JSON], body.as_bytes());
                    assert_eq!(
                        reply.status,
                        201,
                        "{}",
                        String::from_utf8_lossy(&reply.body)
                    );
                    reply.json()["id"].as_i64().expect("id")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), clients, "ids handed out twice: {ids:?}");
    ids
}

/// Eight writers race on one new todo, on any store: with the same `If-Match` exactly one
/// wins and the others get `412`; without it every write lands, one on top of the other.
pub fn racing_writes(call: &(impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply + Sync)) {
    let created = call("POST", "/todos", &[JSON], br#"{"title":"shared"}"#);
    assert_eq!(created.status, 201);
    let path = created.header("location").expect("location").to_owned();
    let race = |if_match: Option<&str>| {
        let barrier = Barrier::new(8);
        let mut statuses: Vec<u16> = thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|n| {
                    let (barrier, path) = (&barrier, &path);
                    scope.spawn(move || {
                        let mut headers = vec![JSON];
                        headers.extend(if_match.map(|tag| ("if-match", tag)));
                        let body = json!({"title": format!("by {n} ({if_match:?})")}).to_string();
                        barrier.wait();
                        call("PUT", path, &headers, body.as_bytes()).status
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        statuses.sort_unstable();
        statuses
    };
    let mut expected = vec![412; 7];
    expected.insert(0, 200);
    assert_eq!(race(Some("\"1\"")), expected);
    assert_eq!(call("GET", &path, &[], b"").header("etag"), Some("\"2\""));
    assert_eq!(race(None), vec![200; 8]);
    assert_eq!(call("GET", &path, &[], b"").header("etag"), Some("\"10\""));
}

/// Every route, method and status of the API table, on an empty store.
pub fn api_table(call: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply) {
    let post = |body: Value| call("POST", "/todos", &[JSON], body.to_string().as_bytes());
    for n in 1..=3 {
        assert_eq!(
            post(json!({"title": format!("t{n}"), "isComplete": n == 2})).status,
            201
        );
    }
    // GET /todos: filter, paging, count, links, bad query.
    let page = call("GET", "/todos?isComplete=false&pageSize=1", &[], b"");
    assert_eq!(
        page.json(),
        json!([{"id": 1, "title": "t1", "dueBy": null, "isComplete": false}])
    );
    assert_eq!(page.header("x-total-count"), Some("2"));
    assert_eq!(
        page.header("link"),
        Some("</todos?isComplete=false&page=2&pageSize=1>; rel=\"next\"")
    );
    assert!(call("GET", "/todos?pageSize=5000", &[], b"").is_problem(400));
    // GET /todos/{id}: ETag and 304, unknown and malformed ids.
    let one = call("GET", "/todos/1", &[], b"");
    let tag = one.header("etag").expect("etag").to_owned();
    assert_eq!(
        call("GET", "/todos/1", &[("if-none-match", &tag)], b"").status,
        304
    );
    assert!(call("GET", "/todos/99", &[], b"").is_problem(404));
    assert!(call("GET", "/todos/x1", &[], b"").is_problem(400));
    // PUT, PATCH with If-Match, stale tags, DELETE.
    let put = call(
        "PUT",
        "/todos/1",
        &[JSON, ("if-match", &tag)],
        br#"{"title":"new","dueBy":"2026-12-24"}"#,
    );
    assert_eq!(put.status, 200);
    assert_eq!(
        put.json(),
        json!({"id": 1, "title": "new", "dueBy": "2026-12-24", "isComplete": false})
    );
    assert!(
        call(
            "PUT",
            "/todos/1",
            &[JSON, ("if-match", &tag)],
            br#"{"title":"lost"}"#
        )
        .is_problem(412)
    );
    let merge = ("content-type", "application/merge-patch+json");
    let patched = call(
        "PATCH",
        "/todos/1",
        &[merge],
        br#"{"dueBy":null,"isComplete":true}"#,
    );
    assert_eq!(
        patched.json(),
        json!({"id": 1, "title": "new", "dueBy": null, "isComplete": true})
    );
    assert!(call("DELETE", "/todos/1", &[("if-match", &tag)], b"").is_problem(412));
    let deleted = call("DELETE", "/todos/1", &[], b"");
    assert_eq!((deleted.status, deleted.body.len()), (204, 0));
    assert!(call("GET", "/todos/1", &[], b"").is_problem(404));
    // Errors: bad JSON, wrong types, wrong content type, too large, wrong method.
    assert!(call("POST", "/todos", &[JSON], b"{oops").is_problem(400));
    assert!(call("POST", "/todos", &[JSON], b"[]").is_problem(400));
    assert!(call("POST", "/todos", &[JSON], br#"{"title":" "}"#).is_problem(400));
    assert!(call("POST", "/todos", &[("content-type", "text/plain")], b"x").is_problem(415));
    let huge = format!("{{\"title\":\"{}\"}}", "x".repeat(100 * 1024));
    assert!(call("POST", "/todos", &[JSON], huge.as_bytes()).is_problem(413));
    let wrong = call("DELETE", "/todos", &[], b"");
    assert!(wrong.is_problem(405));
    assert_eq!(wrong.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert_eq!(
        call("GET", "/todos", &[], b"").header("x-total-count"),
        Some("2")
    );
    // Health, readiness, the document.
    assert_eq!(call("GET", "/healthz", &[], b"").status, 200);
    assert_eq!(call("GET", "/readyz", &[], b"").status, 200);
    assert_eq!(
        call("GET", "/openapi.json", &[], b"").json()["openapi"],
        "3.1.0"
    );
}
