//! Summaries: what a search or a sort needs of every todo, one file per block of ids, so
//! that such a list reads a file per 1,024 ids instead of every todo (see the module
//! documentation, "Searching and sorting: summaries").

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs;
use std::io::{self, ErrorKind};

use super::{DirReader, DirStore, create_layout_dir, io_error, random_u64, sync_dir};
use crate::store::{
    FNV_START, ListPage, ListQuery, Sort, StoreError, StoreResult, Versioned, fnv1a,
};
use crate::todo::{DueDate, MAX_TITLE_CHARS_CEILING, Title, Todo, TodoFields, TodoId, fold_case};

/// Ids per summary: a search reads one file per block, and a block whose summary no longer
/// holds is read todo by todo.
pub(super) const SUMMARY_BLOCK: i64 = 1024;
const SUMMARIES: &str = "summaries";
/// What a summary file starts with; a file that does not is not one.
const MAGIC: &[u8] = b"todo-summary 1\n";

fn summary_path(block: i64) -> String {
    format!("{SUMMARIES}/{block}")
}

/// The block's generation: a random token every writer replaces after it publishes a
/// revision of one of the block's todos, and before it answers.
fn generation_path(block: i64) -> String {
    format!("{SUMMARIES}/{block}.gen")
}

impl<R: DirReader> DirStore<R> {
    /// Replaces the generation of `id`'s block with a fresh token, durably: every summary
    /// of the block written before is void from now on.
    pub(super) fn touch_summary(&self, id: TodoId) -> io::Result<()> {
        let token = format!("{:016x}", random_u64());
        self.place(&generation_path(id.get() / SUMMARY_BLOCK), token.as_bytes())?;
        sync_dir(&self.root.join(SUMMARIES))
    }

    /// The collection's version ([`crate::store::Store::list_version`]): a fingerprint of
    /// the counts' epoch and of every block's generation. Every writer replaces its block's
    /// generation, or failing that the epoch, after publishing and before answering, and
    /// the staging file of one that crashed first replaces the epoch once found (the window
    /// the summaries have). The blocks are combined in any order (a sum of their
    /// fingerprints), which spares the component a sort.
    pub(super) fn generations_version(&self) -> StoreResult<u64> {
        let read = |path: &str| match self.reader.read(path) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_error("read the collection's version", &e)),
        };
        // The epoch as a list would have it (created where there is none yet), so that a
        // list does not move the version by reading it.
        let mut version = fnv1a(FNV_START, &self.epoch().unwrap_or_default());
        let names = self
            .reader
            .list(SUMMARIES)
            .map_err(|e| io_error("list summaries", &e))?
            .unwrap_or_default();
        for name in names {
            let Some(block) = name.strip_suffix(".gen") else {
                continue;
            };
            let generation = read(&format!("{SUMMARIES}/{name}"))?;
            let block = fnv1a(fnv1a(FNV_START, block.as_bytes()), b" ");
            version = version.wrapping_add(fnv1a(block, &generation));
        }
        Ok(version)
    }

    /// A list searched by title or in another order than by id, from the summaries: each
    /// block's summary is read, or the block's todos where it no longer holds (writing it
    /// anew). `None` when the counts are not vouched for: summaries are trusted only under
    /// the epoch their counts are.
    pub(super) fn list_summarized(&self, query: &ListQuery) -> StoreResult<Option<ListPage>> {
        let Some(epoch) = self.vouched_epoch() else {
            return Ok(None);
        };
        let epoch = String::from_utf8_lossy(&epoch).into_owned();
        // An owner's tree: the blocks its own ids are in; the data directory's: every block.
        let listed = self.listed_ids()?;
        let (blocks, last) = match &listed {
            Some(ids) => {
                let mut blocks: Vec<i64> = ids.iter().map(|id| id.get() / SUMMARY_BLOCK).collect();
                blocks.dedup();
                (blocks, ids.last().map_or(0, |id| id.get()))
            }
            None => {
                let last = self.last_claimed_id()?;
                ((0..=last / SUMMARY_BLOCK).collect(), last)
            }
        };
        let mut summaries = blocks
            .iter()
            .map(|&block| self.summary(block, &epoch, last, false))
            .collect::<StoreResult<Vec<_>>>()?;
        // A summary whose tag holds but whose content does not parse (a damaged file) is
        // made again from its block's todos; one made here always parses.
        loop {
            match page_of_summaries(query, &summaries) {
                Ok(page) => return Ok(Some(page)),
                Err(index) => {
                    let remade = self.summary(blocks[index], &epoch, last, true)?;
                    if summaries[index] == remade {
                        return Err(corrupt("a todo that does not summarize"));
                    }
                    summaries[index] = remade;
                }
            }
        }
    }

    /// The summary of `block`: its file if that was written under `epoch` and the block's
    /// current generation, else one made from the block's todos, read one by one up to id
    /// `last` after reading the generation (so that a write finished meanwhile voids it),
    /// and written for the next search; made so in any case when `remake`. Only its tag is
    /// checked here: its content when it is read for the page.
    fn summary(&self, block: i64, epoch: &str, last: i64, remake: bool) -> StoreResult<Vec<u8>> {
        let generation = match self.reader.read(&generation_path(block)) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_error("read summary generation", &e)),
        };
        let tag = format!("{} {}\n", epoch.trim(), generation.trim());
        if !remake
            && let Ok(bytes) = self.reader.read(&summary_path(block))
            && bytes
                .strip_prefix(MAGIC)
                .is_some_and(|rest| rest.starts_with(tag.as_bytes()))
        {
            return Ok(bytes);
        }
        let range = (block * SUMMARY_BLOCK).max(1)..(block + 1) * SUMMARY_BLOCK;
        let ids: Vec<TodoId> = match self.listed_ids()? {
            // An owner's tree: its ids in the block, listed after the generation was read
            // (so that a todo created meanwhile voids the summary).
            Some(ids) => ids
                .into_iter()
                .filter(|id| range.contains(&id.get()))
                .collect(),
            None => range
                .take_while(|&id| id <= last)
                .filter_map(TodoId::new)
                .collect(),
        };
        let mut todos = Vec::new();
        for id in ids {
            if let Some((revision, Some(todo))) = self.current(id)? {
                todos.push(Versioned { todo, revision });
            }
        }
        let bytes = summary_bytes(&tag, &todos);
        // Best effort: without it the next search reads the block again.
        let _ = self.place(&summary_path(block), &bytes);
        Ok(bytes)
    }

    /// Puts `bytes` at `path` under the summaries directory (created if need be), staged and
    /// renamed into place, replacing what was there in one step.
    fn place(&self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let staged = self.stage(bytes, false)?;
        let target = self.root.join(path);
        let moved = match fs::rename(&staged, &target) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                create_layout_dir(&self.root.join(SUMMARIES))?;
                fs::rename(&staged, &target)
            }
            other => other,
        };
        if moved.is_err() {
            let _ = fs::remove_file(&staged);
        }
        moved
    }

    /// The highest id claimed so far: from the `last-id` hint up to the first id without
    /// a directory (ids are claimed upwards from the hint, densely).
    fn last_claimed_id(&self) -> StoreResult<i64> {
        let mut last = match self.read_last_id_hint() {
            Some(hint) => hint,
            None => self.highest_id()?.map_or(0, TodoId::get),
        };
        while let Some(next) = last.checked_add(1)
            && let Ok(Some(_)) = self.reader.link_count(&format!("todos/{next}"))
        {
            last = next;
        }
        Ok(last)
    }
}

/// A summary's bytes: [`MAGIC`], `tag`, then per todo a line `id revision complete due
/// title-length folded-length` and the title and its case folding (empty where it is the
/// title itself; titles are never empty), and a newline.
pub(super) fn summary_bytes(tag: &str, todos: &[Versioned]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(MAGIC.len() + tag.len() + todos.len() * 64);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(tag.as_bytes());
    for stored in todos {
        let todo = &stored.todo;
        let title = todo.title.as_str();
        let folded = fold_case(title);
        let folded = if folded == title { "" } else { folded.as_str() };
        bytes.extend_from_slice(
            format!(
                "{} {} {} {} {} {}\n",
                todo.id,
                stored.revision,
                u8::from(todo.is_complete),
                todo.due_by.as_ref().map_or("-", DueDate::as_str),
                title.len(),
                folded.len()
            )
            .as_bytes(),
        );
        bytes.extend_from_slice(title.as_bytes());
        bytes.extend_from_slice(folded.as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

/// One todo as a summary holds it, borrowed from the summary's bytes: only the todos of a
/// page are made whole ([`Entry::stored`]).
struct Entry<'a> {
    id: i64,
    revision: u64,
    is_complete: bool,
    due_by: Option<&'a str>,
    title: &'a str,
    folded: &'a str,
}

impl Entry<'_> {
    fn stored(&self) -> Option<Versioned> {
        let fields = TodoFields {
            title: Title::parse(self.title.to_owned(), MAX_TITLE_CHARS_CEILING).ok()?,
            is_complete: self.is_complete,
            due_by: self.due_by.map(DueDate::parse).transpose().ok()?,
        };
        Some(Versioned {
            todo: Todo::new(TodoId::new(self.id)?, fields),
            revision: self.revision,
        })
    }
}

/// Visits each entry of a summary tagged `tag`; `None` if it is not one, carries another
/// tag, or does not parse to its end (then some entries may have been visited).
fn each_entry<'a>(bytes: &'a [u8], tag: &[u8], mut visit: impl FnMut(Entry<'a>)) -> Option<()> {
    let mut rest = bytes.strip_prefix(MAGIC)?.strip_prefix(tag)?;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let mut fields = rest[..end].split(|&b| b == b' ');
        rest = &rest[end + 1..];
        let mut next = || fields.next();
        let id = i64::try_from(number(next()?)?).ok()?;
        let revision = number(next()?)?;
        let is_complete = match next()? {
            [b'0'] => false,
            [b'1'] => true,
            _ => return None,
        };
        let due_by = match next()? {
            [b'-'] => None,
            date => Some(std::str::from_utf8(date).ok()?),
        };
        let title_len = usize::try_from(number(next()?)?).ok()?;
        let folded_len = usize::try_from(number(next()?)?).ok()?;
        if next().is_some() {
            return None;
        }
        let (title, after) = rest.split_at_checked(title_len)?;
        let (folded, after) = after.split_at_checked(folded_len)?;
        rest = after.strip_prefix(b"\n")?;
        let title = std::str::from_utf8(title).ok()?;
        let folded = std::str::from_utf8(folded).ok()?;
        visit(Entry {
            id,
            revision,
            is_complete,
            due_by,
            title,
            folded: if folded.is_empty() { title } else { folded },
        });
    }
    Some(())
}

/// A decimal number of at most 19 digits (what a summary writes); `None` otherwise.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |number, &digit| {
        digit
            .is_ascii_digit()
            .then(|| number * 10 + u64::from(digit - b'0'))
    })
}

/// The page `query` asks for out of every todo in `summaries` (each tagged as it was read
/// or made): each matching entry is counted and offered to a heap that keeps the first
/// `offset + limit` in the query's order, and only the page's todos are made whole. A page
/// of 100 out of 100,000 holds 100 entries at a time, and compares most entries once.
/// `Err`: the index of a summary that does not parse, or holds a todo that does not.
pub(super) fn page_of_summaries(
    query: &ListQuery,
    summaries: &[Vec<u8>],
) -> Result<ListPage, usize> {
    let offset = usize::try_from(query.offset).unwrap_or(usize::MAX);
    let keep = offset.saturating_add(usize::try_from(query.limit).unwrap_or(usize::MAX));
    let mut first: BinaryHeap<Ranked<'_>> = BinaryHeap::new();
    let mut total = 0u64;
    for (index, bytes) in summaries.iter().enumerate() {
        // Each was checked or made with its own tag: skip past it.
        let tag_end = bytes
            .get(MAGIC.len()..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            .map(|at| MAGIC.len() + at + 1)
            .ok_or(index)?;
        each_entry(bytes, &bytes[MAGIC.len()..tag_end], |entry| {
            let admitted = query
                .is_complete
                .is_none_or(|flag| flag == entry.is_complete)
                && query
                    .title_contains
                    .as_deref()
                    .is_none_or(|text| contains(entry.folded.as_bytes(), text.as_bytes()));
            if !admitted {
                return;
            }
            total += 1;
            if keep == 0 {
                return;
            }
            let ranked = Ranked::new(query.sort, entry, index);
            if first.len() < keep {
                first.push(ranked);
            } else if first.peek().is_some_and(|last| ranked < *last) {
                first.pop();
                first.push(ranked);
            }
        })
        .ok_or(index)?;
    }
    let items = first
        .into_sorted_vec()
        .iter()
        .skip(offset)
        .map(|ranked| ranked.entry.stored().ok_or(ranked.summary))
        .collect::<Result<_, _>>()?;
    Ok(ListPage { items, total })
}

/// An entry with what orders it. One key shape for every order (each sort instantiated is
/// some 10 KB of component): undated last, then the text, then the id, reversed within for
/// descending orders. The text's first eight bytes (a date's whole value) are ranked as a
/// number first, so most comparisons compare integers, not strings.
struct Ranked<'a> {
    sort: Sort,
    undated: bool,
    rank: u64,
    entry: Entry<'a>,
    /// Which summary it is from.
    summary: usize,
}

impl<'a> Ranked<'a> {
    fn new(sort: Sort, entry: Entry<'a>, summary: usize) -> Self {
        let (undated, text) = sort_key(sort, &entry);
        Self {
            sort,
            undated,
            rank: rank(sort, text),
            entry,
            summary,
        }
    }
}

impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let within = self.rank.cmp(&other.rank).then_with(|| {
            // Where the rank is the whole key (ids, dates), equal ranks go by id alone.
            if !matches!(self.sort, Sort::Title | Sort::TitleDescending) {
                return self.entry.id.cmp(&other.entry.id);
            }
            let texts = (
                sort_key(self.sort, &self.entry).1,
                sort_key(self.sort, &other.entry).1,
            );
            (texts.0, self.entry.id).cmp(&(texts.1, other.entry.id))
        });
        let descending = matches!(
            self.sort,
            Sort::IdDescending | Sort::DueByDescending | Sort::TitleDescending
        );
        self.undated
            .cmp(&other.undated)
            .then(if descending { within.reverse() } else { within })
    }
}

impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked<'_> {}

/// Whether `needle` occurs in `haystack`: candidates found by their first byte, the rest
/// compared only there. (`str::contains` sets up a searcher per call, which for a short
/// needle in 100,000 short titles costs more than the search.)
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut from = 0;
    while let Some(at) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + at;
        if haystack[at + 1..].starts_with(rest) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Whether `entry` is undated (those go last in a date order), and the text it is ordered by.
fn sort_key<'a>(sort: Sort, entry: &Entry<'a>) -> (bool, &'a str) {
    match sort {
        Sort::Id | Sort::IdDescending => (false, ""),
        Sort::DueBy | Sort::DueByDescending => (entry.due_by.is_none(), entry.due_by.unwrap_or("")),
        Sort::Title | Sort::TitleDescending => (false, entry.folded),
    }
}

/// A number that orders as `text` does wherever it differs: a date's digits
/// (`YYYY-MM-DD` as `YYYYMMDD`), else the text's first eight bytes, big-endian (a text
/// that is a prefix of another ranks the same, and the texts decide).
fn rank(sort: Sort, text: &str) -> u64 {
    let bytes = text.as_bytes();
    if matches!(sort, Sort::DueBy | Sort::DueByDescending) && bytes.len() == 10 {
        return bytes
            .iter()
            .filter(|b| b.is_ascii_digit())
            .fold(0, |number, b| number * 10 + u64::from(b - b'0'));
    }
    let mut prefix = [0u8; 8];
    let n = bytes.len().min(8);
    prefix[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(prefix)
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} (summaries)"))
}
