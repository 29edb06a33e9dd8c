//! The HTTP semantics every host must keep, over real HTTP: `HEAD` and `OPTIONS`,
//! preconditions, request content, search and sort. `call` sends one request to a host
//! serving an empty store and returns its answer.

use super::Reply;

const JSON: (&str, &str) = ("content-type", "application/json");
const MERGE: (&str, &str) = ("content-type", "application/merge-patch+json");

pub fn check(call: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply) {
    for title in ["Buy milk", "MILK chocolate", "Straße fegen"] {
        let body = format!(r#"{{"title":"{title}"}}"#);
        assert_eq!(call("POST", "/todos", &[JSON], body.as_bytes()).status, 201);
    }
    // HEAD: GET's status and headers, no content (and no Content-Length the host would
    // hold the empty body to).
    for path in ["/todos/1", "/todos?pageSize=1", "/healthz", "/todos/9"] {
        let get = call("GET", path, &[], b"");
        let head = call("HEAD", path, &[], b"");
        assert_eq!(head.status, get.status, "HEAD {path}");
        assert!(head.body.is_empty(), "HEAD {path}");
        for name in ["etag", "x-total-count", "link", "content-type"] {
            assert_eq!(head.header(name), get.header(name), "HEAD {path}: {name}");
        }
        assert_ne!(
            head.header("transfer-encoding"),
            Some("chunked"),
            "HEAD {path}"
        );
    }
    // OPTIONS.
    let options = call("OPTIONS", "/todos/1", &[], b"");
    assert_eq!(options.status, 204);
    assert_eq!(
        options.header("allow"),
        Some("GET, HEAD, PUT, PATCH, DELETE, OPTIONS")
    );
    // Preconditions on every method, before the content.
    assert!(call("GET", "/todos/1", &[("if-match", "\"9\"")], b"").is_problem(412));
    assert_eq!(
        call("HEAD", "/todos/1", &[("if-none-match", "\"1\"")], b"").status,
        304
    );
    assert!(
        call(
            "PUT",
            "/todos/1",
            &[JSON, ("if-none-match", "*")],
            br#"{"title":"x"}"#
        )
        .is_problem(412)
    );
    assert!(
        call(
            "PATCH",
            "/todos/1",
            &[MERGE, ("if-match", "\"9\"")],
            b"{oops"
        )
        .is_problem(412)
    );
    assert!(call("DELETE", "/todos/1", &[("if-match", "1")], b"").is_problem(400));
    // A write that changes nothing keeps the tag.
    let same = call("PATCH", "/todos/1", &[MERGE, ("if-match", "\"1\"")], b"{}");
    assert_eq!((same.status, same.header("etag")), (200, Some("\"1\"")));
    // Request content.
    let utf16 = ("content-type", "application/json; charset=utf-16");
    assert!(call("POST", "/todos", &[utf16], br#"{"title":"x"}"#).is_problem(415));
    let plus_json = ("content-type", "application/vnd.todo+json");
    let created = call(
        "POST",
        "/todos",
        &[plus_json],
        b"\xEF\xBB\xBF{\"id\":1e400,\"title\":\"juice\"}",
    );
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    assert_eq!(
        call("GET", "/%74odos/%34", &[], b"").json()["title"],
        "juice"
    );
    assert_eq!(call("GET", "/todos/004", &[], b"").json()["title"], "juice");
    assert!(call("GET", "/todos/x4", &[], b"").is_problem(400));
    assert!(call("GET", "/todos?page=1&page=2", &[], b"").is_problem(400));
    // Search and sort.
    let found = call("GET", "/todos?title=MILK&sort=-title", &[], b"");
    let titles: Vec<_> = found
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].clone())
        .collect();
    assert_eq!(titles, ["MILK chocolate", "Buy milk"]);
    assert_eq!(found.header("x-total-count"), Some("2"));
    let page = call("GET", "/todos?title=e&sort=title&pageSize=1", &[], b"");
    assert_eq!(page.json()[0]["title"], "juice");
    assert_eq!(
        page.header("link"),
        Some("</todos?title=e&sort=title&page=2&pageSize=1>; rel=\"next\"")
    );
    assert!(call("GET", "/todos?sort=size", &[], b"").is_problem(400));
}
