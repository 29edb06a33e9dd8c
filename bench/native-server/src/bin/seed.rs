//! Seeds a store for make bench (`bench/run.py`) through the store's own code, so the data is
//! exactly what its writes leave: no second implementation of any on-disk format. Built
//! beside the native server (`make bench-build`: target/bench/release/seed).
//!
//! ```sh
//! seed dir DATA COUNT          # COUNT todos in a data directory
//! seed sqlite FILE COUNT       # COUNT todos in a SQLite file
//! seed postgres URL COUNT      # COUNT todos in an empty PostgreSQL database
//! seed revisions DATA COUNT    # todo 1, written COUNT times
//! seed owned-dir DATA COUNT OWNERS         # owner mode: todo n belongs to `owner {(n-1) % OWNERS}`
//! seed owned-sqlite FILE COUNT OWNERS
//! seed owned-postgres URL COUNT OWNERS
//! ```
//! Todo `n` is titled `todo n`, complete when `n` is a multiple of 3, and due on a date of
//! its own when `n` is a multiple of 5 (so that sorting by due date has work to do). The
//! directory store's counts end vouched for, as after its first list; the SQLite file is
//! written without syncing each transaction (`PRAGMA synchronous = OFF`: a bulk load, the
//! store's SQL unchanged), and so is the PostgreSQL database (`synchronous_commit = off`).

use std::path::{Path, PathBuf};

use serde_json::json;
use todo_api::store::{Owners, Store};
use todo_api::store::dir::DirStore;
use todo_api::store::sql::{SqlExecutor, SqlStore};
use todo_api::testing::RusqliteExecutor;
use todo_api::todo::{DEFAULT_MAX_TITLE_CHARS, TodoFields, TodoId, parse_new_todo};

fn fields(n: u64) -> TodoFields {
    let due_by = n
        .is_multiple_of(5)
        .then(|| format!("{:04}-{:02}-{:02}", 2000 + n % 30, 1 + n % 12, 1 + n % 28));
    let body =
        json!({"title": format!("todo {n}"), "isComplete": n.is_multiple_of(3), "dueBy": due_by});
    parse_new_todo(body.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).expect("valid fields")
}

fn create(store: &impl Store, count: u64) {
    for n in 1..=count {
        let created = store.create(&fields(n)).expect("create");
        assert_eq!(
            created.todo.id.get(),
            n as i64,
            "seeding needs an empty store"
        );
    }
    // The first list counts (or checks the counts) and vouches for them.
    store
        .list(&todo_api::store::ListQuery::default())
        .expect("list");
}

/// `count` todos, round robin over `owners` owners (`owner 0`, `owner 1`, …); then each
/// owner's first list, as after its first visit.
fn create_owned<S: Owners>(store: &S, count: u64, owners: u64) {
    for n in 1..=count {
        let owner = format!("owner {}", (n - 1) % owners);
        let created = store.owned_by(&owner).create(&fields(n)).expect("create");
        assert_eq!(created.todo.id.get(), n as i64, "seeding needs an empty store");
    }
    for owner in 0..owners.min(count) {
        store
            .owned_by(&format!("owner {owner}"))
            .list(&todo_api::store::ListQuery::default())
            .expect("list");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [kind, target, count, owners] = args.as_slice() {
        let (count, owners): (u64, u64) = (count.parse().unwrap(), owners.parse().unwrap());
        match kind.as_str() {
            "owned-dir" => create_owned(&DirStore::new(target), count, owners),
            "owned-sqlite" => {
                let executor = RusqliteExecutor::open(Path::new(target));
                executor
                    .execute("PRAGMA synchronous = OFF", &[])
                    .expect("pragma");
                create_owned(&SqlStore::new(executor), count, owners);
            }
            "owned-postgres" => {
                let executor = todo_api::testing::PostgresExecutor::connect(target);
                executor
                    .execute("SET synchronous_commit = off", &[])
                    .expect("set");
                create_owned(&SqlStore::new(executor), count, owners);
            }
            other => panic!("unknown kind {other}"),
        }
        return;
    }
    let [kind, target, count] = args.as_slice() else {
        eprintln!("usage: seed dir|sqlite|postgres|revisions PATH COUNT, or owned-dir|owned-sqlite|owned-postgres PATH COUNT OWNERS");
        std::process::exit(2);
    };
    let count: u64 = count.parse().expect("COUNT is a number");
    let target = PathBuf::from(target);
    match kind.as_str() {
        "dir" => create(&DirStore::new(&target), count),
        "sqlite" => {
            let executor = RusqliteExecutor::open(Path::new(&target));
            executor
                .execute("PRAGMA synchronous = OFF", &[])
                .expect("pragma");
            create(&SqlStore::new(executor), count);
        }
        "postgres" => {
            let executor = todo_api::testing::PostgresExecutor::connect(&args[1]);
            executor
                .execute("SET synchronous_commit = off", &[])
                .expect("set");
            create(&SqlStore::new(executor), count);
        }
        "revisions" => {
            let store = DirStore::new(&target);
            let title = format!("written {count} times");
            let body = json!({"title": title});
            let todo = parse_new_todo(body.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).unwrap();
            let id = store.create(&todo).expect("create").todo.id;
            assert_eq!(id, TodoId::new(1).unwrap(), "seeding needs an empty store");
            for revision in 1..count {
                // Each write is a new revision: the title says which.
                let body = json!({"title": title, "isComplete": revision % 2 == 1});
                let changed =
                    parse_new_todo(body.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).unwrap();
                store.update(id, revision, &changed).expect("update");
            }
        }
        other => panic!("unknown kind {other}"),
    }
}
