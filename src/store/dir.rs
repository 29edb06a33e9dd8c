//! The directory store: todos as files under one directory, for hosts whose only durable
//! storage is a preopened directory (`wasmtime serve --dir DATA::/data`).
//!
//! # Layout
//! ```text
//! {root}/todos/{id}/{revision}.json   one file per revision of a todo, never renamed or removed
//! {root}/todos/{id}/current           a second name (hard link) for the newest revision's file
//! {root}/todos/{id}/live              a hard link to its block's live counter, while the todo exists
//! {root}/todos/{id}/done              a hard link to its block's done counter, while it is complete
//! {root}/counts/{block}.live          a counter: its link count is 1 + the live todos of its block
//! {root}/counts/{block}.done          the same for complete todos (block = id / 16,384)
//! {root}/counts/epoch                 a random token, replaced whenever the marks may be wrong
//! {root}/counts/valid, valid-link     two names of one file: the epoch the marks were last checked under
//! {root}/tmp/{random}                 staging: every file is written and synced here first
//! {root}/last-id                      a hint where to start looking for the next free id
//! ```
//! A revision file holds its revision number and the todo
//! (`{"revision":2,"todo":{"id":1,"title":"…","dueBy":null,"isComplete":false}}`), or
//! `"todo":null` once the todo is deleted. (Files written before the number was recorded
//! hold the bare todo or `null`; their name tells the revision.) The highest revision is
//! the current one. Once a newer revision is in place, the previous one is emptied
//! (truncated to zero bytes) to give back its space; its name stays.
//!
//! # Reading: `current`, checked
//! A reader reads `current`, finds revision `r` inside, and makes sure `{r+1}.json` does
//! not exist: names are taken in order 1, 2, 3, … and never removed, so then `r` is the
//! newest revision. That is one read and one failed lookup whatever the revision count.
//! `current` is only a shortcut, never trusted: when it is missing, emptied, unreadable or
//! behind (a writer crashed before moving it, or two writers moved it out of order), the
//! reader lists the todo's directory and reads the highest revision instead.
//!
//! # Why it is safe with many instances at once, and across crashes
//! - **Ids.** A new id is claimed by creating its directory, which fails if it exists
//!   (atomic on the host), so two instances never get the same id. A deleted todo keeps
//!   its directory (holding the `null` revision), so no id is ever handed out again.
//! - **Writes are compare-and-swap.** Revision `n + 1` is published by hard-linking a
//!   fully written and synced staging file to `{n+1}.json`; linking fails if that name
//!   exists, so of all writers that read revision `n`, exactly one wins and the others
//!   learn that they lost. Revision names are never removed, so a name once taken stays
//!   taken: a writer holding an old revision can never slip in behind newer ones.
//! - **Readers never see a todo vanish.** A directory listing may miss a name added while
//!   it runs, but never one that was there all along, so a reader finds the newest
//!   revision or the one before it. If that one was emptied meanwhile, it lists again.
//!   Through `current`, the revision read was the newest when `{r+1}.json` was looked up.
//! - **Crashes.** Readers only ever see complete files: a staging file becomes visible
//!   under its final name in one step, after its bytes were synced, and the directory is
//!   synced before the write is acknowledged. A crash leaves at worst a stray staging
//!   file (never read), a previous revision not yet emptied (never read), or an id
//!   directory without revisions (read as absent).
//!
//! # Counting: marks linked to counters
//! A list must tell how many todos match (`X-Total-Count`) and start at its page, and a
//! directory has no step that changes a todo and a running total together. So the total
//! is kept by the file system itself: each todo's marks (`live`, `done`) are hard links to
//! its block's counters, and adding or removing a link changes the counter's link count
//! in one step. A list reads the counters' link counts (a few per 16,384 ids), skips whole
//! blocks before its page by their counts, and reads ids in order within a block only
//! until that block's matching todos are all seen: the first page costs the same at
//! 100,000 todos as at 100.
//!
//! A writer sets the marks after publishing a revision and before answering, then checks
//! that its revision is still the newest; if not, it sets them again from the newest one.
//! Whoever changes a mark last has checked after doing so, so the marks end up matching
//! the newest revisions.
//!
//! The counts are used only while `counts/valid` holds the current `counts/epoch` and still
//! has both its names. Otherwise a list reads every todo, links each wanted mark anew to
//! the counters there are now (a fresh link renamed over the old mark), and then vouches
//! for the counts under the epoch it started with. The epoch is replaced when a writer
//! could not set its marks, and when the readiness check or a list finds a staging file a
//! crashed writer left ten minutes before (a writer moves its staging file away only after
//! marking). A copy of the data that turned hard links into separate files shows as a
//! `valid` with one name, a removed `counts` as no `valid`, as does data written before
//! counting existed: each is counted by the next list.
//!
//! `/readyz` (`check_ready`) writes and removes a staging file, so a read-only or full
//! disk reads as not ready, and removes staging files older than ten minutes, which only a
//! crashed writer leaves.
//!
//! File names are built only from integers, so no request can name a path.
//!
//! # Reads go through a [`DirReader`]
//! Every request reads (a GET reads `current` and looks up one name); writes are
//! dominated by syncing. [`StdReader`] reads with `std::fs`; the component brings its own
//! reader that asks the host directly, because under WASI `std::fs` spends several host
//! calls per operation (wasi-libc hashes every listed entry's inode, and stats a file
//! before reading it), and each host call crosses the component boundary (arguments
//! copied, handles kept in the host's tables) besides the system call it makes.

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use super::{ListPage, ListQuery, Store, StoreError, StoreResult, Versioned, Written};
use crate::todo::{MAX_TITLE_CHARS_CEILING, Todo, TodoFields, TodoId};

/// How many ids past the `last-id` hint to try before listing the directory instead.
const ID_PROBES: u32 = 64;
/// Age past which a staging file is known to be left over from a crash.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(600);
/// How often a reader lists again when the revision it found was superseded meanwhile.
const READ_RETRIES: u32 = 16;
/// How much of `current` a reader asks for: more than any record holds but the rare one
/// with a title of thousands of characters, which is then read whole.
const CURRENT_READ_BYTES: u64 = 16 * 1024;
/// The second name of a todo's newest revision, beside the revision files.
const CURRENT: &str = "current";
/// Ids per pair of counters. A file system caps the names one file can have (ext4 at
/// 65,000), so each counter counts the todos of one block of ids.
const COUNT_BLOCK: i64 = 16_384;
/// A random token, replaced whenever the marks may disagree with the todos.
const EPOCH: &str = "counts/epoch";
/// The epoch under which every todo's marks were last seen to be right. It has two names,
/// `valid` and `valid-link`: a copy of the data that turned hard links into separate files
/// (and so emptied every counter) shows as a `valid` with one name.
const VALID: &str = "counts/valid";
const VALID_LINK: &str = "counts/valid-link";

/// What a todo's marks say about it. Each mark is a hard link to its block's counter, so a
/// counter's link count is 1 + the number of todos in the block with that mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// The todo exists (its newest revision is not a deletion).
    Live,
    /// The todo exists and is complete.
    Done,
}

impl Mark {
    const ALL: [Mark; 2] = [Mark::Live, Mark::Done];

    fn name(self) -> &'static str {
        match self {
            Mark::Live => "live",
            Mark::Done => "done",
        }
    }

    /// The name a mark is linked under before it is renamed over the mark (repairs).
    fn fresh_name(self) -> &'static str {
        match self {
            Mark::Live => "live.new",
            Mark::Done => "done.new",
        }
    }

    fn wanted(self, todo: Option<&Todo>) -> bool {
        match self {
            Mark::Live => todo.is_some(),
            Mark::Done => todo.is_some_and(|todo| todo.is_complete),
        }
    }
}

/// The counter of `mark` for the block of ids numbered `block`, relative to the root.
fn counter_path(block: i64, mark: Mark) -> String {
    format!("counts/{block}.{}", mark.name())
}

/// Reads inside the data directory, by paths relative to it (`todos/7/3.json`).
pub trait DirReader {
    /// The names in directory `dir`; `Ok(None)` if it does not exist.
    fn list(&self, dir: &str) -> io::Result<Option<Vec<String>>>;
    /// The whole content of `file`; an error of kind `NotFound` if it does not exist.
    fn read(&self, file: &str) -> io::Result<Vec<u8>>;
    /// The start of `file`, at most `limit` bytes, in as few host calls as it takes: fewer
    /// bytes at the end of the file, but also if the host cut the read short. (A whole
    /// read needs one more call, to be told the end is reached.)
    fn read_up_to(&self, file: &str, limit: u64) -> io::Result<Vec<u8>>;
    /// How many names the file at `path` has (a link is not followed); `None` if `path`
    /// names nothing.
    fn link_count(&self, path: &str) -> io::Result<Option<u64>>;
}

/// Reads with `std::fs` under `root`.
pub struct StdReader {
    root: PathBuf,
}

impl StdReader {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }
}

impl DirReader for StdReader {
    fn list(&self, dir: &str) -> io::Result<Option<Vec<String>>> {
        let entries = match fs::read_dir(self.root.join(dir)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for entry in entries {
            match entry {
                // Names that are not UTF-8 are not ours.
                Ok(entry) => names.extend(entry.file_name().into_string().ok()),
                // Gone by the time the host described it.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(Some(names))
    }

    fn read(&self, file: &str) -> io::Result<Vec<u8>> {
        fs::read(self.root.join(file))
    }

    fn read_up_to(&self, file: &str, limit: u64) -> io::Result<Vec<u8>> {
        let mut content = Vec::new();
        File::open(self.root.join(file))?
            .take(limit)
            .read_to_end(&mut content)?;
        Ok(content)
    }

    fn link_count(&self, path: &str) -> io::Result<Option<u64>> {
        match fs::symlink_metadata(self.root.join(path)) {
            Ok(meta) => link_count_of(&meta).map(Some),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(unix)]
fn link_count_of(meta: &fs::Metadata) -> io::Result<u64> {
    Ok(std::os::unix::fs::MetadataExt::nlink(meta))
}

/// `std` tells link counts only on Unix; the component reads through its own reader.
#[cfg(not(unix))]
fn link_count_of(_meta: &fs::Metadata) -> io::Result<u64> {
    Err(io::Error::new(ErrorKind::Unsupported, "link counts"))
}

pub struct DirStore<R = StdReader> {
    root: PathBuf,
    reader: R,
}

impl DirStore {
    /// A store rooted at `root`, which must exist; the layout inside is created on first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let reader = StdReader::new(root.clone());
        Self { root, reader }
    }
}

impl<R: DirReader> DirStore<R> {
    /// A store rooted at `root` that reads through `reader`, which must see the same directory.
    pub fn with_reader(root: impl Into<PathBuf>, reader: R) -> Self {
        Self {
            root: root.into(),
            reader,
        }
    }

    fn todos_dir(&self) -> PathBuf {
        self.root.join("todos")
    }

    fn todo_dir(&self, id: TodoId) -> PathBuf {
        self.todos_dir().join(id.to_string())
    }

    /// Claims the next free id by creating its directory.
    fn claim_id(&self) -> StoreResult<TodoId> {
        let todos = self.todos_dir();
        let mut candidate = self.read_last_id_hint().unwrap_or(0);
        let mut probes = 0;
        loop {
            candidate = candidate
                .checked_add(1)
                .ok_or_else(|| StoreError::Unavailable("ids exhausted".into()))?;
            if probes == ID_PROBES {
                // The hint is far behind (or gone): start after the highest id on disk.
                candidate = self.highest_id()?.map_or(0, TodoId::get) + 1;
            }
            probes += 1;
            let id = TodoId::new(candidate)
                .ok_or_else(|| StoreError::Unavailable("ids exhausted".into()))?;
            match fs::create_dir(self.todo_dir(id)) {
                Ok(()) => {
                    sync_dir(&todos).map_err(|e| io_error("sync todos directory", &e))?;
                    return Ok(id);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    create_layout_dir(&todos)
                        .map_err(|e| io_error("create todos directory", &e))?;
                    candidate -= 1;
                }
                Err(e) => return Err(io_error("claim id", &e)),
            }
        }
    }

    fn read_last_id_hint(&self) -> Option<i64> {
        let bytes = self.reader.read("last-id").ok()?;
        std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
    }

    /// Records the newest id so the next claim starts next to it. Only a hint: losing it
    /// costs one directory listing, never correctness.
    fn write_last_id_hint(&self, id: TodoId) {
        if let Ok(staged) = self.stage(id.to_string().as_bytes(), false)
            && fs::rename(&staged, self.root.join("last-id")).is_err()
        {
            let _ = fs::remove_file(&staged);
        }
    }

    fn highest_id(&self) -> StoreResult<Option<TodoId>> {
        Ok(self.all_ids()?.into_iter().max())
    }

    /// Every id that has a directory, in no particular order.
    fn all_ids(&self) -> StoreResult<Vec<TodoId>> {
        match self.numbered_entries("todos", TodoId::parse)? {
            Some(ids) => Ok(ids),
            None => self.check_root().map(|()| Vec::new()),
        }
    }

    /// The newest revision published for `id`; `None` if the id was never claimed, or its
    /// creator crashed before publishing revision 1.
    fn newest_revision(&self, id: TodoId) -> StoreResult<Option<u64>> {
        match self.numbered_entries(&format!("todos/{id}"), parse_revision_name)? {
            Some(revisions) => Ok(revisions.into_iter().max()),
            None => self.check_root().map(|()| None),
        }
    }

    /// The current revision of `id` and its content (`None` inside: deleted).
    fn current(&self, id: TodoId) -> StoreResult<Option<(u64, Option<Todo>)>> {
        match self.current_by_pointer(id)? {
            Some(found) => Ok(Some(found)),
            None => self.current_by_listing(id),
        }
    }

    /// The current revision of `id` as `current` tells it, once `{r+1}.json` is seen not to
    /// exist; `None` when `current` cannot vouch for the newest revision.
    fn current_by_pointer(&self, id: TodoId) -> StoreResult<Option<(u64, Option<Todo>)>> {
        let current = format!("todos/{id}/{CURRENT}");
        let bytes = match self.reader.read_up_to(&current, CURRENT_READ_BYTES) {
            Ok(bytes) if bytes.len() as u64 == CURRENT_READ_BYTES => self.reader.read(&current),
            other => other,
        };
        let bytes = match bytes {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("read todo", &e)),
        };
        // Empty (superseded and emptied), unreadable (also: a read the host cut short,
        // since no prefix of a record parses), or without its number: list instead.
        let Some(Record {
            revision: Some(revision),
            todo,
        }) = parse_record(&bytes)
        else {
            return Ok(None);
        };
        if todo.as_ref().is_some_and(|todo| todo.id != id) {
            return Ok(None);
        }
        Ok(self.is_newest(id, revision)?.then_some((revision, todo)))
    }

    /// Whether `revision` is the newest revision of `id`: no writer has taken the next name.
    fn is_newest(&self, id: TodoId, revision: u64) -> StoreResult<bool> {
        let Some(next) = revision.checked_add(1) else {
            return Ok(false);
        };
        match self.reader.link_count(&revision_path(id, next)) {
            Ok(found) => Ok(found.is_none()),
            Err(e) => Err(io_error("look up revision", &e)),
        }
    }

    /// The current revision of `id`, from a listing of its revisions.
    fn current_by_listing(&self, id: TodoId) -> StoreResult<Option<(u64, Option<Todo>)>> {
        for _ in 0..READ_RETRIES {
            let Some(revision) = self.newest_revision(id)? else {
                return Ok(None);
            };
            let path = revision_path(id, revision);
            match self.reader.read(&path) {
                // Emptied because a newer revision arrived after we listed: list again.
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => {
                    let record = parse_record(&bytes)
                        .filter(|record| record.revision.is_none_or(|r| r == revision))
                        .ok_or_else(|| StoreError::Corrupt(format!("unreadable record {path}")))?;
                    let todo = record.todo;
                    if todo.as_ref().is_some_and(|todo| todo.id != id) {
                        return Err(StoreError::Corrupt(format!(
                            "record {path} names another id"
                        )));
                    }
                    return Ok(Some((revision, todo)));
                }
                Err(e) => return Err(io_error("read todo", &e)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "todo {id} kept changing while being read"
        )))
    }

    /// Fails unless the data directory is there. Asked where a missing file or directory
    /// would otherwise read as "no such todo": without the root, nothing can be said.
    fn check_root(&self) -> StoreResult<()> {
        match fs::metadata(&self.root) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::Unavailable(format!(
                "{} is not a directory",
                self.root.display()
            ))),
            Err(e) => Err(io_error("open data directory", &e)),
        }
    }

    /// Removes staging files older than [`STALE_STAGING`]: a live writer keeps one for
    /// milliseconds, so an old one was left by a writer that crashed. Best effort.
    fn sweep_stale_staging_files(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        let now = std::time::SystemTime::now();
        let mut crashed = false;
        for entry in entries.flatten() {
            let stale = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| {
                    now.duration_since(modified)
                        .is_ok_and(|age| age > STALE_STAGING)
                });
            if stale && fs::remove_file(entry.path()).is_ok() {
                crashed = true;
            }
        }
        // A crashed writer may have published a revision without setting its marks.
        if crashed {
            let _ = self.invalidate_counts();
        }
    }

    /// Writes `bytes` to a new staging file, synced to disk when `durable`, and returns its path.
    fn stage(&self, bytes: &[u8], durable: bool) -> io::Result<PathBuf> {
        let tmp = self.root.join("tmp");
        let path = tmp.join(format!("{:016x}", random_u64()));
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                create_layout_dir(&tmp)?;
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)?
            }
            other => other?,
        };
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        Ok(path)
    }

    /// Publishes `record` as revision `revision` of `id`, unless another writer already
    /// took that revision. Returns whether it was published.
    fn publish(&self, id: TodoId, revision: u64, record: Option<&Todo>) -> StoreResult<bool> {
        let todo = serde_json::to_string(&record)
            .map_err(|e| StoreError::Corrupt(format!("encode todo {id}: {e}")))?;
        let bytes = format!(r#"{{"revision":{revision},"todo":{todo}}}"#);
        let staged = self
            .stage(bytes.as_bytes(), true)
            .map_err(|e| io_error("write staging file", &e))?;
        let dir = self.todo_dir(id);
        match fs::hard_link(&staged, dir.join(revision_name(revision))) {
            Ok(()) => {}
            Err(e) => {
                let _ = fs::remove_file(&staged);
                return match e.kind() {
                    ErrorKind::AlreadyExists => Ok(false),
                    _ => Err(io_error("publish revision", &e)),
                };
            }
        }
        // Counts before `current`: until the staging file is gone, a crash here leaves it
        // behind, and the readiness check that finds it invalidates the counts.
        if self.mark(id, revision, record, false).is_err() {
            self.invalidate_counts()
                .map_err(|e| io_error("invalidate counts", &e))?;
        }
        // The staging name becomes `current`: readers find this revision without listing.
        // Only a shortcut that readers check, so failing to move it loses nothing.
        if fs::rename(&staged, dir.join(CURRENT)).is_err() {
            let _ = fs::remove_file(&staged);
        }
        sync_dir(&dir).map_err(|e| io_error("sync todo directory", &e))?;
        if revision > 1 {
            // Only space: nobody reads a superseded revision, and its name must stay.
            let previous = dir.join(revision_name(revision - 1));
            let _ = OpenOptions::new()
                .write(true)
                .open(previous)
                .and_then(|f| f.set_len(0));
        }
        Ok(true)
    }

    /// The names in `dir` that `parse` accepts, parsed; `None` if `dir` does not exist.
    fn numbered_entries<T>(
        &self,
        dir: &str,
        parse: fn(&str) -> Option<T>,
    ) -> StoreResult<Option<Vec<T>>> {
        let names = self
            .reader
            .list(dir)
            .map_err(|e| io_error("list directory", &e))?;
        Ok(names.map(|names| names.iter().filter_map(|name| parse(name)).collect()))
    }

    /// Publishes `record` as the successor of `expected_revision`, if that is still current.
    fn replace(
        &self,
        id: TodoId,
        expected_revision: u64,
        record: Option<&Todo>,
    ) -> StoreResult<Written<u64>> {
        // The caller has just read the todo, so look at the expected revision's own file
        // rather than listing again: it must exist, hold a todo, and not be superseded.
        let base_is_live = match self.reader.read(&revision_path(id, expected_revision)) {
            Ok(bytes) if parse_record(&bytes).is_some_and(|record| record.todo.is_none()) => {
                return Ok(Written::NotFound);
            }
            // Empty: superseded by a newer revision.
            Ok(bytes) => !bytes.is_empty(),
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => return Err(io_error("read todo", &e)),
        };
        if !base_is_live {
            // Tell a missing or deleted todo from one that moved past the expected revision.
            return Ok(match self.current(id)? {
                Some((_, Some(_))) => Written::Conflict,
                _ => Written::NotFound,
            });
        }
        let next = expected_revision
            .checked_add(1)
            .ok_or_else(|| StoreError::Unavailable(format!("todo {id}: revisions exhausted")))?;
        // Linking `next` succeeds only if nobody published it: then `expected_revision`
        // was the newest when we wrote, since revision names are never removed.
        if self.publish(id, next, record)? {
            Ok(Written::Done(next))
        } else {
            Ok(Written::Conflict)
        }
    }
}

/// Counts: the marks and counters that let a list skip to its page and tell its total
/// without reading every todo (see the module documentation).
impl<R: DirReader> DirStore<R> {
    /// Sets the marks of `id` to match `todo`, the content of its revision `revision`,
    /// then makes sure that revision is still the newest: a writer of a newer one may
    /// have set the marks before us, so then they are set again from the newest revision.
    /// Whoever changes a mark last has checked after doing so, so they end up right.
    fn mark(
        &self,
        id: TodoId,
        revision: u64,
        todo: Option<&Todo>,
        repair: bool,
    ) -> StoreResult<()> {
        let (mut revision, mut todo) = (revision, todo.cloned());
        for _ in 0..READ_RETRIES {
            self.set_marks(id, todo.as_ref(), repair)
                .map_err(|e| io_error("mark todo", &e))?;
            if self.is_newest(id, revision)? {
                return Ok(());
            }
            match self.current_by_listing(id)? {
                Some((newest, newest_todo)) => (revision, todo) = (newest, newest_todo),
                None => return Ok(()),
            }
        }
        Err(StoreError::Unavailable(format!(
            "todo {id} kept changing while being marked"
        )))
    }

    /// Links or unlinks each mark of `id` as `todo` wants it. With `repair`, each wanted
    /// mark is linked anew, since it may be a file of its own (a copy lost its links) or a
    /// link to a counter that is gone (`counts` was removed): a fresh link to the counter
    /// is renamed over it, so the mark never goes missing meanwhile.
    fn set_marks(&self, id: TodoId, todo: Option<&Todo>, repair: bool) -> io::Result<()> {
        for mark in Mark::ALL {
            let path = self.todo_dir(id).join(mark.name());
            if !mark.wanted(todo) {
                match fs::remove_file(&path) {
                    Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
                    _ => continue,
                }
            }
            let counter = self.root.join(counter_path(id.get() / COUNT_BLOCK, mark));
            if repair {
                let fresh = self.todo_dir(id).join(mark.fresh_name());
                let _ = fs::remove_file(&fresh);
                self.link_to_counter(&counter, &fresh)?;
                fs::rename(&fresh, &path)?;
                // Renaming a name onto another name of the same file leaves both.
                let _ = fs::remove_file(&fresh);
            } else {
                self.link_to_counter(&counter, &path)?;
            }
        }
        Ok(())
    }

    /// Links `path` to `counter`, creating the counter if need be; a `path` that exists
    /// already is left as it is.
    fn link_to_counter(&self, counter: &Path, path: &Path) -> io::Result<()> {
        let linked = match fs::hard_link(counter, path) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // A counter is an empty file; only its names count.
                self.create_in_counts(counter, b"")?;
                fs::hard_link(counter, path)
            }
            other => other,
        };
        match linked {
            Err(e) if e.kind() != ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        }
    }

    fn counts_dir(&self) -> PathBuf {
        self.root.join("counts")
    }

    /// Creates `path` in the counts directory holding `bytes`, durably, unless it exists:
    /// linked from a staging file, so that of two writers one creates it and neither
    /// replaces it.
    fn create_in_counts(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let counts = self.counts_dir();
        create_layout_dir(&counts)?;
        let staged = self.stage(bytes, true)?;
        let linked = fs::hard_link(&staged, path);
        let _ = fs::remove_file(&staged);
        match linked {
            Err(e) if e.kind() != ErrorKind::AlreadyExists => Err(e),
            _ => sync_dir(&counts),
        }
    }

    /// The current epoch, created if there is none yet; `None` if it cannot be had (a
    /// read-only or missing directory): then nothing can be vouched for.
    fn epoch(&self) -> Option<Vec<u8>> {
        match self.reader.read(EPOCH) {
            Ok(epoch) if !epoch.is_empty() => return Some(epoch),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(_) => return None,
        }
        // Of two first readers, one creates it and both use that one.
        self.create_in_counts(&self.root.join(EPOCH), new_epoch().as_bytes())
            .ok()?;
        self.reader
            .read(EPOCH)
            .ok()
            .filter(|epoch| !epoch.is_empty())
    }

    /// Says that the marks may be wrong: lists count by reading every todo until one of
    /// them has set every todo's marks again.
    fn invalidate_counts(&self) -> io::Result<()> {
        let counts = self.counts_dir();
        create_layout_dir(&counts)?;
        let staged = self.stage(new_epoch().as_bytes(), true)?;
        if let Err(e) = fs::rename(&staged, self.root.join(EPOCH)) {
            let _ = fs::remove_file(&staged);
            return Err(e);
        }
        sync_dir(&counts)
    }

    /// Records that every todo's marks were set under `epoch`. Best effort.
    fn vouch_for_counts(&self, epoch: &[u8]) {
        let Ok(staged) = self.stage(epoch, true) else {
            return;
        };
        let (valid, valid_link) = (self.root.join(VALID), self.root.join(VALID_LINK));
        let _ = fs::remove_file(&valid_link);
        let vouched = fs::hard_link(&staged, &valid_link)
            .and_then(|()| fs::rename(&staged, &valid))
            .and_then(|()| sync_dir(&self.counts_dir()));
        if vouched.is_err() {
            let _ = fs::remove_file(&staged);
        }
    }

    /// Whether the marks can be trusted: they were all set under the current epoch, and
    /// the file saying so still has both its names.
    fn counts_are_valid(&self) -> bool {
        let Ok(Some(2)) = self.reader.link_count(VALID) else {
            return false;
        };
        match (self.reader.read(VALID), self.reader.read(EPOCH)) {
            (Ok(valid), Ok(epoch)) => !epoch.is_empty() && valid == epoch,
            _ => false,
        }
    }

    /// Per block of ids, in order: how many todos are live and how many of those done.
    /// `None` if a counter cannot be read (the list then reads every todo).
    fn block_counts(&self) -> Option<Vec<(i64, u64, u64)>> {
        let names = self.reader.list("counts").ok()??;
        let found: Vec<i64> = names
            .iter()
            .filter_map(|name| name.strip_suffix(".live")?.parse().ok())
            .filter(|block| *block >= 0)
            .collect();
        // In order. Blocks are few (one per 16,384 ids): picking each next one by hand
        // spares the component a sort routine of its own for them (4 KB).
        let mut blocks = Vec::with_capacity(found.len());
        let mut after = -1;
        while let Some(&block) = found.iter().filter(|&&block| block > after).min() {
            blocks.push(block);
            after = block;
        }
        let marked = |block, mark| match self.reader.link_count(&counter_path(block, mark)) {
            Ok(Some(links)) => Some(links.saturating_sub(1)),
            Ok(None) => Some(0),
            Err(_) => None,
        };
        blocks
            .into_iter()
            .map(|block| {
                let live = marked(block, Mark::Live)?;
                Some((block, live, marked(block, Mark::Done)?.min(live)))
            })
            .collect()
    }

    /// A page found through the counters: whole blocks before the page are skipped by
    /// their counts, and within a block ids are read in order until its matching todos
    /// are all seen. `None` when the counts cannot be trusted.
    fn list_by_counts(&self, query: &ListQuery) -> StoreResult<Option<ListPage>> {
        if !self.counts_are_valid() {
            return Ok(None);
        }
        let Some(blocks) = self.block_counts() else {
            return Ok(None);
        };
        let matching = |live: u64, done: u64| match query.is_complete {
            None => live,
            Some(true) => done,
            Some(false) => live - done,
        };
        let total = blocks
            .iter()
            .map(|&(_, live, done)| matching(live, done))
            .sum();
        let mut skip = query.offset;
        let mut items = Vec::new();
        // Where the ids end: see `is_past_the_last_id`. Read when first needed.
        let mut newest_known = None;
        for (block, live, done) in blocks {
            let mut unseen = matching(live, done);
            if skip >= unseen {
                skip -= unseen;
                continue;
            }
            let first = (block * COUNT_BLOCK).max(1);
            for id in (first..(block + 1) * COUNT_BLOCK).filter_map(TodoId::new) {
                if unseen == 0 || items.len() as u64 >= query.limit {
                    break;
                }
                let Some((revision, todo)) = self.current(id)? else {
                    // Counts can run ahead of the todos (a deletion in flight): then the
                    // block's matching todos are never all seen, so stop where ids end.
                    let newest = *newest_known.get_or_insert_with(|| self.read_last_id_hint());
                    if self.is_past_the_last_id(id, newest) {
                        break;
                    }
                    continue;
                };
                let Some(todo) = todo.filter(|todo| query.admits(todo)) else {
                    continue;
                };
                unseen -= 1;
                if skip > 0 {
                    skip -= 1;
                } else {
                    items.push(Versioned { todo, revision });
                }
            }
            if items.len() as u64 >= query.limit {
                break;
            }
        }
        Ok(Some(ListPage { items, total }))
    }

    /// Whether `id`, which has no revision, lies past every claimed id. Ids are claimed
    /// upwards from the `last-id` hint, densely, and their directories are never removed,
    /// so beyond the hint the first id without a directory is the end.
    fn is_past_the_last_id(&self, id: TodoId, hint: Option<i64>) -> bool {
        id.get() > hint.unwrap_or(0)
            && matches!(self.reader.link_count(&format!("todos/{id}")), Ok(None))
    }

    /// A page found by reading every todo. On the way it sets every todo's marks, and
    /// if that worked and the epoch did not change meanwhile, vouches for the counts.
    fn list_by_scan(&self, query: &ListQuery) -> StoreResult<ListPage> {
        // The epoch first: a writer whose marks failed after this point changes it.
        let mut epoch = self.epoch();
        let mut ids = self.all_ids()?;
        ids.sort_unstable();
        let mut total = 0u64;
        let mut items = Vec::new();
        for id in ids {
            let Some((revision, todo)) = self.current(id)? else {
                continue;
            };
            if epoch.is_some() && self.mark(id, revision, todo.as_ref(), true).is_err() {
                epoch = None;
            }
            let Some(todo) = todo.filter(|todo| query.admits(todo)) else {
                continue;
            };
            if total >= query.offset && (items.len() as u64) < query.limit {
                items.push(Versioned { todo, revision });
            }
            total += 1;
        }
        if let Some(epoch) = epoch {
            self.vouch_for_counts(&epoch);
        }
        Ok(ListPage { items, total })
    }
}

impl<R: DirReader> DirStore<R> {
    /// A list searched by title or in another order than by id: every todo is read,
    /// filtered, put in order and windowed (counts only know completion and id order).
    fn list_searched(&self, query: &ListQuery) -> StoreResult<ListPage> {
        let mut matching = Vec::new();
        for id in self.all_ids()? {
            if let Some((revision, Some(todo))) = self.current(id)?
                && query.admits(&todo)
            {
                matching.push(Versioned { todo, revision });
            }
        }
        query.sort(&mut matching);
        let total = matching.len() as u64;
        let items = matching
            .into_iter()
            .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
            .collect();
        Ok(ListPage { items, total })
    }
}

/// A fresh epoch token.
fn new_epoch() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

impl<R: DirReader> Store for DirStore<R> {
    /// Ready when the data directory exists and takes a write: a staging file is written
    /// and removed (not synced). Also sweeps staging files a crashed writer left behind.
    fn check_ready(&self) -> StoreResult<()> {
        self.check_root()?;
        let probe = self
            .stage(b"", false)
            .map_err(|e| io_error("write to data directory", &e))?;
        let _ = fs::remove_file(probe);
        self.sweep_stale_staging_files();
        Ok(())
    }

    fn create(&self, fields: &TodoFields) -> StoreResult<Versioned> {
        let id = self.claim_id()?;
        let todo = Todo::new(id, fields.clone());
        if !self.publish(id, 1, Some(&todo))? {
            return Err(StoreError::Unavailable(format!(
                "todo {id}: revision 1 already taken"
            )));
        }
        self.write_last_id_hint(id);
        Ok(Versioned { todo, revision: 1 })
    }

    fn get(&self, id: TodoId) -> StoreResult<Option<Versioned>> {
        Ok(match self.current(id)? {
            Some((revision, Some(todo))) => Some(Versioned { todo, revision }),
            _ => None,
        })
    }

    fn list(&self, query: &ListQuery) -> StoreResult<ListPage> {
        // Where nothing calls the readiness check, lists look for what a crashed writer
        // left: usually `tmp` is empty, and looking is one listing.
        if self
            .reader
            .list("tmp")
            .is_ok_and(|names| names.is_some_and(|names| !names.is_empty()))
        {
            self.sweep_stale_staging_files();
        }
        if !query.is_by_id_and_completion() {
            return self.list_searched(query);
        }
        match self.list_by_counts(query)? {
            Some(page) => Ok(page),
            None => self.list_by_scan(query),
        }
    }

    fn update(
        &self,
        id: TodoId,
        expected_revision: u64,
        fields: &TodoFields,
    ) -> StoreResult<Written<Versioned>> {
        let todo = Todo::new(id, fields.clone());
        Ok(match self.replace(id, expected_revision, Some(&todo))? {
            Written::Done(revision) => Written::Done(Versioned { todo, revision }),
            Written::NotFound => Written::NotFound,
            Written::Conflict => Written::Conflict,
        })
    }

    fn delete(&self, id: TodoId, expected_revision: u64) -> StoreResult<Written<()>> {
        Ok(match self.replace(id, expected_revision, None)? {
            Written::Done(_) => Written::Done(()),
            Written::NotFound => Written::NotFound,
            Written::Conflict => Written::Conflict,
        })
    }
}

fn revision_name(revision: u64) -> String {
    format!("{revision}.json")
}

/// Revision `revision` of todo `id`, relative to the root.
fn revision_path(id: TodoId, revision: u64) -> String {
    format!("todos/{id}/{}", revision_name(revision))
}

fn parse_revision_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What a revision file holds.
struct Record {
    /// The revision it is; `None` in files written before the number was recorded.
    revision: Option<u64>,
    /// `None`: the todo was deleted in this revision.
    todo: Option<Todo>,
}

/// A revision file's content: `{"revision":n,"todo":…}`, or the bare todo or `null`.
fn parse_record(bytes: &[u8]) -> Option<Record> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    match value {
        serde_json::Value::Object(mut map) if map.contains_key("revision") => Some(Record {
            revision: Some(map.get("revision")?.as_u64().filter(|&r| r > 0)?),
            todo: parse_todo(map.remove("todo")?)?,
        }),
        bare => Some(Record {
            revision: None,
            todo: parse_todo(bare)?,
        }),
    }
}

/// A stored todo, or `null` for a deleted one.
fn parse_todo(value: serde_json::Value) -> Option<Option<Todo>> {
    match value {
        serde_json::Value::Null => Some(None),
        serde_json::Value::Object(map) => {
            let id = map.get("id")?.as_i64().and_then(TodoId::new)?;
            let fields = crate::todo::parse_new_todo(&map, MAX_TITLE_CHARS_CEILING).ok()?;
            Some(Some(Todo::new(id, fields)))
        }
        _ => None,
    }
}

/// Creates one directory of the layout inside the root, which must exist: a missing data
/// directory is a fault to report, not something to recreate.
fn create_layout_dir(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// Makes the directory's entries (a new name) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn random_u64() -> u64 {
    // RandomState is seeded from the host's randomness (wasi:random in a component).
    RandomState::new().build_hasher().finish()
}

fn io_error(action: &str, error: &io::Error) -> StoreError {
    StoreError::Unavailable(format!("{action}: {error}"))
}
