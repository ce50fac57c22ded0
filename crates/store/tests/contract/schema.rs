//! Both backends end their migration histories at the same schema: the same tables with the
//! same columns, and the same indexes. Where the engines really differ (full-text search,
//! case-insensitive uniqueness) the difference is listed here, so a migration written for one
//! backend only fails this test until its twin exists or the difference is named.

use brandstream_store::testing::{postgres_schema, sqlite_schema};
use brandstream_store::SqliteStore;

/// Schema items only SQLite has, each with the reason. The columns of a table listed here are
/// SQLite's alone too.
const ONLY_SQLITE: &[&str] = &[
    // FTS5 keeps its index in a virtual table and shadow tables (PostgreSQL: a tsvector column
    // and a GIN index on `chunks`).
    "table chunks_fts",
    "table chunks_fts_config",
    "table chunks_fts_data",
    "table chunks_fts_docsize",
    "table chunks_fts_idx",
];

/// Schema items only PostgreSQL has, each with the reason.
const ONLY_POSTGRES: &[&str] = &[
    // Full-text search: the search vector of heading and text, and its GIN index.
    "column chunks.search",
    "index chunks.chunks_search",
    // Case-insensitive unique usernames: SQLite declares the column `UNIQUE COLLATE NOCASE`
    // (an automatic index); PostgreSQL indexes `lower(username)`.
    "index users.users_unique_name",
];

/// Whether `item` is one of the `named` differences, or a column of a table that is.
fn named(item: &str, named: &[&str]) -> bool {
    named.contains(&item)
        || item.strip_prefix("column ").is_some_and(|column| {
            column
                .split_once('.')
                .is_some_and(|(table, _)| named.contains(&format!("table {table}").as_str()))
        })
}

#[tokio::test]
async fn both_backends_end_at_the_same_schema() {
    let Some(postgres) = brandstream_store::testing::fresh_store("schema equality").await else {
        return;
    };
    let directory = tempfile::tempdir().expect("temporary directory");
    let sqlite = SqliteStore::open(&directory.path().join("db.sqlite"))
        .await
        .expect("open SQLite store");
    let sqlite = sqlite_schema(&sqlite).await;
    let postgres = postgres_schema(&postgres).await;
    let only_sqlite: Vec<&String> = sqlite
        .difference(&postgres)
        .filter(|item| !named(item, ONLY_SQLITE))
        .collect();
    let only_postgres: Vec<&String> = postgres
        .difference(&sqlite)
        .filter(|item| !named(item, ONLY_POSTGRES))
        .collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "the schemas differ beyond the named differences:\n only in SQLite: {only_sqlite:#?}\n \
         only in PostgreSQL: {only_postgres:#?}"
    );
    // The named differences are real: a list entry that no longer differs must go.
    for item in ONLY_SQLITE {
        assert!(
            sqlite.contains(*item) && !postgres.contains(*item),
            "{item}"
        );
    }
    for item in ONLY_POSTGRES {
        assert!(
            postgres.contains(*item) && !sqlite.contains(*item),
            "{item}"
        );
    }
}
