//! Data the release before owner mode wrote (`tests/data/previous-release/`, made by its
//! `write.rs` at commit a44116f: a SQLite file, a data directory, a PostgreSQL dump), opened
//! by this release: every todo is still there, with its revision, totals, search and
//! version, and belongs to no owner; owners start with nothing, their todos get new ids,
//! and from the first one on the store is never served as one shared list again.

mod support;

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;
use todo_api::store::dir::DirStore;
use todo_api::store::sqlite::SqliteStore;
use todo_api::store::{ListQuery, Owners, Store, StoreError, Written};
use todo_api::testing::store::{all, fields, id, search_of, totals_of};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/previous-release")
        .join(name)
}

/// What the previous release wrote (see `write.rs`), as this release reads it.
fn the_previous_releases_todos_are_no_ones<S: Owners>(store: &S) {
    // Served as before, without owner mode.
    assert_eq!(all(store), vec![1, 2, 4, 5]);
    assert_eq!(totals_of(store), (4, 2, 2));
    let street = store.get(id(4)).unwrap().expect("todo 4");
    assert_eq!(
        (street.todo.title.as_str(), street.revision),
        ("Straße fegen", 3)
    );
    assert_eq!(search_of(store, "SOUP"), (vec![5], 1));
    assert_eq!(search_of(store, "STRAẞE"), (vec![4], 1));
    let shared_version = store.list_version().unwrap();
    // In owner mode: they belong to no owner.
    let unowned = store.owned_by("");
    assert_eq!(all(&unowned), vec![1, 2, 4, 5]);
    assert_eq!(totals_of(&unowned), (4, 2, 2));
    assert_eq!(store.owner_of(id(4)).unwrap().as_deref(), Some(""));
    assert_eq!(store.owner_of(id(3)).unwrap(), None, "deleted");
    let alice = store.owned_by("alice");
    assert_eq!(all(&alice), Vec::<i64>::new());
    assert_eq!(alice.get(id(1)).unwrap(), None);
    assert_eq!(
        alice.update(id(4), 3, &fields("mine now", false)).unwrap(),
        Written::NotFound
    );
    // Ids run on past every id the previous release handed out, the deleted one included.
    let created = alice.create(&fields("alice's", false)).unwrap();
    assert_eq!(created.todo.id, id(6));
    assert_eq!(all(&alice), vec![6]);
    assert_eq!(store.owner_of(id(6)).unwrap().as_deref(), Some("alice"));
    // The old todos are still no one's, and change as before.
    let Written::Done(changed) = unowned.update(id(4), 3, &fields("Straße", true)).unwrap() else {
        panic!("an admin changes todo 4 at its revision");
    };
    assert_eq!(changed.revision, 4);
    assert_eq!(totals_of(&unowned), (4, 3, 1));
    assert_ne!(unowned.list_version().unwrap(), shared_version);
    // Now that an owner has a todo, the store is never one shared list again.
    assert_eq!(
        store.list(&ListQuery::default()),
        Err(StoreError::HoldsOwnedTodos)
    );
    assert_eq!(store.list_version(), Err(StoreError::HoldsOwnedTodos));
    assert_eq!(store.get(id(6)), Err(StoreError::HoldsOwnedTodos));
}

#[test]
fn a_sqlite_database_of_the_previous_release_migrates_with_its_todos_no_ones() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("todos.db");
    std::fs::copy(fixture("todos.db"), &path).unwrap();
    let store = SqliteStore::new(todo_api::testing::RusqliteExecutor::open(&path));
    the_previous_releases_todos_are_no_ones(&store);
    let db = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = db
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(version, 7);
}

#[test]
fn a_data_directory_of_the_previous_release_keeps_its_todos_no_ones() {
    let dir = TempDir::new().unwrap();
    // tar keeps the hard links the counts are made of.
    let unpacked = Command::new("tar")
        .arg("-xzf")
        .arg(fixture("data.tar.gz"))
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("run tar");
    assert!(unpacked.success());
    let store = DirStore::new(dir.path().join("data"));
    the_previous_releases_todos_are_no_ones(&store);
    // The id is claimed where the previous release claims ids: it would never hand it out.
    assert!(dir.path().join("data/todos/6/owner").exists());
}

#[test]
fn a_postgres_database_of_the_previous_release_migrates_with_its_todos_no_ones() {
    let database = support::postgres::Database::create();
    let dump = std::fs::read_to_string(fixture("postgres.sql")).unwrap();
    let mut client = postgres::Client::connect(&database.url, postgres::NoTls).unwrap();
    client.batch_execute(&dump).unwrap();
    drop(client);
    let store = SqliteStore::new(support::postgres::PostgresExecutor::connect(&database.url));
    the_previous_releases_todos_are_no_ones(&store);
    let mut client = postgres::Client::connect(&database.url, postgres::NoTls).unwrap();
    let version: i64 = client
        .query_one("SELECT MAX(version) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, 3);
}
