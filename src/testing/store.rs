//! Small helpers for tests of any [`Store`]: fields to write, and what a list says.

use serde_json::json;

use crate::ratelimit::{Admission, RateLimit};
use crate::store::{ListPage, ListQuery, Owners, Store, StoreResult, Versioned, Written};
use crate::todo::{DEFAULT_MAX_TITLE_CHARS, TodoFields, TodoId, parse_new_todo};

/// The fields of a todo titled `title`, parsed as a request body would be.
pub fn fields(title: &str, is_complete: bool) -> TodoFields {
    let body = json!({"title": title, "isComplete": is_complete});
    parse_new_todo(body.as_object().unwrap(), DEFAULT_MAX_TITLE_CHARS).unwrap()
}

pub fn id(value: i64) -> TodoId {
    TodoId::new(value).unwrap()
}

/// The ids on one page of a list in id order, and its total.
pub fn page_of(
    store: &impl Store,
    is_complete: Option<bool>,
    offset: u64,
    limit: u64,
) -> (Vec<i64>, u64) {
    let page = store
        .list(&ListQuery {
            is_complete,
            offset,
            limit,
            ..ListQuery::default()
        })
        .unwrap();
    let ids = page.items.iter().map(|s| s.todo.id.get()).collect();
    (ids, page.total)
}

/// The ids of the todos whose title contains `text` (ignoring case), in id order, and the
/// total.
pub fn search_of(store: &impl Store, text: &str) -> (Vec<i64>, u64) {
    let page = store
        .list(&ListQuery {
            title_contains: Some(crate::todo::fold_case(text)),
            ..ListQuery::default()
        })
        .unwrap();
    let ids = page.items.iter().map(|s| s.todo.id.get()).collect();
    (ids, page.total)
}

/// Every stored todo's id, in order.
pub fn all(store: &impl Store) -> Vec<i64> {
    page_of(store, None, 0, u64::MAX).0
}

/// The totals of all, complete and open todos.
pub fn totals_of(store: &impl Store) -> (u64, u64, u64) {
    let total = |is_complete| page_of(store, is_complete, 0, 1).1;
    (total(None), total(Some(true)), total(Some(false)))
}

/// A store handle that reaches one owner's todos only: every call goes through
/// [`Owners::owned_by`], so that a suite written for [`Store`] runs per owner.
pub struct AsOwner<S> {
    pub store: S,
    pub owner: String,
}

impl<S: Owners> Store for AsOwner<S> {
    fn check_ready(&self) -> StoreResult<()> {
        self.store.owned_by(&self.owner).check_ready()
    }
    fn create(&self, fields: &TodoFields) -> StoreResult<Versioned> {
        self.store.owned_by(&self.owner).create(fields)
    }
    fn get(&self, id: TodoId) -> StoreResult<Option<Versioned>> {
        self.store.owned_by(&self.owner).get(id)
    }
    fn list(&self, query: &ListQuery) -> StoreResult<ListPage> {
        self.store.owned_by(&self.owner).list(query)
    }
    fn list_version(&self) -> StoreResult<u64> {
        self.store.owned_by(&self.owner).list_version()
    }
    fn take_token(&self, bucket: &str, limit: &RateLimit) -> StoreResult<Admission> {
        self.store.owned_by(&self.owner).take_token(bucket, limit)
    }
    fn update(
        &self,
        id: TodoId,
        expected_revision: u64,
        fields: &TodoFields,
    ) -> StoreResult<Written<Versioned>> {
        self.store
            .owned_by(&self.owner)
            .update(id, expected_revision, fields)
    }
    fn delete(&self, id: TodoId, expected_revision: u64) -> StoreResult<Written<()>> {
        self.store
            .owned_by(&self.owner)
            .delete(id, expected_revision)
    }
}
