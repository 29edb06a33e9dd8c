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
//! {root}/summaries/{block}            every live todo of a block of 1,024 ids, for searches and sorts
//! {root}/summaries/{block}.gen        the block's generation: a random token every writer replaces
//! {root}/buckets/{fingerprint}/{n}    a rate limit bucket's states (see `buckets.rs`)
//! {root}/tmp/{random}                 staging: every file is written and synced here first
//! {root}/last-id                      a hint where to start looking for the next free id
//! ```
//! A revision file holds its revision number and the todo
//! (`{"revision":2,"todo":{"id":1,"title":"…","dueBy":null,"isComplete":false}}`), or
//! `"todo":null` once the todo is deleted. The highest revision is
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
//! # Searching and sorting: summaries
//! A search or another order than by id must see every todo, and reading 100,000 of them
//! costs seconds. So each block of 1,024 ids has a summary: its live todos (id, revision,
//! completion, date, title, case-folded title), written by a search that found none that
//! holds, and tagged with the counts' epoch and the block's generation. The generation is a
//! random token that every writer replaces, durably, after publishing and marking and
//! before answering. A summary holds while its tag is the current epoch and generation:
//! - **Never older than an acknowledged write.** A search that writes a summary reads the
//!   generation before any todo of the block; a write that finished after that replaced
//!   the generation, so the summary's tag is void from then on, whatever it read. A write
//!   that finished before it is in what it read.
//! - **Many writers of summaries.** Each is staged and renamed into place, the last one
//!   winning; each carries its own tag, so a summary of an older generation that lands
//!   last is simply void.
//! - **Crashes.** A writer that crashed after publishing but before replacing the
//!   generation leaves its staging file; once that is found, the epoch is replaced, which
//!   voids every summary with the counts (the same window as the counts'). A summary that
//!   does not parse is void.
//!
//! `/readyz` (`check_ready`) writes and removes a staging file, so a read-only or full
//! disk reads as not ready, and removes staging files older than ten minutes, which only a
//! crashed writer leaves.
//!
//! # Owners
//! In owner mode each owner's todos live in a tree of their own, `owners/{key}/` (the key is
//! the SHA-256 of the owner's name in hex), laid out as above and kept with the same rules;
//! ids are still claimed in the data directory's `todos/`, one claim per id whoever owns
//! it, and the claim holds a file `owner` naming the owner. Lists in a tree read its
//! listed ids rather than every id of a block. The data directory's own tree holds the
//! todos of no owner (written before owner mode); read as the shared list, a data
//! directory with `owners/` is refused ([`StoreError::HoldsOwnedTodos`]).
//!
//! File names are built only from integers and hex digits, so no request can name a path.
//!
//! # Reads go through a [`DirReader`]
//! Every request reads (a GET reads `current` and looks up one name); writes are
//! dominated by syncing. [`StdReader`] reads with `std::fs`; the component brings its own
//! reader that asks the host directly, because under WASI `std::fs` spends several host
//! calls per operation (wasi-libc hashes every listed entry's inode, and stats a file
//! before reading it), and each host call crosses the component boundary (arguments
//! copied, handles kept in the host's tables) besides the system call it makes.

mod buckets;
mod counting;
mod reader;
mod revisions;
mod summaries;
#[cfg(test)]
mod tests;

use std::collections::hash_map::RandomState;
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

pub use reader::{DirReader, Scoped, StdReader};

use super::{ListPage, ListQuery, Owners, Store, StoreError, StoreResult, Versioned, Written};
use crate::ratelimit::{Admission, RateLimit};
use crate::todo::{Todo, TodoFields, TodoId};

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

pub struct DirStore<R = StdReader> {
    /// The tree this handle keeps todos in: the data directory, or one owner's tree in it.
    root: PathBuf,
    reader: R,
    tree: Tree,
}

/// Which todos a handle reaches (see "Owners" in the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tree {
    /// The one shared list (no owner mode): the todos of no owner, and an `owners`
    /// directory is [`StoreError::HoldsOwnedTodos`].
    Shared,
    /// The todos of no owner, in owner mode (an admin's `?owner=`).
    Unowned,
    /// One owner's tree, `{data_root}/owners/{key}`; ids are claimed in the data root.
    Owner { data_root: PathBuf, owner: String },
}

/// Where owners' trees are, in the data directory.
const OWNERS: &str = "owners";
/// The file in a claimed id's directory that names the owner whose tree holds the todo.
const OWNER_FILE: &str = "owner";

/// An owner's tree's name: SHA-256 of the owner, in hex. Any owner name maps to a short
/// name built only of hex digits, and no two owners share a tree.
fn owner_key(owner: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(owner.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

impl DirStore {
    /// A store rooted at `root`, which must exist; the layout inside is created on first write.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let reader = StdReader::new(root.clone());
        Self::with_reader(root, reader)
    }
}

impl<R: DirReader> DirStore<R> {
    /// A store rooted at `root` that reads through `reader`, which must see the same directory.
    pub fn with_reader(root: impl Into<PathBuf>, reader: R) -> Self {
        Self {
            root: root.into(),
            reader,
            tree: Tree::Shared,
        }
    }

    /// The data directory, whichever tree this handle keeps its todos in.
    fn data_root(&self) -> &Path {
        match &self.tree {
            Tree::Owner { data_root, .. } => data_root,
            _ => &self.root,
        }
    }

    /// In the shared list, fails where the data directory holds owners' trees.
    fn check_no_owners(&self) -> StoreResult<()> {
        if self.tree == Tree::Shared && matches!(self.reader.link_count(OWNERS), Ok(Some(_))) {
            return Err(StoreError::HoldsOwnedTodos);
        }
        Ok(())
    }

    /// In an owner's tree, every id the tree has a directory for, in order: lists read
    /// these rather than every id of a block, as an owner's ids are spread among everyone's.
    /// `None` in the data directory's own tree, whose ids are dense.
    fn listed_ids(&self) -> StoreResult<Option<Vec<TodoId>>> {
        if !matches!(self.tree, Tree::Owner { .. }) {
            return Ok(None);
        }
        let mut ids = self.all_ids()?;
        ids.sort_unstable();
        Ok(Some(ids))
    }

    fn todos_dir(&self) -> PathBuf {
        self.root.join("todos")
    }

    fn todo_dir(&self, id: TodoId) -> PathBuf {
        self.todos_dir().join(id.to_string())
    }

    /// Fails unless the data directory is there. Asked where a missing file or directory
    /// would otherwise read as "no such todo": without the root, nothing can be said.
    fn check_root(&self) -> StoreResult<()> {
        let root = self.data_root();
        match fs::metadata(root) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::Unavailable(format!(
                "{} is not a directory",
                root.display()
            ))),
            Err(e) => Err(io_error("open data directory", &e)),
        }
    }
}

impl<R: DirReader> DirStore<R> {
    /// Where nothing calls the readiness check, lists look for what a crashed writer left:
    /// usually `tmp` is empty, and looking is one listing.
    fn sweep_after_crashes(&self) {
        if self
            .reader
            .list("tmp")
            .is_ok_and(|names| names.is_some_and(|names| !names.is_empty()))
        {
            self.sweep_stale_staging_files();
        }
    }
}

impl<R: DirReader> Store for DirStore<R> {
    /// Ready when the data directory exists and takes a write: a staging file is written
    /// and removed (not synced). Also sweeps staging files a crashed writer left behind.
    fn check_ready(&self) -> StoreResult<()> {
        self.check_root()?;
        // In the data directory's own staging directory, whichever tree this handle's.
        let probe = self
            .stage_in(&self.data_root().join("tmp"), b"", false)
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
            _ => {
                // Not in this tree: perhaps in an owner's (one more lookup, on a miss only).
                self.check_no_owners()?;
                None
            }
        })
    }

    fn list_version(&self) -> StoreResult<u64> {
        self.check_no_owners()?;
        self.sweep_after_crashes();
        self.generations_version()
    }

    fn take_token(&self, bucket: &str, limit: &RateLimit) -> StoreResult<Admission> {
        self.take_bucket_token(bucket, limit, unix_now_us)
    }

    fn list(&self, query: &ListQuery) -> StoreResult<ListPage> {
        self.check_no_owners()?;
        self.sweep_after_crashes();
        if !query.is_by_id_and_completion() {
            if let Some(page) = self.list_summarized(query)? {
                return Ok(page);
            }
            // Counts not vouched for (after a crash, a copy without hard links): count
            // again, which vouches for them, then search the summaries under them.
            self.list_by_scan(&ListQuery {
                limit: 0,
                ..ListQuery::default()
            })?;
            return match self.list_summarized(query)? {
                Some(page) => Ok(page),
                None => self.list_searched(query),
            };
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

impl<R: DirReader> Owners for DirStore<R> {
    type Owned<'a>
        = DirStore<Scoped<'a, R>>
    where
        Self: 'a;

    fn owned_by<'a>(&'a self, owner: &str) -> DirStore<Scoped<'a, R>> {
        if owner.is_empty() {
            return DirStore {
                root: self.root.clone(),
                reader: Scoped {
                    inner: &self.reader,
                    prefix: String::new(),
                },
                tree: Tree::Unowned,
            };
        }
        let key = owner_key(owner);
        DirStore {
            root: self.root.join(OWNERS).join(&key),
            reader: Scoped {
                inner: &self.reader,
                prefix: format!("{OWNERS}/{key}/"),
            },
            tree: Tree::Owner {
                data_root: self.root.clone(),
                owner: owner.to_owned(),
            },
        }
    }

    fn shared(&self) -> DirStore<Scoped<'_, R>> {
        DirStore {
            root: self.root.clone(),
            reader: Scoped {
                inner: &self.reader,
                prefix: String::new(),
            },
            tree: Tree::Shared,
        }
    }

    fn owner_of(&self, id: TodoId) -> StoreResult<Option<String>> {
        match self.reader.read(&format!("todos/{id}/{OWNER_FILE}")) {
            Ok(owner) => String::from_utf8(owner)
                .map(Some)
                .map_err(|_| StoreError::Corrupt(format!("todo {id}: unreadable owner"))),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                Ok(self.owned_by("").get(id)?.map(|_| String::new()))
            }
            Err(e) => Err(io_error("read a todo's owner", &e)),
        }
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

/// Microseconds since the Unix epoch on the host's wall clock.
fn unix_now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as i64)
}

fn random_u64() -> u64 {
    // RandomState is seeded from the host's randomness (wasi:random in a component).
    RandomState::new().build_hasher().finish()
}

fn io_error(action: &str, error: &io::Error) -> StoreError {
    StoreError::Unavailable(format!("{action}: {error}"))
}
