//! Counting: each todo's marks are hard links to its block's counters, so a list reads
//! totals from link counts and skips to its page (see the store's documentation).

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use super::{
    COUNT_BLOCK, DirReader, DirStore, EPOCH, READ_RETRIES, STALE_STAGING, VALID, VALID_LINK,
    create_layout_dir, io_error, random_u64, sync_dir,
};
use crate::store::{ListPage, ListQuery, StoreError, StoreResult, Versioned};
use crate::todo::{Todo, TodoId};

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

/// Counts: the marks and counters that let a list skip to its page and tell its total
/// without reading every todo (see the module documentation).
impl<R: DirReader> DirStore<R> {
    /// Removes staging files older than [`STALE_STAGING`]: a live writer keeps one for
    /// milliseconds, so an old one was left by a writer that crashed. Best effort.
    pub(super) fn sweep_stale_staging_files(&self) {
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

    /// Sets the marks of `id` to match `todo`, the content of its revision `revision`,
    /// then makes sure that revision is still the newest: a writer of a newer one may
    /// have set the marks before us, so then they are set again from the newest revision.
    /// Whoever changes a mark last has checked after doing so, so they end up right.
    pub(super) fn mark(
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
    pub(super) fn set_marks(
        &self,
        id: TodoId,
        todo: Option<&Todo>,
        repair: bool,
    ) -> io::Result<()> {
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
    pub(super) fn link_to_counter(&self, counter: &Path, path: &Path) -> io::Result<()> {
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

    pub(super) fn counts_dir(&self) -> PathBuf {
        self.root.join("counts")
    }

    /// Creates `path` in the counts directory holding `bytes`, durably, unless it exists:
    /// linked from a staging file, so that of two writers one creates it and neither
    /// replaces it.
    pub(super) fn create_in_counts(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
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
    pub(super) fn epoch(&self) -> Option<Vec<u8>> {
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
    pub(super) fn invalidate_counts(&self) -> io::Result<()> {
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
    pub(super) fn vouch_for_counts(&self, epoch: &[u8]) {
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
    pub(super) fn counts_are_valid(&self) -> bool {
        self.vouched_epoch().is_some()
    }

    /// The epoch, if the counts are vouched for under it.
    pub(super) fn vouched_epoch(&self) -> Option<Vec<u8>> {
        let Ok(Some(2)) = self.reader.link_count(VALID) else {
            return None;
        };
        match (self.reader.read(VALID), self.reader.read(EPOCH)) {
            (Ok(valid), Ok(epoch)) if !epoch.is_empty() && valid == epoch => Some(epoch),
            _ => None,
        }
    }

    /// Per block of ids, in order: how many todos are live and how many of those done.
    /// `None` if a counter cannot be read (the list then reads every todo).
    pub(super) fn block_counts(&self) -> Option<Vec<(i64, u64, u64)>> {
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
    pub(super) fn list_by_counts(&self, query: &ListQuery) -> StoreResult<Option<ListPage>> {
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
        // An owner's tree: its own ids, listed.
        let listed = self.listed_ids()?;
        for (block, live, done) in blocks {
            let mut unseen = matching(live, done);
            if skip >= unseen {
                skip -= unseen;
                continue;
            }
            let range = (block * COUNT_BLOCK).max(1)..(block + 1) * COUNT_BLOCK;
            let ids: Box<dyn Iterator<Item = TodoId>> = match &listed {
                Some(ids) => Box::new(
                    ids.iter()
                        .copied()
                        .filter(move |id| range.contains(&id.get())),
                ),
                None => Box::new(range.filter_map(TodoId::new)),
            };
            for id in ids {
                if unseen == 0 || items.len() as u64 >= query.limit {
                    break;
                }
                let Some((revision, todo)) = self.current(id)? else {
                    // Counts can run ahead of the todos (a deletion in flight): then the
                    // block's matching todos are never all seen, so stop where ids end
                    // (a listing ends there by itself).
                    let newest = *newest_known.get_or_insert_with(|| self.read_last_id_hint());
                    if listed.is_none() && self.is_past_the_last_id(id, newest) {
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
    pub(super) fn is_past_the_last_id(&self, id: TodoId, hint: Option<i64>) -> bool {
        id.get() > hint.unwrap_or(0)
            && matches!(self.reader.link_count(&format!("todos/{id}")), Ok(None))
    }

    /// A page found by reading every todo. On the way it sets every todo's marks, and
    /// if that worked and the epoch did not change meanwhile, vouches for the counts.
    pub(super) fn list_by_scan(&self, query: &ListQuery) -> StoreResult<ListPage> {
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
    /// A list searched by title or in another order than by id, when the summaries cannot
    /// be trusted: every todo is read and summarized here, in memory, and the page taken
    /// from that as from the summaries.
    pub(super) fn list_searched(&self, query: &ListQuery) -> StoreResult<ListPage> {
        let mut todos = Vec::new();
        for id in self.all_ids()? {
            if let Some((revision, Some(todo))) = self.current(id)? {
                todos.push(Versioned { todo, revision });
            }
        }
        let summary = super::summaries::summary_bytes("unsaved\n", &todos);
        super::summaries::page_of_summaries(query, &[summary])
            .map_err(|_| StoreError::Corrupt("a todo that does not summarize".into()))
    }
}

/// A fresh epoch token.
fn new_epoch() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}
