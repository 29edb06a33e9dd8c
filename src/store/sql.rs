//! The SQL store: plain SQL over a one-method executor seam, for SQLite and PostgreSQL.
//!
//! The Spin builds run this SQL through Spin's SQLite (`spin up`'s local file, or a
//! shared libSQL server when replicas scale out) or Spin's PostgreSQL client; the native
//! tests run the very same SQL through `rusqlite` and `postgres`. The statements are one
//! text for both databases; what differs is in [`Dialect`], in one place: the schema and
//! how it is migrated, placeholders, how a write transaction begins and locks, and the
//! words for a missing table.
//!
//! Ids never come back: SQLite's `INTEGER PRIMARY KEY AUTOINCREMENT` never hands out an id
//! again, not even the newest one after it is deleted, and PostgreSQL's identity column
//! draws from a sequence that only moves forward.
//!
//! The schema is created and versioned here (`schema_migrations`). It is not checked on
//! every request: a statement that fails with "no such table" migrates and runs again,
//! so a warm database costs nothing extra.
//!
//! The schema holds no triggers: Spin opens a new connection for every request, and a new
//! connection parses the whole schema before its first statement; the three counting
//! triggers of schema version 2 made that parse cost ~55 µs of every request, more than
//! the rest of a `GET /todos/{id}` in the component (docs/performance.md). Writes keep
//! the totals themselves, in the same transaction as the todo they change.

use std::borrow::Cow;

use super::{
    FNV_START, ListPage, ListQuery, Owners, Sort, Store, StoreError, StoreResult, Versioned,
    Written, fnv1a,
};
use crate::ratelimit::{Admission, RateLimit};
use crate::todo::{DueDate, MAX_TITLE_CHARS_CEILING, Title, Todo, TodoFields, TodoId, fold_case};

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

/// The rows a statement returned: one value per column.
pub type Rows = Vec<Vec<SqlValue>>;

/// One statement of a transaction, with its positional parameters: a [`SqlExecutor::query`]
/// (its rows wanted: it must yield at least one) or a [`SqlExecutor::execute`] (run for its
/// effect).
#[derive(Debug, Clone, Copy)]
pub enum Statement<'a> {
    Query(&'a str, &'a [SqlValue]),
    Execute(&'a str, &'a [SqlValue]),
}

impl<'a> Statement<'a> {
    /// The same statement with other text (this dialect's placeholders).
    fn with_text(self, sql: &'a str) -> Self {
        match self {
            Self::Query(_, params) => Self::Query(sql, params),
            Self::Execute(_, params) => Self::Execute(sql, params),
        }
    }

    fn text(&self) -> &'a str {
        match self {
            Self::Query(sql, _) | Self::Execute(sql, _) => sql,
        }
    }
}

/// What differs between the databases the store speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// How a write transaction begins. SQLite: `IMMEDIATE` takes the write lock first, so
    /// two writers wait for each other instead of failing to upgrade a read lock.
    /// PostgreSQL: its row locks order writers (see [`Dialect::revision_for_write`]).
    pub fn begin(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// The statement that opens a write to one todo (`id` and its owner): the todo's
    /// revision as the write finds it (`NULL` where there is no such todo), always one row.
    /// In PostgreSQL it also locks the todo's row: the statements after it then read the
    /// newest committed row (READ COMMITTED takes a snapshot per statement), where a
    /// subquery would otherwise judge an older row than the `UPDATE` it guards, and the
    /// totals would drift; and the revision it reads stays true until `COMMIT`. SQLite's
    /// transaction holds the whole database already.
    fn revision_for_write(self) -> &'static str {
        match self {
            Self::Sqlite => "SELECT (SELECT revision FROM todos WHERE id = ? AND owner = ?)",
            Self::Postgres => {
                "SELECT (SELECT revision FROM todos WHERE id = ? AND owner = ? FOR UPDATE)"
            }
        }
    }

    /// Whether an error says the database has an older schema than this code's (a missing
    /// table or column), so that migrating and trying again is the answer.
    fn means_older_schema(self, message: &str) -> bool {
        let words: &[&str] = match self {
            // A missing table, a missing column read, a missing column written.
            Self::Sqlite => &["no such table", "no such column", "has no column named"],
            // `relation "todos" does not exist`, `column "title_folded" does not exist`.
            Self::Postgres => &["does not exist"],
        };
        words.iter().any(|words| message.contains(words))
    }

    /// `sql` with this dialect's placeholders: the store writes `?`, PostgreSQL numbers them.
    fn placeholders(self, sql: &str) -> Cow<'_, str> {
        match self {
            Self::Sqlite => Cow::Borrowed(sql),
            Self::Postgres => {
                let mut numbered = String::with_capacity(sql.len() + 8);
                let mut next = 0;
                for c in sql.chars() {
                    if c == '?' {
                        next += 1;
                        numbered.push('$');
                        numbered.push_str(&next.to_string());
                    } else {
                        numbered.push(c);
                    }
                }
                Cow::Owned(numbered)
            }
        }
    }
}

/// Runs statements on one connection.
///
/// Every statement whose rows the store reads goes through [`SqlExecutor::query`] and is
/// shaped to yield at least one row (a `LEFT JOIN` from a one-row table, an aggregate, a
/// scalar subquery); everything else goes through [`SqlExecutor::execute`]. Spin
/// 4.0.0-4.0.2's PostgreSQL `query` never returns when a statement yields no rows
/// (spinframework/spin#3671), and the guest cannot time it out, so a store that let one
/// through would hang there. The test executors fail on such a query.
pub trait SqlExecutor {
    /// The database this executor speaks to.
    const DIALECT: Dialect = Dialect::Sqlite;

    /// Runs one statement with positional parameters and returns its rows: at least one.
    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, SqlError>;

    /// Runs one statement for its effect (a transaction's bounds, a write without
    /// `RETURNING`, a migration).
    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), SqlError>;

    /// Runs `statements` as one write transaction: all of them take effect or none does.
    /// Returns each one's rows (none for an [`Statement::Execute`]). An executor whose
    /// connection other threads share must keep their statements out of the transaction
    /// (the default does not).
    fn transaction(&self, statements: &[Statement<'_>]) -> Result<Vec<Rows>, SqlError> {
        run_transaction(Self::DIALECT, |statement| self.run(statement), statements)
    }

    /// Runs one statement of either kind.
    fn run(&self, statement: &Statement<'_>) -> Result<Rows, SqlError> {
        match *statement {
            Statement::Query(sql, params) => self.query(sql, params),
            Statement::Execute(sql, params) => self.execute(sql, params).map(|()| Vec::new()),
        }
    }
}

/// [`Dialect::begin`], the statements, `COMMIT`; `ROLLBACK` on any failure. `run` runs one
/// statement on the transaction's connection.
pub fn run_transaction(
    dialect: Dialect,
    run: impl Fn(&Statement<'_>) -> Result<Rows, SqlError>,
    statements: &[Statement<'_>],
) -> Result<Vec<Rows>, SqlError> {
    let bound = |sql| run(&Statement::Execute(sql, &[]));
    bound(dialect.begin())?;
    let mut results = Vec::with_capacity(statements.len());
    for statement in statements {
        match run(statement) {
            Ok(rows) => results.push(rows),
            Err(error) => {
                let _ = bound("ROLLBACK");
                return Err(error);
            }
        }
    }
    if let Err(error) = bound("COMMIT") {
        let _ = bound("ROLLBACK");
        return Err(error);
    }
    Ok(results)
}

/// One step of a schema migration.
enum Step {
    Sql(&'static str),
    /// `ALTER TABLE … ADD COLUMN`, which SQLite cannot make conditional: a column that
    /// another instance migrating at the same moment added already counts as done.
    AddColumn(&'static str),
    /// Fills `title_folded` where it is unset: ASCII titles in SQL, the others through
    /// [`fold_case`] (SQLite's `lower` knows only ASCII).
    FoldTitles,
    /// Creates `todo_titles`, the trigram index searches use: an FTS5 table, or where this
    /// SQLite has no FTS5 (or too old a one), a plain table of the same shape that takes the
    /// same writes, and searches scan.
    SearchIndex,
    /// Statements that take effect together, in a write transaction.
    Transaction(&'static [&'static str]),
}

use Step::{AddColumn, FoldTitles, SearchIndex, Sql, Transaction};

/// The trigram index of the folded titles (FTS5, SQLite 3.43 and later): contentless (it
/// holds only the index; the rowid is the todo's id), its rows deleted and replaced by
/// rowid, case-sensitive because the titles are folded already.
const SEARCH_INDEX: &str = "CREATE VIRTUAL TABLE IF NOT EXISTS todo_titles USING fts5(\
    title_folded, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1')";
/// Whether creating [`SEARCH_INDEX`] failed because this SQLite cannot have it: no FTS5
/// (`no such module: fts5`), no trigram tokenizer, or an FTS5 older than contentless
/// deletes (`unrecognized option`).
fn lacks_fts5(message: &str) -> bool {
    [
        "no such module",
        "no such tokenizer",
        "unrecognized option",
        "fts5",
    ]
    .iter()
    .any(|words| message.contains(words))
}

/// What takes the index's writes where SQLite has no FTS5.
const SEARCH_INDEX_STAND_IN: &str = "CREATE TABLE IF NOT EXISTS todo_titles (title_folded TEXT)";

/// SQLite's schema versions in order; each runs once, and is safe to run twice should two
/// instances migrate at the same moment.
const SQLITE_MIGRATIONS: &[&[Step]] = &[
    &[
        Sql("CREATE TABLE IF NOT EXISTS todos (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL,
            is_complete INTEGER NOT NULL DEFAULT 0,
            due_by TEXT,
            revision INTEGER NOT NULL DEFAULT 1
        )"),
        Sql("CREATE INDEX IF NOT EXISTS todos_by_completion ON todos (is_complete, id)"),
    ],
    // 2: totals kept by triggers, in table `todo_counts`. Replaced by 3 and empty now,
    // so that no database is given triggers again: two instances migrating a new database
    // at once could otherwise recreate them after the other one's step 3 removed them.
    // Databases an earlier release took to version 2 hold them until step 3.
    &[],
    // 3: how many todos there are, open and done, kept by the writes themselves (see the
    // module doc), so that a page's X-Total-Count does not scan the table (COUNT(*) grew
    // with it: 1.9 ms at 100,000). A new table name: this release finds no `todo_totals`
    // in a version-2 database and migrates before it writes. Version 2's triggers go
    // first, then the totals are counted in one statement: a write before it is counted
    // by it, a write after it counts itself.
    &[
        Sql("DROP TRIGGER IF EXISTS todo_counts_insert"),
        Sql("DROP TRIGGER IF EXISTS todo_counts_delete"),
        Sql("DROP TRIGGER IF EXISTS todo_counts_update"),
        Sql("CREATE TABLE IF NOT EXISTS todo_totals (
            is_complete INTEGER PRIMARY KEY,
            total INTEGER NOT NULL
        )"),
        Sql("INSERT OR REPLACE INTO todo_totals (is_complete, total)
            SELECT 0, (SELECT COUNT(*) FROM todos WHERE is_complete = 0)
            UNION ALL SELECT 1, (SELECT COUNT(*) FROM todos WHERE is_complete = 1)"),
        Sql("DROP TABLE IF EXISTS todo_counts"),
    ],
    // 4: search and sort by title. Titles are matched and ordered case-folded (Unicode
    // simple case folding), which SQLite cannot compute, so each write stores the folded
    // title beside the title. A write of this release to a version-3 database finds no
    // such column and migrates first.
    &[
        AddColumn("ALTER TABLE todos ADD COLUMN title_folded TEXT"),
        FoldTitles,
        Sql("CREATE INDEX IF NOT EXISTS todos_by_title ON todos (title_folded, id)"),
        Sql("CREATE INDEX IF NOT EXISTS todos_by_due_by ON todos (due_by, id)"),
    ],
    // 5: searches of three characters or more through a trigram index, `todo_titles`,
    // which the writes keep in step in their own transactions (no triggers: see the
    // module doc). A write of this release to a version-4 database finds no such table
    // and migrates first; the titles there are indexed in one statement.
    &[
        SearchIndex,
        Sql("INSERT OR REPLACE INTO todo_titles (rowid, title_folded) \
             SELECT id, title_folded FROM todos"),
    ],
    // 6: the collection's version, which every write moves (see [`BUMP_VERSION`]): lists'
    // entity tags derive from it; and rate limit buckets. A write of this release to a
    // version-5 database finds no such table and migrates first.
    &[
        Sql(CREATE_TODO_CHANGES),
        Sql("INSERT OR IGNORE INTO todo_changes (id, version) VALUES (0, 0)"),
        Sql(CREATE_RATE_BUCKETS),
    ],
    // 7: todos that belong to someone (owner mode). Every todo has an owner, `''` for
    // none (every todo written before this version), and every list reads one owner's
    // todos, through indexes that lead with the owner (they replace version 1's and 4's):
    // an owner's first page costs the same however many todos others have. Totals and the
    // collection's version are kept per owner in `owner_stats`, one row each, which one
    // statement of each write moves (it replaces `todo_totals` and `todo_changes`, which
    // stay for a release that still writes them). The table is created and filled from
    // the todos in one transaction: a write of this release can only find it filled.
    &[
        AddColumn("ALTER TABLE todos ADD COLUMN owner TEXT NOT NULL DEFAULT ''"),
        Sql("CREATE INDEX IF NOT EXISTS todos_by_owner ON todos (owner, id)"),
        Sql("CREATE INDEX IF NOT EXISTS todos_by_owner_completion \
             ON todos (owner, is_complete, id)"),
        Sql("CREATE INDEX IF NOT EXISTS todos_by_owner_title ON todos (owner, title_folded, id)"),
        Sql("CREATE INDEX IF NOT EXISTS todos_by_owner_due_by ON todos (owner, due_by, id)"),
        Sql("DROP INDEX IF EXISTS todos_by_completion"),
        Sql("DROP INDEX IF EXISTS todos_by_title"),
        Sql("DROP INDEX IF EXISTS todos_by_due_by"),
        Transaction(&[CREATE_OWNER_STATS, SEED_OWNER_STATS]),
    ],
];

/// Per owner (`''`: no owner), how many of its todos are open and done, and its
/// collection's version, which every write to one of its todos moves: lists' totals and
/// entity tags come from here. A row exists once an owner has had a todo (or, for `''`,
/// once the store is at schema 7 / 3); it is never removed.
const CREATE_OWNER_STATS: &str = "CREATE TABLE IF NOT EXISTS owner_stats (\
    owner TEXT PRIMARY KEY, open_todos BIGINT NOT NULL, done_todos BIGINT NOT NULL, \
    version BIGINT NOT NULL)";
/// The row of the todos of no owner, counted, with the version the collection had.
const SEED_OWNER_STATS: &str = "INSERT INTO owner_stats (owner, open_todos, done_todos, version) \
    SELECT '', (SELECT COUNT(*) FROM todos WHERE owner = '' AND is_complete = 0), \
    (SELECT COUNT(*) FROM todos WHERE owner = '' AND is_complete = 1), \
    COALESCE((SELECT version FROM todo_changes WHERE id = 0), 0) \
    WHERE 1 = 1 ON CONFLICT (owner) DO NOTHING";

/// Rate limit buckets ([`crate::ratelimit`]): one row per client key, its TAT in
/// microseconds since the Unix epoch, and whether the last request to it was admitted (what
/// [`take_token_sql`] returns). Rows whose TAT has passed are as good as none and are removed.
const CREATE_RATE_BUCKETS: &str = "CREATE TABLE IF NOT EXISTS rate_buckets (\
    bucket TEXT PRIMARY KEY, tat BIGINT NOT NULL, admitted BIGINT NOT NULL)";

/// One row, `id` 0: how many writes the collection has taken (SQLite's version 6,
/// PostgreSQL's version 2).
const CREATE_TODO_CHANGES: &str = "CREATE TABLE IF NOT EXISTS todo_changes (\
    id INTEGER PRIMARY KEY CHECK (id = 0), version BIGINT NOT NULL)";
/// One step of GCRA ([`crate::ratelimit`]) on a bucket, in one statement that always
/// returns the bucket's row: a new bucket admits and starts one interval ahead of now; an
/// existing one admits where its TAT (or now, if later) is within the tolerance of now, and
/// then moves one interval on; otherwise it stays as it was. Every `SET` expression reads
/// the row as it was before the statement. `{now}` is the database's clock in
/// microseconds, read when the statement runs (after any wait for the bucket), `?` the
/// interval and the tolerance.
fn take_token_sql(dialect: Dialect) -> String {
    let now = match dialect {
        // Julian days, to the millisecond, the same for the whole statement.
        Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
        // The clock as the statement reaches the row (after waiting for its lock).
        Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
    };
    let ahead =
        format!("(CASE WHEN rate_buckets.tat > {now} THEN rate_buckets.tat ELSE {now} END)");
    let admits = format!("{ahead} - {now} <= ?");
    // `admitted` first: where the clock moves between the two, it can only turn a refusal
    // into an admission, so `admitted` never says yes to a bucket left unmoved.
    format!(
        "INSERT INTO rate_buckets (bucket, tat, admitted) VALUES (?, {now} + ?, 1) \
         ON CONFLICT (bucket) DO UPDATE SET \
         admitted = CASE WHEN {admits} THEN 1 ELSE 0 END, \
         tat = CASE WHEN {admits} THEN {ahead} + ? ELSE rate_buckets.tat END \
         RETURNING tat, admitted, {now}"
    )
}

/// A create's share of its owner's row (`owner`, open, done): one more todo, and the
/// next version. Every write locks the todo's row first (a change or a delete), then its
/// owner's row, so that no two writers wait for each other in a circle.
const COUNT_ONE_MORE: &str = "INSERT INTO owner_stats (owner, open_todos, done_todos, version) \
    VALUES (?, ?, ?, 1) ON CONFLICT (owner) DO UPDATE SET \
    open_todos = owner_stats.open_todos + excluded.open_todos, \
    done_todos = owner_stats.done_todos + excluded.done_todos, \
    version = owner_stats.version + 1";
/// A change's share (parameters: id, new state, id, new state, owner, id, owner,
/// revision): the todo moves from its old state's count to its new one's, and the version
/// moves, where the todo is at the revision the write expects (the condition under which
/// the write applies). Both `SET` expressions read the todo as it is before its update.
const RECOUNT_CHANGE: &str = "UPDATE owner_stats SET \
    open_todos = open_todos + ((SELECT is_complete FROM todos WHERE id = ?) - ?), \
    done_todos = done_todos - ((SELECT is_complete FROM todos WHERE id = ?) - ?), \
    version = version + 1 \
    WHERE owner = ? AND EXISTS (SELECT 1 FROM todos WHERE id = ? AND owner = ? AND revision = ?)";
/// A delete's share (parameters: id, id, owner, id, owner, revision), under the same
/// condition.
const RECOUNT_DELETE: &str = "UPDATE owner_stats SET \
    open_todos = open_todos - (1 - (SELECT is_complete FROM todos WHERE id = ?)), \
    done_todos = done_todos - (SELECT is_complete FROM todos WHERE id = ?), \
    version = version + 1 \
    WHERE owner = ? AND EXISTS (SELECT 1 FROM todos WHERE id = ? AND owner = ? AND revision = ?)";

/// PostgreSQL's schema, versions 1 to 3: the same tables as SQLite's versions 4 to 7
/// (its trigram index is `pg_trgm`'s, below), with an identity column for ids and
/// code-point order (`COLLATE "C"`, as Rust and SQLite compare) for the texts lists are
/// sorted by. One statement, run as its own transaction: under an advisory lock (so
/// replicas starting at once on an empty database migrate one after the other) it takes
/// each version not recorded yet, in order, and touches nothing once all are: a `CREATE
/// INDEX IF NOT EXISTS` would still lock the table against the writes of instances already
/// serving, and deadlock with them.
const POSTGRES_MIGRATION: &str = r#"DO $migration$
BEGIN
    PERFORM pg_advisory_xact_lock(7402);
    CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY);
    IF EXISTS (SELECT 1 FROM schema_migrations WHERE version = 3) THEN
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = 1) THEN
        CREATE TABLE todos (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            title TEXT NOT NULL,
            is_complete BIGINT NOT NULL DEFAULT 0,
            due_by TEXT COLLATE "C",
            revision BIGINT NOT NULL DEFAULT 1,
            title_folded TEXT COLLATE "C" NOT NULL
        );
        CREATE INDEX todos_by_completion ON todos (is_complete, id);
        CREATE INDEX todos_by_title ON todos (title_folded, id);
        CREATE INDEX todos_by_due_by ON todos (due_by, id);
        -- Searches of three characters or more use a trigram index where pg_trgm may be
        -- created (PostgreSQL 13 and later let a role with CREATE on the database do it);
        -- where it may not, or is not installed, they scan the folded titles instead.
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm;
            CREATE INDEX todos_by_title_trigrams ON todos USING gin (title_folded gin_trgm_ops);
        EXCEPTION WHEN OTHERS THEN
            NULL;
        END;
        CREATE TABLE todo_totals (is_complete BIGINT PRIMARY KEY, total BIGINT NOT NULL);
        INSERT INTO todo_totals (is_complete, total) VALUES (0, 0), (1, 0);
        INSERT INTO schema_migrations (version) VALUES (1);
    END IF;
    -- 2: the collection's version, which every write moves (lists' entity tags derive
    -- from it), and rate limit buckets.
    IF NOT EXISTS (SELECT 1 FROM schema_migrations WHERE version = 2) THEN
        CREATE TABLE IF NOT EXISTS todo_changes (
            id BIGINT PRIMARY KEY CHECK (id = 0),
            version BIGINT NOT NULL
        );
        INSERT INTO todo_changes (id, version) VALUES (0, 0) ON CONFLICT (id) DO NOTHING;
        CREATE TABLE IF NOT EXISTS rate_buckets (
            bucket TEXT PRIMARY KEY,
            tat BIGINT NOT NULL,
            admitted BIGINT NOT NULL
        );
        INSERT INTO schema_migrations (version) VALUES (2);
    END IF;
    -- 3: todos that belong to someone, as SQLite's version 7 (owner_stats replaces
    -- todo_totals and todo_changes). Adding a column with a constant default rewrites
    -- no rows; the table is locked until this transaction ends, so no write falls
    -- between the count below and the first write that counts itself.
    ALTER TABLE todos ADD COLUMN IF NOT EXISTS owner TEXT COLLATE "C" NOT NULL DEFAULT '';
    CREATE INDEX IF NOT EXISTS todos_by_owner ON todos (owner, id);
    CREATE INDEX IF NOT EXISTS todos_by_owner_completion ON todos (owner, is_complete, id);
    CREATE INDEX IF NOT EXISTS todos_by_owner_title ON todos (owner, title_folded, id);
    CREATE INDEX IF NOT EXISTS todos_by_owner_due_by ON todos (owner, due_by, id);
    DROP INDEX IF EXISTS todos_by_completion;
    DROP INDEX IF EXISTS todos_by_title;
    DROP INDEX IF EXISTS todos_by_due_by;
    CREATE TABLE IF NOT EXISTS owner_stats (
        owner TEXT COLLATE "C" PRIMARY KEY,
        open_todos BIGINT NOT NULL,
        done_todos BIGINT NOT NULL,
        version BIGINT NOT NULL
    );
    INSERT INTO owner_stats (owner, open_todos, done_todos, version)
        SELECT '', (SELECT COUNT(*) FROM todos WHERE owner = '' AND is_complete = 0),
            (SELECT COUNT(*) FROM todos WHERE owner = '' AND is_complete = 1),
            COALESCE((SELECT version FROM todo_changes WHERE id = 0), 0)
        ON CONFLICT (owner) DO NOTHING;
    INSERT INTO schema_migrations (version) VALUES (3);
END
$migration$"#;

const COLUMNS: &str = "id, title, is_complete, due_by, revision";
/// [`COLUMNS`] of the todo an outer join names `page`.
const JOINED_COLUMNS: &str = "page.id, page.title, page.is_complete, page.due_by, page.revision";

/// The store on SQLite, by the name the tests and the Spin build have always used.
pub type SqliteStore<E> = SqlStore<E>;

/// The SQL store over an executor, in the executor's [`Dialect`].
pub struct SqlStore<E> {
    db: E,
    scope: Scope,
}

/// Whose todos a handle reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scope {
    /// The one shared list (no owner mode): the todos of no owner, and any sign of an
    /// owner's todo is [`StoreError::HoldsOwnedTodos`].
    Shared,
    /// One owner's todos (`""`: no owner's), through [`Owners::owned_by`].
    Owner(String),
}

impl Scope {
    fn owner(&self) -> &str {
        match self {
            Self::Shared => "",
            Self::Owner(owner) => owner,
        }
    }

    /// A column that says which owners the store knows, where that matters: in the shared
    /// list, the greatest owner name (`''` or none where every todo is no one's).
    fn marker(&self) -> &'static str {
        match self {
            Self::Shared => "(SELECT MAX(owner) FROM owner_stats)",
            Self::Owner(_) => "CAST(NULL AS TEXT)",
        }
    }
}

/// A marker column ([`Scope::marker`]) as read: an owner's name fails the shared list.
fn check_marker(value: Option<&SqlValue>) -> StoreResult<()> {
    match value {
        Some(SqlValue::Text(owner)) if !owner.is_empty() => Err(StoreError::HoldsOwnedTodos),
        _ => Ok(()),
    }
}

/// A view borrows its store's connection.
impl<E: SqlExecutor> SqlExecutor for &E {
    const DIALECT: Dialect = E::DIALECT;

    fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Rows, SqlError> {
        (**self).query(sql, params)
    }

    fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<(), SqlError> {
        (**self).execute(sql, params)
    }

    fn transaction(&self, statements: &[Statement<'_>]) -> Result<Vec<Rows>, SqlError> {
        (**self).transaction(statements)
    }
}

impl<E: SqlExecutor> Owners for SqlStore<E> {
    type Owned<'a>
        = SqlStore<&'a E>
    where
        Self: 'a;

    fn owned_by<'a>(&'a self, owner: &str) -> SqlStore<&'a E> {
        SqlStore {
            db: &self.db,
            scope: Scope::Owner(owner.to_owned()),
        }
    }

    fn shared(&self) -> SqlStore<&E> {
        SqlStore {
            db: &self.db,
            scope: Scope::Shared,
        }
    }

    fn owner_of(&self, id: TodoId) -> StoreResult<Option<String>> {
        // One row, its owner `NULL` where there is no such todo (see [`SqlExecutor`]).
        let rows = self.query(
            "SELECT page.owner FROM (SELECT 1) AS one LEFT JOIN todos AS page ON page.id = ?",
            &[SqlValue::Integer(id.get())],
        )?;
        match rows.first().and_then(|row| row.first()) {
            Some(SqlValue::Text(owner)) => Ok(Some(owner.clone())),
            Some(SqlValue::Null) => Ok(None),
            _ => Err(StoreError::Corrupt(format!(
                "todos row {id}: unreadable owner"
            ))),
        }
    }
}

impl<E: SqlExecutor> SqlStore<E> {
    /// The one shared list; [`Owners::owned_by`] gives one owner's todos.
    pub fn new(db: E) -> Self {
        Self {
            db,
            scope: Scope::Shared,
        }
    }

    /// Creates or upgrades the schema to the newest version.
    pub fn migrate(&self) -> StoreResult<()> {
        match E::DIALECT {
            Dialect::Sqlite => self.migrate_sqlite(),
            Dialect::Postgres => self.raw_execute(POSTGRES_MIGRATION, &[]),
        }
    }

    fn migrate_sqlite(&self) -> StoreResult<()> {
        self.raw_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)",
            &[],
        )?;
        let rows = self.raw_query(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?;
        let current = rows
            .first()
            .and_then(|row| row.first())
            .and_then(as_i64)
            .unwrap_or(0);
        for (index, statements) in SQLITE_MIGRATIONS.iter().enumerate() {
            let version = index as i64 + 1;
            if version <= current {
                continue;
            }
            for step in *statements {
                self.run_step(step)?;
            }
            self.raw_execute(
                "INSERT OR IGNORE INTO schema_migrations (version) VALUES (?)",
                &[SqlValue::Integer(version)],
            )?;
        }
        Ok(())
    }

    fn run_step(&self, step: &Step) -> StoreResult<()> {
        match step {
            Sql(sql) => self.raw_execute(sql, &[]),
            SearchIndex => match self.db.execute(SEARCH_INDEX, &[]) {
                Ok(()) => Ok(()),
                // No FTS5, or no trigram tokenizer or contentless deletes in it; any other
                // failure (a busy database) fails the migration, to be tried again.
                Err(SqlError(message)) if lacks_fts5(&message) => {
                    crate::log::error(format_args!(
                        "no trigram index for searches ({message}): they scan instead"
                    ));
                    self.raw_execute(SEARCH_INDEX_STAND_IN, &[])
                }
                other => other.map_err(unavailable),
            },
            Transaction(statements) => {
                let statements: Vec<_> = statements
                    .iter()
                    .map(|sql| Statement::Execute(sql, &[]))
                    .collect();
                self.db
                    .transaction(&statements)
                    .map(drop)
                    .map_err(unavailable)
            }
            AddColumn(sql) => match self.db.execute(sql, &[]) {
                Err(SqlError(message)) if message.contains("duplicate column name") => Ok(()),
                other => other.map_err(unavailable),
            },
            FoldTitles => {
                self.raw_execute(
                    "UPDATE todos SET title_folded = lower(title) \
                     WHERE title_folded IS NULL AND length(CAST(title AS BLOB)) = length(title)",
                    &[],
                )?;
                // One row of NULLs where every title is folded (see [`SqlExecutor`]).
                let rows = self.raw_query(
                    "SELECT todos.id, todos.title FROM (SELECT 1) AS one \
                     LEFT JOIN todos ON todos.title_folded IS NULL",
                    &[],
                )?;
                for row in rows {
                    if let [id @ SqlValue::Integer(_), SqlValue::Text(title)] = row.as_slice() {
                        // Unless a write changed the title meanwhile (and folded it itself).
                        self.raw_execute(
                            "UPDATE todos SET title_folded = ? WHERE id = ? AND title = ?",
                            &[
                                SqlValue::Text(fold_case(title)),
                                id.clone(),
                                SqlValue::Text(title.clone()),
                            ],
                        )?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Runs a write transaction, creating the schema first if the database has none yet.
    fn write(&self, statements: &[Statement<'_>]) -> StoreResult<Vec<Rows>> {
        let texts: Vec<_> = statements
            .iter()
            .map(|statement| E::DIALECT.placeholders(statement.text()))
            .collect();
        let statements: Vec<Statement<'_>> = texts
            .iter()
            .zip(statements)
            .map(|(sql, statement)| statement.with_text(sql))
            .collect();
        self.with_schema(|| self.db.transaction(&statements))
    }

    /// A conditional write to todo `id` at `expected_revision`: `statements` run in one
    /// transaction after [`Dialect::revision_for_write`], and must change nothing unless
    /// the todo is at that revision. Says whether it was, and why not.
    fn write_to(
        &self,
        id: TodoId,
        expected_revision: u64,
        statements: &[Statement<'_>],
    ) -> StoreResult<Written<()>> {
        let target = [SqlValue::Integer(id.get()), self.owner_param()];
        let mut all = vec![Statement::Query(E::DIALECT.revision_for_write(), &target)];
        all.extend_from_slice(statements);
        let results = self.write(&all)?;
        let found = results
            .first()
            .and_then(|rows| rows.first())
            .ok_or_else(|| StoreError::Corrupt("a revision read returned no row".into()))?;
        Ok(match found.first() {
            Some(SqlValue::Null) => Written::NotFound,
            _ if revision_at(found, 0)? == expected_revision => Written::Done(()),
            _ => Written::Conflict,
        })
    }

    /// Removes the rate limit buckets whose TAT is before `now_us`: such a bucket is as
    /// good as none.
    pub fn remove_idle_buckets(&self, now_us: i64) -> StoreResult<()> {
        self.with_schema(|| {
            self.db.execute(
                &E::DIALECT.placeholders("DELETE FROM rate_buckets WHERE tat < ?"),
                &[SqlValue::Integer(now_us)],
            )
        })
    }

    fn raw_query(&self, sql: &str, params: &[SqlValue]) -> StoreResult<Rows> {
        self.db
            .query(&E::DIALECT.placeholders(sql), params)
            .map_err(unavailable)
    }

    fn raw_execute(&self, sql: &str, params: &[SqlValue]) -> StoreResult<()> {
        self.db
            .execute(&E::DIALECT.placeholders(sql), params)
            .map_err(unavailable)
    }

    /// Runs a query, creating the schema first if the database has none yet.
    fn query(&self, sql: &str, params: &[SqlValue]) -> StoreResult<Rows> {
        let sql = E::DIALECT.placeholders(sql);
        self.with_schema(|| self.db.query(&sql, params))
    }

    /// Runs `attempt`; where it finds no table or column of the newest schema, migrates and
    /// runs it once more.
    fn with_schema<T>(&self, attempt: impl Fn() -> Result<T, SqlError>) -> StoreResult<T> {
        match attempt() {
            Err(SqlError(message)) if E::DIALECT.means_older_schema(&message) => {
                self.migrate()?;
                attempt().map_err(unavailable)
            }
            other => other.map_err(unavailable),
        }
    }
}

impl<E: SqlExecutor> Store for SqlStore<E> {
    fn check_ready(&self) -> StoreResult<()> {
        // One row whether or not there are todos (see [`SqlExecutor`]).
        self.query(
            "SELECT COUNT(*) FROM (SELECT 1 FROM todos LIMIT 1) AS probe",
            &[],
        )
        .map(drop)
    }

    fn create(&self, fields: &TodoFields) -> StoreResult<Versioned> {
        let mut params = field_params(fields);
        params.push(SqlValue::Integer(1));
        params.push(self.owner_param());
        let insert = format!(
            "INSERT INTO todos (title, is_complete, due_by, title_folded, revision, owner) \
             VALUES (?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}"
        );
        let done = i64::from(fields.is_complete);
        let state = [
            self.owner_param(),
            SqlValue::Integer(1 - done),
            SqlValue::Integer(done),
        ];
        let folded = [params[3].clone()];
        let mut statements = vec![Statement::Query(&insert, &params)];
        if E::DIALECT == Dialect::Sqlite {
            statements.push(Statement::Execute(
                "INSERT INTO todo_titles (rowid, title_folded) VALUES (last_insert_rowid(), ?)",
                &folded,
            ));
        }
        statements.push(Statement::Execute(COUNT_ONE_MORE, &state));
        let results = self.write(&statements)?;
        match results.first().and_then(|rows| rows.first()) {
            Some(row) => versioned_from_row(row),
            None => Err(StoreError::Corrupt("INSERT returned no row".into())),
        }
    }

    fn get(&self, id: TodoId) -> StoreResult<Option<Versioned>> {
        // One row of NULLs where there is no such todo (see [`SqlExecutor`]). The shared
        // list reads any todo by id, and fails on one that has an owner; an owner's view
        // finds its own todos only, in the same one lookup whoever else's the id is.
        let rows = match &self.scope {
            Scope::Shared => self.query(
                &format!(
                    "SELECT {JOINED_COLUMNS}, page.owner FROM (SELECT 1) AS one \
                     LEFT JOIN todos AS page ON page.id = ?"
                ),
                &[SqlValue::Integer(id.get())],
            )?,
            Scope::Owner(_) => self.query(
                &format!(
                    "SELECT {JOINED_COLUMNS}, NULL FROM (SELECT 1) AS one \
                     LEFT JOIN todos AS page ON page.id = ? AND page.owner = ?"
                ),
                &[SqlValue::Integer(id.get()), self.owner_param()],
            )?,
        };
        let Some(row) = rows.first().and_then(present) else {
            return Ok(None);
        };
        check_marker(row.get(5))?;
        versioned_from_row(row).map(Some)
    }

    fn list(&self, query: &ListQuery) -> StoreResult<ListPage> {
        if !query.is_by_id_and_completion() {
            return self.search(query);
        }
        let owner = self.owner_param();
        let (counted, filter, filter_params) = match query.is_complete {
            Some(flag) => (
                if flag { "done_todos" } else { "open_todos" },
                "WHERE owner = ? AND is_complete = ?",
                vec![owner.clone(), SqlValue::Integer(i64::from(flag))],
            ),
            None => (
                "open_todos + done_todos",
                "WHERE owner = ?",
                vec![owner.clone()],
            ),
        };
        // PostgreSQL sums BIGINTs as NUMERIC: the cast keeps it an integer.
        self.counted_page(
            &format!(
                "SELECT CAST(COALESCE(SUM({counted}), 0) AS BIGINT) AS total, {} AS marker \
                 FROM owner_stats WHERE owner = ?",
                self.scope.marker()
            ),
            vec![owner],
            &format!("SELECT {COLUMNS} FROM todos {filter}"),
            "id",
            filter_params,
            query,
        )
    }

    fn list_version(&self) -> StoreResult<u64> {
        // One row, 0 where the owner has had no todo yet.
        let rows = self.query(
            &format!(
                "SELECT COALESCE(MAX(version), 0), {} FROM owner_stats WHERE owner = ?",
                self.scope.marker()
            ),
            &[self.owner_param()],
        )?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("the collection's version has no row".into()))?;
        check_marker(row.get(1))?;
        let version =
            row.first().and_then(as_i64).ok_or_else(|| {
                StoreError::Corrupt("the collection's version does not read".into())
            })? as u64;
        // Every owner's count starts at 0: its name goes into the version, so that no two
        // owners' lists share a tag (a browser that changes tokens must not revalidate one
        // owner's cached list with another's version).
        Ok(match self.scope.owner() {
            "" => version,
            owner => fnv1a(fnv1a(FNV_START, owner.as_bytes()), &version.to_le_bytes()),
        })
    }

    fn take_token(&self, bucket: &str, limit: &RateLimit) -> StoreResult<Admission> {
        let (interval, tolerance) = (limit.interval_us(), limit.tolerance_us());
        let params = [
            SqlValue::Text(bucket.to_owned()),
            SqlValue::Integer(interval),
            SqlValue::Integer(tolerance),
            SqlValue::Integer(tolerance),
            SqlValue::Integer(interval),
        ];
        let sql = take_token_sql(E::DIALECT);
        // On SQLite in a `BEGIN IMMEDIATE` transaction: a lone upsert reads before it writes,
        // and a reader that cannot upgrade to a writer is refused at once (SQLITE_BUSY,
        // no waiting), where the immediate lock waits its turn. PostgreSQL waits on the
        // row either way.
        let rows = match E::DIALECT {
            Dialect::Sqlite => self
                .write(&[Statement::Query(&sql, &params)])?
                .into_iter()
                .next()
                .unwrap_or_default(),
            Dialect::Postgres => self.query(&sql, &params)?,
        };
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("a bucket's upsert returned no row".into()))?;
        let (Some(tat), Some(admitted), Some(now)) = (
            row.first().and_then(as_i64),
            row.get(1).and_then(as_i64),
            row.get(2).and_then(as_i64),
        ) else {
            return Err(StoreError::Corrupt("a bucket's row does not read".into()));
        };
        // Buckets whose TAT has passed are as good as none: about one request in 64 removes
        // them, so the table holds only the clients of the last period or so.
        if (tat / 1000) % 64 == 0 {
            let _ = self.remove_idle_buckets(now);
        }
        Ok(Admission {
            admitted: admitted == 1,
            tat_us: tat,
            now_us: now,
        })
    }

    fn update(
        &self,
        id: TodoId,
        expected_revision: u64,
        fields: &TodoFields,
    ) -> StoreResult<Written<Versioned>> {
        let mut params = field_params(fields);
        params.push(SqlValue::Integer(id.get()));
        params.push(self.owner_param());
        params.push(revision_param(expected_revision));
        let update = "UPDATE todos SET title = ?, is_complete = ?, due_by = ?, title_folded = ?, \
             revision = revision + 1 WHERE id = ? AND owner = ? AND revision = ?";
        let state = completion(fields);
        let target = [SqlValue::Integer(id.get())];
        let recount = [
            target[0].clone(),
            state.clone(),
            target[0].clone(),
            state,
            self.owner_param(),
            target[0].clone(),
            self.owner_param(),
            revision_param(expected_revision),
        ];
        let mut statements = vec![
            Statement::Execute(RECOUNT_CHANGE, &recount),
            Statement::Execute(update, &params),
        ];
        if E::DIALECT == Dialect::Sqlite {
            // The todo's title as it is now, whether or not the update applied.
            statements.push(Statement::Execute(
                "INSERT OR REPLACE INTO todo_titles (rowid, title_folded) \
                 SELECT id, title_folded FROM todos WHERE id = ?",
                &target,
            ));
        }
        let written = self.write_to(id, expected_revision, &statements)?;
        // The write found the todo at the revision it asked for, under the transaction's
        // lock: the update changed exactly that row, to these fields.
        Ok(written.map(|()| Versioned {
            todo: Todo::new(id, fields.clone()),
            revision: expected_revision + 1,
        }))
    }

    fn delete(&self, id: TodoId, expected_revision: u64) -> StoreResult<Written<()>> {
        let id_param = SqlValue::Integer(id.get());
        let target = [
            id_param.clone(),
            self.owner_param(),
            revision_param(expected_revision),
        ];
        let recount = [
            id_param.clone(),
            id_param.clone(),
            self.owner_param(),
            id_param.clone(),
            self.owner_param(),
            revision_param(expected_revision),
        ];
        let mut statements = vec![
            Statement::Execute(RECOUNT_DELETE, &recount),
            Statement::Execute(
                "DELETE FROM todos WHERE id = ? AND owner = ? AND revision = ?",
                &target,
            ),
        ];
        let twice = [SqlValue::Integer(id.get()), SqlValue::Integer(id.get())];
        if E::DIALECT == Dialect::Sqlite {
            // Out of the index if the todo is gone.
            statements.push(Statement::Execute(
                "DELETE FROM todo_titles WHERE rowid = ? AND NOT EXISTS \
                 (SELECT 1 FROM todos WHERE id = ?)",
                &twice,
            ));
        }
        self.write_to(id, expected_revision, &statements)
    }
}

impl<E: SqlExecutor> SqlStore<E> {
    /// A list searched by title or in another order than by id, counted as it is paged
    /// ([`SqlStore::counted_page`]). The count is computed once, not per row, and not as
    /// `COUNT(*) OVER ()`, which makes SQLite sort every match before it takes a page:
    /// 100 ms instead of 1 at 100,000 todos. Each order has an index to walk.
    fn search(&self, query: &ListQuery) -> StoreResult<ListPage> {
        match self.search_by(query, true) {
            // `todo_titles` is the plain stand-in where SQLite has no FTS5: scan.
            Err(StoreError::Unavailable(message)) if message.contains("todo_titles") => {
                self.search_by(query, false)
            }
            other => other,
        }
    }

    /// [`SqlStore::search`], through the trigram index where `indexed`.
    fn search_by(&self, query: &ListQuery, indexed: bool) -> StoreResult<ListPage> {
        let mut conditions = vec!["owner = ?"];
        let mut params = vec![self.owner_param()];
        if let Some(flag) = query.is_complete {
            conditions.push("is_complete = ?");
            params.push(SqlValue::Integer(i64::from(flag)));
        }
        if let Some(text) = &query.title_contains {
            conditions.push("title_folded LIKE ? ESCAPE '\\'");
            params.push(SqlValue::Text(format!("%{}%", like_escaped(text))));
            // On SQLite, three characters or more make trigrams for the index to narrow
            // the rows `LIKE` looks at (it still decides); fewer, and it scans.
            if indexed && E::DIALECT == Dialect::Sqlite && text.chars().count() >= 3 {
                conditions.push("id IN (SELECT rowid FROM todo_titles WHERE todo_titles MATCH ?)");
                params.push(SqlValue::Text(format!("\"{}\"", text.replace('"', "\"\""))));
            }
        }
        let filter = format!("WHERE {}", conditions.join(" AND "));
        let order = match query.sort {
            Sort::Id => "id",
            Sort::IdDescending => "id DESC",
            Sort::DueBy => "due_by NULLS LAST, id",
            Sort::DueByDescending => "due_by DESC NULLS LAST, id DESC",
            Sort::Title => "title_folded, id",
            Sort::TitleDescending => "title_folded DESC, id DESC",
        };
        self.counted_page(
            &format!(
                "SELECT COUNT(*) AS total, {} AS marker FROM todos {filter}",
                self.scope.marker()
            ),
            params.clone(),
            &format!("SELECT {COLUMNS}, title_folded FROM todos {filter}"),
            order,
            params,
            query,
        )
    }

    /// One page of `page` (todos' [`COLUMNS`] and whatever `order` names, filtered by
    /// `filter_params`) in `order`, with the `total` and `marker` ([`Scope::marker`]) that
    /// `count` gives (with `count_params`): the count's row, then the page joined to it,
    /// in one statement (one snapshot, and one row even past the last page). The page is
    /// ordered again outside, as a join need not keep its order.
    fn counted_page(
        &self,
        count: &str,
        count_params: Vec<SqlValue>,
        page: &str,
        order: &str,
        filter_params: Vec<SqlValue>,
        query: &ListQuery,
    ) -> StoreResult<ListPage> {
        // The count's parameters, then the page's, then its window.
        let mut params = count_params;
        params.extend(filter_params);
        params.extend(window(query));
        let rows = self.query(
            &format!(
                "SELECT {JOINED_COLUMNS}, counted.total, counted.marker FROM ({count}) AS counted \
                 LEFT JOIN ({page} ORDER BY {order} LIMIT ? OFFSET ?) AS page ON 1 = 1 \
                 ORDER BY {order}"
            ),
            &params,
        )?;
        page_from_rows(&rows)
    }
}

/// A page's `LIMIT` and `OFFSET`. Bounds beyond i64 cannot select anything more than
/// i64::MAX does.
fn window(query: &ListQuery) -> [SqlValue; 2] {
    [
        SqlValue::Integer(i64::try_from(query.limit).unwrap_or(i64::MAX)),
        SqlValue::Integer(i64::try_from(query.offset).unwrap_or(i64::MAX)),
    ]
}

/// A page from rows of [`JOINED_COLUMNS`] and the total: one row with a `NULL` todo where
/// the page is empty.
fn page_from_rows(rows: &[Vec<SqlValue>]) -> StoreResult<ListPage> {
    let total = match rows.first() {
        Some(row) => {
            check_marker(row.get(6))?;
            revision_at(row, 5)?
        }
        None => return Err(StoreError::Corrupt("a page's query returned no row".into())),
    };
    let items = rows
        .iter()
        .filter_map(present)
        .map(versioned_from_row)
        .collect::<StoreResult<_>>()?;
    Ok(ListPage { items, total })
}

/// The row, unless its todo's columns are the `NULL`s of an outer join that found none.
fn present(row: &Vec<SqlValue>) -> Option<&[SqlValue]> {
    (row.first() != Some(&SqlValue::Null)).then_some(row.as_slice())
}

/// `text` as a `LIKE` pattern that matches it literally, under `ESCAPE '\'`.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

impl<E> SqlStore<E> {
    /// The owner this handle's todos belong to, as a parameter (`''`: no owner).
    fn owner_param(&self) -> SqlValue {
        SqlValue::Text(self.scope.owner().to_owned())
    }
}

fn unavailable(SqlError(message): SqlError) -> StoreError {
    StoreError::Unavailable(message)
}

/// The `is_complete` column's value for `fields`.
fn completion(fields: &TodoFields) -> SqlValue {
    SqlValue::Integer(i64::from(fields.is_complete))
}

/// `title`, `is_complete`, `due_by` and `title_folded` of `fields`.
fn field_params(fields: &TodoFields) -> Vec<SqlValue> {
    vec![
        SqlValue::Text(fields.title.as_str().to_owned()),
        completion(fields),
        fields.due_by.as_ref().map_or(SqlValue::Null, |date| {
            SqlValue::Text(date.as_str().to_owned())
        }),
        SqlValue::Text(fold_case(fields.title.as_str())),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_numbers_the_placeholders_sqlite_keeps_them() {
        let sql = "UPDATE t SET a = ? WHERE id = ? AND b LIKE ? ESCAPE '\\'";
        assert_eq!(Dialect::Sqlite.placeholders(sql), sql);
        assert_eq!(
            Dialect::Postgres.placeholders(sql),
            "UPDATE t SET a = $1 WHERE id = $2 AND b LIKE $3 ESCAPE '\\'"
        );
    }

    #[test]
    fn each_dialect_knows_its_words_for_an_older_schema() {
        assert!(Dialect::Sqlite.means_older_schema("no such table: todos"));
        assert!(Dialect::Sqlite.means_older_schema("table todos has no column named title_folded"));
        assert!(Dialect::Postgres.means_older_schema("relation \"todos\" does not exist"));
        assert!(!Dialect::Postgres.means_older_schema("deadlock detected"));
        assert!(!Dialect::Sqlite.means_older_schema("database is locked"));
    }

    // The SQLite schema and its migrations, on a file through rusqlite (what every SQL
    // store must do is tests/store_contract.rs).

    use tempfile::TempDir;

    use crate::store::{ListQuery, Store};
    use crate::testing::RusqliteExecutor;
    use crate::testing::store::{all, fields, id, search_of, totals_of};
    use crate::todo::fold_case;

    /// A database file of its own, which any number of store handles can open.
    struct Sqlite(TempDir);

    impl Sqlite {
        fn new() -> Self {
            Self(TempDir::new().unwrap())
        }
        fn open(&self) -> SqlStore<RusqliteExecutor> {
            SqlStore::new(RusqliteExecutor::open(&self.0.path().join("todos.db")))
        }
    }

    #[test]
    fn the_sqlite_store_creates_its_schema_once_and_records_its_version() {
        let fixture = Sqlite::new();
        let store = fixture.open();
        store.create(&fields("a", false)).unwrap();
        store.migrate().unwrap();
        let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
        let versions: (i64, i64) = db
            .query_row(
                "SELECT COUNT(*), MAX(version) FROM schema_migrations",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(versions, (7, 7));
        assert_eq!(all(&store), vec![1]);
    }

    /// Spin opens a connection per request, and a connection parses the whole schema before
    /// its first statement: a trigger costs every request (~17 µs each, docs/performance.md).
    #[test]
    fn the_sqlite_schema_holds_no_triggers() {
        let fixture = Sqlite::new();
        let store = fixture.open();
        store.create(&fields("a", false)).unwrap();
        let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
        let triggers: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(triggers, 0);
    }

    /// Schema version 3 as an earlier release left it: totals, no folded titles.
    const VERSION_3: &str = "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
        INSERT INTO schema_migrations VALUES (1), (2), (3);
        CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
            is_complete INTEGER NOT NULL DEFAULT 0, due_by TEXT,
            revision INTEGER NOT NULL DEFAULT 1);
        CREATE TABLE todo_totals (is_complete INTEGER PRIMARY KEY, total INTEGER NOT NULL);";

    #[test]
    fn a_version_3_database_gets_folded_titles_before_it_is_searched_or_written() {
        let fixture = Sqlite::new();
        let path = fixture.0.path().join("todos.db");
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(&format!(
            "{VERSION_3}
                 INSERT INTO todo_totals VALUES (0, 3), (1, 0);
                 INSERT INTO todos (title) VALUES ('Buy MILK'), ('STRAẞE fegen'), ('ſoup');"
        ))
        .unwrap();
        let store = fixture.open();
        let search = |text: &str| {
            let page = store
                .list(&ListQuery {
                    title_contains: Some(fold_case(text)),
                    sort: Sort::Title,
                    ..ListQuery::default()
                })
                .unwrap();
            let ids: Vec<i64> = page.items.iter().map(|s| s.todo.id.get()).collect();
            (ids, page.total)
        };
        // The first search finds no folded column, migrates, and folds every title.
        assert_eq!(search("milk"), (vec![1], 1));
        assert_eq!(search("straße"), (vec![2], 1));
        assert_eq!(search("SOUP"), (vec![3], 1));
        assert_eq!(search(""), (vec![1, 3, 2], 3));
        let unfolded: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM todos WHERE title_folded IS NULL",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(unfolded, 0);
        // Migrating again (another instance at the same moment) changes nothing.
        store.migrate().unwrap();
        let version: i64 = db
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(version, 7);
        assert_eq!(search("milk"), (vec![1], 1));
    }

    #[test]
    fn a_version_3_database_is_migrated_by_its_first_write() {
        let fixture = Sqlite::new();
        let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
        db.execute_batch(&format!(
            "{VERSION_3} INSERT INTO todo_totals VALUES (0, 0), (1, 0);"
        ))
        .unwrap();
        let store = fixture.open();
        store.create(&fields("Grüße", false)).unwrap();
        let folded: String = db
            .query_row("SELECT title_folded FROM todos WHERE id = 1", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(folded, "grüße");
    }

    #[test]
    fn a_database_counted_by_triggers_moves_to_counting_writes_with_its_totals() {
        let fixture = Sqlite::new();
        let path = fixture.0.path().join("todos.db");
        // Schema version 2 as an earlier release left it: totals kept by triggers.
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
             INSERT INTO schema_migrations VALUES (1), (2);
             CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
                 is_complete INTEGER NOT NULL DEFAULT 0, due_by TEXT,
                 revision INTEGER NOT NULL DEFAULT 1);
             CREATE TABLE todo_counts (is_complete INTEGER PRIMARY KEY, total INTEGER NOT NULL);
             INSERT INTO todo_counts VALUES (0, 1), (1, 2);
             CREATE TRIGGER todo_counts_insert AFTER INSERT ON todos BEGIN
                 UPDATE todo_counts SET total = total + 1 WHERE is_complete = NEW.is_complete;
             END;
             CREATE TRIGGER todo_counts_delete AFTER DELETE ON todos BEGIN
                 UPDATE todo_counts SET total = total - 1 WHERE is_complete = OLD.is_complete;
             END;
             CREATE TRIGGER todo_counts_update AFTER UPDATE OF is_complete ON todos
                 WHEN OLD.is_complete <> NEW.is_complete BEGIN
                 UPDATE todo_counts SET total = total - 1 WHERE is_complete = OLD.is_complete;
                 UPDATE todo_counts SET total = total + 1 WHERE is_complete = NEW.is_complete;
             END;
             INSERT INTO todos (title, is_complete) VALUES ('a', 0), ('b', 1), ('c', 1);",
        )
        .unwrap();
        let store = fixture.open();
        // A write migrates first (it finds no todo_totals), and is counted once.
        store.create(&fields("d", true)).unwrap();
        assert_eq!(totals_of(&store), (4, 3, 1));
        let left: i64 = db
            .query_row(
                "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger' OR name = 'todo_counts'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn the_sqlite_store_counts_todos_written_before_it_kept_counts() {
        let fixture = Sqlite::new();
        // A database at schema version 1, with todos written before the counting triggers.
        let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
        db.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
             INSERT INTO schema_migrations VALUES (1);
             CREATE TABLE todos (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
                 is_complete INTEGER NOT NULL DEFAULT 0, due_by TEXT,
                 revision INTEGER NOT NULL DEFAULT 1);
             INSERT INTO todos (title, is_complete) VALUES ('a', 0), ('b', 1), ('c', 1);",
        )
        .unwrap();
        let store = fixture.open();
        assert_eq!(totals_of(&store), (3, 2, 1));
        store.create(&fields("d", true)).unwrap();
        assert_eq!(totals_of(&store), (4, 3, 1));
    }

    /// Searches of three characters or more go through the trigram index, which every
    /// write keeps in step: a new title is found, an old one no longer, a deleted todo
    /// not at all; the same answers as the scan of shorter searches.
    #[test]
    fn the_sqlite_store_searches_through_a_trigram_index_every_write_keeps() {
        let fixture = Sqlite::new();
        let store = fixture.open();
        let search = |text: &str| search_of(&store, text);
        store.create(&fields("Buy MILK", false)).unwrap();
        store.create(&fields("Walk the \"dog\"", false)).unwrap();
        store.create(&fields("STRAẞE fegen", false)).unwrap();
        assert_eq!(search("milk"), (vec![1], 1));
        assert_eq!(search("the \"d"), (vec![2], 1));
        assert_eq!(search("straße"), (vec![3], 1));
        assert_eq!(search("mi"), (vec![1], 1));
        assert!(matches!(
            store.update(id(1), 1, &fields("Buy bread", false)).unwrap(),
            Written::Done(_)
        ));
        // A refused write changes nothing in the index either.
        assert!(matches!(
            store
                .update(id(2), 7, &fields("Walk the cat", false))
                .unwrap(),
            Written::Conflict
        ));
        assert!(matches!(store.delete(id(3), 1).unwrap(), Written::Done(())));
        assert_eq!(search("milk"), (vec![], 0));
        assert_eq!(search("bread"), (vec![1], 1));
        assert_eq!(search("dog"), (vec![2], 1));
        assert_eq!(search("cat"), (vec![], 0));
        assert_eq!(search("straße"), (vec![], 0));
        let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
        let plan: String = db
            .query_row(
                "EXPLAIN QUERY PLAN SELECT rowid FROM todo_titles WHERE todo_titles MATCH '\"rea\"'",
                [],
                |row| row.get(3),
            )
            .unwrap();
        assert!(plan.contains("VIRTUAL TABLE"), "{plan}");
    }

    /// Buckets whose TAT has passed are removed; others stay.
    #[test]
    fn idle_rate_buckets_are_removed() {
        let fixture = Sqlite::new();
        let store = fixture.open();
        let long = crate::ratelimit::RateLimit::parse("1/1h").unwrap();
        let short = crate::ratelimit::RateLimit::parse("1000/1s").unwrap();
        let kept = store.take_token("kept", &long).unwrap();
        for bucket in ["a", "b", "c"] {
            store.take_token(bucket, &short).unwrap();
        }
        let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
        let rows = || -> i64 {
            db.query_row("SELECT COUNT(*) FROM rate_buckets", [], |row| row.get(0))
                .unwrap()
        };
        assert_eq!(rows(), 4);
        store.remove_idle_buckets(kept.now_us + 2_000_000).unwrap();
        assert_eq!(rows(), 1);
    }

    #[test]
    fn only_a_missing_fts5_gives_the_stand_in() {
        for lacking in [
            "no such module: fts5",
            "no such tokenizer: trigram",
            "unrecognized option: \"contentless_delete\"",
        ] {
            assert!(lacks_fts5(lacking), "{lacking}");
        }
        assert!(!lacks_fts5("database is locked"));
        assert!(!lacks_fts5("disk I/O error"));
    }

    /// Where SQLite has no FTS5 (here: a plain table took the name first), searches scan,
    /// with the same answers.
    #[test]
    fn without_fts5_the_sqlite_store_searches_by_scanning() {
        let fixture = Sqlite::new();
        let db = rusqlite::Connection::open(fixture.0.path().join("todos.db")).unwrap();
        db.execute_batch(SEARCH_INDEX_STAND_IN).unwrap();
        let store = fixture.open();
        store.create(&fields("Buy MILK", false)).unwrap();
        store.create(&fields("Buy bread", false)).unwrap();
        assert!(matches!(store.delete(id(2), 1).unwrap(), Written::Done(())));
        let page = store
            .list(&ListQuery {
                title_contains: Some(fold_case("buy")),
                ..ListQuery::default()
            })
            .unwrap();
        assert_eq!(page.total, 1);
        assert_eq!(page.items[0].todo.title.as_str(), "Buy MILK");
    }
}
