//! The revision core: ids claimed by creating their directory, revisions published by
//! hard-linking a synced staging file to the next revision's name (the compare-and-swap),
//! and reads through `current`, checked (see the store's documentation).

use std::fs::{self, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::{
    CURRENT, CURRENT_READ_BYTES, DirReader, DirStore, ID_PROBES, READ_RETRIES, Tree,
    create_layout_dir, io_error, random_u64, sync_dir,
};
use crate::store::{StoreError, StoreResult, Written};
use crate::todo::{MAX_TITLE_CHARS_CEILING, Todo, TodoId};

impl<R: DirReader> DirStore<R> {
    /// Claims the next free id by creating its directory in the data directory's `todos`
    /// (in every tree: one claim per id, whoever owns it), and in an owner's tree gives the
    /// id to the owner ([`DirStore::adopt`]).
    pub(super) fn claim_id(&self) -> StoreResult<TodoId> {
        let todos = self.data_root().join("todos");
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
            match fs::create_dir(todos.join(id.to_string())) {
                Ok(()) => {
                    sync_dir(&todos).map_err(|e| io_error("sync todos directory", &e))?;
                    if let Tree::Owner { owner, .. } = &self.tree {
                        self.adopt(id, owner)?;
                    }
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

    /// Makes the claimed `id` the owner's: the claim names the owner (for `owner_of`), then
    /// the id gets its directory in the owner's tree (created with the tree if need be),
    /// where its revisions go. A crash in between leaves an id that reads as absent
    /// everywhere, as a crash after any claim does.
    fn adopt(&self, id: TodoId, owner: &str) -> StoreResult<()> {
        let made = |e: io::Error| io_error("create an owner's tree", &e);
        create_layout_dir(&self.data_root().join(super::OWNERS)).map_err(made)?;
        create_layout_dir(&self.root).map_err(made)?;
        let staged = self
            .stage(owner.as_bytes(), true)
            .map_err(|e| io_error("write staging file", &e))?;
        let claim = self.data_root().join("todos").join(id.to_string());
        let named = fs::hard_link(&staged, claim.join(super::OWNER_FILE));
        let _ = fs::remove_file(&staged);
        named
            .and_then(|()| sync_dir(&claim))
            .map_err(|e| io_error("name a todo's owner", &e))?;
        let todos = self.todos_dir();
        let created = match fs::create_dir(self.todo_dir(id)) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                create_layout_dir(&todos).and_then(|()| fs::create_dir(self.todo_dir(id)))
            }
            other => other,
        };
        created
            .and_then(|()| sync_dir(&todos))
            .map_err(|e| io_error("claim id in an owner's tree", &e))
    }

    pub(super) fn read_last_id_hint(&self) -> Option<i64> {
        let bytes = self.reader.read_in_root("last-id").ok()?;
        std::str::from_utf8(&bytes).ok()?.trim().parse().ok()
    }

    /// Records the newest id so the next claim starts next to it. Only a hint: losing it
    /// costs one directory listing, never correctness.
    pub(super) fn write_last_id_hint(&self, id: TodoId) {
        if let Ok(staged) = self.stage(id.to_string().as_bytes(), false)
            && fs::rename(&staged, self.data_root().join("last-id")).is_err()
        {
            let _ = fs::remove_file(&staged);
        }
    }

    /// The highest id claimed in the data directory.
    pub(super) fn highest_id(&self) -> StoreResult<Option<TodoId>> {
        let claimed = self
            .reader
            .list_in_root("todos")
            .map_err(|e| io_error("list directory", &e))?
            .unwrap_or_default();
        Ok(claimed.iter().filter_map(|name| TodoId::parse(name)).max())
    }

    /// Every id that has a directory, in no particular order.
    pub(super) fn all_ids(&self) -> StoreResult<Vec<TodoId>> {
        match self.numbered_entries("todos", TodoId::parse)? {
            Some(ids) => Ok(ids),
            None => self.check_root().map(|()| Vec::new()),
        }
    }

    /// The newest revision published for `id`; `None` if the id was never claimed, or its
    /// creator crashed before publishing revision 1.
    pub(super) fn newest_revision(&self, id: TodoId) -> StoreResult<Option<u64>> {
        match self.numbered_entries(&format!("todos/{id}"), parse_revision_name)? {
            Some(revisions) => Ok(revisions.into_iter().max()),
            None => self.check_root().map(|()| None),
        }
    }

    /// The current revision of `id` and its content (`None` inside: deleted).
    pub(super) fn current(&self, id: TodoId) -> StoreResult<Option<(u64, Option<Todo>)>> {
        match self.current_by_pointer(id)? {
            Some(found) => Ok(Some(found)),
            None => self.current_by_listing(id),
        }
    }

    /// The current revision of `id` as `current` tells it, once `{r+1}.json` is seen not to
    /// exist; `None` when `current` cannot vouch for the newest revision.
    pub(super) fn current_by_pointer(
        &self,
        id: TodoId,
    ) -> StoreResult<Option<(u64, Option<Todo>)>> {
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
        // Empty (superseded and emptied) or unreadable (also: a read the host cut short,
        // since no prefix of a record parses): list instead.
        let Some(Record { revision, todo }) = parse_record(&bytes) else {
            return Ok(None);
        };
        if todo.as_ref().is_some_and(|todo| todo.id != id) {
            return Ok(None);
        }
        Ok(self.is_newest(id, revision)?.then_some((revision, todo)))
    }

    /// Whether `revision` is the newest revision of `id`: no writer has taken the next name.
    pub(super) fn is_newest(&self, id: TodoId, revision: u64) -> StoreResult<bool> {
        let Some(next) = revision.checked_add(1) else {
            return Ok(false);
        };
        match self.reader.link_count(&revision_path(id, next)) {
            Ok(found) => Ok(found.is_none()),
            Err(e) => Err(io_error("look up revision", &e)),
        }
    }

    /// The current revision of `id`, from a listing of its revisions.
    pub(super) fn current_by_listing(
        &self,
        id: TodoId,
    ) -> StoreResult<Option<(u64, Option<Todo>)>> {
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
                        .filter(|record| record.revision == revision)
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

    /// Writes `bytes` to a new staging file, synced to disk when `durable`, and returns its path.
    pub(super) fn stage(&self, bytes: &[u8], durable: bool) -> io::Result<PathBuf> {
        self.stage_in(&self.root.join("tmp"), bytes, durable)
    }

    /// [`DirStore::stage`] in the staging directory `tmp`, which is created if need be.
    pub(super) fn stage_in(&self, tmp: &Path, bytes: &[u8], durable: bool) -> io::Result<PathBuf> {
        let path = tmp.join(format!("{:016x}", random_u64()));
        let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => {
                create_layout_dir(tmp)?;
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
    pub(super) fn publish(
        &self,
        id: TodoId,
        revision: u64,
        record: Option<&Todo>,
    ) -> StoreResult<bool> {
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
        // The summary of its block too: a summary voided by a new generation, or counts
        // (and with them every summary) voided by a new epoch.
        if self.mark(id, revision, record, false).is_err() || self.touch_summary(id).is_err() {
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
    pub(super) fn numbered_entries<T>(
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
    pub(super) fn replace(
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
    /// The revision it is, also named by the file.
    revision: u64,
    /// `None`: the todo was deleted in this revision.
    todo: Option<Todo>,
}

/// A revision file's content: `{"revision":n,"todo":…}`.
fn parse_record(bytes: &[u8]) -> Option<Record> {
    let serde_json::Value::Object(mut map) = serde_json::from_slice(bytes).ok()? else {
        return None;
    };
    Some(Record {
        revision: map.get("revision")?.as_u64().filter(|&r| r > 0)?,
        todo: parse_todo(map.remove("todo")?)?,
    })
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
