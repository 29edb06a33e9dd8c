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
use todo_api::ratelimit::RateLimit;
use todo_api::store::dir::DirStore;
use todo_api::store::sqlite::SqliteStore;
use todo_api::store::{ListQuery, Owners, Sort, Store, Written};
use todo_api::testing::store::{AsOwner, all, fields, id, page_of, totals_of};
use todo_api::todo::{DEFAULT_MAX_TITLE_CHARS, TodoId, fold_case, parse_new_todo};

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

/// The collection's version moves with every write that changes a todo, as every handle
/// (instance, replica) reads it, and with nothing else: reads and refused writes leave it.
fn the_list_version_moves_with_every_write_and_only_then<F: Fixture>() {
    let fixture = F::new();
    let (store, other) = (fixture.open(), fixture.open());
    let mut seen = vec![store.list_version().unwrap()];
    let mut moved = |what: &str| {
        let version = other.list_version().unwrap();
        assert!(!seen.contains(&version), "{what}: {version} seen before");
        assert_eq!(
            store.list_version().unwrap(),
            version,
            "{what}: handles disagree"
        );
        seen.push(version);
    };
    store.create(&fields("a", false)).unwrap();
    moved("create");
    store.create(&fields("b", false)).unwrap();
    moved("another create");
    store.update(id(1), 1, &fields("a, done", true)).unwrap();
    moved("completion change");
    store.update(id(1), 2, &fields("a, renamed", true)).unwrap();
    moved("title change");
    store.delete(id(2), 1).unwrap();
    moved("delete");
    let unchanged = store.list_version().unwrap();
    store.get(id(1)).unwrap();
    store.list(&ListQuery::default()).unwrap();
    let searched = ListQuery {
        title_contains: Some("a".into()),
        sort: Sort::TitleDescending,
        ..ListQuery::default()
    };
    store.list(&searched).unwrap();
    assert_eq!(
        store.update(id(1), 1, &fields("x", false)).unwrap(),
        Written::Conflict
    );
    assert_eq!(store.delete(id(1), 9).unwrap(), Written::Conflict);
    assert_eq!(store.delete(id(2), 1).unwrap(), Written::NotFound);
    assert_eq!(
        store.list_version().unwrap(),
        unchanged,
        "reads and refused writes"
    );
    assert_eq!(
        fixture.open().list_version().unwrap(),
        unchanged,
        "reopened"
    );
}

/// Eight handles write at once; each, after its write was acknowledged, finds a version it
/// has not seen before the write, and the versions a handle reads never repeat.
fn the_list_version_moves_under_concurrent_writers<F: Fixture>() {
    let fixture = Arc::new(F::new());
    let barrier = Arc::new(Barrier::new(8));
    let workers: Vec<_> = (0..8)
        .map(|n| {
            let (fixture, barrier) = (Arc::clone(&fixture), Arc::clone(&barrier));
            thread::spawn(move || {
                let store = fixture.open();
                barrier.wait();
                for round in 0..5 {
                    let before = store.list_version().unwrap();
                    let created = store
                        .create(&fields(&format!("w{n} r{round}"), false))
                        .unwrap();
                    assert_ne!(store.list_version().unwrap(), before, "create");
                    let before = store.list_version().unwrap();
                    store.delete(created.todo.id, 1).unwrap();
                    assert_ne!(store.list_version().unwrap(), before, "delete");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
}

/// A rate limit bucket admits its burst, then one request per interval; refused requests
/// change nothing; buckets are apart; any handle sees the same bucket.
fn a_bucket_admits_its_burst_then_one_per_interval<F: Fixture>() {
    let fixture = F::new();
    let (store, other) = (fixture.open(), fixture.open());
    let limit = RateLimit::parse("3/1s").unwrap();
    let take = |store: &F::Store, bucket: &str| store.take_token(bucket, &limit).unwrap();
    let first = take(&store, "client a");
    assert!(first.admitted);
    assert!(take(&other, "client a").admitted);
    let third = take(&store, "client a");
    assert!(third.admitted);
    // The burst is spent: refused, and the bucket left as it was.
    let refused = take(&other, "client a");
    assert!(!refused.admitted, "{refused:?} after {third:?}");
    assert_eq!(refused.tat_us, third.tat_us, "a refusal changes nothing");
    assert!(refused.now_us >= first.now_us);
    assert!(take(&store, "client b").admitted, "another bucket");
    // One interval later, one more.
    thread::sleep(std::time::Duration::from_millis(400));
    assert!(take(&store, "client a").admitted);
    assert!(!take(&other, "client a").admitted);
}

/// Sixteen handles (instances, replicas) ask one bucket at once, 128 requests where the
/// bucket refills one an hour: exactly its burst is admitted.
fn a_bucket_admits_exactly_its_burst_to_concurrent_requests<F: Fixture>() {
    let fixture = Arc::new(F::new());
    let barrier = Arc::new(Barrier::new(16));
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (fixture, barrier) = (Arc::clone(&fixture), Arc::clone(&barrier));
            thread::spawn(move || {
                let store = fixture.open();
                let limit = RateLimit::parse("50/1h").unwrap();
                barrier.wait();
                (0..8)
                    .filter(|_| store.take_token("everyone", &limit).unwrap().admitted)
                    .count()
            })
        })
        .collect();
    let admitted: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(admitted, 50);
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

/// One step of several owners' requests, as the property test below draws them: `pick`
/// names any id created so far, whoever's it is.
#[derive(Debug, Clone)]
enum Step {
    Create {
        owner: usize,
        done: bool,
    },
    Change {
        owner: usize,
        pick: usize,
        done: bool,
    },
    Delete {
        owner: usize,
        pick: usize,
    },
    Read {
        owner: usize,
        pick: usize,
    },
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    let owner = 0..OWNERS;
    prop_oneof![
        3 => (owner.clone(), any::<bool>()).prop_map(|(owner, done)| Step::Create { owner, done }),
        2 => (owner.clone(), any::<usize>(), any::<bool>())
            .prop_map(|(owner, pick, done)| Step::Change { owner, pick, done }),
        1 => (owner.clone(), any::<usize>()).prop_map(|(owner, pick)| Step::Delete { owner, pick }),
        2 => (owner, any::<usize>()).prop_map(|(owner, pick)| Step::Read { owner, pick }),
    ]
}

const OWNERS: usize = 3;

/// Live todos of the model: id -> (owner, revision, done).
type Model = std::collections::BTreeMap<i64, (usize, u64, bool)>;

/// The id `pick` names among `ids`, the model's entry for it where `owner` owns it, and the
/// revision a write of `owner`'s names (1 where it is not the owner's).
fn target(
    model: &Model,
    ids: &[TodoId],
    owner: usize,
    pick: usize,
) -> (TodoId, Option<(usize, u64, bool)>, u64) {
    let id = ids[pick % ids.len()];
    let mine = model
        .get(&id.get())
        .filter(|(o, _, _)| *o == owner)
        .copied();
    (id, mine, mine.map_or(1, |(_, revision, _)| revision))
}

/// Owners interleave random creates, changes, deletes and reads, each naming ids of any
/// owner: every owner sees exactly its own model (its todos, revisions, totals, pages),
/// another owner's id is to it what a missing id is, and its collection's version moves
/// with its own writes only (another owner's writes are not seen even there). Each case
/// uses owners of its own on one store, so ids run on across cases as they would.
fn owners_see_exactly_their_own_todos<F: Fixture>()
where
    F::Store: Owners,
{
    let fixture = F::new();
    let store = fixture.open();
    let case = std::cell::Cell::new(0);
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases: 12,
        failure_persistence: None,
        ..Default::default()
    });
    let steps = proptest::collection::vec(step(), 1..30);
    runner
        .run(&steps, |steps| {
            case.set(case.get() + 1);
            let case = case.get();
            let names: Vec<String> = (0..OWNERS)
                .map(|n| format!("case {case} owner {n}"))
                .collect();
            // id -> (owner, revision, done) of live todos; every id created, in order.
            let mut model = Model::new();
            let mut ids: Vec<TodoId> = Vec::new();
            let version = |owner: usize| store.owned_by(&names[owner]).list_version().unwrap();
            for step in steps {
                if ids.is_empty() && !matches!(step, Step::Create { .. }) {
                    continue;
                }
                let before: Vec<u64> = (0..OWNERS).map(version).collect();
                let (owner, wrote) = match step {
                    Step::Create { owner, done } => {
                        let created = store
                            .owned_by(&names[owner])
                            .create(&fields("t", done))
                            .unwrap();
                        model.insert(created.todo.id.get(), (owner, 1, done));
                        ids.push(created.todo.id);
                        (owner, true)
                    }
                    Step::Change { owner, pick, done } => {
                        let (id, mine, revision) = target(&model, &ids, owner, pick);
                        let written = store
                            .owned_by(&names[owner])
                            .update(id, revision, &fields("u", done))
                            .unwrap();
                        match mine {
                            Some(_) => {
                                assert!(matches!(written, Written::Done(_)), "{written:?}");
                                model.insert(id.get(), (owner, revision + 1, done));
                            }
                            None => assert_eq!(written, Written::NotFound),
                        }
                        (owner, mine.is_some())
                    }
                    Step::Delete { owner, pick } => {
                        let (id, mine, revision) = target(&model, &ids, owner, pick);
                        let written = store.owned_by(&names[owner]).delete(id, revision).unwrap();
                        match mine {
                            Some(_) => {
                                assert_eq!(written, Written::Done(()));
                                model.remove(&id.get());
                            }
                            None => assert_eq!(written, Written::NotFound),
                        }
                        (owner, mine.is_some())
                    }
                    Step::Read { owner, pick } => {
                        let id = ids[pick % ids.len()];
                        let found = store.owned_by(&names[owner]).get(id).unwrap();
                        match model.get(&id.get()) {
                            Some(&(o, revision, done)) if o == owner => {
                                let found = found.expect("an owner reads its own todo");
                                assert_eq!(
                                    (found.revision, found.todo.is_complete),
                                    (revision, done)
                                );
                            }
                            _ => assert_eq!(found, None, "todo {id} is not {}'s", names[owner]),
                        }
                        (owner, false)
                    }
                };
                for other in 0..OWNERS {
                    let moved = version(other) != before[other];
                    assert_eq!(moved, wrote && other == owner, "{}'s version", names[other]);
                }
            }
            for (owner, name) in names.iter().enumerate() {
                let view = store.owned_by(name);
                let own: Vec<i64> = model
                    .iter()
                    .filter(|(_, (o, _, _))| *o == owner)
                    .map(|(id, _)| *id)
                    .collect();
                let done = model.values().filter(|(o, _, d)| *o == owner && *d).count() as u64;
                assert_eq!(all(&view), own, "{name}'s list");
                assert_eq!(
                    totals_of(&view),
                    (own.len() as u64, done, own.len() as u64 - done)
                );
                // Pages of two, searched and sorted, hold the owner's todos only.
                let (page, total) = page_of(&view, None, 1, 2);
                assert_eq!(total, own.len() as u64);
                assert_eq!(
                    page,
                    own.iter().skip(1).take(2).copied().collect::<Vec<_>>()
                );
                let searched = view
                    .list(&ListQuery {
                        title_contains: Some(String::new()),
                        sort: Sort::IdDescending,
                        ..ListQuery::default()
                    })
                    .unwrap();
                let mut descending = own.clone();
                descending.reverse();
                assert_eq!(
                    searched
                        .items
                        .iter()
                        .map(|s| s.todo.id.get())
                        .collect::<Vec<_>>(),
                    descending
                );
            }
            Ok(())
        })
        .unwrap();
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
        // The same contract per owner (owner mode): each store through one owner's view.
        mod sqlite_store_per_owner {
            $(#[test] fn $test() { super::$test::<super::PerOwner<super::Sqlite>>(); })*
        }
        mod postgres_store_per_owner {
            $(#[test] fn $test() { super::$test::<super::PerOwner<super::Postgres>>(); })*
        }
        mod libsql_store_per_owner {
            $(#[test] fn $test() { super::$test::<super::PerOwner<super::Libsql>>(); })*
        }
        mod dir_store_per_owner {
            $(#[test] fn $test() { super::$test::<super::PerOwner<super::Dir>>(); })*
        }
    };
}

/// A fixture whose handles reach one owner's todos, through [`Owners::owned_by`].
struct PerOwner<F>(F);

impl<F: Fixture> Fixture for PerOwner<F>
where
    F::Store: Owners,
{
    type Store = AsOwner<F::Store>;
    fn new() -> Self {
        Self(F::new())
    }
    fn open(&self) -> Self::Store {
        AsOwner {
            store: self.0.open(),
            owner: "alice@example.com".to_owned(),
        }
    }
}

/// The property test once per store (it draws its own owners: not per owner again).
macro_rules! per_store {
    ($($test:ident),* $(,)?) => {
        mod owners {
            $(
                #[test] fn $test() {
                    super::$test::<super::Sqlite>();
                    super::$test::<super::Postgres>();
                    super::$test::<super::Libsql>();
                    super::$test::<super::Dir>();
                }
            )*
        }
    };
}

per_store!(owners_see_exactly_their_own_todos);

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
    the_list_version_moves_with_every_write_and_only_then,
    the_list_version_moves_under_concurrent_writers,
    a_bucket_admits_its_burst_then_one_per_interval,
    a_bucket_admits_exactly_its_burst_to_concurrent_requests,
);

/// PostgreSQL searches through a trigram index where the store may create pg_trgm (the
/// test server's superuser may), and where it may not (a role without CREATE on the
/// database, as on managed services that do not offer the extension) the schema is made
/// all the same and searches scan: the same answers either way.
#[test]
fn postgres_searches_by_trigram_index_where_pg_trgm_may_be_created_and_scan_where_not() {
    use todo_api::testing::store::{fields, search_of};
    let search = |store: &SqliteStore<support::postgres::PostgresExecutor>| {
        for n in 1..=30 {
            store
                .create(&fields(&format!("Errand {n}"), false))
                .unwrap();
        }
        let (ids, total) = search_of(store, "RAND 2");
        assert_eq!(ids, [2, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
        assert_eq!(total, 11);
    };
    let has_trigram_index = |url: &str| {
        let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
        client
            .query_one(
                "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'todos_by_title_trigrams'",
                &[],
            )
            .unwrap()
            .get::<_, i64>(0)
            == 1
    };

    let owned = support::postgres::Database::create();
    search(&SqliteStore::new(
        support::postgres::PostgresExecutor::connect(&owned.url),
    ));
    assert!(has_trigram_index(&owned.url));

    let plain = support::postgres::Database::create();
    let mut admin = postgres::Client::connect(&plain.url, postgres::NoTls).unwrap();
    let role = format!("todo_plain_{}", std::process::id());
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN; \
             GRANT USAGE, CREATE ON SCHEMA public TO {role};"
        ))
        .unwrap();
    let as_plain = plain
        .url
        .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    search(&SqliteStore::new(
        support::postgres::PostgresExecutor::connect(&as_plain),
    ));
    assert!(!has_trigram_index(&plain.url));
}
