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

/// `clients` connections each send a write's head and part of its body, then wait; one more
/// trickles its body a byte every 200 ms, as slowly as a client may without ever finishing.
/// While they hold their requests open, other clients are served (`call`: a probe, a read,
/// a write) and none of the unfinished ones has been answered yet. Then each unfinished
/// write gets `408` (problem+json) once `body_timeout_ms` has passed since its request,
/// the trickler too, the host closes each connection, and none of them wrote anything.
/// `address` is the host's `127.0.0.1:PORT`; the store starts empty.
pub fn unfinished_bodies_hold_nothing(
    address: &str,
    clients: usize,
    call: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply,
) {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    const HEAD: &str = "POST /todos HTTP/1.1\r\nHost: todo\r\ncontent-type: application/json\r\n\
                        content-length: 100\r\n\r\n";
    let open = || {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream.write_all(HEAD.as_bytes()).expect("send the head");
        stream
            .write_all(br#"{"title":"#)
            .expect("send part of the body");
        stream
    };
    let mut waiting: Vec<TcpStream> = (0..clients).map(|_| open()).collect();
    let answer = |mut stream: TcpStream| {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut reply = Vec::new();
        // To the end: the host closes the connection after the answer.
        let _ = stream.read_to_end(&mut reply);
        String::from_utf8_lossy(&reply).into_owned()
    };
    thread::scope(|scope| {
        let trickler = scope.spawn(|| {
            let mut stream = open();
            // A byte every 200 ms, for at most a minute, until the answer comes: far
            // fewer than the 100 bytes promised, however long it is given.
            for byte in b"\"a title sent one byte at a time, far too slowly"
                .iter()
                .cycle()
                .take(300)
            {
                stream.set_nonblocking(true).unwrap();
                let answered = stream.peek(&mut [0u8; 1]).is_ok();
                stream.set_nonblocking(false).unwrap();
                if answered || stream.write_all(&[*byte]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(200));
            }
            answer(stream)
        });

        assert_eq!(call("GET", "/healthz", &[], b"").status, 200);
        assert_eq!(call("GET", "/todos", &[], b"").status, 200);
        let created = call("POST", "/todos", &[JSON], br#"{"title":"served"}"#);
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        for stream in &mut waiting {
            stream.set_nonblocking(true).unwrap();
            let mut byte = [0u8; 1];
            assert!(
                matches!(stream.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                "an unfinished write was answered before other clients were served"
            );
            stream.set_nonblocking(false).unwrap();
        }

        for stream in waiting {
            let reply = answer(stream);
            assert!(reply.starts_with("HTTP/1.1 408 "), "{reply}");
            assert!(
                reply
                    .to_ascii_lowercase()
                    .contains("content-type: application/problem+json"),
                "{reply}"
            );
            assert!(
                reply.contains("did not arrive within the time allowed"),
                "{reply}"
            );
        }
        let reply = trickler.join().unwrap();
        assert!(reply.starts_with("HTTP/1.1 408 "), "the trickler: {reply}");
    });
    let listed = call("GET", "/todos", &[], b"");
    assert_eq!(
        listed.header("x-total-count"),
        Some("1"),
        "only the served write landed"
    );
}

/// Under `jwt_protect_reads` (todo 1 exists, created with `bearer`, the value of an
/// `Authorization` header): `OPTIONS` on a todo needs a token as `GET` does, and without
/// one answers the same `401` whether the todo exists and whatever `If-Match` says; a CORS
/// preflight from `origin` answers the same for every id.
pub fn protected_reads_reveal_nothing(
    call: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply,
    bearer: &str,
    origin: &str,
) {
    let refusals: Vec<(u16, Vec<u8>)> = [
        ("/todos/1", None),
        ("/todos/999999", None),
        ("/todos/1", Some("\"1\"")),
        ("/todos/1", Some("\"2\"")),
    ]
    .into_iter()
    .map(|(path, tag)| {
        let headers: Vec<(&str, &str)> = tag.map(|tag| ("if-match", tag)).into_iter().collect();
        let reply = call("OPTIONS", path, &headers, b"");
        assert!(reply.is_problem(401), "OPTIONS {path} without a token");
        (reply.status, reply.body)
    })
    .collect();
    assert!(
        refusals.windows(2).all(|pair| pair[0] == pair[1]),
        "{refusals:?}"
    );
    let auth = [("authorization", bearer)];
    assert_eq!(call("OPTIONS", "/todos/1", &auth, b"").status, 204);
    assert!(call("OPTIONS", "/todos/999999", &auth, b"").is_problem(404));
    let preflight = |path: &str| {
        let reply = call(
            "OPTIONS",
            path,
            &[("origin", origin), ("access-control-request-method", "PUT")],
            b"",
        );
        assert_eq!(reply.status, 204, "preflight of {path}");
        (
            reply
                .header("access-control-allow-methods")
                .map(str::to_owned),
            reply.body,
        )
    };
    assert_eq!(preflight("/todos/1"), preflight("/todos/999999"));
}

/// Binding as ASP.NET Core binds the seed's parameters, on any store: query names ignore
/// case, and an id is every escape decoded, surrounding whitespace trimmed (`int` with
/// `NumberStyles.Integer`).
pub fn binding_as_aspnet_binds(call: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply) {
    call("POST", "/todos", &[JSON], br#"{"title":"bound"}"#);
    let page = |path: &str| {
        let reply = call("GET", path, &[], b"");
        assert_eq!(reply.status, 200, "{path}");
        reply.json()
    };
    assert_eq!(
        page("/todos?PageSize=1&PAGE=2"),
        page("/todos?pageSize=1&page=2")
    );
    assert_eq!(page("/todos?PAGESIZE=1").as_array().map(Vec::len), Some(1));
    let id = page("/todos?sort=-id&pageSize=1")[0]["id"]
        .as_i64()
        .expect("an id");
    for path in [
        format!("/todos/%0a{id}"),
        format!("/todos/%09{id}"),
        format!("/todos/%20{id}%20"),
        format!(
            "/todos/{}",
            id.to_string()
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>()
        ),
    ] {
        assert_eq!(page(&path)["id"], id, "{path}");
    }
    assert!(call("GET", &format!("/todos/{id}x"), &[], b"").is_problem(400));
}

/// Content codings over HTTP, on a store with or without todos: a page over the threshold
/// is gzipped when asked (the host passes `Content-Encoding` and the encoded length on), a
/// `HEAD` gives the same headers, a todo's gzip tag revalidates only its gzip
/// representation and works in `If-Match`, the OpenAPI document comes in brotli, gzip
/// request bodies are read, a gzip bomb is `413` and another coding `415`.
pub fn codings_as_negotiated(call: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply) {
    use std::io::{Read, Write};
    let gzip = ("accept-encoding", "gzip");
    let gunzip = |bytes: &[u8]| {
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut decoded)
            .expect("a gzip answer");
        decoded
    };
    let compress = |bytes: &[u8]| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    };
    let vary = |reply: &Reply| {
        reply
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("vary"))
            .any(|(_, value)| value.to_ascii_lowercase().contains("accept-encoding"))
    };
    for n in 0..30 {
        let title = format!("a todo long enough to fill a page, number {n}");
        let created = call(
            "POST",
            "/todos",
            &[JSON],
            json!({ "title": title }).to_string().as_bytes(),
        );
        assert_eq!(created.status, 201);
    }
    let path = "/todos?pageSize=30";
    let plain = call("GET", path, &[], b"");
    assert_eq!(plain.header("content-encoding"), None);
    assert!(vary(&plain), "{:?}", plain.headers);
    let coded = call("GET", path, &[gzip], b"");
    assert_eq!(coded.header("content-encoding"), Some("gzip"));
    assert!(vary(&coded));
    assert_eq!(
        coded.header("content-length"),
        Some(coded.body.len().to_string().as_str())
    );
    assert_eq!(gunzip(&coded.body), plain.body);
    let head = call("HEAD", path, &[gzip], b"");
    assert!(head.body.is_empty());
    for name in [
        "content-encoding",
        "content-type",
        "x-total-count",
        "link",
        "vary",
    ] {
        assert_eq!(head.header(name), coded.header(name), "{name}");
    }
    // wasi:http leaves a HEAD answer without Content-Length (RFC 9110 §8.6 allows it);
    // where one comes, it is the encoded length.
    if let Some(length) = head.header("content-length") {
        assert_eq!(length, coded.body.len().to_string());
    }

    // A todo over the threshold: its gzip representation has its own tag.
    let long = json!({ "title": "€".repeat(400) }).to_string();
    let created = call("POST", "/todos", &[JSON, gzip], long.as_bytes());
    assert_eq!(created.header("content-encoding"), Some("gzip"));
    let location = created.header("location").expect("a location").to_owned();
    let gzip_tag = created.header("etag").expect("an etag").to_owned();
    assert!(gzip_tag.ends_with("-gzip\""), "{gzip_tag}");
    let revalidated = call("GET", &location, &[gzip, ("if-none-match", &gzip_tag)], b"");
    assert_eq!(revalidated.status, 304);
    assert!(vary(&revalidated));
    assert_eq!(
        call("GET", &location, &[("if-none-match", &gzip_tag)], b"").status,
        200
    );
    let merge = ("content-type", "application/merge-patch+json");
    let patched = call(
        "PATCH",
        &location,
        &[merge, ("if-match", &gzip_tag)],
        br#"{"isComplete":true}"#,
    );
    assert_eq!(patched.status, 200);
    assert!(
        call(
            "PATCH",
            &location,
            &[merge, ("if-match", &gzip_tag)],
            br#"{"isComplete":false}"#
        )
        .is_problem(412)
    );

    // How caches may keep each (the host passes Cache-Control on).
    assert_eq!(plain.header("cache-control"), Some("no-cache"));
    let probe = call("GET", "/healthz", &[], b"");
    assert_eq!(probe.header("cache-control"), Some("no-store"));

    // The OpenAPI document, compressed at build time.
    let document = call("GET", "/openapi.json", &[], b"");
    assert_eq!(
        document.header("cache-control"),
        Some("public, max-age=300")
    );
    let brotli = call(
        "GET",
        "/openapi.json",
        &[("accept-encoding", "gzip, br")],
        b"",
    );
    assert_eq!(brotli.header("content-encoding"), Some("br"));
    let mut decoded = Vec::new();
    ::brotli::BrotliDecompress(&mut brotli.body.as_slice(), &mut decoded).unwrap();
    assert_eq!(decoded, document.body);

    // Request bodies.
    let gzipped = [JSON, ("content-encoding", "gzip")];
    let created = call(
        "POST",
        "/todos",
        &gzipped,
        &compress(br#"{"title":"sent as gzip"}"#),
    );
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["title"], "sent as gzip");
    // 16 MiB of spaces in some 16 KiB: under the default limit encoded, far past it decoded.
    let mut bomb = b"{\"title\":\"a\"".to_vec();
    bomb.resize(16 << 20, b' ');
    bomb.push(b'}');
    let bomb = compress(&bomb);
    assert!(bomb.len() < 64 << 10, "{}", bomb.len());
    assert!(call("POST", "/todos", &gzipped, &bomb).is_problem(413));
    let brotli_body = call("POST", "/todos", &[JSON, ("content-encoding", "br")], b"{}");
    assert!(brotli_body.is_problem(415));
    assert_eq!(brotli_body.header("accept-encoding"), Some("gzip"));
}

/// Two replicas on one store: a list's tag is the same from either, a `304` from one holds
/// for the tag the other gave, and a write through one moves the tag the other gives.
pub fn list_tags_agree_across_replicas(
    first: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply,
    second: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply,
) {
    let created = first("POST", "/todos", &[JSON], br#"{"title":"shared"}"#);
    assert_eq!(created.status, 201);
    let location = created.header("location").expect("a location").to_owned();
    for path in ["/todos", "/todos?isComplete=false&pageSize=5"] {
        let tag = first("GET", path, &[], b"")
            .header("etag")
            .expect("a list's tag")
            .to_owned();
        assert_eq!(
            second("GET", path, &[], b"").header("etag"),
            Some(tag.as_str())
        );
        assert_eq!(
            second("GET", path, &[("if-none-match", &tag)], b"").status,
            304
        );
        let merge = ("content-type", "application/merge-patch+json");
        let change = json!({ "title": format!("changed elsewhere for {path}") }).to_string();
        let patched = second("PATCH", &location, &[merge], change.as_bytes());
        assert_eq!(patched.status, 200);
        let after = first("GET", path, &[("if-none-match", &tag)], b"");
        assert_eq!(
            after.status, 200,
            "{path}: a write through the other replica"
        );
        let moved = after.header("etag").expect("a list's tag");
        assert_ne!(moved, tag);
        assert_eq!(second("GET", path, &[], b"").header("etag"), Some(moved));
    }
}

/// A request of the owner suite: method, headers, body.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8]);

/// The settings of owner mode the black-box owner suite expects (as environment variables
/// of `make serve`; Spin variables are the same names in lower case without `TODO_`).
pub const OWNER_MODE: &[(&str, &str)] = &[
    ("TODO_JWT_HS256_SECRET", todo_api::testing::tokens::SECRET),
    ("TODO_JWT_OWNER_CLAIM", "sub"),
    ("TODO_JWT_ADMIN_SCOPE", "todos:admin"),
];

/// `Authorization: Bearer …` for `sub`, with `scope` where given, signed for [`OWNER_MODE`].
pub fn owner_bearer(sub: &str, scope: Option<&str>) -> String {
    use todo_api::testing::tokens;
    let mut claims = tokens::fresh();
    claims["sub"] = serde_json::json!(sub);
    if let Some(scope) = scope {
        claims["scope"] = serde_json::json!(scope);
    }
    format!(
        "Bearer {}",
        tokens::hs256(tokens::SECRET.as_bytes(), &claims)
    )
}

/// Under [`OWNER_MODE`], over HTTP, on an empty store: owners reach their own todos only.
/// Another owner's todo answers as one that never existed (same status, headers but
/// the host's `Date` and `Connection`, and body but the id) by every method, path form (`/todos/007`, `%`-encoded
/// digits) and header (`If-Match`, `If-None-Match`, `Origin`); lists, totals and list
/// parameters hold only the caller's; an admin reaches any todo and list; and requests of
/// many owners, interleaved, each see only their own (where one instance serves many
/// requests, nothing of one request may survive into another's).
pub fn owners_are_isolated(call: impl Fn(&str, &str, &[(&str, &str)], &[u8]) -> Reply) {
    let json = ("content-type", "application/json");
    let (alice, bob) = (owner_bearer("alice", None), owner_bearer("bob", None));
    let admin = owner_bearer("root", Some("todos:admin"));
    let create = |bearer: &str, title: &str| {
        let created = call(
            "POST",
            "/todos",
            &[json, ("authorization", bearer)],
            title.as_bytes(),
        );
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        created.json()["id"].as_i64().unwrap()
    };
    let id = create(&alice, r#"{"title":"alice's secret","dueBy":"2030-01-01"}"#);
    create(&bob, r#"{"title":"bob's"}"#);
    assert!(id < 10, "an empty store: a one-digit id, {id}");
    let missing = 9;
    let tag = call(
        "GET",
        &format!("/todos/{id}"),
        &[("authorization", &alice)],
        b"",
    )
    .header("etag")
    .unwrap()
    .to_owned();
    let normal = |reply: Reply, id: i64| {
        let mut headers: Vec<(String, String)> = reply
            .headers
            .into_iter()
            // The host's: when it answers, and whether it keeps a connection whose
            // request body was not read (as it may for any answer given before the body).
            .filter(|(name, _)| name != "date" && name != "connection")
            .collect();
        headers.sort();
        let body =
            String::from_utf8_lossy(&reply.body).replace(&format!("has id {id}."), "has id ID.");
        (reply.status, headers, body)
    };
    let merge = ("content-type", "application/merge-patch+json");
    let origin = ("origin", "https://app.example.com");
    let cases: Vec<Case> = vec![
        ("GET", vec![], b""),
        ("HEAD", vec![], b""),
        (
            "GET",
            vec![("if-none-match", &tag), ("accept-encoding", "gzip")],
            b"",
        ),
        ("OPTIONS", vec![("if-match", "*")], b""),
        (
            "PUT",
            vec![json, ("if-match", &tag)],
            br#"{"title":"bob was here"}"#,
        ),
        (
            "PUT",
            vec![json, ("if-match", "\"99\"")],
            br#"{"title":""}"#,
        ),
        (
            "PUT",
            vec![("content-type", "text/plain"), ("if-match", "nonsense")],
            b"x",
        ),
        ("PATCH", vec![merge, origin], br#"{"isComplete":true}"#),
        ("DELETE", vec![("if-match", &tag)], b""),
        ("DELETE", vec![], b""),
    ];
    for (method, headers, content) in &cases {
        for form in ["/todos/{}", "/todos/00{}", "/TODOS/{}/", "/todos/%3{}"] {
            let path = |id: i64| form.replace("{}", &id.to_string());
            let mut with_token = headers.clone();
            with_token.push(("authorization", &bob));
            let theirs = call(method, &path(id), &with_token, content);
            let absent = call(method, &path(missing), &with_token, content);
            assert_eq!(theirs.status, 404, "{method} {} {headers:?}", path(id));
            assert_eq!(
                normal(theirs, id),
                normal(absent, missing),
                "{method} {} {headers:?}",
                path(id)
            );
        }
    }
    let now = call(
        "GET",
        &format!("/todos/{id}"),
        &[("authorization", &alice)],
        b"",
    );
    assert_eq!(now.header("etag"), Some(tag.as_str()), "nothing changed");
    let list = |bearer: &str, query: &str| {
        let reply = call(
            "GET",
            &format!("/todos{query}"),
            &[("authorization", bearer)],
            b"",
        );
        assert_eq!(reply.status, 200, "{query}");
        let total: u64 = reply.header("x-total-count").unwrap().parse().unwrap();
        let titles: Vec<String> = reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|todo| todo["title"].as_str().unwrap().to_owned())
            .collect();
        (titles, total)
    };
    for query in [
        "",
        "?isComplete=false",
        "?sort=-dueBy&pageSize=1",
        "?owner=bob",
    ] {
        assert_eq!(list(&bob, query), (vec!["bob's".to_owned()], 1), "{query}");
    }
    for query in [
        "?title=secret",
        "?title=alice&sort=title",
        "?isComplete=true",
    ] {
        assert_eq!(list(&bob, query), (vec![], 0), "{query}");
    }
    assert!(call("GET", "/todos?owner=alice", &[("authorization", &bob)], b"").is_problem(403));
    assert_eq!(
        list(&admin, "?owner=alice"),
        (vec!["alice's secret".to_owned()], 1)
    );
    let read = call(
        "GET",
        &format!("/todos/{id}"),
        &[("authorization", &admin)],
        b"",
    );
    assert_eq!(read.status, 200);
    // Many owners interleaved: each request sees its own caller's todos, never the last
    // caller's (an instance that served one request and then another must keep nothing).
    let owners: Vec<String> = (0..6)
        .map(|n| owner_bearer(&format!("user {n}"), None))
        .collect();
    for (n, bearer) in owners.iter().enumerate() {
        create(bearer, &format!(r#"{{"title":"of user {n}"}}"#));
    }
    for round in 0..5 {
        for (n, bearer) in owners.iter().enumerate().rev() {
            assert_eq!(
                list(bearer, ""),
                (vec![format!("of user {n}")], 1),
                "round {round}"
            );
        }
        assert!(call("GET", "/todos", &[], b"").is_problem(401));
    }
}
