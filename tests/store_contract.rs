//! One contract, every store: the SQL store on SQLite through rusqlite, on PostgreSQL
//! through `postgres` and on a libSQL server (sqld) through `libsql`'s remote client (the
//! very SQL the Spin builds run; the PostgreSQL server is the private one `make test`
//! starts, each libSQL test starts a sqld of its own), and the directory store on a
//! temporary directory. Every test runs on each.

mod support;

use std::sync::{Arc, Barrier};
use std::thread;

use serde_json::json;
use tempfile::TempDir;
use todo_api::store::dir::{DirReader, DirStore, StdReader};
use todo_api::store::sqlite::SqliteStore;
use todo_api::store::{ListQuery, Sort, Store, StoreError, Written};
use todo_api::todo::{DEFAULT_MAX_TITLE_CHARS, TodoFields, TodoId, fold_case, parse_new_todo};

/// Data on disk that any number of store handles can open, as instances of the component do.
trait Fixture: Send + Sync + 'static {
    type Store: Store;
    fn new() -> Self;
    fn open(&self) -> Self::Store;
}

struct Sqlite(TempDir);

impl Fixture for Sqlite {
    type Store = SqliteStore<todo_api::testing::RusqliteExecutor>;
    fn new() -> Self {
        Self(TempDir::new().unwrap())
    }
    fn open(&self) -> Self::Store {
        SqliteStore::new(todo_api::testing::RusqliteExecutor::open(
            &self.0.path().join("todos.db"),
        ))
    }
}

/// A database of its own on the test server, which any number of handles connect to.
struct Postgres(support::postgres::Database);

impl Fixture for Postgres {
    type Store = SqliteStore<support::postgres::PostgresExecutor>;
    fn new() -> Self {
        Self(support::postgres::Database::create())
    }
    fn open(&self) -> Self::Store {
        SqliteStore::new(support::postgres::PostgresExecutor::connect(&self.0.url))
    }
}

/// A libSQL server of its own (sqld, empty), reached over Hrana HTTP: the SQLite SQL the
/// Spin build's replicas share when a runtime config points `default` at libSQL.
struct Libsql(support::libsql::Sqld);

impl Fixture for Libsql {
    type Store = SqliteStore<support::libsql::LibsqlExecutor>;
    fn new() -> Self {
        Self(support::libsql::Sqld::start())
    }
    fn open(&self) -> Self::Store {
        SqliteStore::new(support::libsql::LibsqlExecutor::connect(&self.0.url))
    }
}

struct Dir(TempDir);

impl Fixture for Dir {
    type Store = DirStore;
    fn new() -> Self {
        Self(TempDir::new().unwrap())
    }
    fn open(&self) -> Self::Store {
        DirStore::new(self.0.path())
    }
}

fn fields(title: &str, is_complete: bool) -> TodoFields {
    let body = json!({"title": title, "isComplete": is_complete});
    parse_new_todo(body.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).unwrap()
}

fn id(value: i64) -> TodoId {
    TodoId::new(value).unwrap()
}

/// The ids on one page of a list, and its total.
fn page_of(
    store: &impl Store,
    is_complete: Option<bool>,
    offset: u64,
    limit: u64,
) -> (Vec<i64>, u64) {
    let page = store
        .list(&ListQuery {
            is_complete,
            offset,
            limit,
            ..ListQuery::default()
        })
        .unwrap();
    let ids = page.items.iter().map(|s| s.todo.id.get()).collect();
    (ids, page.total)
}

fn all(store: &impl Store) -> Vec<i64> {
    let page = store
        .list(&ListQuery {
            is_complete: None,
            offset: 0,
            limit: u64::MAX,
            ..ListQuery::default()
        })
        .unwrap();
    page.items
        .iter()
        .map(|stored| stored.todo.id.get())
        .collect()
}

fn new_ids_count_up_from_one_at_revision_one<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    for expected in 1..=3 {
        let created = store.create(&fields("a", false)).unwrap();
        assert_eq!(created.todo.id.get(), expected);
        assert_eq!(created.revision, 1);
    }
}

fn a_created_todo_reads_back_and_an_unknown_id_reads_as_absent<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let body = json!({"title": "Walk the dog", "isComplete": true, "dueBy": "2025-06-30"});
    let created = store
        .create(&parse_new_todo(body.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).unwrap())
        .unwrap();
    assert_eq!(store.get(created.todo.id).unwrap(), Some(created));
    assert_eq!(store.get(id(99)).unwrap(), None);
}

fn an_update_at_the_current_revision_replaces_the_fields_and_bumps_the_revision<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let created = store.create(&fields("a", false)).unwrap();
    let Written::Done(updated) = store
        .update(created.todo.id, 1, &fields("b", true))
        .unwrap()
    else {
        panic!("update at the current revision must succeed");
    };
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.todo.title.as_str(), "b");
    assert_eq!(store.get(created.todo.id).unwrap(), Some(updated));
}

fn an_update_at_a_stale_revision_conflicts_and_changes_nothing<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let created = store.create(&fields("a", false)).unwrap();
    store
        .update(created.todo.id, 1, &fields("b", false))
        .unwrap();
    store
        .update(created.todo.id, 2, &fields("c", false))
        .unwrap();
    for stale in [1, 2, 7] {
        assert_eq!(
            store
                .update(created.todo.id, stale, &fields("lost", true))
                .unwrap(),
            Written::Conflict
        );
    }
    let current = store.get(created.todo.id).unwrap().unwrap();
    assert_eq!((current.todo.title.as_str(), current.revision), ("c", 3));
}

fn writes_to_a_missing_todo_find_nothing<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    assert_eq!(
        store.update(id(5), 1, &fields("a", false)).unwrap(),
        Written::NotFound
    );
    assert_eq!(store.delete(id(5), 1).unwrap(), Written::NotFound);
}

fn a_deleted_todo_is_gone_for_reads_and_writes<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    let created = store.create(&fields("a", false)).unwrap();
    assert_eq!(store.delete(created.todo.id, 2).unwrap(), Written::Conflict);
    assert_eq!(store.delete(created.todo.id, 1).unwrap(), Written::Done(()));
    assert_eq!(store.get(created.todo.id).unwrap(), None);
    assert_eq!(store.delete(created.todo.id, 1).unwrap(), Written::NotFound);
    assert_eq!(
        store
            .update(created.todo.id, 1, &fields("b", false))
            .unwrap(),
        Written::NotFound
    );
    assert!(all(&store).is_empty());
}

fn an_id_is_never_reused_even_after_the_newest_todo_is_deleted<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    store.create(&fields("a", false)).unwrap();
    let newest = store.create(&fields("b", false)).unwrap();
    store.delete(newest.todo.id, 1).unwrap();
    // A fresh handle, as the next component instance would open.
    let next = fixture.open().create(&fields("c", false)).unwrap();
    assert_eq!(next.todo.id.get(), 3);
}

fn a_list_filters_pages_and_counts_in_id_order<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    for n in 1..=7 {
        store.create(&fields(&format!("t{n}"), n % 2 == 0)).unwrap();
    }
    store.delete(id(3), 1).unwrap();
    let page = |is_complete, offset, limit| page_of(&store, is_complete, offset, limit);
    assert_eq!(page(None, 0, 100), (vec![1, 2, 4, 5, 6, 7], 6));
    assert_eq!(page(None, 2, 2), (vec![4, 5], 6));
    assert_eq!(page(None, 6, 2), (vec![], 6));
    assert_eq!(page(Some(true), 0, 100), (vec![2, 4, 6], 3));
    assert_eq!(page(Some(false), 1, 1), (vec![5], 3));
}

/// X-Total-Count of all todos, the complete ones and the open ones.
fn totals_of(store: &impl Store) -> (u64, u64, u64) {
    let total = |is_complete| {
        store
            .list(&ListQuery {
                is_complete,
                offset: 0,
                limit: 1,
                ..ListQuery::default()
            })
            .unwrap()
            .total
    };
    (total(None), total(Some(true)), total(Some(false)))
}

fn totals_follow_completion_changes_deletes_and_refused_writes<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    for n in 1..=6 {
        store.create(&fields(&format!("t{n}"), n > 4)).unwrap();
    }
    let totals = || totals_of(&store);
    assert_eq!(totals(), (6, 2, 4));
    store.update(id(1), 1, &fields("done", true)).unwrap();
    assert_eq!(totals(), (6, 3, 3));
    store.update(id(1), 2, &fields("still done", true)).unwrap();
    assert_eq!(totals(), (6, 3, 3));
    store.update(id(5), 1, &fields("reopened", false)).unwrap();
    store.update(id(6), 1, &fields("reopened", false)).unwrap();
    assert_eq!(totals(), (6, 1, 5));
    store.delete(id(1), 3).unwrap();
    store.delete(id(2), 1).unwrap();
    assert_eq!(totals(), (4, 0, 4));
    // Refused writes count for nothing.
    assert_eq!(
        store.update(id(3), 9, &fields("x", true)).unwrap(),
        Written::Conflict
    );
    assert_eq!(store.delete(id(4), 9).unwrap(), Written::Conflict);
    assert_eq!(store.delete(id(2), 1).unwrap(), Written::NotFound);
    assert_eq!(totals(), (4, 0, 4));
}

fn data_survives_reopening<F: Fixture>() {
    let fixture = F::new();
    let created = fixture.open().create(&fields("kept", false)).unwrap();
    assert_eq!(fixture.open().get(created.todo.id).unwrap(), Some(created));
}

fn concurrent_creates_from_many_handles_get_unique_ids<F: Fixture>() {
    let fixture = Arc::new(F::new());
    let threads = 8;
    let per_thread = 10;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (fixture, barrier) = (fixture.clone(), barrier.clone());
            thread::spawn(move || {
                let store = fixture.open();
                barrier.wait();
                (0..per_thread)
                    .map(|_| store.create(&fields("x", false)).unwrap().todo.id.get())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids: Vec<i64> = handles
        .into_iter()
        .flat_map(|handle| handle.join().unwrap())
        .collect();
    ids.sort_unstable();
    let expected: Vec<i64> = (1..=(threads * per_thread) as i64).collect();
    assert_eq!(ids, expected);
    assert_eq!(all(&fixture.open()), expected);
}

fn of_racing_updates_at_one_revision_exactly_one_wins<F: Fixture>() {
    let fixture = Arc::new(F::new());
    let created = fixture.open().create(&fields("a", false)).unwrap();
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|n| {
            let (fixture, barrier) = (fixture.clone(), barrier.clone());
            thread::spawn(move || {
                let store = fixture.open();
                barrier.wait();
                let outcome = store
                    .update(created.todo.id, 1, &fields(&format!("by {n}"), false))
                    .unwrap();
                (n, outcome)
            })
        })
        .collect();
    let winners: Vec<_> = handles
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .filter_map(|(n, outcome)| match outcome {
            Written::Done(stored) => Some((n, stored)),
            Written::Conflict => None,
            Written::NotFound => panic!("the todo exists"),
        })
        .collect();
    assert_eq!(winners.len(), 1, "exactly one racing update may win");
    let (winner, stored) = &winners[0];
    assert_eq!(stored.todo.title.as_str(), format!("by {winner}"));
    assert_eq!(
        fixture.open().get(created.todo.id).unwrap().as_ref(),
        Some(stored)
    );
}

fn a_fresh_store_is_ready<F: Fixture>() {
    let fixture = F::new();
    assert_eq!(fixture.open().check_ready(), Ok(()));
}

fn searches_and_sorts_find_and_order_the_same_todos_and_count_them<F: Fixture>() {
    let fixture = F::new();
    let store = fixture.open();
    for (title, done, due) in [
        ("Buy milk", false, Some("2030-05-01")),
        ("MILK chocolate", true, None),
        ("Straße 100%", false, Some("2029-01-01")),
        ("under_score", true, Some("2030-05-01")),
        ("ſoup", false, None),
    ] {
        let body = json!({"title": title, "isComplete": done, "dueBy": due});
        let todo = parse_new_todo(body.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).unwrap();
        store.create(&todo).unwrap();
    }
    let list = |title: Option<&str>, sort: Sort, is_complete: Option<bool>, offset: u64| {
        let page = store
            .list(&ListQuery {
                is_complete,
                title_contains: title.map(fold_case),
                sort,
                offset,
                limit: 2,
            })
            .unwrap();
        let ids: Vec<i64> = page.items.iter().map(|s| s.todo.id.get()).collect();
        (ids, page.total)
    };
    assert_eq!(list(Some("MILK"), Sort::Id, None, 0), (vec![1, 2], 2));
    assert_eq!(
        list(Some("milk"), Sort::IdDescending, Some(true), 0),
        (vec![2], 1)
    );
    assert_eq!(list(Some("%"), Sort::Id, None, 0), (vec![3], 1));
    assert_eq!(list(Some("_"), Sort::Id, None, 0), (vec![4], 1));
    assert_eq!(list(Some("SOUP"), Sort::Id, None, 0), (vec![5], 1));
    assert_eq!(list(Some("\\"), Sort::Id, None, 0), (vec![], 0));
    assert_eq!(list(None, Sort::Title, None, 0), (vec![1, 2], 5));
    assert_eq!(list(None, Sort::Title, None, 2), (vec![5, 3], 5));
    assert_eq!(list(None, Sort::TitleDescending, None, 0), (vec![4, 3], 5));
    assert_eq!(list(None, Sort::DueBy, None, 0), (vec![3, 1], 5));
    assert_eq!(list(None, Sort::DueBy, None, 2), (vec![4, 2], 5));
    assert_eq!(list(None, Sort::DueByDescending, None, 0), (vec![4, 1], 5));
    assert_eq!(list(None, Sort::DueByDescending, None, 3), (vec![5, 2], 5));
    assert_eq!(list(Some("u"), Sort::Title, Some(false), 2), (vec![], 2));
}

/// Eight handles toggle and delete three todos at once: the totals the store keeps stay
/// those of the todos it holds (a totals update judged against an older row than the
/// write it goes with would drift).
fn totals_stay_exact_under_racing_completion_changes_and_deletes<F: Fixture>() {
    let fixture = Arc::new(F::new());
    let store = fixture.open();
    for n in 0..6 {
        store.create(&fields(&format!("t{n}"), n % 2 == 0)).unwrap();
    }
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|worker| {
            let (fixture, barrier) = (fixture.clone(), barrier.clone());
            thread::spawn(move || {
                let store = fixture.open();
                barrier.wait();
                for round in 0..25 {
                    let id = TodoId::new(1 + (worker + round) % 6).unwrap();
                    let Some(current) = store.get(id).unwrap() else {
                        continue;
                    };
                    if worker == 7 && round == 20 {
                        let _ = store.delete(id, current.revision).unwrap();
                        continue;
                    }
                    let mut next = current.todo.fields();
                    next.is_complete = !next.is_complete;
                    let _ = store.update(id, current.revision, &next).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let everything = store.list(&ListQuery::default()).unwrap();
    let done = everything
        .items
        .iter()
        .filter(|s| s.todo.is_complete)
        .count() as u64;
    let open = everything.items.len() as u64 - done;
    assert_eq!(everything.total, everything.items.len() as u64);
    assert_eq!(totals(&store, Some(true)), done);
    assert_eq!(totals(&store, Some(false)), open);
}

fn totals(store: &impl Store, is_complete: Option<bool>) -> u64 {
    store
        .list(&ListQuery {
            is_complete,
            limit: 0,
            ..ListQuery::default()
        })
        .unwrap()
        .total
}

macro_rules! contract {
    ($($test:ident),* $(,)?) => {
        mod sqlite_store {
            $(#[test] fn $test() { super::$test::<super::Sqlite>(); })*
        }
        mod postgres_store {
            $(#[test] fn $test() { super::$test::<super::Postgres>(); })*
        }
        mod libsql_store {
            $(#[test] fn $test() { super::$test::<super::Libsql>(); })*
        }
        mod dir_store {
            $(#[test] fn $test() { super::$test::<super::Dir>(); })*
        }
    };
}

contract!(
    new_ids_count_up_from_one_at_revision_one,
    a_created_todo_reads_back_and_an_unknown_id_reads_as_absent,
    an_update_at_the_current_revision_replaces_the_fields_and_bumps_the_revision,
    an_update_at_a_stale_revision_conflicts_and_changes_nothing,
    writes_to_a_missing_todo_find_nothing,
    a_deleted_todo_is_gone_for_reads_and_writes,
    an_id_is_never_reused_even_after_the_newest_todo_is_deleted,
    a_list_filters_pages_and_counts_in_id_order,
    totals_follow_completion_changes_deletes_and_refused_writes,
    data_survives_reopening,
    concurrent_creates_from_many_handles_get_unique_ids,
    of_racing_updates_at_one_revision_exactly_one_wins,
    a_fresh_store_is_ready,
    searches_and_sorts_find_and_order_the_same_todos_and_count_them,
    totals_stay_exact_under_racing_completion_changes_and_deletes,
);

// Store-specific behaviour.

#[test]
fn the_dir_store_is_unavailable_when_its_directory_is_missing() {
    let dir = TempDir::new().unwrap();
    let store = DirStore::new(dir.path().join("missing"));
    assert!(matches!(
        store.check_ready(),
        Err(StoreError::Unavailable(_))
    ));
}

#[test]
fn the_dir_store_reports_an_unreadable_record_as_corrupt() {
    let fixture = Dir::new();
    let store = fixture.open();
    store.create(&fields("a", false)).unwrap();
    std::fs::write(fixture.0.path().join("todos/1/1.json"), b"{\"id\":1,\"tit").unwrap();
    assert!(matches!(store.get(id(1)), Err(StoreError::Corrupt(_))));
}

#[test]
fn the_dir_store_ignores_a_claimed_id_whose_writer_never_finished() {
    let fixture = Dir::new();
    let store = fixture.open();
    store.create(&fields("a", false)).unwrap();
    // A writer that crashed after claiming id 2 but before publishing it.
    std::fs::create_dir(fixture.0.path().join("todos/2")).unwrap();
    assert_eq!(store.get(id(2)).unwrap(), None);
    assert_eq!(all(&store), vec![1]);
    assert_eq!(store.create(&fields("b", false)).unwrap().todo.id.get(), 3);
}

#[test]
fn the_dir_store_finds_the_next_id_without_its_hint() {
    let fixture = Dir::new();
    let store = fixture.open();
    for _ in 0..3 {
        store.create(&fields("a", false)).unwrap();
    }
    std::fs::remove_file(fixture.0.path().join("last-id")).unwrap();
    assert_eq!(store.create(&fields("b", false)).unwrap().todo.id.get(), 4);
}

#[test]
fn the_sqlite_store_creates_its_schema_once_and_records_its_version() {
    let fixture = Sqlite::new();
    let store = fixture.open();
    store.create(&fields("a", false)).unwrap();
    store.migrate().unwrap();
    let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
    let versions: (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), MAX(version) FROM schema_migrations",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(versions, (4, 4));
    assert_eq!(all(&store), vec![1]);
}

/// Spin opens a connection per request, and a connection parses the whole schema before
/// its first statement: a trigger costs every request (~17 µs each, docs/performance.md).
#[test]
fn the_sqlite_schema_holds_no_triggers() {
    let fixture = Sqlite::new();
    let store = fixture.open();
    store.create(&fields("a", false)).unwrap();
    let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
    let triggers: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(triggers, 0);
}

/// Schema version 3 as an earlier release left it: totals, no folded titles.
const VERSION_3: &str = "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
    INSERT INTO schema_migrations VALUES (1), (2), (3);
    CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
        is_complete INTEGER NOT NULL DEFAULT 0, due_by TEXT,
        revision INTEGER NOT NULL DEFAULT 1);
    CREATE TABLE todo_totals (is_complete INTEGER PRIMARY KEY, total INTEGER NOT NULL);";

#[test]
fn a_version_3_database_gets_folded_titles_before_it_is_searched_or_written() {
    let fixture = Sqlite::new();
    let path = fixture.0.path().join("todos.db");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(&format!(
        "{VERSION_3}
             INSERT INTO todo_totals VALUES (0, 3), (1, 0);
             INSERT INTO todos (title) VALUES ('Buy MILK'), ('STRAẞE fegen'), ('ſoup');"
    ))
    .unwrap();
    let store = fixture.open();
    let search = |text: &str| {
        let page = store
            .list(&ListQuery {
                title_contains: Some(fold_case(text)),
                sort: Sort::Title,
                ..ListQuery::default()
            })
            .unwrap();
        let ids: Vec<i64> = page.items.iter().map(|s| s.todo.id.get()).collect();
        (ids, page.total)
    };
    // The first search finds no folded column, migrates, and folds every title.
    assert_eq!(search("milk"), (vec![1], 1));
    assert_eq!(search("straße"), (vec![2], 1));
    assert_eq!(search("SOUP"), (vec![3], 1));
    assert_eq!(search(""), (vec![1, 3, 2], 3));
    let unfolded: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM todos WHERE title_folded IS NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(unfolded, 0);
    // Migrating again (another instance at the same moment) changes nothing.
    store.migrate().unwrap();
    let version: i64 = db
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(version, 4);
    assert_eq!(search("milk"), (vec![1], 1));
}

#[test]
fn a_version_3_database_is_migrated_by_its_first_write() {
    let fixture = Sqlite::new();
    let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
    db.execute_batch(&format!(
        "{VERSION_3} INSERT INTO todo_totals VALUES (0, 0), (1, 0);"
    ))
    .unwrap();
    let store = fixture.open();
    store.create(&fields("Grüße", false)).unwrap();
    let folded: String = db
        .query_row("SELECT title_folded FROM todos WHERE id = 1", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(folded, "grüße");
}

#[test]
fn a_database_counted_by_triggers_moves_to_counting_writes_with_its_totals() {
    let fixture = Sqlite::new();
    let path = fixture.0.path().join("todos.db");
    // Schema version 2 as an earlier release left it: totals kept by triggers.
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
         INSERT INTO schema_migrations VALUES (1), (2);
         CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
             is_complete INTEGER NOT NULL DEFAULT 0, due_by TEXT,
             revision INTEGER NOT NULL DEFAULT 1);
         CREATE TABLE todo_counts (is_complete INTEGER PRIMARY KEY, total INTEGER NOT NULL);
         INSERT INTO todo_counts VALUES (0, 1), (1, 2);
         CREATE TRIGGER todo_counts_insert AFTER INSERT ON todos BEGIN
             UPDATE todo_counts SET total = total + 1 WHERE is_complete = NEW.is_complete;
         END;
         CREATE TRIGGER todo_counts_delete AFTER DELETE ON todos BEGIN
             UPDATE todo_counts SET total = total - 1 WHERE is_complete = OLD.is_complete;
         END;
         CREATE TRIGGER todo_counts_update AFTER UPDATE OF is_complete ON todos
             WHEN OLD.is_complete <> NEW.is_complete BEGIN
             UPDATE todo_counts SET total = total - 1 WHERE is_complete = OLD.is_complete;
             UPDATE todo_counts SET total = total + 1 WHERE is_complete = NEW.is_complete;
         END;
         INSERT INTO todos (title, is_complete) VALUES ('a', 0), ('b', 1), ('c', 1);",
    )
    .unwrap();
    let store = fixture.open();
    // A write migrates first (it finds no todo_totals), and is counted once.
    store.create(&fields("d", true)).unwrap();
    assert_eq!(totals_of(&store), (4, 3, 1));
    let left: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger' OR name = 'todo_counts'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn the_sqlite_store_counts_todos_written_before_it_kept_counts() {
    let fixture = Sqlite::new();
    // A database at schema version 1, with todos written before the counting triggers.
    let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
         INSERT INTO schema_migrations VALUES (1);
         CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
             is_complete INTEGER NOT NULL DEFAULT 0, due_by TEXT,
             revision INTEGER NOT NULL DEFAULT 1);
         INSERT INTO todos (title, is_complete) VALUES ('a', 0), ('b', 1), ('c', 1);",
    )
    .unwrap();
    let store = fixture.open();
    assert_eq!(totals_of(&store), (3, 2, 1));
    store.create(&fields("d", true)).unwrap();
    assert_eq!(totals_of(&store), (4, 3, 1));
}

#[test]
fn the_dir_store_does_not_recreate_a_missing_data_directory() {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join("missing");
    let store = DirStore::new(&root);
    assert!(matches!(
        store.create(&fields("a", false)),
        Err(StoreError::Unavailable(_))
    ));
    assert!(!root.exists());
}

#[test]
fn the_dir_store_empties_superseded_revisions_but_keeps_their_names() {
    let fixture = Dir::new();
    let store = fixture.open();
    store.create(&fields("a", false)).unwrap();
    store.update(id(1), 1, &fields("b", false)).unwrap();
    store.update(id(1), 2, &fields("c", false)).unwrap();
    let dir = fixture.0.path().join("todos/1");
    let size = |name: &str| std::fs::metadata(dir.join(name)).unwrap().len();
    assert_eq!((size("1.json"), size("2.json")), (0, 0));
    assert!(size("3.json") > 0);
    // The names stay taken: a writer still holding revision 1 or 2 cannot publish.
    for stale in [1, 2] {
        assert_eq!(
            store.update(id(1), stale, &fields("late", false)).unwrap(),
            Written::Conflict
        );
    }
    assert_eq!(store.get(id(1)).unwrap().unwrap().todo.title.as_str(), "c");
}

/// A directory store reader that counts what it is asked, over `std::fs`.
#[derive(Default)]
struct Counts {
    lists: std::cell::Cell<u32>,
    reads: std::cell::Cell<u32>,
    lookups: std::cell::Cell<u32>,
}

struct CountingReader<'a> {
    inner: StdReader,
    counts: &'a Counts,
}

impl DirReader for CountingReader<'_> {
    fn list(&self, dir: &str) -> std::io::Result<Option<Vec<String>>> {
        self.counts.lists.set(self.counts.lists.get() + 1);
        self.inner.list(dir)
    }
    fn read(&self, file: &str) -> std::io::Result<Vec<u8>> {
        self.counts.reads.set(self.counts.reads.get() + 1);
        self.inner.read(file)
    }
    fn read_up_to(&self, file: &str, limit: u64) -> std::io::Result<Vec<u8>> {
        self.counts.reads.set(self.counts.reads.get() + 1);
        self.inner.read_up_to(file, limit)
    }
    fn link_count(&self, path: &str) -> std::io::Result<Option<u64>> {
        self.counts.lookups.set(self.counts.lookups.get() + 1);
        self.inner.link_count(path)
    }
}

#[test]
fn the_dir_store_reads_a_todo_through_current_without_listing_its_revisions() {
    let fixture = Dir::new();
    let store = fixture.open();
    store.create(&fields("a", false)).unwrap();
    for revision in 1..=5 {
        store
            .update(id(1), revision, &fields(&format!("v{revision}"), false))
            .unwrap();
    }
    let counts = Counts::default();
    let reader = CountingReader {
        inner: StdReader::new(fixture.0.path()),
        counts: &counts,
    };
    let counted = DirStore::with_reader(fixture.0.path(), reader);
    let read = counted.get(id(1)).unwrap().unwrap();
    assert_eq!((read.revision, read.todo.title.as_str()), (6, "v5"));
    assert_eq!(
        (counts.lists.get(), counts.reads.get(), counts.lookups.get()),
        (0, 1, 1),
        "one read of current and one lookup of the next revision's name"
    );
}

#[test]
fn the_dir_store_does_not_trust_a_current_that_fell_behind() {
    let fixture = Dir::new();
    let store = fixture.open();
    store.create(&fields("a", false)).unwrap();
    let current = fixture.0.path().join("todos/1/current");
    let revision_one = std::fs::read(&current).unwrap();
    store.update(id(1), 1, &fields("b", false)).unwrap();
    // A writer that published revision 2 but crashed before moving `current`.
    std::fs::remove_file(&current).unwrap();
    std::fs::write(&current, &revision_one).unwrap();
    let read = store.get(id(1)).unwrap().unwrap();
    assert_eq!((read.revision, read.todo.title.as_str()), (2, "b"));
    assert_eq!(
        store.update(id(1), 1, &fields("late", false)).unwrap(),
        Written::Conflict
    );
    // The next write puts `current` right again.
    store.update(id(1), 2, &fields("c", false)).unwrap();
    let current: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&current).unwrap()).unwrap();
    assert_eq!(current["revision"], 3);
    assert_eq!(current["todo"]["title"], "c");
}

#[test]
fn the_dir_store_lists_when_current_is_missing_empty_or_unreadable() {
    let fixture = Dir::new();
    let store = fixture.open();
    store.create(&fields("a", false)).unwrap();
    store.update(id(1), 1, &fields("b", false)).unwrap();
    let current = fixture.0.path().join("todos/1/current");
    std::fs::remove_file(&current).unwrap();
    for content in [
        None,
        Some(&b""[..]),
        Some(b"{\"revis"),
        Some(b"{\"revision\":2,\"todo\":{\"id\":9}}"),
    ] {
        if let Some(content) = content {
            std::fs::write(&current, content).unwrap();
        }
        let read = store.get(id(1)).unwrap().unwrap();
        assert_eq!((read.revision, read.todo.title.as_str()), (2, "b"));
    }
}

/// A reader whose host cuts every partial read short, as WASI allows.
struct CutShortReader(StdReader);

impl DirReader for CutShortReader {
    fn list(&self, dir: &str) -> std::io::Result<Option<Vec<String>>> {
        self.0.list(dir)
    }
    fn read(&self, file: &str) -> std::io::Result<Vec<u8>> {
        self.0.read(file)
    }
    fn read_up_to(&self, file: &str, limit: u64) -> std::io::Result<Vec<u8>> {
        let mut start = self.0.read_up_to(file, limit)?;
        start.truncate(start.len() / 2);
        Ok(start)
    }
    fn link_count(&self, path: &str) -> std::io::Result<Option<u64>> {
        self.0.link_count(path)
    }
}

#[test]
fn the_dir_store_reads_whole_records_when_a_read_is_cut_short_or_current_is_long() {
    let fixture = Dir::new();
    let store = fixture.open();
    store.create(&fields("short", false)).unwrap();
    // Over 16 KiB of record: more than a reader asks of `current` at first.
    let long = "é".repeat(9_000);
    let body = json!({"title": long, "isComplete": false});
    let long_fields = parse_new_todo(body.as_object().unwrap(), 10_000).unwrap();
    store.create(&long_fields).unwrap();
    assert!(
        std::fs::metadata(fixture.0.path().join("todos/2/current"))
            .unwrap()
            .len()
            > 16 * 1024
    );
    assert_eq!(store.get(id(2)).unwrap().unwrap().todo.title.as_str(), long);
    let cut_short = DirStore::with_reader(
        fixture.0.path(),
        CutShortReader(StdReader::new(fixture.0.path())),
    );
    for (todo, title) in [(1, "short"), (2, long.as_str())] {
        let read = cut_short.get(id(todo)).unwrap().unwrap();
        assert_eq!((read.revision, read.todo.title.as_str()), (1, title));
    }
}

/// Creates todos `t1` … `t{count}`, complete where `complete(n)` says, then lists once, so
/// that the counts are vouched for, and checks the total.
fn create_and_count(store: &impl Store, count: i64, complete: impl Fn(i64) -> bool) {
    for n in 1..=count {
        store
            .create(&fields(&format!("t{n}"), complete(n)))
            .unwrap();
    }
    assert_eq!(page_of(store, None, 0, 100).1, count as u64);
}

/// Makes the next id the directory store hands out `next`, through its hint.
fn continue_ids_at(fixture: &Dir, next: i64) {
    std::fs::write(fixture.0.path().join("last-id"), (next - 1).to_string()).unwrap();
}

#[test]
fn the_dir_store_skips_to_a_page_by_its_counts_without_reading_every_todo() {
    let fixture = Dir::new();
    let store = fixture.open();
    for n in 1..=40 {
        store.create(&fields(&format!("a{n}"), n % 4 == 0)).unwrap();
    }
    // Two blocks further on (a counter counts 16,384 ids).
    continue_ids_at(&fixture, 2 * 16_384);
    for n in 1..=5 {
        store.create(&fields(&format!("b{n}"), n == 5)).unwrap();
    }
    store.delete(id(2), 1).unwrap();
    // The first list reads every todo, sets their marks and vouches for the counts.
    assert_eq!(page_of(&store, None, 0, 3), (vec![1, 3, 4], 44));

    let counts = Counts::default();
    let reader = CountingReader {
        inner: StdReader::new(fixture.0.path()),
        counts: &counts,
    };
    let counted = DirStore::with_reader(fixture.0.path(), reader);
    assert_eq!(page_of(&counted, None, 0, 3), (vec![1, 3, 4], 44));
    assert_eq!(
        counts.reads.get(),
        2 + 4,
        "the two epoch files and the first four todos (one deleted), not every todo"
    );
    // Past the 39 live todos of the first block without reading any of them.
    counts.reads.set(0);
    assert_eq!(
        page_of(&counted, None, 40, 3),
        (vec![32_769, 32_770, 32_771], 44)
    );
    assert_eq!(
        counts.reads.get(),
        2 + 4,
        "the one skipped inside its block is read"
    );
    // Filters count and skip by the completion counter.
    assert_eq!(
        page_of(&counted, Some(true), 0, 100),
        (vec![4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 32_772], 11)
    );
    assert_eq!(page_of(&counted, Some(true), 10, 100), (vec![32_772], 11));
    assert_eq!(
        page_of(&counted, Some(false), 28, 100),
        (vec![39, 32_768, 32_769, 32_770, 32_771], 33)
    );
    assert_eq!(
        counts.lists.get(),
        2 * 5,
        "for each of the five pages, one listing of staging files and one of the counters"
    );
}

#[test]
fn the_dir_store_counts_todos_written_before_it_kept_counts() {
    let fixture = Dir::new();
    let store = fixture.open();
    for n in 1..=6 {
        store.create(&fields(&format!("t{n}"), n > 3)).unwrap();
    }
    store.delete(id(6), 1).unwrap();
    // Data as an earlier version left it: no marks, no counters.
    std::fs::remove_dir_all(fixture.0.path().join("counts")).unwrap();
    for n in 1..=6 {
        for mark in ["live", "done"] {
            let _ = std::fs::remove_file(fixture.0.path().join(format!("todos/{n}/{mark}")));
        }
    }
    let store = fixture.open();
    assert_eq!(page_of(&store, None, 0, 2), (vec![1, 2], 5));
    assert_eq!(page_of(&store, Some(true), 0, 9), (vec![4, 5], 2));
    assert_eq!(page_of(&store, Some(false), 1, 9), (vec![2, 3], 3));
    store.create(&fields("t7", true)).unwrap();
    assert_eq!(page_of(&store, Some(true), 0, 9), (vec![4, 5, 7], 3));
}

/// Copies `from` into `to` file by file, so hard links become separate files (as `cp -r`
/// does), keeping modification times.
fn copy_without_links(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_without_links(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn the_dir_store_counts_right_in_a_copy_that_lost_its_hard_links() {
    let fixture = Dir::new();
    let store = fixture.open();
    create_and_count(&store, 5, |n| n % 2 == 1);
    let copy = TempDir::new().unwrap();
    let root = copy.path().join("data");
    copy_without_links(fixture.0.path(), &root);
    let copied = DirStore::new(&root);
    // New writes in the copy go on to link to the copied (now empty) counters.
    copied.create(&fields("t6", true)).unwrap();
    assert_eq!(page_of(&copied, None, 0, 9), (vec![1, 2, 3, 4, 5, 6], 6));
    assert_eq!(page_of(&copied, Some(true), 0, 9), (vec![1, 3, 5, 6], 4));
    assert_eq!(page_of(&copied, Some(false), 0, 9), (vec![2, 4], 2));
    copied.update(id(1), 1, &fields("t1", false)).unwrap();
    assert_eq!(page_of(&copied, Some(true), 0, 9), (vec![3, 5, 6], 3));
}

#[test]
fn the_readiness_check_invalidates_the_counts_after_a_crashed_write() {
    a_crashed_write_is_counted_once_found(|store| store.check_ready().unwrap());
}

#[test]
fn a_list_invalidates_the_counts_after_a_crashed_write() {
    a_crashed_write_is_counted_once_found(|_| {});
}

/// After a writer died between publishing a revision and marking it, its staging file is
/// found (by `find`, or else by the next list) once it is ten minutes old, and the counts
/// are taken again.
fn a_crashed_write_is_counted_once_found(find: impl Fn(&DirStore)) {
    let fixture = Dir::new();
    let store = fixture.open();
    create_and_count(&store, 3, |_| false);
    // A writer published revision 1 of todo 4 and died before marking it: its staging
    // file is still there, and ten minutes later the readiness check finds it.
    let root = fixture.0.path();
    std::fs::create_dir(root.join("todos/4")).unwrap();
    let record = r#"{"revision":1,"todo":{"id":4,"title":"t4","dueBy":null,"isComplete":true}}"#;
    std::fs::write(root.join("tmp/00000000000000ff"), record).unwrap();
    std::fs::hard_link(
        root.join("tmp/00000000000000ff"),
        root.join("todos/4/1.json"),
    )
    .unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(root.join("tmp/00000000000000ff"))
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    find(&store);
    assert_eq!(page_of(&store, None, 0, 9), (vec![1, 2, 3, 4], 4));
    assert!(!root.join("tmp/00000000000000ff").exists());
    assert_eq!(page_of(&store, Some(true), 0, 9), (vec![4], 1));
    assert_eq!(page_of(&store, None, 0, 9), (vec![1, 2, 3, 4], 4));
}

#[test]
fn the_dir_store_counts_agree_with_the_todos_after_racing_writers() {
    let fixture = Arc::new(Dir::new());
    let store = fixture.open();
    create_and_count(&store, 2, |_| false);
    // Writers race on two todos, each flipping completion from what it read, so marks
    // set for one revision keep meeting marks set for the next.
    let threads = 6;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let (fixture, barrier) = (Arc::clone(&fixture), Arc::clone(&barrier));
            thread::spawn(move || {
                let store = fixture.open();
                barrier.wait();
                for _ in 0..60 {
                    let todo = id(1 + thread as i64 % 2);
                    let current = store.get(todo).unwrap().unwrap();
                    let flipped = fields("t", !current.todo.is_complete);
                    let _ = store.update(todo, current.revision, &flipped).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let complete = (1..=2)
        .filter(|&n| store.get(id(n)).unwrap().unwrap().todo.is_complete)
        .count() as u64;
    assert_eq!(page_of(&store, Some(true), 0, 9).1, complete);
    assert_eq!(page_of(&store, Some(false), 0, 9).1, 2 - complete);
}

#[test]
fn a_dir_store_list_whose_counts_run_ahead_stops_where_the_ids_end() {
    let fixture = Dir::new();
    let store = fixture.open();
    create_and_count(&store, 5, |_| false);
    // A deletion in flight: todo 5's revision says deleted, its mark is not yet removed.
    let root = fixture.0.path();
    std::fs::write(root.join("tmp/deleting"), r#"{"revision":2,"todo":null}"#).unwrap();
    std::fs::hard_link(root.join("tmp/deleting"), root.join("todos/5/2.json")).unwrap();
    std::fs::remove_file(root.join("tmp/deleting")).unwrap();
    std::fs::remove_file(root.join("todos/5/current")).unwrap();

    let counts = Counts::default();
    let reader = CountingReader {
        inner: StdReader::new(root),
        counts: &counts,
    };
    let counted = DirStore::with_reader(root, reader);
    // The total still counts todo 5 until its writer unmarks it; the page does not
    // show it, and reading stops at id 6, the first that was never claimed.
    assert_eq!(page_of(&counted, None, 0, 9), (vec![1, 2, 3, 4], 5));
    let asked = counts.reads.get() + counts.lookups.get() + counts.lists.get();
    assert!(
        asked < 40,
        "{asked} reads, lookups and listings, not one per id of the block"
    );
}

#[test]
fn the_dir_store_counts_right_after_its_counters_were_removed() {
    let fixture = Dir::new();
    let store = fixture.open();
    create_and_count(&store, 6, |n| n > 4);
    // Someone takes `counts` for a cache: the marks now link to counters that are gone.
    std::fs::remove_dir_all(fixture.0.path().join("counts")).unwrap();
    assert_eq!(page_of(&store, None, 0, 9), (vec![1, 2, 3, 4, 5, 6], 6));
    store.create(&fields("t7", true)).unwrap();
    assert_eq!(page_of(&store, None, 2, 9), (vec![3, 4, 5, 6, 7], 7));
    assert_eq!(page_of(&store, Some(true), 0, 9), (vec![5, 6, 7], 3));
    assert_eq!(page_of(&store, Some(false), 0, 9), (vec![1, 2, 3, 4], 4));
}
