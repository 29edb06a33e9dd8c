//! Summaries: what a search or a sort needs of every todo, one file per block of ids, so
//! that such a list reads a file per 1,024 ids instead of every todo (see the module
//! documentation, "Searching and sorting: summaries").

use std::fs;
use std::io::{self, ErrorKind};

use super::{DirReader, DirStore, create_layout_dir, io_error, random_u64, sync_dir};
use crate::store::{ListPage, ListQuery, StoreResult, Versioned};
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

/// One todo as a summary holds it, and the case-folded title searches and sorts use.
pub(super) struct Summarized {
    pub stored: Versioned,
    pub folded: String,
}

impl<R: DirReader> DirStore<R> {
    /// Replaces the generation of `id`'s block with a fresh token, durably: every summary
    /// of the block written before is void from now on.
    pub(super) fn touch_summary(&self, id: TodoId) -> io::Result<()> {
        let dir = self.root.join(SUMMARIES);
        let target = self.root.join(generation_path(id.get() / SUMMARY_BLOCK));
        let staged = self.stage(format!("{:016x}", random_u64()).as_bytes(), false)?;
        let moved = match fs::rename(&staged, &target) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                create_layout_dir(&dir)?;
                fs::rename(&staged, &target)
            }
            other => other,
        };
        if let Err(e) = moved {
            let _ = fs::remove_file(&staged);
            return Err(e);
        }
        sync_dir(&dir)
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
        let last = self.last_claimed_id()?;
        let mut matching = Vec::new();
        for block in 0..=last / SUMMARY_BLOCK {
            for Summarized { stored, folded } in self.summarized(block, &epoch, last)? {
                if query.admits_folded(&stored.todo, &folded) {
                    matching.push((stored, folded));
                }
            }
        }
        let total = matching.len() as u64;
        let items = query.window(matching);
        Ok(Some(ListPage { items, total }))
    }

    /// The live todos of `block`: from its summary if that was written under `epoch` and
    /// the block's current generation, else read one by one up to id `last`, after reading
    /// the generation (so that a write finished meanwhile voids what is written here).
    fn summarized(&self, block: i64, epoch: &str, last: i64) -> StoreResult<Vec<Summarized>> {
        let generation = match self.reader.read(&generation_path(block)) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_error("read summary generation", &e)),
        };
        let tag = format!("{} {}\n", epoch.trim(), generation.trim());
        if let Ok(bytes) = self.reader.read(&summary_path(block))
            && let Some(todos) = parse_summary(&bytes, tag.as_bytes())
        {
            return Ok(todos);
        }
        let mut todos = Vec::new();
        let first = (block * SUMMARY_BLOCK).max(1);
        for id in (first..(block + 1) * SUMMARY_BLOCK)
            .take_while(|&id| id <= last)
            .filter_map(TodoId::new)
        {
            if let Some((revision, Some(todo))) = self.current(id)? {
                let folded = fold_case(todo.title.as_str());
                todos.push(Summarized {
                    stored: Versioned { todo, revision },
                    folded,
                });
            }
        }
        // Best effort: without it the next search reads the block again.
        let _ = self.write_summary(block, &tag, &todos);
        Ok(todos)
    }

    fn write_summary(&self, block: i64, tag: &str, todos: &[Summarized]) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(MAGIC.len() + tag.len() + todos.len() * 64);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(tag.as_bytes());
        for Summarized { stored, folded } in todos {
            let todo = &stored.todo;
            let title = todo.title.as_str();
            // An empty folded title stands for the title itself (titles are never empty).
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
        let staged = self.stage(&bytes, false)?;
        let target = self.root.join(summary_path(block));
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

/// The todos of a summary file tagged `tag`; `None` if it is not one, carries another tag,
/// or does not parse to its end.
fn parse_summary(bytes: &[u8], tag: &[u8]) -> Option<Vec<Summarized>> {
    let mut rest = bytes.strip_prefix(MAGIC)?.strip_prefix(tag)?;
    let mut todos = Vec::new();
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n')?;
        let head = std::str::from_utf8(&rest[..end]).ok()?;
        rest = &rest[end + 1..];
        let mut fields = head.split(' ');
        let mut next = || fields.next();
        let id = TodoId::new(next()?.parse().ok()?)?;
        let revision: u64 = next()?.parse().ok()?;
        let is_complete = match next()? {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        let due_by = match next()? {
            "-" => None,
            date => Some(DueDate::parse(date).ok()?),
        };
        let title_len: usize = next()?.parse().ok()?;
        let folded_len: usize = next()?.parse().ok()?;
        let body = rest.get(..title_len + folded_len + 1)?;
        if body.last() != Some(&b'\n') {
            return None;
        }
        let title = std::str::from_utf8(&body[..title_len]).ok()?;
        let folded = std::str::from_utf8(&body[title_len..title_len + folded_len]).ok()?;
        rest = &rest[title_len + folded_len + 1..];
        let folded = if folded.is_empty() { title } else { folded }.to_owned();
        let fields = TodoFields {
            title: Title::parse(title.to_owned(), MAX_TITLE_CHARS_CEILING).ok()?,
            is_complete,
            due_by,
        };
        todos.push(Summarized {
            stored: Versioned {
                todo: Todo::new(id, fields),
                revision,
            },
            folded,
        });
    }
    Some(todos)
}
