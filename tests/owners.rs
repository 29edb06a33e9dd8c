//! Owner mode (`jwt_owner_claim`), natively, on every store: each owner reaches its own
//! todos only, and learns nothing of anyone else's by any method, path form, header or
//! list parameter; admins (`jwt_admin_scope`) reach every todo; todos written before owner
//! mode belong to no owner; a store holding owners' todos never opens them to everyone.

mod support;

use http::Response;
use serde_json::{Value, json};
use support::native::{Api, body, problem};
use todo_api::config::Config;
use todo_api::store::Owners;
use todo_api::testing::config_of;
use todo_api::testing::tokens::{self, SECRET};

/// The settings of owner mode as the README gives them.
const OWNER_MODE: &[(&str, &str)] = &[
    ("jwt_hs256_secret", SECRET),
    ("jwt_owner_claim", "sub"),
    ("jwt_admin_scope", "todos:admin"),
];

/// Every test here runs in owner mode.
fn owner_mode() -> Config {
    config_of(OWNER_MODE).unwrap()
}

/// A token of `sub`, with `scope` where given.
fn token(sub: &str, scope: Option<&str>) -> String {
    let mut claims = tokens::fresh();
    claims["sub"] = json!(sub);
    if let Some(scope) = scope {
        claims["scope"] = json!(scope);
    }
    format!("Bearer {}", tokens::hs256(SECRET.as_bytes(), &claims))
}

const JSON: (&str, &str) = ("content-type", "application/json");

impl<S: Owners> Api<S> {
    fn send(
        &self,
        auth: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response<Vec<u8>> {
        let mut all = vec![("authorization", auth)];
        all.extend_from_slice(headers);
        self.send_as_is(method, path, &all, body)
    }

    fn send_as_is(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response<Vec<u8>> {
        self.handle(method, path, headers, body.as_bytes())
    }

    /// Creates a todo as `auth`; its id.
    fn create(&self, auth: &str, todo: Value) -> i64 {
        let created = self.send(auth, "POST", "/todos", &[JSON], &todo.to_string());
        assert_eq!(created.status(), 201, "{:?}", body(&created));
        body(&created)["id"].as_i64().unwrap()
    }

    /// The ids of a list as `auth` sees it, and its X-Total-Count.
    fn ids(&self, auth: &str, path: &str) -> (Vec<i64>, u64) {
        let listed = self.send(auth, "GET", path, &[], "");
        assert_eq!(listed.status(), 200, "{path}: {:?}", body(&listed));
        let ids = body(&listed)
            .as_array()
            .unwrap()
            .iter()
            .map(|todo| todo["id"].as_i64().unwrap())
            .collect();
        (ids, header(&listed, "x-total-count").parse().unwrap())
    }
}

fn header<'a>(response: &'a Response<Vec<u8>>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |value| value.to_str().unwrap())
}

/// Two answers alike but for the id they name (of as many digits): the same status and
/// headers, the same body but for the id it names.
fn assert_alike(
    theirs: &Response<Vec<u8>>,
    their_id: i64,
    missing: &Response<Vec<u8>>,
    missing_id: i64,
    what: &str,
) {
    assert_eq!(theirs.status(), missing.status(), "{what}");
    let normal = |response: &Response<Vec<u8>>, id: i64| {
        let mut headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect();
        headers.sort();
        let text = String::from_utf8(response.body().clone())
            .unwrap()
            .replace(&format!("has id {id}."), "has id ID.");
        (headers, text)
    };
    assert_eq!(
        normal(theirs, their_id),
        normal(missing, missing_id),
        "{what}"
    );
}

/// An id no todo has, of as many digits as `id`: its answers are as long as `id`'s.
fn absent_like(id: i64) -> i64 {
    let nines = 10_i64.pow(id.to_string().len() as u32) - 1;
    if nines == id { nines - 1 } else { nines }
}

/// Every owner lists, counts, pages, searches and sorts its own todos only, and ids are
/// unique across owners.
fn each_owner_lists_only_its_own_todos<S: Owners>(api: Api<S>) {
    let (alice, bob) = (token("alice", None), token("bob", None));
    let mut mine = Vec::new();
    for n in 0..5 {
        mine.push(api.create(
            &alice,
            json!({"title": format!("alice {n}"), "isComplete": n % 2 == 0}),
        ));
        api.create(
            &bob,
            json!({"title": format!("bob {n}"), "isComplete": true}),
        );
    }
    let (ids, total) = api.ids(&alice, "/todos");
    assert_eq!((ids.clone(), total), (mine.clone(), 5));
    let (bobs, _) = api.ids(&bob, "/todos");
    assert_eq!(bobs.len(), 5);
    assert!(
        bobs.iter().all(|id| !ids.contains(id)),
        "ids are unique across owners"
    );
    assert_eq!(api.ids(&alice, "/todos?isComplete=true").1, 3);
    assert_eq!(api.ids(&alice, "/todos?isComplete=false").1, 2);
    assert_eq!(api.ids(&alice, "/todos?title=bob").1, 0);
    assert_eq!(api.ids(&alice, "/todos?title=ALICE&sort=-title").1, 5);
    let (page, total) = api.ids(&alice, "/todos?page=2&pageSize=2&sort=-id");
    assert_eq!((page, total), (vec![mine[2], mine[1]], 5));
    let paged = api.send(&alice, "GET", "/todos?page=1&pageSize=2", &[], "");
    assert_eq!(
        header(&paged, "link"),
        "</todos?page=2&pageSize=2>; rel=\"next\""
    );
    // A list's tag is the owner's: bob's cached tag never makes alice's list 304, nor the
    // other way round, even where both have written as often.
    let theirs = api.send(&bob, "GET", "/todos", &[], "");
    let tag = header(&theirs, "etag").to_owned();
    let revalidated = api.send(&alice, "GET", "/todos", &[("if-none-match", &tag)], "");
    assert_eq!(revalidated.status(), 200);
}

/// A request of the isolation test: method, headers, body.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// By any method, path form or header, another owner's todo answers as a todo that never
/// existed: 404 with the same headers and body, before preconditions and the body are
/// judged, and it changes nothing.
fn another_owners_todo_is_a_todo_that_never_existed<S: Owners>(api: Api<S>) {
    let (alice, bob) = (token("alice", None), token("bob", None));
    let id = api.create(&alice, json!({"title": "alice's", "dueBy": "2030-01-01"}));
    let missing = absent_like(id);
    let tag = header(
        &api.send(&alice, "GET", &format!("/todos/{id}"), &[], ""),
        "etag",
    )
    .to_owned();
    let origin = ("origin", "https://app.example.com");
    let merge = ("content-type", "application/merge-patch+json");
    let cases: &[Case] = &[
        ("GET", &[], ""),
        ("HEAD", &[], ""),
        ("GET", &[("if-none-match", &tag)], ""),
        ("GET", &[("if-match", "\"999\"")], ""),
        ("GET", &[origin, ("accept-encoding", "gzip")], ""),
        ("OPTIONS", &[], ""),
        ("OPTIONS", &[("if-match", "*")], ""),
        ("PUT", &[JSON], r#"{"title":"bob was here"}"#),
        (
            "PUT",
            &[JSON, ("if-match", &tag)],
            r#"{"title":"bob was here"}"#,
        ),
        ("PUT", &[JSON, ("if-match", "\"999\"")], r#"{"title":"x"}"#),
        ("PUT", &[JSON, ("if-none-match", "*")], r#"{"title":"x"}"#),
        ("PUT", &[JSON], r#"{"title":""}"#),
        (
            "PUT",
            &[JSON, ("if-match", "not a tag")],
            r#"{"title":"x"}"#,
        ),
        ("GET", &[("if-none-match", "\"unterminated")], ""),
        (
            "PUT",
            &[JSON, ("content-length", "99999999")],
            r#"{"title":"x"}"#,
        ),
        ("PUT", &[JSON], "not json"),
        ("PUT", &[("content-type", "text/plain")], "x"),
        ("PUT", &[JSON, ("content-encoding", "br")], "x"),
        ("PATCH", &[merge], r#"{"isComplete":true}"#),
        (
            "PATCH",
            &[merge, ("if-match", "\"1\"")],
            r#"{"dueBy":"nonsense"}"#,
        ),
        ("PATCH", &[("content-type", "application/xml")], "<x/>"),
        ("DELETE", &[], ""),
        ("DELETE", &[("if-match", &tag)], ""),
        ("DELETE", &[("if-match", "\"999\""), origin], ""),
    ];
    for (method, headers, content) in cases {
        for path in [
            format!("/todos/{id}"),
            format!("/todos/00{id}"),
            format!("/TODOS/{id}/"),
            format!("/todos/%3{}", id.to_string().chars().collect::<Vec<_>>()[0]),
        ] {
            // `%3N` spells a one-digit id only: other forms are checked where they name it.
            if path.contains('%') && id > 9 {
                continue;
            }
            let missing_path = path.replace(&id.to_string(), &missing.to_string());
            let theirs = api.send(&bob, method, &path, headers, content);
            let absent = api.send(&bob, method, &missing_path, headers, content);
            let what = format!("{method} {path} {headers:?}");
            assert_alike(&theirs, id, &absent, missing, &what);
            assert_eq!(theirs.status(), 404, "{what}");
        }
    }
    let now = api.send(&alice, "GET", &format!("/todos/{id}"), &[], "");
    assert_eq!(body(&now)["title"], "alice's", "nothing changed");
    assert_eq!(header(&now, "etag"), tag);
    // Nor do lists, totals or parameters tell: bob's list has none of alice's.
    for query in [
        "",
        "?title=alice",
        "?isComplete=false",
        "?sort=dueBy",
        "?owner=bob",
    ] {
        assert_eq!(
            api.ids(&bob, &format!("/todos{query}")),
            (vec![], 0),
            "{query}"
        );
    }
}

/// In owner mode every request to todos needs a token naming its owner; preflights stay
/// open and answer the same whatever the id.
fn every_request_needs_a_token_naming_its_owner<S: Owners>(api: Api<S>) {
    let id = api.create(&token("alice", None), json!({"title": "a"}));
    for (method, path) in [
        ("GET", "/todos".to_owned()),
        ("GET", format!("/todos/{id}")),
        ("OPTIONS", "/todos".to_owned()),
        ("POST", "/todos".to_owned()),
    ] {
        let none = api.send_as_is(method, &path, &[JSON], r#"{"title":"x"}"#);
        problem(&none, 401);
        assert_eq!(header(&none, "www-authenticate"), "Bearer");
        let mut claims = tokens::fresh();
        claims.as_object_mut().unwrap().remove("sub");
        for claims in [
            claims.clone(),
            json!({"sub": "", "exp": tokens::now() + 60}),
            json!({"sub": 7, "exp": tokens::now() + 60}),
        ] {
            let bearer = format!("Bearer {}", tokens::hs256(SECRET.as_bytes(), &claims));
            let refused = api.send(&bearer, method, &path, &[JSON], r#"{"title":"x"}"#);
            problem(&refused, 401);
            assert!(
                header(&refused, "www-authenticate").starts_with("Bearer error=\"invalid_token\""),
                "{claims}"
            );
        }
    }
    let preflight = |path: &str| {
        api.send_as_is(
            "OPTIONS",
            path,
            &[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "PUT"),
            ],
            "",
        )
    };
    let missing = absent_like(id);
    let (theirs, absent) = (
        preflight(&format!("/todos/{id}")),
        preflight(&format!("/todos/{missing}")),
    );
    assert_alike(&theirs, id, &absent, missing, "preflight");
    // Probes and the document stay open.
    assert_eq!(api.send_as_is("GET", "/healthz", &[], "").status(), 200);
    assert_eq!(api.send_as_is("GET", "/readyz", &[], "").status(), 200);
    assert_eq!(
        api.send_as_is("GET", "/openapi.json", &[], "").status(),
        200
    );
}

/// An admin reads, changes and deletes any todo by id and lists any owner's todos with
/// `?owner=` (empty: the todos of no owner); anyone else naming another owner gets 403.
fn admins_reach_every_owners_todos<S: Owners>(api: Api<S>) {
    let (alice, bob) = (token("alice", None), token("bob", None));
    let admin = token("root", Some("todos:read todos:admin"));
    let id = api.create(&bob, json!({"title": "bob's"}));
    let got = api.send(&admin, "GET", &format!("/todos/{id}"), &[], "");
    assert_eq!(body(&got)["title"], "bob's");
    let patched = api.send(
        &admin,
        "PATCH",
        &format!("/todos/{id}"),
        &[
            ("content-type", "application/merge-patch+json"),
            ("if-match", header(&got, "etag")),
        ],
        r#"{"isComplete":true}"#,
    );
    assert_eq!(patched.status(), 200, "{:?}", body(&patched));
    assert_eq!(api.ids(&bob, "/todos?isComplete=true"), (vec![id], 1));
    assert_eq!(api.ids(&admin, "/todos?owner=bob"), (vec![id], 1));
    assert_eq!(
        api.ids(&admin, "/todos"),
        (vec![], 0),
        "the admin's own list"
    );
    let paged = api.send(&admin, "GET", "/todos?owner=bob&pageSize=1&page=1", &[], "");
    assert_eq!(header(&paged, "link"), "");
    assert_eq!(api.ids(&alice, "/todos?owner=alice"), (vec![], 0));
    let refused = api.send(&alice, "GET", "/todos?owner=bob", &[], "");
    problem(&refused, 403);
    assert_eq!(
        header(&refused, "www-authenticate"),
        "Bearer error=\"insufficient_scope\", scope=\"todos:admin\""
    );
    let deleted = api.send(&admin, "DELETE", &format!("/todos/{id}"), &[], "");
    assert_eq!(deleted.status(), 204);
    assert_eq!(api.ids(&bob, "/todos"), (vec![], 0));
    problem(
        &api.send(&admin, "GET", &format!("/todos/{id}"), &[], ""),
        404,
    );
}

/// Todos written before owner mode belong to no owner: no owner sees them, an admin does
/// (`?owner=` empty, or by id). A store holding owners' todos, read without owner mode,
/// answers 500 naming jwt_owner_claim, and changes nothing.
fn todos_before_owner_mode_are_no_ones_and_owned_todos_are_never_shared<S: Owners>(
    mut api: Api<S>,
) {
    let owner_mode = std::mem::take(&mut api.config);
    let shared = api.send_as_is("POST", "/todos", &[JSON], r#"{"title":"from before"}"#);
    let before = body(&shared)["id"].as_i64().unwrap();
    api.config = owner_mode;
    let (alice, admin) = (token("alice", None), token("root", Some("todos:admin")));
    assert_eq!(api.ids(&alice, "/todos"), (vec![], 0));
    problem(
        &api.send(&alice, "GET", &format!("/todos/{before}"), &[], ""),
        404,
    );
    assert_eq!(api.ids(&admin, "/todos?owner="), (vec![before], 1));
    let got = api.send(&admin, "GET", &format!("/todos/{before}"), &[], "");
    assert_eq!(body(&got)["title"], "from before");
    let mine = api.create(&alice, json!({"title": "alice's"}));
    assert!(mine > before, "ids run on");
    // Without owner mode again: the store holds alice's todo, so it refuses to serve.
    api.config = Config::default();
    for (method, path) in [
        ("GET", "/todos".to_owned()),
        ("GET", format!("/todos/{mine}")),
    ] {
        let refused = api.send_as_is(method, &path, &[], "");
        let detail = problem(&refused, 500)["detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(detail.contains("jwt_owner_claim"), "{detail}");
        assert!(!detail.contains("alice"), "{detail}");
    }
    let ready = api.send_as_is("GET", "/readyz", &[], "");
    let detail = problem(&ready, 500)["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("jwt_owner_claim"), "not ready: {detail}");
}

/// The rate limit counts per owner: two tokens of one owner share a bucket.
fn the_rate_limit_keys_on_the_owner<S: Owners>(mut api: Api<S>) {
    let mut settings = OWNER_MODE.to_vec();
    settings[1] = ("jwt_owner_claim", "tenant");
    settings.push(("rate_limit", "2/1h"));
    api.config = config_of(&settings).unwrap();
    let of = |sub: &str, tenant: &str| {
        let mut claims = tokens::fresh();
        claims["sub"] = json!(sub);
        claims["tenant"] = json!(tenant);
        format!("Bearer {}", tokens::hs256(SECRET.as_bytes(), &claims))
    };
    assert_eq!(
        api.send(&of("a", "acme"), "GET", "/todos", &[], "")
            .status(),
        200
    );
    assert_eq!(
        api.send(&of("b", "acme"), "GET", "/todos", &[], "")
            .status(),
        200
    );
    problem(&api.send(&of("c", "acme"), "GET", "/todos", &[], ""), 429);
    assert_eq!(
        api.send(&of("a", "other"), "GET", "/todos", &[], "")
            .status(),
        200
    );
}

#[test]
fn owner_settings_need_a_key_and_admins_need_owner_mode() {
    let no_key = config_of(&[("jwt_owner_claim", "sub")]).unwrap_err();
    assert_eq!(no_key.setting, "jwt_owner_claim");
    let no_owners =
        config_of(&[("jwt_hs256_secret", SECRET), ("jwt_admin_scope", "x")]).unwrap_err();
    assert_eq!(no_owners.setting, "jwt_admin_scope");
    let bad_scope = config_of(&[
        ("jwt_hs256_secret", SECRET),
        ("jwt_owner_claim", "sub"),
        ("jwt_admin_scope", "two words"),
    ])
    .unwrap_err();
    assert_eq!(bad_scope.setting, "jwt_admin_scope");
}

crate::on_every_store!(
    owner_mode;
    each_owner_lists_only_its_own_todos,
    another_owners_todo_is_a_todo_that_never_existed,
    every_request_needs_a_token_naming_its_owner,
    admins_reach_every_owners_todos,
    todos_before_owner_mode_are_no_ones_and_owned_todos_are_never_shared,
    the_rate_limit_keys_on_the_owner,
);
