//! What any request must get, whatever it holds: shared by the property tests
//! (`tests/hostile.rs`) and the fuzz target (`fuzz/fuzz_targets/handle.rs`).

use crate::api;
use crate::config::Config;
use crate::store::{ListQuery, Owners, Versioned};
use crate::todo::{DEFAULT_MAX_TITLE_CHARS, parse_new_todo};

/// Default settings, or (`secured`) bearer tokens on reads and writes, CORS for one
/// origin, a 64-byte body limit, and a rate limit no run reaches, keyed by
/// `X-Forwarded-For` (so every request takes from a bucket a hostile header may name).
pub fn config(secured: bool) -> Config {
    let settings: &[(&str, &str)] = if secured {
        &[
            ("jwt_hs256_secret", "an-hs256-secret-of-32-bytes-or-more"),
            ("jwt_protect_reads", "true"),
            ("cors_allowed_origins", "https://app.example.com"),
            ("max_body_bytes", "64"),
            ("rate_limit", "1000000/1h"),
            ("rate_limit_client_header", "X-Forwarded-For"),
        ]
    } else {
        &[]
    };
    super::config_of(settings).expect("valid settings")
}

/// Stores three todos, so that ids 1 to 3 name something.
pub fn seed(store: &impl Owners) {
    for title in ["first", "second", "third"] {
        let body = serde_json::json!({ "title": title });
        let fields = parse_new_todo(body.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).unwrap();
        store.create(&fields).expect("seed");
    }
}

/// Everything stored, with revisions.
fn snapshot(store: &impl Owners) -> Vec<Versioned> {
    let everything = ListQuery {
        is_complete: None,
        offset: 0,
        limit: u64::MAX,
        ..ListQuery::default()
    };
    store.list(&everything).expect("list").items
}

/// Answers `request` and checks the answer: a documented status, never a 5xx (nothing
/// is broken here), errors as problem details, and a refused request changes nothing.
pub fn check(
    store: &impl Owners,
    config: &Config,
    request: http::Request<&[u8]>,
) -> Result<(), String> {
    let before = snapshot(store);
    let head = request.method() == http::Method::HEAD;
    let response = api::handle(store, config, request);
    let status = response.status().as_u16();
    if !api::statuses().contains(&status) || status >= 500 {
        return Err(format!("status {status}"));
    }
    if status >= 400 {
        let content_type = response.headers().get("content-type");
        if content_type.map(|value| value.as_bytes()) != Some(b"application/problem+json") {
            return Err(format!("{status} without a problem body: {content_type:?}"));
        }
        // A HEAD answer leaves the problem out, but says how long it is.
        if head {
            if !response.body().is_empty() || !response.headers().contains_key("content-length") {
                return Err(format!("HEAD {status} with content or without its length"));
            }
        } else {
            let problem: serde_json::Value = serde_json::from_slice(response.body())
                .map_err(|error| format!("problem body is not JSON: {error}"))?;
            if problem["status"].as_u64() != Some(u64::from(status)) {
                return Err(format!("problem status {} for {status}", problem["status"]));
            }
        }
        if snapshot(store) != before {
            return Err(format!(
                "a refused request ({status}) changed the stored todos"
            ));
        }
    }
    Ok(())
}
