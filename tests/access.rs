//! Who may call the API, natively: the settings, CORS and bearer-token authentication,
//! each configured through `Config::read` as the hosts configure them.

mod support;

use http::Response;
use serde_json::{Value, json};
use support::native::{Api, body, problem, request};
use todo_api::api;
use todo_api::config::{Config, ConfigError};
use todo_api::store::dir::DirStore;
use todo_api::testing::tokens::{self, SECRET};

fn api(settings: &[(&str, &str)]) -> Api<DirStore> {
    Api::on_dir(todo_api::testing::config_of(settings).expect("valid settings"))
}

impl Api<DirStore> {
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response<Vec<u8>> {
        self.handle(method, path, headers, body.as_bytes())
    }

    /// Creates a todo, sending `authorization` as it is.
    fn post_with(&self, authorization: Option<&str>) -> Response<Vec<u8>> {
        let mut headers = vec![JSON];
        if let Some(value) = authorization {
            headers.push(("authorization", value));
        }
        self.send("POST", "/todos", &headers, r#"{"title":"a"}"#)
    }

    fn post_bearer(&self, token: &str) -> Response<Vec<u8>> {
        self.post_with(Some(&format!("Bearer {token}")))
    }

    fn stored_count(&self) -> usize {
        let listed = self.send("GET", "/todos", &[], "");
        body(&listed).as_array().map_or(0, Vec::len)
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");
const ORIGIN: (&str, &str) = ("origin", "https://app.example.com");

fn header<'a>(response: &'a Response<Vec<u8>>, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap())
}

fn assert_unauthorized(response: &Response<Vec<u8>>, error: Option<&str>) {
    problem(response, 401);
    let challenge = header(response, "www-authenticate").expect("WWW-Authenticate");
    match error {
        None => assert_eq!(challenge, "Bearer"),
        Some(error) => assert!(
            challenge.starts_with(&format!("Bearer error=\"{error}\"")),
            "{challenge}"
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Limits

#[test]
fn a_configured_body_limit_refuses_larger_bodies_with_413() {
    let api = api(&[("max_body_bytes", "64")]);
    let long = format!(r#"{{"title":"{}"}}"#, "x".repeat(60));
    problem(&api.send("POST", "/todos", &[JSON], &long), 413);
    assert_eq!(
        api.send("POST", "/todos", &[JSON], r#"{"title":"short"}"#)
            .status(),
        201
    );
    assert_eq!(api.stored_count(), 1);
}

#[test]
fn a_configured_title_length_is_enforced_on_create_replace_and_patch() {
    let api = api(&[("max_title_length", "5")]);
    let refused = problem(
        &api.send("POST", "/todos", &[JSON], r#"{"title":"abcdef"}"#),
        400,
    );
    assert!(
        refused["errors"]["title"][0]
            .as_str()
            .unwrap()
            .contains('5')
    );
    assert_eq!(
        api.send("POST", "/todos", &[JSON], r#"{"title":"abcde"}"#)
            .status(),
        201
    );
    problem(
        &api.send("PUT", "/todos/1", &[JSON], r#"{"title":"abcdef"}"#),
        400,
    );
    problem(
        &api.send("PATCH", "/todos/1", &[JSON], r#"{"title":"abcdef"}"#),
        400,
    );
    assert_eq!(
        body(&api.send("GET", "/todos/1", &[], ""))["title"],
        "abcde"
    );
}

#[test]
fn an_invalid_setting_answers_500_naming_it_but_not_its_value() {
    let error = ConfigError {
        setting: "jwt_hs256_secret",
        message: "the secret must be at least 32 bytes long; it has 6".into(),
    };
    let response = api::misconfigured(error);
    let problem = problem(&response, 500);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("jwt_hs256_secret"), "{detail}");
    assert!(!detail.contains("32 bytes"), "{detail}");
}

// ---------------------------------------------------------------------------------------
// CORS

#[test]
fn by_default_no_answer_carries_cors_headers() {
    let api = api(&[]);
    let read = api.send("GET", "/todos", &[ORIGIN], "");
    assert_eq!(read.status(), 200);
    assert!(
        read.headers()
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-"))
    );
    let preflight = api.send(
        "OPTIONS",
        "/todos",
        &[ORIGIN, ("access-control-request-method", "POST")],
        "",
    );
    assert!(
        preflight
            .headers()
            .keys()
            .all(|name| !name.as_str().starts_with("access-control-"))
    );
}

#[test]
fn a_preflight_from_an_allowed_origin_gets_204_with_the_permissions() {
    let api = api(&[
        (
            "cors_allowed_origins",
            "https://app.example.com, http://localhost:5173",
        ),
        ("cors_max_age", "120"),
        ("jwt_hs256_secret", SECRET),
        ("jwt_protect_reads", "true"),
    ]);
    let preflight = api.send(
        "OPTIONS",
        "/todos/7",
        &[
            ORIGIN,
            ("access-control-request-method", "PATCH"),
            ("access-control-request-headers", "authorization, if-match"),
        ],
        "",
    );
    // No token needed: browsers never send credentials on a preflight.
    assert_eq!(preflight.status(), 204);
    assert!(preflight.body().is_empty());
    assert_eq!(
        header(&preflight, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        header(&preflight, "access-control-allow-methods"),
        Some("GET, PUT, PATCH, DELETE")
    );
    let allowed = header(&preflight, "access-control-allow-headers").unwrap();
    for needed in ["Authorization", "Content-Type", "If-Match", "If-None-Match"] {
        assert!(allowed.contains(needed), "{allowed}");
    }
    assert_eq!(header(&preflight, "access-control-max-age"), Some("120"));
    assert_eq!(header(&preflight, "vary"), Some("Origin"));
    assert!(
        header(&preflight, "access-control-allow-credentials").is_none(),
        "credentials are never allowed"
    );
}

#[test]
fn a_preflight_from_a_disallowed_origin_gets_no_cors_headers() {
    let api = api(&[("cors_allowed_origins", "https://app.example.com")]);
    for origin in [
        "https://evil.example.com",
        "http://app.example.com",
        "https://app.example.com:444",
        "null",
    ] {
        let preflight = api.send(
            "OPTIONS",
            "/todos",
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
            ],
            "",
        );
        assert!(
            preflight
                .headers()
                .keys()
                .all(|name| !name.as_str().starts_with("access-control-")),
            "{origin}"
        );
    }
}

#[test]
fn answers_to_an_allowed_origin_carry_allow_origin_vary_and_exposed_headers() {
    let api = api(&[("cors_allowed_origins", "https://app.example.com")]);
    let created = api.send("POST", "/todos", &[JSON, ORIGIN], r#"{"title":"a"}"#);
    assert_eq!(created.status(), 201);
    assert_eq!(
        header(&created, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let vary: Vec<_> = created.headers().get_all("vary").iter().collect();
    assert_eq!(vary, ["Accept-Encoding", "Origin"]);
    let exposed = header(&created, "access-control-expose-headers").unwrap();
    for name in ["ETag", "Location", "Link", "X-Total-Count"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    // Errors too, so a browser client can read the problem.
    let missing = api.send("GET", "/todos/99", &[ORIGIN], "");
    problem(&missing, 404);
    assert_eq!(
        header(&missing, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    // Another origin: the same answer, without permission, still varying by Origin.
    let other = api.send(
        "GET",
        "/todos/1",
        &[("origin", "https://evil.example.com")],
        "",
    );
    assert_eq!(other.status(), 200);
    assert!(header(&other, "access-control-allow-origin").is_none());
    let vary: Vec<_> = other.headers().get_all("vary").iter().collect();
    assert_eq!(vary, ["Accept-Encoding", "Origin"]);
}

#[test]
fn a_star_allows_every_origin_with_a_literal_star() {
    let api = api(&[("cors_allowed_origins", "*")]);
    let read = api.send("GET", "/todos", &[("origin", "https://any.example")], "");
    assert_eq!(header(&read, "access-control-allow-origin"), Some("*"));
    let preflight = api.send(
        "OPTIONS",
        "/todos",
        &[
            ("origin", "https://any.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    );
    assert_eq!(preflight.status(), 204);
    assert_eq!(header(&preflight, "access-control-allow-origin"), Some("*"));
    assert_eq!(
        header(&preflight, "access-control-allow-methods"),
        Some("GET, POST")
    );
}

#[test]
fn an_options_request_that_is_not_a_preflight_answers_204_with_allow() {
    let api = api(&[("cors_allowed_origins", "*")]);
    let answer = api.send("OPTIONS", "/todos", &[], "");
    assert_eq!(answer.status(), 204);
    assert_eq!(header(&answer, "allow"), Some("GET, HEAD, POST, OPTIONS"));
    assert!(header(&answer, "access-control-allow-methods").is_none());
}

// ---------------------------------------------------------------------------------------
// Bearer tokens

#[test]
fn without_keys_writes_need_no_token() {
    let api = api(&[]);
    assert_eq!(api.post_with(None).status(), 201);
}

#[test]
fn with_a_key_a_write_without_a_token_gets_401_and_changes_nothing() {
    let api = api(&[("jwt_hs256_secret", SECRET)]);
    assert_unauthorized(&api.post_with(None), None);
    assert_unauthorized(&api.post_with(Some("Basic dXNlcjpwYXNz")), None);
    assert_unauthorized(&api.post_with(Some("Bearer ")), None);
    assert_eq!(api.stored_count(), 0);
    // Reads stay open by default, and so do the probes.
    assert_eq!(api.send("GET", "/todos", &[], "").status(), 200);
    assert_eq!(api.send("GET", "/healthz", &[], "").status(), 200);
}

#[test]
fn a_valid_hs256_token_authorizes_every_kind_of_write() {
    let api = api(&[("jwt_hs256_secret", SECRET)]);
    let token = tokens::hs256(SECRET.as_bytes(), &tokens::fresh());
    let bearer = format!("Bearer {token}");
    let auth = ("authorization", bearer.as_str());
    assert_eq!(api.post_bearer(&token).status(), 201);
    // The scheme is case-insensitive.
    assert_eq!(
        api.post_with(Some(&format!("bearer {token}"))).status(),
        201
    );
    for (method, body) in [
        ("PUT", r#"{"title":"b"}"#),
        ("PATCH", r#"{"isComplete":true}"#),
    ] {
        problem(&api.send(method, "/todos/1", &[JSON], body), 401);
        assert_eq!(
            api.send(method, "/todos/1", &[JSON, auth], body).status(),
            200
        );
    }
    problem(&api.send("DELETE", "/todos/1", &[], ""), 401);
    assert_eq!(api.send("DELETE", "/todos/1", &[auth], "").status(), 204);
    assert_eq!(api.stored_count(), 1);
}

#[test]
fn expired_early_tampered_and_wrongly_signed_tokens_are_refused() {
    let api = api(&[("jwt_hs256_secret", SECRET)]);
    let now = tokens::now();
    let sign = |claims: Value| tokens::hs256(SECRET.as_bytes(), &claims);
    let good = tokens::fresh();
    let refused = [
        ("expired", sign(json!({"exp": now - 120}))),
        ("no exp", sign(json!({"sub": "x"}))),
        ("exp not a number", sign(json!({"exp": "tomorrow"}))),
        (
            "not valid yet",
            sign(json!({"exp": now + 600, "nbf": now + 300})),
        ),
        ("claims not an object", sign(json!([1, 2]))),
        (
            "tampered",
            tokens::tampered(
                &sign(good.clone()),
                &json!({"sub": "admin", "exp": now + 600}),
            ),
        ),
        (
            "another secret",
            tokens::hs256(b"another-secret-of-32-bytes-or-more!", &good),
        ),
        ("garbage", "not.a.token".to_owned()),
        ("two segments", "eyJhbGciOiJIUzI1NiJ9.e30".to_owned()),
        ("too long", "a".repeat(9000)),
    ];
    for (case, token) in refused {
        let response = api.post_bearer(&token);
        assert_eq!(response.status(), 401, "{case}");
        assert_unauthorized(&response, Some("invalid_token"));
    }
    assert_eq!(api.stored_count(), 0);
    // Within the leeway of a minute for clock skew: accepted.
    let skewed = sign(json!({"exp": now - 30, "nbf": now + 30}));
    assert_eq!(api.post_bearer(&skewed).status(), 201);
}

/// HMAC-SHA256 with [`SECRET`]: a valid HS256 signature whatever the header says.
fn hmac_secret(input: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

#[test]
fn the_none_algorithm_and_unknown_algorithms_are_refused() {
    let api = api(&[("jwt_hs256_secret", SECRET)]);
    let claims = tokens::fresh();
    for alg in ["none", "None", "HS384", "RS256", "ES256"] {
        let unsigned = tokens::compact(&json!({"alg": alg}), &claims, |_| Vec::new());
        assert_unauthorized(&api.post_bearer(&unsigned), Some("invalid_token"));
        // Even with a valid HMAC-SHA256 signature under a header naming another one.
        let mislabelled = tokens::compact(&json!({"alg": alg}), &claims, hmac_secret);
        assert_unauthorized(&api.post_bearer(&mislabelled), Some("invalid_token"));
    }
    let critical = tokens::compact(
        &json!({"alg": "HS256", "crit": ["exp"]}),
        &claims,
        hmac_secret,
    );
    assert_unauthorized(&api.post_bearer(&critical), Some("invalid_token"));
    assert_eq!(api.stored_count(), 0);
}

#[test]
fn es256_tokens_verify_against_the_configured_key_set() {
    let key = tokens::es_key(7);
    let api = api(&[("jwt_jwks", &tokens::jwks(&key, "k1"))]);
    let claims = tokens::fresh();
    assert_eq!(
        api.post_bearer(&tokens::es256(&key, "k1", &claims))
            .status(),
        201
    );
    // Signed by another key, or naming a key id that is not configured.
    assert_unauthorized(
        &api.post_bearer(&tokens::es256(&tokens::es_key(8), "k1", &claims)),
        Some("invalid_token"),
    );
    assert_unauthorized(
        &api.post_bearer(&tokens::es256(&key, "k2", &claims)),
        Some("invalid_token"),
    );
    let forged = tokens::tampered(
        &tokens::es256(&key, "k1", &claims),
        &json!({"sub": "admin", "exp": tokens::now() + 600}),
    );
    assert_unauthorized(&api.post_bearer(&forged), Some("invalid_token"));
    assert_eq!(api.stored_count(), 1);
}

#[test]
fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    // Algorithm confusion: an attacker who knows the public key "signs" with it as an
    // HMAC secret. The key is an ES256 key, so an HS256 token never reaches it.
    let key = tokens::es_key(7);
    let jwk = tokens::public_jwk(&key, "k1");
    let jwks = tokens::jwks(&key, "k1");
    let api = api(&[("jwt_jwks", &jwks)]);
    let point = key.verifying_key().to_sec1_point(false);
    let claims = tokens::fresh();
    for secret in [
        jwks.as_bytes(),
        jwk.to_string().as_bytes(),
        point.as_bytes(),
        jwk["x"].as_str().unwrap().as_bytes(),
    ] {
        assert_unauthorized(
            &api.post_bearer(&tokens::hs256(secret, &claims)),
            Some("invalid_token"),
        );
    }
    assert_eq!(api.stored_count(), 0);
}

#[test]
fn hs256_and_es256_keys_can_be_configured_together() {
    let key = tokens::es_key(3);
    let api = api(&[
        ("jwt_hs256_secret", SECRET),
        ("jwt_jwks", &tokens::jwks(&key, "k")),
    ]);
    let claims = tokens::fresh();
    assert_eq!(
        api.post_bearer(&tokens::hs256(SECRET.as_bytes(), &claims))
            .status(),
        201
    );
    assert_eq!(
        api.post_bearer(&tokens::es256(&key, "k", &claims)).status(),
        201
    );
}

#[test]
fn issuer_and_audience_are_checked_when_configured() {
    let api = api(&[
        ("jwt_hs256_secret", SECRET),
        ("jwt_issuer", "https://id.example.com/"),
        ("jwt_audience", "todo-api"),
    ]);
    let exp = tokens::now() + 600;
    let sign = |claims: Value| tokens::hs256(SECRET.as_bytes(), &claims);
    let iss = "https://id.example.com/";
    for accepted in [
        json!({"exp": exp, "iss": iss, "aud": "todo-api"}),
        json!({"exp": exp, "iss": iss, "aud": ["other", "todo-api"]}),
    ] {
        assert_eq!(api.post_bearer(&sign(accepted)).status(), 201);
    }
    for refused in [
        json!({"exp": exp, "aud": "todo-api"}),
        json!({"exp": exp, "iss": "https://evil.example.com/", "aud": "todo-api"}),
        json!({"exp": exp, "iss": iss}),
        json!({"exp": exp, "iss": iss, "aud": "other"}),
        json!({"exp": exp, "iss": iss, "aud": ["other"]}),
    ] {
        assert_unauthorized(&api.post_bearer(&sign(refused)), Some("invalid_token"));
    }
    assert_eq!(api.stored_count(), 2);
}

#[test]
fn a_write_without_the_configured_scope_gets_403() {
    let api = api(&[
        ("jwt_hs256_secret", SECRET),
        ("jwt_write_scope", "todos:write"),
    ]);
    let exp = tokens::now() + 600;
    let sign = |claims: Value| tokens::hs256(SECRET.as_bytes(), &claims);
    for lacking in [
        json!({"exp": exp}),
        json!({"exp": exp, "scope": "todos:read"}),
        json!({"exp": exp, "scope": "todos:writer"}),
    ] {
        let response = api.post_bearer(&sign(lacking));
        problem(&response, 403);
        assert_eq!(
            header(&response, "www-authenticate"),
            Some(r#"Bearer error="insufficient_scope", scope="todos:write""#)
        );
    }
    assert_eq!(api.stored_count(), 0);
    for granting in [
        json!({"exp": exp, "scope": "todos:read todos:write"}),
        json!({"exp": exp, "scp": ["todos:write"]}),
        json!({"exp": exp, "scp": "todos:write"}),
    ] {
        assert_eq!(api.post_bearer(&sign(granting)).status(), 201);
    }
}

#[test]
fn protected_reads_need_a_token_but_probes_and_the_document_do_not() {
    let api = api(&[("jwt_hs256_secret", SECRET), ("jwt_protect_reads", "true")]);
    assert_unauthorized(&api.send("GET", "/todos", &[], ""), None);
    assert_unauthorized(&api.send("GET", "/todos/1", &[], ""), None);
    for open in ["/healthz", "/readyz", "/openapi.json"] {
        assert_eq!(api.send("GET", open, &[], "").status(), 200, "{open}");
    }
    let bearer = format!(
        "Bearer {}",
        tokens::hs256(SECRET.as_bytes(), &tokens::fresh())
    );
    let read = api.send("GET", "/todos", &[("authorization", &bearer)], "");
    assert_eq!(read.status(), 200);
    // What only a token may read no shared cache may keep.
    assert_eq!(header(&read, "cache-control"), Some("private, no-cache"));
    let document = api.send("GET", "/openapi.json", &[], "");
    assert_eq!(
        header(&document, "cache-control"),
        Some("public, max-age=300")
    );
}

/// `OPTIONS` on a todo is a read: under protected reads it tells no one without a token
/// which ids exist or how often one was written; a CORS preflight stays open and answers
/// the same for every id.
#[test]
fn under_protected_reads_options_needs_a_token_and_preflights_reveal_nothing() {
    let api = api(&[
        ("jwt_hs256_secret", SECRET),
        ("jwt_protect_reads", "true"),
        ("cors_allowed_origins", "https://app.example.com"),
    ]);
    let bearer = format!(
        "Bearer {}",
        tokens::hs256(SECRET.as_bytes(), &tokens::fresh())
    );
    let auth = ("authorization", bearer.as_str());
    assert_eq!(
        api.post_bearer(&tokens::hs256(SECRET.as_bytes(), &tokens::fresh()))
            .status(),
        201
    );
    for (path, headers) in [
        ("/todos/1", vec![]),
        ("/todos/999999", vec![]),
        ("/todos/1", vec![("if-match", "\"1\"")]),
        ("/todos/1", vec![("if-match", "\"2\"")]),
        ("/todos", vec![]),
    ] {
        assert_unauthorized(&api.send("OPTIONS", path, &headers, ""), None);
    }
    assert_eq!(api.send("OPTIONS", "/todos/1", &[auth], "").status(), 204);
    assert_eq!(
        api.send("OPTIONS", "/todos/999999", &[auth], "").status(),
        404
    );
    let preflight = |path: &str| {
        let answer = api.send(
            "OPTIONS",
            path,
            &[ORIGIN, ("access-control-request-method", "PUT")],
            "",
        );
        (
            answer.status(),
            answer.headers().clone(),
            answer.into_body(),
        )
    };
    assert_eq!(preflight("/todos/1").0, 204);
    assert_eq!(preflight("/todos/1"), preflight("/todos/999999"));
}

#[test]
fn a_401_to_an_allowed_origin_is_readable_by_the_browser() {
    let api = api(&[
        ("jwt_hs256_secret", SECRET),
        ("cors_allowed_origins", "https://app.example.com"),
    ]);
    let response = api.send("POST", "/todos", &[JSON, ORIGIN], r#"{"title":"a"}"#);
    problem(&response, 401);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

// ---------------------------------------------------------------------------------------
// Rate limiting

/// What the store holds, read past the API (and past its rate limit).
fn stored_titles(api: &Api<DirStore>) -> Vec<String> {
    use todo_api::store::{ListQuery, Store};
    let page = api.store.list(&ListQuery::default()).unwrap();
    page.items
        .iter()
        .map(|stored| stored.todo.title.as_str().to_owned())
        .collect()
}

#[test]
fn the_rate_limit_admits_a_burst_then_answers_429_and_changes_nothing() {
    let api = api(&[
        ("rate_limit", "3/1h"),
        ("cors_allowed_origins", "https://app.example.com"),
    ]);
    let created = api.send("POST", "/todos", &[JSON], r#"{"title":"kept"}"#);
    assert_eq!(created.status(), 201);
    assert_eq!(
        header(&created, "ratelimit-policy"),
        Some("\"default\";q=3;w=3600")
    );
    assert_eq!(
        header(&created, "ratelimit"),
        Some("\"default\";r=2;t=1200")
    );
    for left in [1, 0] {
        let read = api.send("GET", "/todos/1", &[], "");
        assert_eq!(read.status(), 200);
        let expected = format!("\"default\";r={left};t={}", (3 - left) * 1200);
        assert_eq!(header(&read, "ratelimit"), Some(expected.as_str()));
    }
    for (method, path, body) in [
        ("GET", "/todos", ""),
        ("POST", "/todos", r#"{"title":"refused"}"#),
        ("PATCH", "/todos/1", r#"{"title":"refused"}"#),
        ("DELETE", "/todos/1", ""),
        ("OPTIONS", "/todos/1", ""),
    ] {
        let refused = api.send(method, path, &[JSON], body);
        let problem = problem(&refused, 429);
        assert!(
            problem["detail"].as_str().unwrap().contains("rate limit"),
            "{problem}"
        );
        let retry: i64 = header(&refused, "retry-after").unwrap().parse().unwrap();
        assert!((1..=1200).contains(&retry), "{retry}");
        assert!(
            header(&refused, "ratelimit")
                .unwrap()
                .starts_with("\"default\";r=0;t=")
        );
        assert_eq!(
            header(&refused, "ratelimit-policy"),
            Some("\"default\";q=3;w=3600")
        );
    }
    assert_eq!(
        stored_titles(&api),
        ["kept"],
        "a refused request changes nothing"
    );
    // Never limited: probes, the document, CORS preflights.
    for path in ["/healthz", "/readyz", "/openapi.json"] {
        let open = api.send("GET", path, &[], "");
        assert_eq!(open.status(), 200, "{path}");
        assert!(header(&open, "ratelimit").is_none(), "{path}");
    }
    let preflight = api.send(
        "OPTIONS",
        "/todos/1",
        &[ORIGIN, ("access-control-request-method", "PATCH")],
        "",
    );
    assert_eq!(preflight.status(), 204);
}

#[test]
fn each_client_has_its_own_bucket_named_as_configured() {
    // Behind a proxy that appends the client's address to X-Forwarded-For: the last
    // address counts, not what the client put before it.
    let proxied = api(&[
        ("rate_limit", "1/1h"),
        ("rate_limit_client_header", "X-Forwarded-For"),
    ]);
    let from = |chain: &str| {
        proxied
            .send("GET", "/todos", &[("x-forwarded-for", chain)], "")
            .status()
    };
    assert_eq!(from("203.0.113.7"), 200);
    assert_eq!(from("198.51.100.1, 203.0.113.7"), 429);
    assert_eq!(from("203.0.113.8"), 200);
    assert_eq!(from("203.0.113.7, 203.0.113.8"), 429);
    // Without the header: the host's address, here none: one bucket for all.
    assert_eq!(proxied.send("GET", "/todos", &[], "").status(), 200);
    assert_eq!(proxied.send("GET", "/todos", &[], "").status(), 429);

    // The address the host reports (Spin's spin-client-addr, put in the request by the
    // adapter).
    let direct = api(&[("rate_limit", "1/1h")]);
    let from_host = |address: &str| {
        let mut request = request("GET", "/todos", &[], &b""[..]);
        request
            .extensions_mut()
            .insert(api::ClientAddress(address.to_owned()));
        api::handle(&direct.store, &direct.config, request).status()
    };
    assert_eq!(from_host("192.0.2.1"), 200);
    assert_eq!(from_host("192.0.2.1"), 429);
    assert_eq!(from_host("192.0.2.2"), 200);

    // A verified token's subject, whatever the address.
    let tokened = api(&[("rate_limit", "1/1h"), ("jwt_hs256_secret", SECRET)]);
    let post_as = |sub: &str| {
        let mut claims = tokens::fresh();
        claims["sub"] = json!(sub);
        tokened
            .post_bearer(&tokens::hs256(SECRET.as_bytes(), &claims))
            .status()
    };
    assert_eq!(post_as("alice"), 201);
    assert_eq!(post_as("alice"), 429);
    assert_eq!(post_as("bob"), 201);
    // A request refused for its token takes nothing from anyone's bucket.
    assert_eq!(tokened.post_with(Some("Bearer nonsense")).status(), 401);
    // A read needs no token here, but a valid one still names its client; a bad one is
    // ignored (the read is keyed by address: here, everyone).
    let read_as = |authorization: &str| {
        tokened
            .send("GET", "/todos", &[("authorization", authorization)], "")
            .status()
    };
    let mut claims = tokens::fresh();
    claims["sub"] = json!("carol");
    let carol = format!("Bearer {}", tokens::hs256(SECRET.as_bytes(), &claims));
    assert_eq!(read_as(&carol), 200);
    assert_eq!(read_as(&carol), 429);
    assert_eq!(read_as("Bearer nonsense"), 200);
    assert_eq!(read_as("Bearer nonsense"), 429);
}

#[test]
fn spin_reports_the_client_address_last_with_a_port() {
    let from = |lines: &[&str]| {
        let mut headers = http::HeaderMap::new();
        for line in lines {
            headers.append("spin-client-addr", line.parse().unwrap());
        }
        api::ClientAddress::from_spin(&headers).map(|address| address.0)
    };
    assert_eq!(from(&["127.0.0.1:54321"]).as_deref(), Some("127.0.0.1"));
    assert_eq!(from(&["[::1]:8080"]).as_deref(), Some("::1"));
    assert_eq!(
        from(&["6.6.6.6:1", "10.0.0.2:4444"]).as_deref(),
        Some("10.0.0.2")
    );
    assert_eq!(from(&[]), None);
}

#[test]
fn invalid_rate_limit_settings_are_named() {
    for (settings, named) in [
        (&[("rate_limit", "lots")][..], "rate_limit"),
        (&[("rate_limit", "10/1d")][..], "rate_limit"),
        (
            &[("rate_limit_client_header", "x-real-ip")][..],
            "rate_limit_client_header",
        ),
    ] {
        let lookup = |name: &str| {
            Ok(settings
                .iter()
                .find(|(setting, _)| *setting == name)
                .map(|(_, value)| (*value).to_owned()))
        };
        let ConfigError { setting, .. } = Config::read(lookup).unwrap_err();
        assert_eq!(setting, named);
    }
}
