//! The SQLite store: plain SQL over a one-method executor seam.
//!
//! The Spin build runs this SQL through Spin's SQLite (`spin up`'s local file, or a
//! shared libSQL server when replicas scale out); the native tests run the very same SQL
//! through `rusqlite`. Ids come from `INTEGER PRIMARY KEY AUTOINCREMENT`, which never
//! hands out an id again, not even the newest one after it is deleted.
//!
//! The schema is created and versioned here (`schema_migrations`). It is not checked on
//! every request: a statement that fails with "no such table" migrates and runs again,
//! so a warm database costs nothing extra.

use super::{ListPage, ListQuery, Store, StoreError, StoreResult, Versioned, Written};
use crate::todo::{DueDate, MAX_TITLE_CHARS_CEILING, Title, Todo, TodoFields, TodoId};

/// A value bound to or read from a statement: the subset of SQLite's types used here.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A database error as the host reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError(pub String);

/// Runs one statement with positional parameters and returns its rows (empty for
/// statements that return none).
pub trait SqlExecutor {
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, SqlError>;
}

/// Schema versions in order; each runs once, and is safe to run twice should two
/// instances migrate at the same moment.
const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE IF NOT EXISTS todos (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            is_complete INTEGER NOT NULL DEFAULT 0,
            due_by TEXT,
            revision INTEGER NOT NULL DEFAULT 1
        )",
        "CREATE INDEX IF NOT EXISTS todos_by_completion ON todos (is_complete, id)",
    ],
    // 2: how many todos there are, open and done, kept by triggers, so that a page's
    // X-Total-Count does not scan the table (COUNT(*) grew with it: 1.9 ms at 100,000).
    // The triggers come first and the counts are filled in one statement after them: a
    // write in between finds no row to change, and is counted by that statement instead.
    &[
        "CREATE TABLE IF NOT EXISTS todo_counts (
            is_complete INTEGER PRIMARY KEY,
            total INTEGER NOT NULL
        )",
        "CREATE TRIGGER IF NOT EXISTS todo_counts_insert AFTER INSERT ON todos BEGIN
            UPDATE todo_counts SET total = total + 1 WHERE is_complete = NEW.is_complete;
        END",
        "CREATE TRIGGER IF NOT EXISTS todo_counts_delete AFTER DELETE ON todos BEGIN
            UPDATE todo_counts SET total = total - 1 WHERE is_complete = OLD.is_complete;
        END",
        "CREATE TRIGGER IF NOT EXISTS todo_counts_update AFTER UPDATE OF is_complete ON todos
            WHEN OLD.is_complete <> NEW.is_complete BEGIN
            UPDATE todo_counts SET total = total - 1 WHERE is_complete = OLD.is_complete;
            UPDATE todo_counts SET total = total + 1 WHERE is_complete = NEW.is_complete;
        END",
        "INSERT OR IGNORE INTO todo_counts (is_complete, total)
            SELECT 0, (SELECT COUNT(*) FROM todos WHERE is_complete = 0)
            UNION ALL SELECT 1, (SELECT COUNT(*) FROM todos WHERE is_complete = 1)",
    ],
];

const COLUMNS: &str = "id, title, is_complete, due_by, revision";

pub struct SqliteStore<E> {
    db: E,
}

impl<E: SqlExecutor> SqliteStore<E> {
    pub fn new(db: E) -> Self {
        Self { db }
    }

    /// Creates or upgrades the schema to the newest version.
    pub fn migrate(&self) -> StoreResult<()> {
        self.raw(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)",
            &[],
        )?;
        let rows = self.raw(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?;
        let current = rows
            .first()
            .and_then(|row| row.first())
            .and_then(as_i64)
            .unwrap_or(0);
        for (index, statements) in MIGRATIONS.iter().enumerate() {
            let version = index as i64 + 1;
            if version <= current {
                continue;
            }
            for statement in *statements {
                self.raw(statement, &[])?;
            }
            self.raw(
                "INSERT OR IGNORE INTO schema_migrations (version) VALUES (?)",
                &[SqlValue::Integer(version)],
            )?;
        }
        Ok(())
    }

    fn raw(&self, sql: &str, params: &[SqlValue]) -> StoreResult<Vec<Vec<SqlValue>>> {
        self.db
            .execute(sql, params)
            .map_err(|SqlError(message)| StoreError::Unavailable(message))
    }

    /// Runs a statement, creating the schema first if the database has none yet.
    fn run(&self, sql: &str, params: &[SqlValue]) -> StoreResult<Vec<Vec<SqlValue>>> {
        match self.db.execute(sql, params) {
            Err(SqlError(message)) if message.contains("no such table") => {
                self.migrate()?;
                self.raw(sql, params)
            }
            other => other.map_err(|SqlError(message)| StoreError::Unavailable(message)),
        }
    }

    fn current_revision(&self, id: TodoId) -> StoreResult<Option<u64>> {
        let rows = self.run(
            "SELECT revision FROM todos WHERE id = ?",
            &[SqlValue::Integer(id.get())],
        )?;
        rows.first().map(|row| revision_at(row, 0)).transpose()
    }
}

impl<E: SqlExecutor> Store for SqliteStore<E> {
    fn check_ready(&self) -> StoreResult<()> {
        self.run("SELECT 1 FROM todos LIMIT 1", &[]).map(drop)
    }

    fn create(&self, fields: &TodoFields) -> StoreResult<Versioned> {
        let mut params = field_params(fields);
        params.push(SqlValue::Integer(1));
        let rows = self.run(
            &format!(
                "INSERT INTO todos (title, is_complete, due_by, revision) VALUES (?, ?, ?, ?) \
                 RETURNING {COLUMNS}"
            ),
            &params,
        )?;
        match rows.first() {
            Some(row) => versioned_from_row(row),
            None => Err(StoreError::Corrupt("INSERT returned no row".into())),
        }
    }

    fn get(&self, id: TodoId) -> StoreResult<Option<Versioned>> {
        let rows = self.run(
            &format!("SELECT {COLUMNS} FROM todos WHERE id = ?"),
            &[SqlValue::Integer(id.get())],
        )?;
        rows.first().map(|row| versioned_from_row(row)).transpose()
    }

    fn list(&self, query: &ListQuery) -> StoreResult<ListPage> {
        // Bounds beyond i64 cannot select anything more than i64::MAX does.
        let window = [
            SqlValue::Integer(i64::try_from(query.limit).unwrap_or(i64::MAX)),
            SqlValue::Integer(i64::try_from(query.offset).unwrap_or(i64::MAX)),
        ];
        let (filter, filter_params) = match query.is_complete {
            Some(flag) => (
                "WHERE is_complete = ?",
                vec![SqlValue::Integer(i64::from(flag))],
            ),
            None => ("", vec![]),
        };
        let count = self.run(
            &format!("SELECT COALESCE(SUM(total), 0) FROM todo_counts {filter}"),
            &filter_params,
        )?;
        let total = count
            .first()
            .map(|row| revision_at(row, 0))
            .transpose()?
            .unwrap_or(0);
        let mut params = filter_params;
        params.extend(window);
        let rows = self.run(
            &format!("SELECT {COLUMNS} FROM todos {filter} ORDER BY id LIMIT ? OFFSET ?"),
            &params,
        )?;
        let items = rows
            .iter()
            .map(|row| versioned_from_row(row))
            .collect::<StoreResult<_>>()?;
        Ok(ListPage { items, total })
    }

    fn update(
        &self,
        id: TodoId,
        expected_revision: u64,
        fields: &TodoFields,
    ) -> StoreResult<Written<Versioned>> {
        let mut params = field_params(fields);
        params.push(SqlValue::Integer(id.get()));
        params.push(revision_param(expected_revision));
        let rows = self.run(
            &format!(
                "UPDATE todos SET title = ?, is_complete = ?, due_by = ?, revision = revision + 1 \
                 WHERE id = ? AND revision = ? RETURNING {COLUMNS}"
            ),
            &params,
        )?;
        match rows.first() {
            Some(row) => versioned_from_row(row).map(Written::Done),
            None => Ok(self.missed(id)?),
        }
    }

    fn delete(&self, id: TodoId, expected_revision: u64) -> StoreResult<Written<()>> {
        let rows = self.run(
            "DELETE FROM todos WHERE id = ? AND revision = ? RETURNING id",
            &[
                SqlValue::Integer(id.get()),
                revision_param(expected_revision),
            ],
        )?;
        if rows.is_empty() {
            self.missed(id)
        } else {
            Ok(Written::Done(()))
        }
    }
}

impl<E: SqlExecutor> SqliteStore<E> {
    /// Why a conditional write touched no row: the todo is gone, or its revision moved on.
    fn missed<T>(&self, id: TodoId) -> StoreResult<Written<T>> {
        Ok(match self.current_revision(id)? {
            Some(_) => Written::Conflict,
            None => Written::NotFound,
        })
    }
}

fn field_params(fields: &TodoFields) -> Vec<SqlValue> {
    vec![
        SqlValue::Text(fields.title.as_str().to_owned()),
        SqlValue::Integer(i64::from(fields.is_complete)),
        fields.due_by.as_ref().map_or(SqlValue::Null, |date| {
            SqlValue::Text(date.as_str().to_owned())
        }),
    ]
}

fn revision_param(revision: u64) -> SqlValue {
    // Revisions start at 1 and grow by one per write; a value past i64 matches no row.
    SqlValue::Integer(i64::try_from(revision).unwrap_or(-1))
}

fn as_i64(value: &SqlValue) -> Option<i64> {
    match value {
        SqlValue::Integer(number) => Some(*number),
        _ => None,
    }
}

fn revision_at(row: &[SqlValue], index: usize) -> StoreResult<u64> {
    row.get(index)
        .and_then(as_i64)
        .and_then(|number| u64::try_from(number).ok())
        .ok_or_else(|| corrupt(row, "a non-negative integer column"))
}

fn versioned_from_row(row: &[SqlValue]) -> StoreResult<Versioned> {
    let id = row
        .first()
        .and_then(as_i64)
        .and_then(TodoId::new)
        .ok_or_else(|| corrupt(row, "id"))?;
    let title = match row.get(1) {
        Some(SqlValue::Text(text)) => Title::parse(text.clone(), MAX_TITLE_CHARS_CEILING)
            .map_err(|_| corrupt(row, "title"))?,
        _ => return Err(corrupt(row, "title")),
    };
    let is_complete = match row.get(2).and_then(as_i64) {
        Some(0) => false,
        Some(1) => true,
        _ => return Err(corrupt(row, "is_complete")),
    };
    let due_by = match row.get(3) {
        Some(SqlValue::Null) => None,
        Some(SqlValue::Text(text)) => {
            Some(DueDate::parse(text).map_err(|_| corrupt(row, "due_by"))?)
        }
        _ => return Err(corrupt(row, "due_by")),
    };
    let revision = revision_at(row, 4)?;
    let fields = TodoFields {
        title,
        is_complete,
        due_by,
    };
    Ok(Versioned {
        todo: Todo::new(id, fields),
        revision,
    })
}

fn corrupt(row: &[SqlValue], what: &str) -> StoreError {
    let id = row.first().and_then(as_i64).unwrap_or_default();
    StoreError::Corrupt(format!("todos row {id}: unreadable {what}"))
}
