//! The store trait both hosts implement, and the types it speaks.
//!
//! Every stored todo carries a revision, a counter that grows with each write. The API
//! turns it into the strong `ETag`, and every write names the revision it was computed
//! from, so a write that raced another one is refused instead of silently overwriting it
//! (no lost update, even with many component instances sharing one store).

pub mod dir;
pub mod sqlite;

use std::fmt;

use crate::todo::{Todo, TodoFields, TodoId};

/// A todo as stored, with the revision its `ETag` is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub todo: Todo,
    pub revision: u64,
}

/// Which todos `list` returns: an optional completion filter, then a window in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    pub is_complete: Option<bool>,
    pub offset: u64,
    pub limit: u64,
}

impl ListQuery {
    /// Whether `todo` passes the completion filter.
    pub fn admits(&self, todo: &Todo) -> bool {
        self.is_complete.is_none_or(|flag| flag == todo.is_complete)
    }
}

/// One window of todos in id order, and how many todos match the filter in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPage {
    pub items: Vec<Versioned>,
    pub total: u64,
}

/// The outcome of a write that names the revision it expects to replace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written<T> {
    Done(T),
    /// No todo has this id (never had, or it was deleted).
    NotFound,
    /// The todo exists but its revision is not the expected one: another write won.
    Conflict,
}

/// Why a store could not answer. The message is for the log, never for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store cannot be reached or written now (missing directory, locked database,
    /// I/O error); the request may succeed later.
    Unavailable(String),
    /// The store answered with data that cannot be right (an unreadable record).
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(message) => write!(f, "store unavailable: {message}"),
            Self::Corrupt(message) => write!(f, "store data corrupt: {message}"),
        }
    }
}

impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

/// Durable storage of todos. Implementations must be safe when many component instances
/// (or processes) use the same data at once: ids are unique and never reused, and a write
/// whose expected revision is stale changes nothing.
pub trait Store {
    /// Succeeds when the store can serve requests (used by `/readyz`).
    fn check_ready(&self) -> StoreResult<()>;

    /// Stores a new todo under a fresh id, at revision 1.
    fn create(&self, fields: &TodoFields) -> StoreResult<Versioned>;

    fn get(&self, id: TodoId) -> StoreResult<Option<Versioned>>;

    fn list(&self, query: &ListQuery) -> StoreResult<ListPage>;

    /// Replaces the fields of todo `id` if its revision is still `expected_revision`.
    fn update(
        &self,
        id: TodoId,
        expected_revision: u64,
        fields: &TodoFields,
    ) -> StoreResult<Written<Versioned>>;

    /// Deletes todo `id` if its revision is still `expected_revision`. The id stays used.
    fn delete(&self, id: TodoId, expected_revision: u64) -> StoreResult<Written<()>>;
}
