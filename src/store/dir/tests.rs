//! The directory store's own behaviour, beside it: what it does with its files, `current`,
//! the counts and what crashed writers leave. (What every store must do is
//! tests/store_contract.rs.)

use std::sync::{Arc, Barrier};
use std::thread;

use serde_json::json;
use tempfile::TempDir;

use super::{DirReader, DirStore, StdReader};
use crate::store::{Store, StoreError, Written};
use crate::testing::store::{all, fields, id, page_of};
use crate::todo::parse_new_todo;

/// A data directory of its own, which any number of store handles can open.
struct Dir(TempDir);

impl Dir {
    fn new() -> Self {
        Self(TempDir::new().unwrap())
    }
    fn open(&self) -> DirStore {
        DirStore::new(self.0.path())
    }
}

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

fn searched(store: &impl Store, text: &str, sort: crate::store::Sort) -> (Vec<(i64, String)>, u64) {
    let page = store
        .list(&crate::store::ListQuery {
            title_contains: Some(crate::todo::fold_case(text)),
            sort,
            limit: 5,
            ..crate::store::ListQuery::default()
        })
        .unwrap();
    let items = page
        .items
        .iter()
        .map(|stored| (stored.todo.id.get(), stored.todo.title.as_str().to_owned()))
        .collect();
    (items, page.total)
}

#[test]
fn the_dir_store_searches_summaries_a_file_per_block_not_every_todo() {
    use crate::store::Sort;
    let fixture = Dir::new();
    let store = fixture.open();
    for n in 1..=30 {
        store
            .create(&fields(&format!("Task {n}"), n % 2 == 0))
            .unwrap();
    }
    // Three summary blocks further on (a summary holds 1,024 ids).
    continue_ids_at(&fixture, 3 * 1024);
    for n in 1..=10 {
        store
            .create(&fields(&format!("Later task {n}"), false))
            .unwrap();
    }
    // The first search reads every todo of each block and writes the block's summary.
    let first = searched(&store, "TASK 1", Sort::TitleDescending);
    assert_eq!(
        first,
        (
            vec![
                (19, "Task 19".into()),
                (18, "Task 18".into()),
                (17, "Task 17".into()),
                (16, "Task 16".into()),
                (15, "Task 15".into())
            ],
            13
        )
    );
    assert!(fixture.0.path().join("summaries/0").exists());
    assert!(fixture.0.path().join("summaries/3").exists());

    // Then a search reads, per block, its generation and its summary: no todo.
    let counts = Counts::default();
    let reader = CountingReader {
        inner: StdReader::new(fixture.0.path()),
        counts: &counts,
    };
    let counted = DirStore::with_reader(fixture.0.path(), reader);
    assert_eq!(searched(&counted, "TASK 1", Sort::TitleDescending), first);
    assert_eq!(
        counts.reads.get(),
        3 + 4 * 2,
        "the epoch files and the last-id hint, then the generation and summary of 4 blocks"
    );
    let later = searched(&counted, "later", Sort::Id);
    assert_eq!(later.1, 10);
    assert_eq!(later.0[0], (3 * 1024, "Later task 1".into()));

    // Every write voids its block's summary before it is answered.
    store
        .update(id(19), 1, &fields("Task 19, renamed", true))
        .unwrap();
    store.delete(id(18), 1).unwrap();
    counts.reads.set(0);
    assert_eq!(
        searched(&counted, "TASK 1", Sort::TitleDescending).0[..3],
        [
            (19, "Task 19, renamed".into()),
            (17, "Task 17".into()),
            (16, "Task 16".into())
        ]
    );
    assert!(
        counts.reads.get() > 30,
        "block 0 was read todo by todo: {}",
        counts.reads.get()
    );
}

#[test]
fn a_summary_holds_only_under_its_blocks_generation_and_the_counts_epoch() {
    use crate::store::Sort;
    let fixture = Dir::new();
    let store = fixture.open();
    create_and_count(&store, 3, |_| false);
    assert_eq!(searched(&store, "t2", Sort::Id).0, [(2, "t2".into())]);
    let summary = fixture.0.path().join("summaries/0");
    let written = std::fs::read_to_string(&summary).unwrap();
    // A summary saying otherwise than the todos, under its tag, is what a search reads:
    // it does not read the todos.
    std::fs::write(&summary, written.replace("t2", "xx")).unwrap();
    assert_eq!(searched(&store, "xx", Sort::Id).0, [(2, "xx".into())]);
    // A new generation (any write in the block) voids it.
    store.create(&fields("t4", false)).unwrap();
    assert_eq!(searched(&store, "xx", Sort::Id).1, 0);
    assert_eq!(searched(&store, "t2", Sort::Id).0, [(2, "t2".into())]);
    // So does a new epoch (what a writer that could not mark, or a crashed writer found,
    // brings about).
    let written = std::fs::read_to_string(&summary).unwrap();
    std::fs::write(&summary, written.replace("t2", "xx")).unwrap();
    std::fs::write(fixture.0.path().join("counts/epoch"), "a new epoch").unwrap();
    assert_eq!(searched(&store, "xx", Sort::Id).1, 0);
    assert_eq!(searched(&store, "t", Sort::TitleDescending).1, 4);
    // And one that does not parse is read anew, under another tag or under its own.
    std::fs::write(&summary, b"todo-summary 1\ngarbage").unwrap();
    assert_eq!(searched(&store, "t", Sort::Title).0[0], (1, "t1".into()));
    let written = std::fs::read_to_string(&summary).unwrap();
    let tagged: String = written.split_inclusive('\n').take(2).collect();
    std::fs::write(&summary, format!("{tagged}1 1 0 - 99 0\nshort")).unwrap();
    assert_eq!(
        searched(&store, "t", Sort::TitleDescending).0[0],
        (4, "t4".into())
    );
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), written);
}

/// A bucket keeps its last 64 states, and buckets idle for a period are removed by a later
/// admission (one whose instant is a multiple of 64 microseconds looks).
#[test]
fn the_dir_store_keeps_few_bucket_states_and_removes_idle_buckets() {
    let dir = Dir::new();
    let store = dir.open();
    let limit = crate::ratelimit::RateLimit::parse("1000/1s").unwrap();
    let t0: i64 = 1_800_000_000_000_000 + 1;
    for n in 0..200 {
        assert!(
            store
                .take_bucket_token("busy", &limit, || t0 + n)
                .unwrap()
                .admitted
        );
    }
    for other in ["a", "b", "c"] {
        store.take_bucket_token(other, &limit, || t0).unwrap();
    }
    let buckets = dir.0.path().join("buckets");
    let count = |path: &std::path::Path| std::fs::read_dir(path).unwrap().count();
    assert_eq!(count(&buckets), 4);
    let busy = std::fs::read_dir(&buckets)
        .unwrap()
        .flatten()
        .map(|entry| count(&entry.path()))
        .max()
        .unwrap();
    assert!(busy <= 64, "{busy} states kept");
    // Two periods later, an admission that looks: every bucket but its own is gone.
    let later = (t0 + 2_000_000) / 64 * 64 + 64;
    assert!(
        store
            .take_bucket_token("new", &limit, || later)
            .unwrap()
            .admitted
    );
    assert_eq!(count(&buckets), 1);
    // A removed bucket starts again full.
    assert!(
        store
            .take_bucket_token("busy", &limit, || later)
            .unwrap()
            .admitted
    );
}
