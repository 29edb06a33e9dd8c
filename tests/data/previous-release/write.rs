//! Writes the data of `tests/data/previous-release/` as the release before owner mode
//! (commit a44116f) writes it: run in a checkout of that commit, copied to
//! `examples/write_previous_release.rs`, as
//! `cargo run --example write_previous_release -- OUT [POSTGRES_URL]`. It writes
//! `OUT/todos.db` (SQLite), `OUT/data/` (the directory store), and with a URL the same todos
//! into that PostgreSQL database (then dumped with `pg_dump --inserts`).
//!
//! The same todos on each: 1 "Buy milk" (open, due 2030-01-31), 2 "Walk the dog"
//! (done), 3 deleted, 4 "Straße fegen" (open, changed twice: revision 3), 5 "ſoup"
//! (done); each store listed and searched once, and one rate limit bucket taken.

use std::path::PathBuf;

use serde_json::json;
use todo_api::ratelimit::RateLimit;
use todo_api::store::dir::DirStore;
use todo_api::store::sqlite::SqliteStore;
use todo_api::store::{ListQuery, Store, Written};
use todo_api::testing::store::fields;
use todo_api::todo::{DEFAULT_MAX_TITLE_CHARS, parse_new_todo};

fn write(store: &impl Store) {
    let milk = json!({"title": "Buy milk", "dueBy": "2030-01-31"});
    store
        .create(&parse_new_todo(milk.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).unwrap())
        .unwrap();
    store.create(&fields("Walk the dog", true)).unwrap();
    let gone = store.create(&fields("Delete me", false)).unwrap();
    assert_eq!(store.delete(gone.todo.id, 1).unwrap(), Written::Done(()));
    let street = store.create(&fields("Strasse", true)).unwrap();
    store.update(street.todo.id, 1, &fields("Straße", false)).unwrap();
    store.update(street.todo.id, 2, &fields("Straße fegen", false)).unwrap();
    store.create(&fields("ſoup", true)).unwrap();
    store.list(&ListQuery::default()).unwrap();
    store
        .list(&ListQuery {
            title_contains: Some("soup".into()),
            ..ListQuery::default()
        })
        .unwrap();
    store
        .take_token("sub previous", &RateLimit::parse("10/1h").unwrap())
        .unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(&args[0]);
    std::fs::create_dir_all(out.join("data")).unwrap();
    write(&SqliteStore::new(todo_api::testing::RusqliteExecutor::open(
        &out.join("todos.db"),
    )));
    write(&DirStore::new(out.join("data")));
    if let Some(url) = args.get(1) {
        write(&SqliteStore::new(
            todo_api::testing::PostgresExecutor::connect(url),
        ));
    }
}
