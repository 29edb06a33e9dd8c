//! Store faults: a data directory that is missing or turns read-only, a SQLite database
//! that is locked or corrupt. Requests get `503` problem details, `/readyz` says not
//! ready, nothing panics or traps, and service resumes once the fault is gone.

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use support::native::{problem, request};
use support::{Reply, Server};
use tempfile::TempDir;
use todo_api::api;
use todo_api::config::Config;
use todo_api::store::Owners;
use todo_api::store::dir::DirStore;
use todo_api::store::sqlite::SqliteStore;
use todo_api::testing::RusqliteExecutor;

const JSON: (&str, &str) = ("content-type", "application/json");
const NEW_TODO: &[u8] = br#"{"title":"a"}"#;

/// One request to the core on `store`, as a fresh component instance would make it.
fn send(store: &impl Owners, method: &str, path: &str, body: &[u8]) -> http::Response<Vec<u8>> {
    let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &[JSON] };
    api::handle(
        store,
        &Config::default(),
        request(method, path, headers, body),
    )
}

/// The requests that need the store all answer `503` problems.
fn assert_unavailable(store: &impl Owners) {
    for (method, path, body) in [
        ("GET", "/readyz", &b""[..]),
        ("POST", "/todos", NEW_TODO),
        ("PUT", "/todos/1", NEW_TODO),
        ("GET", "/todos", b""),
        ("GET", "/todos/1", b""),
    ] {
        problem(&send(store, method, path, body), 503);
    }
    assert_eq!(send(store, "GET", "/healthz", b"").status(), 200);
}

#[test]
fn a_missing_data_directory_answers_503_until_it_appears() {
    let temp = TempDir::new().unwrap();
    let data = temp.path().join("data");
    let store = DirStore::new(&data);
    assert_unavailable(&store);
    std::fs::create_dir(&data).unwrap();
    assert_eq!(send(&store, "GET", "/readyz", b"").status(), 200);
    assert_eq!(send(&store, "POST", "/todos", NEW_TODO).status(), 201);
}

#[test]
fn readiness_sweeps_staging_files_a_crash_left_and_keeps_fresh_ones() {
    let temp = TempDir::new().unwrap();
    let store = DirStore::new(temp.path());
    assert_eq!(send(&store, "POST", "/todos", NEW_TODO).status(), 201);
    let tmp = temp.path().join("tmp");
    let stale = tmp.join("00000000deadbeef");
    let fresh = tmp.join("00000000cafef00d");
    std::fs::write(&stale, br#"{"id":1,"title":"half"#).unwrap();
    std::fs::write(&fresh, b"being written").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    // Never read: the todo is intact while they lie there.
    assert_eq!(send(&store, "GET", "/todos/1", b"").status(), 200);
    assert_eq!(send(&store, "GET", "/readyz", b"").status(), 200);
    assert!(!stale.exists(), "a stale staging file was left");
    assert!(fresh.exists(), "a fresh staging file was removed");
}

#[test]
fn a_data_directory_that_turns_read_only_answers_503_and_recovers() {
    // A mount namespace needs root; as root (as in CI) the test must run.
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .unwrap()
        .stdout;
    if String::from_utf8_lossy(&uid).trim() != "0" {
        eprintln!("skipped: remounting the data directory read-only needs root");
        return;
    }
    let temp = TempDir::new().unwrap();
    let data = temp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let server = Server::start_on_own_mount(&data);
    assert_eq!(server.call("POST", "/todos", &[JSON], NEW_TODO).status, 201);

    server.remount(&data, false);
    let refused: Vec<Reply> = [
        ("GET", "/readyz", &b""[..]),
        ("POST", "/todos", NEW_TODO),
        // Not what is stored: a write of the same content writes nothing, so it succeeds.
        ("PUT", "/todos/1", br#"{"title":"changed"}"#),
        ("PATCH", "/todos/1", br#"{"isComplete":true}"#),
        ("DELETE", "/todos/1", b""),
    ]
    .into_iter()
    .map(|(method, path, body)| {
        let headers: &[(&str, &str)] = if body.is_empty() { &[] } else { &[JSON] };
        server.call(method, path, headers, body)
    })
    .collect();
    for reply in &refused {
        assert!(
            reply.is_problem(503),
            "{} {}",
            reply.status,
            server.output()
        );
    }
    // What is stored can still be read, unchanged.
    let kept = server.call("GET", "/todos/1", &[], b"");
    assert_eq!(kept.status, 200);
    assert_eq!(kept.json()["title"], "a");
    assert_eq!(kept.header("etag"), Some("\"1\""));

    server.remount(&data, true);
    assert_eq!(server.call("GET", "/readyz", &[], b"").status, 200);
    let created = server.call("POST", "/todos", &[JSON], NEW_TODO);
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["id"], 2);
    let output = server.output();
    assert!(
        !output.contains("panicked") && !output.contains("trap"),
        "{output}"
    );
}

fn sqlite(path: &Path) -> SqliteStore<RusqliteExecutor> {
    SqliteStore::new(RusqliteExecutor::open_with_busy_timeout(
        path,
        Duration::from_millis(200),
    ))
}

#[test]
fn a_locked_sqlite_database_answers_503_and_recovers_when_released() {
    let temp = TempDir::new().unwrap();
    let database = temp.path().join("todos.db");
    assert_eq!(
        send(&sqlite(&database), "POST", "/todos", NEW_TODO).status(),
        201
    );
    let holder = rusqlite::Connection::open(&database).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert_unavailable(&sqlite(&database));
    holder.execute_batch("COMMIT").unwrap();
    let store = sqlite(&database);
    assert_eq!(send(&store, "GET", "/readyz", b"").status(), 200);
    assert_eq!(send(&store, "POST", "/todos", NEW_TODO).status(), 201);
    assert_eq!(send(&store, "GET", "/todos/1", b"").status(), 200);
}

#[test]
fn a_corrupt_sqlite_database_answers_503_and_recovers_when_restored() {
    let temp = TempDir::new().unwrap();
    let database = temp.path().join("todos.db");
    assert_eq!(
        send(&sqlite(&database), "POST", "/todos", NEW_TODO).status(),
        201
    );
    let good = std::fs::read(&database).unwrap();
    let mut broken = good.clone();
    broken[..16].copy_from_slice(b"not a database!\0");
    std::fs::write(&database, &broken).unwrap();
    assert_unavailable(&sqlite(&database));
    assert_eq!(
        std::fs::read(&database).unwrap(),
        broken,
        "nothing was written"
    );
    std::fs::write(&database, &good).unwrap();
    let store = sqlite(&database);
    assert_eq!(send(&store, "GET", "/readyz", b"").status(), 200);
    assert_eq!(send(&store, "GET", "/todos/1", b"").status(), 200);
}
