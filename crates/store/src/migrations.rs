//! The schema history, written once for both backends.
//!
//! Each step is one file `migrations/<NNNN>_<name>.sql` in PostgreSQL's SQL. SQLite reads the
//! same text with its column types spelled its way (see [`sqlite_types`]); where the engines
//! really differ (full-text search, case-insensitive uniqueness, a partial index's predicate),
//! a file holds both forms between marker lines:
//!
//! ```sql
//! -- dialect: postgres
//! CREATE INDEX chunks_search ON chunks USING GIN (search);
//! -- dialect: sqlite
//! CREATE VIRTUAL TABLE chunks_fts USING fts5(heading, text);
//! -- dialect: end
//! ```
//!
//! The two histories number their steps apart (SQLite caught up on two steps PostgreSQL had
//! from the start), so each step names its version per backend, or none where it does not
//! apply. Applied versions are recorded in `brandstream_migrations`; a step runs once.

use crate::sql::Dialect;

/// One step of the history: its name, its SQL (with dialect blocks) and its version on each
/// backend (`None`: the step does not exist there).
struct Step {
    name: &'static str,
    sql: &'static str,
    sqlite: Option<i64>,
    postgres: Option<i64>,
}

/// A [`Step`] from `migrations/<file>.sql`, embedded at compile time.
macro_rules! step {
    ($file:literal, sqlite: $sqlite:expr, postgres: $postgres:expr) => {
        Step {
            name: $file,
            sql: include_str!(concat!("../migrations/", $file, ".sql")),
            sqlite: $sqlite,
            postgres: $postgres,
        }
    };
}

/// The whole history in the order it was written.
const HISTORY: &[Step] = &[
    step!("0001_token_service", sqlite: Some(1), postgres: Some(1)),
    step!("0002_brand_kits", sqlite: Some(2), postgres: Some(2)),
    step!("0003_documents_and_runs", sqlite: Some(3), postgres: Some(3)),
    step!("0004_portal", sqlite: Some(4), postgres: Some(4)),
    step!("0005_leases", sqlite: Some(5), postgres: None),
    step!("0006_search_form", sqlite: Some(6), postgres: Some(5)),
    step!("0007_document_charset", sqlite: Some(7), postgres: Some(6)),
    step!("0008_shared_indexes", sqlite: Some(8), postgres: None),
    step!("0009_chunk_embeddings", sqlite: Some(9), postgres: Some(7)),
    step!("0010_chunk_blocks", sqlite: Some(10), postgres: Some(8)),
];

/// A migration as a backend applies it.
pub(crate) struct Migration {
    pub(crate) version: i64,
    /// The file's name without its number, as `brandstream_migrations.name` records it.
    pub(crate) name: &'static str,
    pub(crate) sql: String,
}

/// The migrations of `dialect`, in order, with their SQL in that dialect.
pub(crate) fn migrations(dialect: Dialect) -> Vec<Migration> {
    HISTORY
        .iter()
        .filter_map(|step| {
            let version = dialect.pick(step.sqlite, step.postgres)?;
            let name = step
                .name
                .split_once('_')
                .map_or(step.name, |(_, name)| name);
            Some(Migration {
                version,
                name,
                sql: render(step.sql, dialect),
            })
        })
        .collect()
}

/// The marker line that starts a block for one dialect, or ends it (`end`).
const MARKER: &str = "-- dialect: ";

/// `template` for `dialect`: the blocks of the other dialect left out, the markers dropped and,
/// for SQLite, the column types mapped.
fn render(template: &str, dialect: Dialect) -> String {
    let mut kept = String::with_capacity(template.len());
    let mut only: Option<&str> = None;
    for line in template.lines() {
        if let Some(which) = line.trim().strip_prefix(MARKER) {
            only = match which.trim() {
                "end" => None,
                other => Some(other),
            };
            continue;
        }
        if only.is_none_or(|which| which == dialect.pick("sqlite", "postgres")) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    match dialect {
        Dialect::Sqlite => sqlite_types(&kept),
        Dialect::Postgres => kept,
    }
}

/// PostgreSQL's column types in SQLite's spelling: an identity key becomes an
/// `INTEGER PRIMARY KEY AUTOINCREMENT` (a rowid alias that is never reused), `BIGINT` and
/// `BOOLEAN` become `INTEGER` (flags are stored 0/1, so `FALSE`/`TRUE` defaults become
/// `0`/`1`) and `BYTEA` becomes `BLOB`. Only whole upper-case words are mapped.
fn sqlite_types(sql: &str) -> String {
    let sql = sql.replace(
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "INTEGER PRIMARY KEY AUTOINCREMENT",
    );
    let mut out = String::with_capacity(sql.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(match word.as_str() {
            "BIGINT" | "BOOLEAN" => "INTEGER",
            "BYTEA" => "BLOB",
            "FALSE" => "0",
            "TRUE" => "1",
            other => other,
        });
        word.clear();
    };
    for c in sql.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_blocks_and_sqlite_types() {
        let template =
            "CREATE TABLE t (\n    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    \
            flag BOOLEAN NOT NULL DEFAULT FALSE,\n    data BYTEA,\n    bigint_count BIGINT\n);\n\
            -- dialect: postgres\nCREATE INDEX a ON t (flag) WHERE flag;\n\
            -- dialect: sqlite\nCREATE INDEX a ON t (flag) WHERE flag = 1;\n-- dialect: end\n";
        assert_eq!(
            render(template, Dialect::Sqlite),
            "CREATE TABLE t (\n    id INTEGER PRIMARY KEY AUTOINCREMENT,\n    \
             flag INTEGER NOT NULL DEFAULT 0,\n    data BLOB,\n    bigint_count INTEGER\n);\n\
             CREATE INDEX a ON t (flag) WHERE flag = 1;\n"
        );
        assert_eq!(
            render(template, Dialect::Postgres),
            "CREATE TABLE t (\n    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    \
             flag BOOLEAN NOT NULL DEFAULT FALSE,\n    data BYTEA,\n    bigint_count BIGINT\n);\n\
             CREATE INDEX a ON t (flag) WHERE flag;\n"
        );
    }

    #[test]
    fn every_block_is_closed_and_names_a_dialect() {
        for step in HISTORY {
            let mut open = false;
            for line in step.sql.lines() {
                if let Some(which) = line.trim().strip_prefix(MARKER) {
                    assert!(
                        matches!(which.trim(), "sqlite" | "postgres" | "end"),
                        "{}: unknown marker {line:?}",
                        step.name
                    );
                    open = which.trim() != "end";
                }
            }
            assert!(!open, "{}: a dialect block is not closed", step.name);
        }
    }

    #[test]
    fn versions_increase_on_each_backend() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let versions: Vec<i64> = migrations(dialect).iter().map(|m| m.version).collect();
            let expected: Vec<i64> = (1..=versions.len() as i64).collect();
            assert_eq!(versions, expected);
        }
    }
}
