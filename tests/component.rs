//! The real artifacts: both components built in release mode, their imports checked against
//! the worlds in `wit/`, and the portable one driven over HTTP under `wasmtime serve`.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Build, Reply, Server, component, data_dir};

// ---------------------------------------------------------------------------------------
// Imports

/// The interfaces a world in `wit/` imports, fully qualified (`wasi:cli/stdout@0.2.0`).
fn world_imports(world: &str) -> BTreeSet<String> {
    world_imports_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("wit"), world)
}

/// The interfaces world `world` of the WIT package in `dir` imports, fully qualified;
/// features marked unstable count as not offered.
fn world_imports_in(dir: &Path, world: &str) -> BTreeSet<String> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(dir)
        .unwrap_or_else(|error| panic!("{} resolves: {error:?}", dir.display()));
    let world = resolve
        .select_world(&[package], Some(world))
        .expect("world exists");
    resolve.worlds[world]
        .imports
        .keys()
        .filter_map(|key| match key {
            wit_parser::WorldKey::Interface(id) => resolve.id_of(*id),
            wit_parser::WorldKey::Name(_) => None,
        })
        .collect()
}

/// The top-level imports and exports of a component binary.
fn component_interfaces(path: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let bytes = std::fs::read(path).expect("read component");
    let (mut imports, mut exports) = (BTreeSet::new(), BTreeSet::new());
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.expect("valid component") {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            wasmparser::Payload::ComponentImportSection(reader) if depth == 0 => {
                for import in reader {
                    imports.insert(import.expect("import").name.full_name().into_owned());
                }
            }
            wasmparser::Payload::ComponentExportSection(reader) if depth == 0 => {
                for export in reader {
                    exports.insert(export.expect("export").name.full_name().into_owned());
                }
            }
            _ => {}
        }
    }
    (imports, exports)
}

/// An interface name with its version cut to what a host linker matches on: hosts satisfy
/// any semver-compatible import (`wasi:cli/stdout@0.2.6` by a host's `@0.2.0`, as
/// wasmtime's linker does), so `0.x.y` compares as `0.x` and `x.y.z` (x > 0) as `x`.
fn compatible(name: &str) -> String {
    let Some((interface, version)) = name.split_once('@') else {
        return name.to_owned();
    };
    // A pre-release (`0.2.0-draft-2024-09-27`) matches only itself.
    if version.contains('-') {
        return name.to_owned();
    }
    let mut parts = version.split('.');
    let key = match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_owned(),
        (None, _) => String::new(),
    };
    format!("{interface}@{key}")
}

fn assert_within_world(build: Build, world: &str) -> BTreeSet<String> {
    let (imports, exports) = component_interfaces(&component(build));
    let allowed: BTreeSet<String> = world_imports(world).iter().map(|n| compatible(n)).collect();
    let strays: Vec<_> = imports
        .iter()
        .filter(|name| !allowed.contains(&compatible(name)))
        .collect();
    assert!(
        strays.is_empty(),
        "the {build:?} component imports {strays:?}, outside world `{world}`"
    );
    assert!(
        exports
            .iter()
            .any(|name| compatible(name) == "wasi:http/incoming-handler@0.2"),
        "{exports:?}"
    );
    imports.iter().map(|name| compatible(name)).collect()
}

#[test]
fn the_portable_component_imports_only_wasi() {
    let imports = assert_within_world(Build::Portable, "portable");
    assert!(
        imports.iter().all(|name| name.starts_with("wasi:")),
        "{imports:?}"
    );
    assert!(
        imports.contains("wasi:filesystem/preopens@0.2"),
        "{imports:?}"
    );
}

#[test]
fn the_spin_component_imports_only_what_spin_offers_and_uses_its_sqlite() {
    let imports = assert_within_world(Build::Spin, "spin");
    assert!(imports.contains("fermyon:spin/sqlite@2"), "{imports:?}");
    // Settings through wasi:config/store, each one a request uses (Spin 3.0 and later).
    assert!(!imports.contains("fermyon:spin/variables@2"), "{imports:?}");
    assert!(
        imports.contains("wasi:config/store@0.2.0-draft-2024-09-27"),
        "{imports:?}"
    );
    assert!(
        !imports.contains("wasi:filesystem/preopens@0.2"),
        "{imports:?}"
    );
}

#[test]
fn the_postgres_spin_component_imports_postgres_and_no_sqlite() {
    let imports = assert_within_world(Build::SpinPostgres, "spin-postgres");
    assert!(imports.contains("spin:postgres/postgres@3"), "{imports:?}");
    assert!(
        imports.iter().all(|name| !name.contains("sqlite")),
        "platforms without SQLite (Akamai Functions) must accept it: {imports:?}"
    );
    assert!(!imports.contains("fermyon:spin/variables@2"), "{imports:?}");
    assert!(
        imports.contains("wasi:config/store@0.2.0-draft-2024-09-27"),
        "{imports:?}"
    );
    assert!(
        !imports.contains("wasi:filesystem/preopens@0.2"),
        "{imports:?}"
    );
}

/// Spin's own WIT, as the releases declare what they link (tests/data/spin-wit): 3.6.3 is
/// what SpinKube's shim embeds, 4.0.2 the current `spin up`. Every import of each Spin build
/// must be offered by world `platform` of both.
#[test]
fn the_spin_components_import_only_what_spin_3_and_4_link() {
    for build in [Build::Spin, Build::SpinPostgres] {
        imports_linked_by_spin_3_and_4(build);
    }
}

fn imports_linked_by_spin_3_and_4(build: Build) {
    let (imports, _) = component_interfaces(&component(build));
    for release in ["v3.6.3", "v4.0.2"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/spin-wit")
            .join(release);
        let offered: BTreeSet<String> = world_imports_in(&dir, "platform")
            .iter()
            .map(|name| compatible(name))
            .collect();
        let missing: Vec<_> = imports
            .iter()
            .filter(|name| !offered.contains(&compatible(name)))
            .collect();
        assert!(
            missing.is_empty(),
            "Spin {release} does not link {missing:?} of the {build:?} build"
        );
        assert!(offered.contains("wasi:config/store@0.2.0-draft-2024-09-27"));
    }
}

#[test]
fn the_readme_gives_each_components_size_as_built() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    for (build, name) in [
        (Build::Portable, "portable"),
        (Build::Spin, "Spin"),
        (Build::SpinPostgres, "Spin on PostgreSQL"),
    ] {
        let bytes = std::fs::metadata(component(build)).unwrap().len();
        let kib = (bytes + 512) / 1024;
        assert!(
            readme.contains(&format!("{name} {kib} KiB")),
            "README: the {name} component is {kib} KiB ({bytes} bytes) as built"
        );
    }
}

#[test]
fn versions_compare_as_host_linkers_match_them() {
    assert_eq!(compatible("wasi:cli/stdout@0.2.6"), "wasi:cli/stdout@0.2");
    assert_ne!(
        compatible("wasi:cli/stdout@0.3.0"),
        compatible("wasi:cli/stdout@0.2.0")
    );
    assert_eq!(
        compatible("fermyon:spin/sqlite@2.0.0"),
        "fermyon:spin/sqlite@2"
    );
    assert_ne!(
        compatible("spin:sqlite/sqlite@3.0.0"),
        compatible("spin:sqlite/sqlite@2.0.0")
    );
    assert_ne!(
        compatible("wasi:config/store@0.2.0-draft-2024-09-27"),
        compatible("wasi:config/store@0.2.0-draft-2025-01-01")
    );
}

#[test]
fn the_worlds_keep_spin_out_of_the_portable_build() {
    assert!(
        world_imports("portable")
            .iter()
            .all(|name| name.starts_with("wasi:"))
    );
    assert!(world_imports("spin").contains("fermyon:spin/sqlite@2.0.0"));
}

// ---------------------------------------------------------------------------------------
// Over HTTP, under wasmtime serve

const JSON: (&str, &str) = ("content-type", "application/json");

fn post(server: &Server, body: Value) -> Reply {
    server.call("POST", "/todos", &[JSON], body.to_string().as_bytes())
}

#[test]
fn a_client_of_the_seed_sample_works_unchanged() {
    let (_temp, data) = data_dir();
    let server = Server::start(&data);
    let created = post(
        &server,
        json!({"title": "Walk the dog", "isComplete": false}),
    );
    assert_eq!(created.status, 201);
    assert_eq!(created.header("location"), Some("/todos/1"));
    let expected = json!({"id": 1, "title": "Walk the dog", "dueBy": null, "isComplete": false});
    assert_eq!(created.json(), expected);
    assert_eq!(server.call("GET", "/todos/1", &[], b"").json(), expected);
    assert_eq!(
        server.call("GET", "/todos", &[], b"").json(),
        json!([expected])
    );
    assert!(
        server.output().contains("POST /todos 201"),
        "{}",
        server.output()
    );
}

/// The largest answer the API gives, far more than wasmtime serve buffers before it
/// reads, arrives whole with its `Content-Length`.
#[test]
fn the_largest_page_the_api_gives_arrives_whole() {
    let (_temp, data) = data_dir();
    support::largest_page::seed(&todo_api::store::dir::DirStore::new(&data));
    let server = Server::start_with_env(
        &data,
        &[(
            "TODO_MAX_TITLE_LENGTH",
            support::largest_page::MAX_TITLE_LENGTH,
        )],
    );
    let reply = server.call("GET", support::largest_page::PATH, &[], b"");
    support::largest_page::assert_whole(&reply);
}

/// Every answer carries `Content-Length` (none on 204 and 304), never chunked framing.
#[test]
fn every_answer_has_its_length() {
    let (_temp, data) = data_dir();
    let server = Server::start(&data);
    let created = post(&server, json!({"title": "a"}));
    for (reply, status) in [
        (created, 201),
        (server.call("GET", "/healthz", &[], b""), 200),
        (server.call("GET", "/openapi.json", &[], b""), 200),
        (server.call("GET", "/todos", &[], b""), 200),
        (server.call("GET", "/todos/9", &[], b""), 404),
        (
            server.call("GET", "/todos/1", &[("if-none-match", "\"1\"")], b""),
            304,
        ),
        (server.call("DELETE", "/todos/1", &[], b""), 204),
    ] {
        assert_eq!(reply.status, status);
        assert_eq!(reply.header("transfer-encoding"), None, "{status}");
        let expected = (!matches!(status, 204 | 304)).then(|| reply.body.len().to_string());
        assert_eq!(
            reply.header("content-length"),
            expected.as_deref(),
            "{status}"
        );
    }
}

#[test]
fn the_whole_api_table_answers_over_http() {
    let (_temp, data) = data_dir();
    let server = Server::start(&data);
    support::black_box::api_table(|method, path, headers, body| {
        server.call(method, path, headers, body)
    });
}

#[test]
fn http_semantics_hold_under_wasmtime_serve() {
    let (_dir, data) = data_dir();
    let server = Server::start(&data);
    support::semantics::check(|method, path, headers, body| {
        server.call(method, path, headers, body)
    });
    support::black_box::binding_as_aspnet_binds(|m, p, h, b| server.call(m, p, h, b));
}

/// Compression and caching as `make serve` serves them (its host options, default
/// settings), and two such replicas on one directory agreeing on lists' tags.
#[test]
fn compression_and_caching_hold_under_make_serve() {
    let (_dir, data) = data_dir();
    let first = Server::start_as_make_serve(&data, &[]);
    support::black_box::codings_as_negotiated(|m, p, h, b| first.call(m, p, h, b));
    let second = Server::start_as_make_serve(&data, &[]);
    support::black_box::list_tags_agree_across_replicas(
        |m, p, h, b| first.call(m, p, h, b),
        |m, p, h, b| second.call(m, p, h, b),
    );
}

/// What a lower layer's words look like: none of it may reach a client.
const INTERNALS: &[&str] = &[
    "backtrace",
    "stack",
    "wasmtime",
    "hyper",
    "ErrorCode",
    "os error",
    ".rs",
    "src/",
    "/data",
    "panicked",
    "SELECT",
    "sqlite",
    "at ",
];

fn assert_no_internals(reply: &Reply, what: &str) {
    let body = String::from_utf8_lossy(&reply.body);
    for word in INTERNALS {
        assert!(!body.contains(word), "{what}: {word:?} in {body}");
    }
    assert!(reply.body.len() < 400, "{what}: {body}");
}

#[test]
fn no_answer_carries_what_a_lower_layer_said_even_with_backtraces_on() {
    let (_dir, data) = data_dir();
    let secret = "0123456789abcdef0123456789abcdef";
    let server = Server::start_with_backtraces(&data, true, &[("TODO_JWT_HS256_SECRET", secret)]);
    // A body the client cuts short: the host's error (with its backtrace) goes to the log.
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    let token =
        todo_api::testing::tokens::hs256(secret.as_bytes(), &todo_api::testing::tokens::fresh());
    let head = format!(
        "POST /todos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"title\":"
    );
    stream.write_all(head.as_bytes()).unwrap();
    thread::sleep(Duration::from_millis(200));
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n").expect("an answer");
    assert!(head.starts_with("HTTP/1.1 400"), "{answer}");
    let cut_short = Reply {
        status: 400,
        headers: Vec::new(),
        body: body.as_bytes().to_vec(),
    };
    assert_no_internals(&cut_short, "a body cut short");
    assert!(
        server.output().contains("request body unreadable"),
        "{}",
        server.output()
    );
    // Tokens: a forged one, one with a bad signature encoding.
    for token in ["x.y.z", "eyJhbGciOiJIUzI1NiJ9.e30.%%%"] {
        let refused = server.call(
            "POST",
            "/todos",
            &[JSON, ("authorization", &format!("Bearer {token}"))],
            b"{}",
        );
        assert!(refused.is_problem(401));
        assert_no_internals(&refused, "a bad token");
    }
    // Bodies: malformed JSON names a line and column, not the parser's words.
    let bearer = format!("Bearer {token}");
    let malformed = server.call(
        "POST",
        "/todos",
        &[JSON, ("authorization", &bearer)],
        b"{\"title\": tru}",
    );
    assert!(malformed.is_problem(400));
    assert_no_internals(&malformed, "malformed JSON");
    // The store: no data directory granted.
    drop(server);
    let missing = Server::start_with_backtraces(&data, false, &[]);
    for path in ["/readyz", "/todos", "/todos/1"] {
        let unavailable = missing.call("GET", path, &[], b"");
        assert!(
            unavailable.is_problem(503),
            "{path}: {}",
            unavailable.status
        );
        assert_no_internals(&unavailable, path);
    }
    // Settings: an invalid one is named, its value and the reason only logged.
    let misconfigured =
        Server::start_with_backtraces(&data, true, &[("TODO_MAX_BODY_BYTES", "lots")]);
    let refused = misconfigured.call("POST", "/todos", &[JSON], br#"{"title":"a"}"#);
    assert!(refused.is_problem(500));
    assert_no_internals(&refused, "a bad setting");
    assert!(!String::from_utf8_lossy(&refused.body).contains("lots"));
}

#[test]
fn todos_survive_a_restart_and_ids_are_not_reused() {
    let (_temp, data) = data_dir();
    {
        let server = Server::start(&data);
        for title in ["a", "b", "c"] {
            assert_eq!(post(&server, json!({"title": title})).status, 201);
        }
        assert_eq!(server.call("DELETE", "/todos/3", &[], b"").status, 204);
    }
    let server = Server::start(&data);
    let titles: Vec<_> = server
        .call("GET", "/todos", &[], b"")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|todo| todo["title"].clone())
        .collect();
    assert_eq!(titles, [json!("a"), json!("b")]);
    assert_eq!(post(&server, json!({"title": "d"})).json()["id"], 4);
}

#[test]
fn forty_concurrent_creates_all_succeed_with_unique_ids() {
    let (_temp, data) = data_dir();
    let server = Server::start(&data);
    let call = |m: &str, p: &str, h: &[(&str, &str)], b: &[u8]| server.call(m, p, h, b);
    let ids = support::black_box::concurrent_creates(&call, 40);
    assert_eq!(ids, (1..=40).collect::<Vec<i64>>());
    let listed = server.call("GET", "/todos", &[], b"");
    assert_eq!(listed.header("x-total-count"), Some("40"));
}

#[test]
fn without_its_data_directory_it_is_live_but_not_ready() {
    let (_temp, data) = data_dir();
    let server = Server::start_without_data(&data);
    assert_eq!(server.call("GET", "/healthz", &[], b"").status, 200);
    assert!(server.call("GET", "/readyz", &[], b"").is_problem(503));
    let refused = post(&server, json!({"title": "a"}));
    assert!(refused.is_problem(503));
    assert!(!String::from_utf8_lossy(&refused.body).contains("/data"));
}

/// The other way to be without data: `--dir` names a directory that is gone. wasmtime
/// opens it for every instance, so it cannot start the component at all: every request,
/// `/healthz` too, gets the host's own HTML 500 (docs/reliability.md, "In front of the
/// host"), until the directory is back.
#[test]
fn with_its_data_directory_removed_the_host_cannot_start_it_until_it_is_back() {
    let (_temp, data) = data_dir();
    let server = Server::start(&data);
    assert_eq!(server.call("GET", "/healthz", &[], b"").status, 200);
    std::fs::remove_dir(&data).unwrap();
    let reply = server.call("GET", "/healthz", &[], b"");
    assert_eq!(reply.status, 500);
    assert!(
        reply
            .header("content-type")
            .unwrap_or("")
            .starts_with("text/html")
    );
    std::fs::create_dir(&data).unwrap();
    assert_eq!(server.call("GET", "/healthz", &[], b"").status, 200);
    assert_eq!(server.call("GET", "/readyz", &[], b"").status, 200);
}

#[test]
fn racing_conditional_writes_let_exactly_one_win_and_unconditional_ones_all_land() {
    let (_temp, data) = data_dir();
    let server = Server::start(&data);
    support::black_box::racing_writes(&|m: &str, p: &str, h: &[(&str, &str)], b: &[u8]| {
        server.call(m, p, h, b)
    });
}

// ---------------------------------------------------------------------------------------
// Settings, CORS and bearer tokens, configured with `wasmtime serve --env`

#[test]
fn environment_settings_turn_on_cors_and_bearer_tokens() {
    use todo_api::testing::tokens;
    let (_temp, data) = data_dir();
    let key = tokens::es_key(5);
    let jwks = tokens::jwks(&key, "k1");
    let server = Server::start_with_env(
        &data,
        &[
            ("TODO_CORS_ALLOWED_ORIGINS", "https://app.example.com"),
            ("TODO_JWT_HS256_SECRET", tokens::SECRET),
            ("TODO_JWT_JWKS", &jwks),
            ("TODO_JWT_AUDIENCE", "todo-api"),
            ("TODO_JWT_WRITE_SCOPE", "todos:write"),
        ],
    );
    let origin = ("origin", "https://app.example.com");
    let body = br#"{"title":"a"}"#;
    let post_as = |token: &str| {
        let bearer = format!("Bearer {token}");
        server.call(
            "POST",
            "/todos",
            &[JSON, origin, ("authorization", &bearer)],
            body,
        )
    };
    let now = tokens::now();
    let claims = json!({"exp": now + 600, "aud": "todo-api", "scope": "todos:write"});

    // CORS: a preflight from the allowed origin, and none for another.
    let preflight = server.call(
        "OPTIONS",
        "/todos",
        &[origin, ("access-control-request-method", "POST")],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("GET, POST")
    );
    assert_eq!(preflight.header("access-control-max-age"), Some("600"));
    let foreign = server.call(
        "OPTIONS",
        "/todos",
        &[
            ("origin", "https://evil.example.com"),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert!(foreign.header("access-control-allow-origin").is_none());

    // No token, a bad one, a token without the scope: refused, nothing stored.
    let missing = server.call("POST", "/todos", &[JSON, origin], body);
    assert!(missing.is_problem(401));
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        missing.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let refused = [
        tokens::hs256(
            tokens::SECRET.as_bytes(),
            &json!({"exp": now - 300, "aud": "todo-api", "scope": "todos:write"}),
        ),
        tokens::tampered(
            &tokens::hs256(tokens::SECRET.as_bytes(), &claims),
            &json!({"exp": now + 9999, "aud": "todo-api", "scope": "todos:write"}),
        ),
        tokens::compact(&json!({"alg": "none"}), &claims, |_| Vec::new()),
        tokens::hs256(jwks.as_bytes(), &claims),
        tokens::es256(&tokens::es_key(6), "k1", &claims),
        tokens::hs256(
            tokens::SECRET.as_bytes(),
            &json!({"exp": now + 600, "aud": "other", "scope": "todos:write"}),
        ),
    ];
    for token in &refused {
        let reply = post_as(token);
        assert!(reply.is_problem(401), "{token}: {}", reply.status);
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|value| value.starts_with("Bearer error=\"invalid_token\"")),
            "{token}"
        );
    }
    let unscoped = post_as(&tokens::hs256(
        tokens::SECRET.as_bytes(),
        &json!({"exp": now + 600, "aud": "todo-api"}),
    ));
    assert!(unscoped.is_problem(403));
    assert_eq!(
        server
            .call("GET", "/todos", &[], b"")
            .header("x-total-count"),
        Some("0")
    );

    // Good HS256 and ES256 tokens: created, with the CORS headers a browser needs.
    let created = post_as(&tokens::hs256(tokens::SECRET.as_bytes(), &claims));
    assert_eq!(created.status, 201);
    let vary: Vec<&str> = created
        .headers
        .iter()
        .filter(|(name, _)| name == "vary")
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(vary, ["Accept-Encoding", "Origin"]);
    assert!(
        created
            .header("access-control-expose-headers")
            .is_some_and(|value| value.contains("Location"))
    );
    assert_eq!(post_as(&tokens::es256(&key, "k1", &claims)).status, 201);
    // Reads stay open.
    assert_eq!(
        server
            .call("GET", "/todos", &[], b"")
            .header("x-total-count"),
        Some("2")
    );
}

#[test]
fn an_invalid_setting_answers_500_where_it_is_read_and_the_log_names_it() {
    let (_temp, data) = data_dir();
    let server = Server::start_with_env(&data, &[("TODO_JWT_HS256_SECRET", "short")]);
    // Liveness reads no setting; readiness reads every one; a write reads the token rules.
    assert_eq!(server.call("GET", "/healthz", &[], b"").status, 200);
    let reply = server.call("GET", "/readyz", &[], b"");
    assert!(reply.is_problem(500));
    assert!(!String::from_utf8_lossy(&reply.body).contains("short"));
    let refused = post(&server, json!({"title": "a"}));
    assert!(refused.is_problem(500));
    assert!(
        server
            .output()
            .contains("setting jwt_hs256_secret: the secret must be at least 32 bytes"),
        "{}",
        server.output()
    );
    assert!(
        std::fs::read_dir(&data).unwrap().next().is_none(),
        "nothing was written"
    );
}

/// `{"a":…}` nested `depth` deep around `leaf`.
fn nested(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |inner, _| json!({ "a": inner }))
}

/// The component runs on a small stack (build.rs); the deepest it goes is serde_json's
/// nesting limit in a body or a token. Bodies and tokens nested up to that limit and past it
/// must be answered, never trap (a trap is a 500 from the host).
#[test]
fn json_nested_to_the_parsers_limit_fits_the_components_stack() {
    use todo_api::testing::tokens;
    let (_temp, data) = data_dir();
    let server = Server::start_with_env(&data, &[("TODO_JWT_HS256_SECRET", tokens::SECRET)]);
    let bearer = format!(
        "Bearer {}",
        tokens::hs256(tokens::SECRET.as_bytes(), &tokens::fresh())
    );
    let auth = ("authorization", bearer.as_str());
    assert_eq!(
        server
            .call("POST", "/todos", &[JSON, auth], br#"{"title":"a"}"#)
            .status,
        201
    );
    let mut accepted = 0;
    for depth in [64, 120, 126, 127, 128, 200, 1000] {
        let deep_array = (0..depth).fold(json!(1), |inner, _| json!([inner]));
        let bodies = [
            nested(depth, json!(1)),
            json!({"title": "x", "extra": nested(depth, json!(1))}),
            json!({"title": "x", "extra": deep_array}),
            json!({"title": nested(depth, json!("x"))}),
        ];
        for body in &bodies {
            for (method, path, content_type) in [
                ("POST", "/todos", "application/json"),
                ("PUT", "/todos/1", "application/json"),
                ("PATCH", "/todos/1", "application/merge-patch+json"),
            ] {
                let reply = server.call(
                    method,
                    path,
                    &[("content-type", content_type), auth],
                    body.to_string().as_bytes(),
                );
                assert!(
                    reply.status < 500,
                    "{method} at depth {depth}: {}",
                    reply.status
                );
                accepted += usize::from(reply.status < 300);
            }
        }
        // Deep claims in a correctly signed token, and a deep header in an unsigned one.
        let mut claims = tokens::fresh();
        claims["extra"] = nested(depth, json!(1));
        let deep_header = json!({"alg": "HS256", "extra": nested(depth, json!(1))});
        for token in [
            tokens::hs256(tokens::SECRET.as_bytes(), &claims),
            tokens::compact(&deep_header, &tokens::fresh(), |_| vec![0; 32]),
        ] {
            let bearer = format!("Bearer {token}");
            let reply = server.call(
                "POST",
                "/todos",
                &[JSON, ("authorization", &bearer)],
                br#"{"title":"a"}"#,
            );
            assert!(
                reply.status < 500,
                "token at depth {depth}: {}",
                reply.status
            );
        }
    }
    // The deep bodies within the limit were parsed, not refused up front.
    assert!(accepted >= 12, "only {accepted} deep bodies accepted");
    assert!(!server.output().contains("trap"), "{}", server.output());
}

/// `TODO_DATA_DIR` may name a directory inside the preopened one, written as wasi-libc
/// would resolve it; one outside every preopen is unavailable (503), never "no such todo".
#[test]
fn the_data_directory_setting_is_resolved_inside_the_preopened_directory() {
    let (_temp, data) = data_dir();
    std::fs::create_dir(data.join("inner")).unwrap();
    for (n, root) in ["/data/inner", "/data//inner/", "data/./inner"]
        .iter()
        .enumerate()
    {
        let server = Server::start_with_env(&data, &[("TODO_DATA_DIR", root)]);
        let created = post(&server, json!({"title": format!("from {root}")}));
        assert_eq!(created.status, 201, "{root}");
        assert_eq!(
            created.header("location"),
            Some(format!("/todos/{}", n + 1).as_str())
        );
        let read = server.call("GET", &format!("/todos/{}", n + 1), &[], b"");
        assert_eq!(read.json()["title"], format!("from {root}"), "{root}");
        assert_eq!(
            server
                .call("GET", "/todos", &[], b"")
                .header("x-total-count"),
            Some((n + 1).to_string().as_str()),
            "{root}"
        );
    }
    assert!(data.join("inner/todos/3/current").exists());
    let outside = Server::start_with_env(&data, &[("TODO_DATA_DIR", "/elsewhere")]);
    assert!(outside.call("GET", "/todos/1", &[], b"").is_problem(503));
    assert!(outside.call("GET", "/todos", &[], b"").is_problem(503));
    assert!(post(&outside, json!({"title": "lost"})).is_problem(503));
}

#[test]
fn unfinished_bodies_leave_make_serve_serving_others_and_get_408() {
    // 400 clients that never finish their bodies, under make serve's own host options and
    // its default body_timeout_ms: everyone else is still served, and each of them gets
    // 408 once the deadline passes (no timing is asserted: only what came first).
    let (_dir, data) = data_dir();
    let server = Server::start_as_make_serve(&data, &[]);
    let address = server.base.trim_start_matches("http://").to_owned();
    support::black_box::unfinished_bodies_hold_nothing(&address, 400, |m, p, h, b| {
        server.call(m, p, h, b)
    });
}

/// What the host writes itself, before the component runs, under `make serve` alone and
/// with `deploy/nginx/todo-api.conf` in front (docs/reliability.md, "In front of the
/// host"): nginx answers each with problem details and never passes it on.
#[test]
fn nginx_in_front_of_make_serve_answers_what_the_host_would_not() {
    use support::nginx::Nginx;
    let (_dir, data) = data_dir();
    let server = Server::start_as_make_serve(&data, &[]);
    let upstream = server.base.trim_start_matches("http://").to_owned();
    let nginx = Nginx::start(&upstream);
    let direct =
        |bytes: &[u8]| support::raw_exchange(&upstream, bytes, std::time::Duration::from_secs(2)).0;
    let problem = |reply: &str, status: &str| {
        assert!(reply.starts_with(&format!("HTTP/1.1 {status} ")), "{reply}");
        assert!(
            reply.contains("Content-Type: application/problem+json"),
            "{reply}"
        );
        assert!(reply.contains(&format!("\"status\":{status}")), "{reply}");
    };

    // No Host: the host alone answers its own HTML 500; nginx answers 400 to HTTP/1.1 and
    // passes HTTP/1.0 on with its server name as the Host.
    let no_host = b"GET /healthz HTTP/1.1\r\n\r\n";
    let reply = direct(no_host);
    assert!(
        reply.starts_with("HTTP/1.1 500 ") && reply.contains("text/html"),
        "{reply}"
    );
    problem(&nginx.raw(no_host), "400");
    let reply = nginx.raw(b"GET /healthz HTTP/1.0\r\n\r\n");
    assert!(
        reply.starts_with("HTTP/1.1 200 ") && reply.ends_with("Healthy"),
        "{reply}"
    );

    // Heads past 8 KiB: a request line is 414, a header 400.
    let long_target = format!(
        "GET /todos?title={} HTTP/1.1\r\nHost: a\r\n\r\n",
        "a".repeat(9000)
    );
    problem(&nginx.raw(long_target.as_bytes()), "414");
    let long_header = format!(
        "GET /todos HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "a".repeat(9000)
    );
    problem(&nginx.raw(long_header.as_bytes()), "400");

    // Both framing headers: the host alone reads the body as chunked and keeps the
    // connection; nginx refuses the request and closes it.
    let both = b"POST /todos HTTP/1.1\r\nHost: a\r\ncontent-type: application/json\r\n\
                 content-length: 30\r\ntransfer-encoding: chunked\r\n\r\n\
                 d\r\n{\"title\":\"x\"}\r\n0\r\n\r\n";
    let reply = direct(both);
    assert!(reply.starts_with("HTTP/1.1 201 "), "{reply}");
    let reply = nginx.raw(both);
    problem(&reply, "400");
    assert!(reply.contains("Connection: close"), "{reply}");

    use std::io::Write;
    // A body past max_body_bytes is refused by nginx, unread.
    let large = format!(
        "POST /todos HTTP/1.1\r\nHost: a\r\ncontent-type: application/json\r\n\
         content-length: 70000\r\n\r\n{{\"title\":\"{}\"}}",
        "a".repeat(69986)
    );
    problem(&nginx.raw(large.as_bytes()), "413");

    // 400 unfinished bodies from one address (127.0.0.2): nginx holds at most 64 of them
    // (limit_conn), never the component, answers the rest 429 at once, serves everyone
    // else, and closes each one it held after client_body_timeout, passing none on.
    let mut waiting: Vec<std::net::TcpStream> = (0..400)
        .map(|_| {
            use socket2::{Domain, SockAddr, Socket, Type};
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            socket
                .bind(&SockAddr::from(std::net::SocketAddr::from((
                    [127, 0, 0, 2],
                    0,
                ))))
                .unwrap();
            socket
                .connect(&SockAddr::from(std::net::SocketAddr::from((
                    [127, 0, 0, 1],
                    nginx.port,
                ))))
                .unwrap();
            let mut stream: std::net::TcpStream = socket.into();
            stream
                .write_all(
                    b"POST /todos HTTP/1.1\r\nHost: a\r\ncontent-type: application/json\r\n\
                      content-length: 100\r\n\r\n{\"title\":",
                )
                .unwrap();
            stream
        })
        .collect();
    assert_eq!(nginx.call("GET", "/healthz", &[], b"").status, 200);
    let created = nginx.call(
        "POST",
        "/todos",
        &[("content-type", "application/json")],
        br#"{"title":"b"}"#,
    );
    assert_eq!(created.status, 201);
    let mut held = 0;
    for stream in &mut waiting {
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        let reply = String::from_utf8_lossy(&reply);
        if reply.is_empty() {
            held += 1;
        } else {
            problem(&reply, "429");
        }
    }
    assert_eq!(held, 64, "nginx holds 64 requests at once per address");
    let listed = nginx.call("GET", "/todos", &[], b"");
    assert_eq!(listed.header("x-total-count"), Some("2"));
    assert!(
        !server.output().contains(" 408 "),
        "an unfinished body reached the component"
    );

    // The host gone: 503 problem details, not nginx's HTML 502.
    drop(server);
    let reply = nginx.call("GET", "/todos", &[], b"");
    assert!(
        reply.is_problem(503),
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

/// `jwt_protect_reads` under `make serve`: OPTIONS on a todo tells nothing without a token.
#[test]
fn under_protected_reads_options_tells_nothing_without_a_token_over_http() {
    use todo_api::testing::tokens;
    let (_dir, data) = data_dir();
    let origin = "https://app.example.com";
    let server = Server::start_as_make_serve(
        &data,
        &[
            ("TODO_JWT_HS256_SECRET", tokens::SECRET),
            ("TODO_JWT_PROTECT_READS", "true"),
            ("TODO_CORS_ALLOWED_ORIGINS", origin),
        ],
    );
    let bearer = format!(
        "Bearer {}",
        tokens::hs256(tokens::SECRET.as_bytes(), &tokens::fresh())
    );
    let created = server.call(
        "POST",
        "/todos",
        &[JSON, ("authorization", &bearer)],
        br#"{"title":"a"}"#,
    );
    assert_eq!(created.status, 201);
    support::black_box::protected_reads_reveal_nothing(
        |m, p, h, b| server.call(m, p, h, b),
        &bearer,
        origin,
    );
}

/// Owner mode under `make serve`: each owner reaches its own todos only, over HTTP.
#[test]
fn owners_are_isolated_under_make_serve() {
    let (_dir, data) = data_dir();
    let server = Server::start_as_make_serve(&data, support::black_box::OWNER_MODE);
    support::black_box::owners_are_isolated(|m, p, h, b| server.call(m, p, h, b));
}

/// The same where one instance serves many requests (`wasmtime serve` reuses an instance
/// up to 1,000 times when asked): statics survive between requests, and nothing of one
/// caller's request may reach another's.
#[test]
fn owners_are_isolated_when_one_instance_serves_many_requests() {
    let (_dir, data) = data_dir();
    let server = Server::start_as_make_serve_with(
        &data,
        support::black_box::OWNER_MODE,
        &["--max-instance-reuse-count", "1000"],
    );
    support::black_box::owners_are_isolated(|m, p, h, b| server.call(m, p, h, b));
}
