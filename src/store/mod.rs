//! The store trait both hosts implement, and the types it speaks.
//!
//! Every stored todo carries a revision, a counter that grows with each write. The API
//! turns it into the strong `ETag`, and every write names the revision it was computed
//! from, so a write that raced another one is refused instead of silently overwriting it
//! (no lost update, even with many component instances sharing one store).

pub mod dir;
pub mod sql;
/// The SQL store by the name its first database gave it.
pub use sql as sqlite;

use std::fmt;

use crate::ratelimit::{Admission, RateLimit};
use crate::todo::{Todo, TodoFields, TodoId, fold_case};

/// A todo as stored, with the revision its `ETag` is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub todo: Todo,
    pub revision: u64,
}

/// Which todos `list` returns: the filters, the order, then a window of that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub is_complete: Option<bool>,
    /// Only todos whose case-folded title ([`fold_case`]) contains this text, itself
    /// already folded.
    pub title_contains: Option<String>,
    pub sort: Sort,
    pub offset: u64,
    pub limit: u64,
}

/// Every todo, by id.
impl Default for ListQuery {
    fn default() -> Self {
        Self {
            is_complete: None,
            title_contains: None,
            sort: Sort::Id,
            offset: 0,
            limit: u64::MAX,
        }
    }
}

/// The orders a list can be in. Ties are broken by id, in the same direction, so every
/// order is total and pages never overlap; a descending order is the exact reverse of its
/// ascending one, except that todos without a due date come last in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Id,
    IdDescending,
    DueBy,
    DueByDescending,
    /// By case-folded title, compared code point by code point.
    Title,
    TitleDescending,
}

impl ListQuery {
    /// Whether `todo` passes the filters.
    pub fn admits(&self, todo: &Todo) -> bool {
        self.is_complete.is_none_or(|flag| flag == todo.is_complete)
            && self
                .title_contains
                .as_deref()
                .is_none_or(|text| fold_case(todo.title.as_str()).contains(text))
    }

    pub fn is_by_id_and_completion(&self) -> bool {
        self.title_contains.is_none() && self.sort == Sort::Id
    }
}

/// One window of todos in the asked order, and how many todos match the filters in all.
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

impl<T> Written<T> {
    /// What a write that was done gave, as `done` turns it.
    pub fn map<U>(self, done: impl FnOnce(T) -> U) -> Written<U> {
        match self {
            Self::Done(value) => Written::Done(done(value)),
            Self::NotFound => Written::NotFound,
            Self::Conflict => Written::Conflict,
        }
    }
}

/// FNV-1a (64 bits) of `bytes`, continuing from `hash` ([`FNV_START`] to begin): a
/// fingerprint that is the same in every build and on every host, for versions and entity
/// tags. Not a defence against anyone who wants two things to collide.
pub fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Where [`fnv1a`] starts.
pub const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// Why a store could not answer. The message is for the log, never for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store cannot be reached or written now (missing directory, locked database,
    /// I/O error); the request may succeed later.
    Unavailable(String),
    /// The store answered with data that cannot be right (an unreadable record).
    Corrupt(String),
    /// Read as one shared list (no owner mode), the store was found to hold todos that
    /// belong to owners: it never opens them to everyone (the API answers `500` naming
    /// `jwt_owner_claim`).
    HoldsOwnedTodos,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(message) => write!(f, "store unavailable: {message}"),
            Self::Corrupt(message) => write!(f, "store data corrupt: {message}"),
            Self::HoldsOwnedTodos => write!(f, "the store holds todos that belong to owners"),
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

    /// The collection's version: it differs after every write that changed a todo (a
    /// create, a change, a delete), as every instance and replica reads it, so a list's
    /// entity tag can be derived from it without reading the page. Read it before the
    /// page: a tag is then never newer than the page it names.
    fn list_version(&self) -> StoreResult<u64>;

    /// Takes one request from the rate limit bucket `bucket` under `limit`
    /// ([`crate::ratelimit`]), in one atomic step that every instance and replica sees, at
    /// the store's time: admitted or not, and the bucket's TAT after. A refused request
    /// changes nothing. Buckets are not todos: losing one forgets only recent requests.
    fn take_token(&self, bucket: &str, limit: &RateLimit) -> StoreResult<Admission>;

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

/// A store whose todos may belong to owners (owner mode, `jwt_owner_claim`).
///
/// The store itself, through [`Store`], is the one shared list of a deployment without
/// owner mode ([`Owners::shared`] gives the same as a view): it reaches the todos of no
/// owner, and fails with
/// [`StoreError::HoldsOwnedTodos`] where it finds that some todo has an owner (a list,
/// the collection's version, a todo read by id), rather than show less than there is or
/// more than it should. [`Owners::owned_by`] gives a view of one owner's todos.
pub trait Owners: Store {
    type Owned<'a>: Store
    where
        Self: 'a;

    /// The todos of `owner` (`""`: the todos of no owner, written before owner mode): the
    /// view reads, lists, counts, versions, changes and deletes only them, and creates
    /// todos that belong to `owner`. A todo of another owner is to the view what a todo
    /// that never existed is. Ids stay unique across all owners.
    fn owned_by<'a>(&'a self, owner: &str) -> Self::Owned<'a>;

    /// The store as the one shared list ([`Store`] on the store itself), as a view: what
    /// the API serves without owner mode.
    fn shared(&self) -> Self::Owned<'_>;

    /// Whose todo `id` is (`""`: no owner's); `None` where there is no such todo.
    fn owner_of(&self, id: TodoId) -> StoreResult<Option<String>>;
}
