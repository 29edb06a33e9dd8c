//! The Spin builds under real Spin, as users run them: `spin build -f MANIFEST`, then
//! `spin up -f MANIFEST` (Spin 4.0.2's own CLI, see tests/support/spin.rs), over HTTP.
//! Each build's suite starts `spin up` once per store it needs empty, and again on the same
//! store to show what survives a restart. A request that hangs in the host (as every one
//! past `/healthz` did on the PostgreSQL build before its store kept zero-row statements
//! out of `query`, spinframework/spin#3671) fails the suite when the client gives up on
//! it after 30 s.

mod support;

use std::path::Path;

use serde_json::json;
use support::spin::{SpinUp, SpinUpConfig};
use tempfile::TempDir;
use todo_api::testing::tokens;

const JSON: (&str, &str) = ("content-type", "application/json");

/// The black-box suite on one build: `fresh` gives the configuration of a `spin up` on a
/// store of its own, empty, each time it is called.
fn black_box_suite(fresh: impl Fn(&Path) -> SpinUpConfig) {
    let _machine = support::spin::one_at_a_time();
    let state = TempDir::new().unwrap();
    let dir = |name: &str| state.path().join(name);

    // The seed sample's client; then a restart keeps the todos, and ids are not reused.
    let config = fresh(&dir("seed"));
    {
        let spin = SpinUp::start(&config, support::free_port(), &dir("seed"));
        let call = |m: &str, p: &str, h: &[(&str, &str)], b: &[u8]| spin.call(m, p, h, b);
        support::black_box::seed_flow(call);
        assert_eq!(
            call("POST", "/todos", &[JSON], br#"{"title":"b"}"#).status,
            201
        );
        assert_eq!(call("DELETE", "/todos/2", &[], b"").status, 204);
        assert!(
            spin.component_stdout().contains("POST /todos 201"),
            "the request log is in spin up's component log file:\n{}",
            spin.component_stdout()
        );
    }
    let spin = SpinUp::start(&config, support::free_port(), &dir("seed"));
    let listed = spin.call("GET", "/todos", &[], b"");
    assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
    let again = spin.call("POST", "/todos", &[JSON], br#"{"title":"c"}"#);
    assert_eq!(again.header("location"), Some("/todos/3"));
    assert_eq!(spin.call("GET", "/readyz", &[], b"").status, 200);
    drop(spin);

    // Every route, method and status of the API table.
    let spin = SpinUp::start(&fresh(&dir("table")), support::free_port(), &dir("table"));
    support::black_box::api_table(|m, p, h, b| spin.call(m, p, h, b));
    drop(spin);

    // HTTP semantics on an empty store, then concurrency on what it left.
    let spin = SpinUp::start(&fresh(&dir("http")), support::free_port(), &dir("http"));
    let call = |m: &str, p: &str, h: &[(&str, &str)], b: &[u8]| spin.call(m, p, h, b);
    support::semantics::check(call);
    // Not found, an empty page, a search that matches nothing, a page past the end: the
    // reads that match no row.
    assert!(call("GET", "/todos/999", &[], b"").is_problem(404));
    assert_eq!(
        call("GET", "/todos?title=nothing", &[], b"").json(),
        json!([])
    );
    assert_eq!(call("GET", "/todos?page=99", &[], b"").json(), json!([]));
    assert!(call("DELETE", "/todos/999", &[("if-match", "\"1\"")], b"").is_problem(404));
    support::black_box::binding_as_aspnet_binds(call);
    support::black_box::codings_as_negotiated(call);
    support::black_box::concurrent_creates(&call, 40);
    support::black_box::racing_writes(&call);
    drop(spin);

    // Owner mode on an empty store: each owner reaches its own todos only.
    let config = fresh(&dir("owners")).with_settings(support::black_box::OWNER_MODE);
    let spin = SpinUp::start(&config, support::free_port(), &dir("owners"));
    support::black_box::owners_are_isolated(|m, p, h, b| spin.call(m, p, h, b));
}

#[test]
fn the_spin_build_passes_the_black_box_suite_under_spin_up() {
    black_box_suite(|_| SpinUpConfig::new("spin.toml", &[]));
}

#[test]
fn the_postgres_build_passes_the_black_box_suite_under_spin_up() {
    // One database per store the suite asks for, kept until the suite ends.
    let databases = std::sync::Mutex::new(Vec::new());
    let by_state = std::sync::Mutex::new(std::collections::HashMap::new());
    black_box_suite(|state| {
        let mut by_state = by_state.lock().unwrap();
        let url = by_state
            .entry(state.to_owned())
            .or_insert_with(|| {
                let database = support::postgres::Database::create();
                let url = (database.url.clone(), database.host());
                databases.lock().unwrap().push(database);
                url
            })
            .clone();
        SpinUpConfig::on_postgres(&url.0, &url.1)
    });
}

/// Two `spin up` replicas of the PostgreSQL build on one database: lists' tags agree and
/// move with a write through either.
#[test]
fn two_spin_up_replicas_on_one_postgres_database_give_lists_the_same_tags() {
    let _machine = support::spin::one_at_a_time();
    let database = support::postgres::Database::create();
    let state = TempDir::new().unwrap();
    let config = SpinUpConfig::on_postgres(&database.url, &database.host());
    let first = SpinUp::start(&config, support::free_port(), &state.path().join("first"));
    let second = SpinUp::start(&config, support::free_port(), &state.path().join("second"));
    support::black_box::list_tags_agree_across_replicas(
        |m, p, h, b| first.call(m, p, h, b),
        |m, p, h, b| second.call(m, p, h, b),
    );
}

/// The rate limit under real `spin up`: a client is the address Spin reports, the one Spin
/// appends after any `spin-client-addr` the client sent, so sending one escapes nothing.
#[test]
fn under_spin_up_the_rate_limit_keys_by_the_address_spin_reports() {
    let _machine = support::spin::one_at_a_time();
    let state = TempDir::new().unwrap();
    let config = SpinUpConfig::new("spin.toml", &[("rate_limit", "2/1h")]);
    let spin = SpinUp::start(&config, support::free_port(), state.path());
    for left in [1, 0] {
        let read = spin.call("GET", "/todos", &[], b"");
        assert_eq!(read.status, 200);
        let expected = format!("\"default\";r={left};t={}", (2 - left) * 1800);
        assert_eq!(read.header("ratelimit"), Some(expected.as_str()));
    }
    let spoofed = spin.call(
        "GET",
        "/todos",
        &[("spin-client-addr", "203.0.113.9:1")],
        b"",
    );
    assert!(spoofed.is_problem(429), "{}", spoofed.status);
    assert!(spoofed.header("retry-after").is_some());
    assert_eq!(spin.call("GET", "/healthz", &[], b"").status, 200);
}

/// Settings as Spin variables (`SPIN_VARIABLE_*`): CORS and bearer tokens take effect; an
/// invalid value answers `500` naming it wherever it is read, and `/readyz` reads every
/// setting, so a replica with one is never ready.
#[test]
fn spin_variables_configure_the_spin_build_under_spin_up() {
    let _machine = support::spin::one_at_a_time();
    let state = TempDir::new().unwrap();
    let origin = "https://app.example.com";
    let config = SpinUpConfig::new(
        "spin.toml",
        &[
            ("cors_allowed_origins", origin),
            ("jwt_hs256_secret", tokens::SECRET),
            ("jwt_protect_reads", "true"),
        ],
    );
    let spin = SpinUp::start(&config, support::free_port(), &state.path().join("on"));
    let preflight = spin.call(
        "OPTIONS",
        "/todos",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
        ],
        b"",
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(origin)
    );
    assert_eq!(spin.call("GET", "/todos", &[], b"").status, 401);
    let token = tokens::hs256(tokens::SECRET.as_bytes(), &tokens::fresh());
    let bearer = format!("Bearer {token}");
    let created = spin.call(
        "POST",
        "/todos",
        &[JSON, ("authorization", &bearer)],
        br#"{"title":"signed"}"#,
    );
    assert_eq!(created.status, 201);
    assert_eq!(
        spin.call("GET", "/todos/1", &[("authorization", &bearer)], b"")
            .status,
        200
    );
    support::black_box::protected_reads_reveal_nothing(
        |m, p, h, b| spin.call(m, p, h, b),
        &bearer,
        origin,
    );
    drop(spin);

    let config = SpinUpConfig::new("spin.toml", &[("max_body_bytes", "lots")]);
    let spin = SpinUp::start(&config, support::free_port(), &state.path().join("bad"));
    for (method, path, body) in [
        ("POST", "/todos", br#"{"title":"x"}"#.as_slice()),
        ("GET", "/readyz", b"".as_slice()),
    ] {
        let refused = spin.call(method, path, &[JSON], body);
        assert!(refused.is_problem(500), "{method} {path}");
        assert!(
            String::from_utf8_lossy(&refused.body).contains("max_body_bytes"),
            "{method} {path}"
        );
    }
    assert_eq!(spin.call("GET", "/healthz", &[], b"").status, 200);
}

/// 400 clients that never finish their bodies under `spin up` (Spin's own pool: 1,000
/// instances by default), `body_timeout_ms` set as a Spin variable: everyone else is
/// still served, and each unfinished write gets `408` once its deadline passes.
#[test]
fn unfinished_bodies_leave_spin_up_serving_others_and_get_408() {
    let _machine = support::spin::one_at_a_time();
    let state = TempDir::new().unwrap();
    let config = SpinUpConfig::new("spin.toml", &[("body_timeout_ms", "3000")]);
    let spin = SpinUp::start(&config, support::free_port(), state.path());
    let address = spin.base.trim_start_matches("http://").to_owned();
    support::black_box::unfinished_bodies_hold_nothing(&address, 400, |m, p, h, b| {
        spin.call(m, p, h, b)
    });

    // What Spin itself answers before the component runs (docs/reliability.md, "In front
    // of the host"): no Host, the connection closed unanswered; both framing headers, the
    // body read as chunked and the connection kept open.
    let raw =
        |bytes: &[u8]| support::raw_exchange(&address, bytes, std::time::Duration::from_secs(2));
    assert_eq!(raw(b"GET /healthz HTTP/1.1\r\n\r\n"), (String::new(), true));
    let (reply, closed) = raw(
        b"POST /todos HTTP/1.1\r\nHost: a\r\ncontent-type: application/json\r\n\
          content-length: 30\r\ntransfer-encoding: chunked\r\n\r\n\
          d\r\n{\"title\":\"x\"}\r\n0\r\n\r\n",
    );
    assert!(reply.starts_with("HTTP/1.1 201 ") && !closed, "{reply}");
}
