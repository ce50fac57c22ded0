//! Test support for the store contract suite (`tests/contract`), compiled with the `testing`
//! feature only: a fresh PostgreSQL database per case, the few peeks at stored rows the
//! [`Store`] trait cannot show, and each backend's schema as comparable items.

use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::pg::PgStore;
use crate::rows::{binds, SqlRow};
use crate::sql::Backend;
use crate::{SqliteStore, Store};

/// A store on a new, empty database, or `None` (with a note) when `TEST_DATABASE_URL` is
/// not set.
pub async fn fresh_store(purpose: &str) -> Option<PgStore> {
    let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
        brandstream_domain::testing::skip(
            "postgres",
            &format!("{purpose}: TEST_DATABASE_URL is not set"),
        );
        return None;
    };
    let name = format!(
        "bs_unit_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .expect("TEST_DATABASE_URL reachable");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("TEST_DATABASE_URL must name a database"),
    };
    Some(PgStore::connect(&url, 4, true).await.expect("connect"))
}

/// Peeks at the stored rows for the few assertions the [`Store`] trait cannot express. Each
/// backend answers with its own SQL; the assertions stay in the shared cases.
#[async_trait]
pub trait ContractBackend: Store {
    /// A kit's `tags` column exactly as stored: JSON must be kept as the text the caller's
    /// serialiser wrote (key order and spacing included), the same on both backends.
    async fn kit_tags_text(&self, kit_id: &str) -> String;
    /// A field's `refs` column exactly as stored.
    async fn field_references_text(&self, field_id: &str) -> String;
    /// Deletes a user row directly (no store method does), to check the schema's cascades.
    async fn delete_user_row(&self, user_id: &str);
}

/// The text column `column` of the row `id` of `table`, for a peek.
async fn peek_text(store: &impl Backend, table: &str, column: &str, id: &str) -> String {
    let sql = format!("SELECT {column} AS value FROM {table} WHERE id = $1");
    let mut conn = store.reader().await.expect("connection");
    conn.query_opt(&sql, &binds![id], |row| row.text("value"))
        .await
        .expect("peek")
        .expect("the row exists")
}

#[async_trait]
impl<B: Backend + Store> ContractBackend for B {
    async fn kit_tags_text(&self, kit_id: &str) -> String {
        peek_text(self, "brand_kits", "tags", kit_id).await
    }

    async fn field_references_text(&self, field_id: &str) -> String {
        peek_text(self, "brand_fields", "refs", field_id).await
    }

    async fn delete_user_row(&self, user_id: &str) {
        let mut conn = self.writer().await.expect("connection");
        conn.execute("DELETE FROM users WHERE id = $1", &binds![user_id])
            .await
            .expect("delete user");
    }
}

/// The tables, columns and indexes of a SQLite database, as `table T`, `column T.C` and
/// `index T.I` items (SQLite's internal tables and automatic indexes left out).
pub async fn sqlite_schema(store: &SqliteStore) -> BTreeSet<String> {
    let mut conn = store.reader().await.expect("connection");
    let names = |row: &dyn SqlRow| row.text("name");
    let mut items = BTreeSet::new();
    let tables = conn
        .query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
            &[],
            names,
        )
        .await
        .expect("tables");
    for table in tables {
        let columns = [
            ("column", "SELECT name FROM pragma_table_info($1)"),
            (
                "index",
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 \
                 AND name NOT LIKE 'sqlite_autoindex%'",
            ),
        ];
        for (kind, sql) in columns {
            for name in conn
                .query(sql, &binds![&table], names)
                .await
                .expect("columns and indexes")
            {
                items.insert(format!("{kind} {table}.{name}"));
            }
        }
        items.insert(format!("table {table}"));
    }
    items
}

/// The same items for a PostgreSQL database (schema `public`; primary-key and unique-constraint
/// indexes left out, as SQLite's automatic ones are).
pub async fn postgres_schema(store: &PgStore) -> BTreeSet<String> {
    let client = store.client().await.expect("connection");
    let mut items = BTreeSet::new();
    for row in client
        .query(
            "SELECT table_name, column_name FROM information_schema.columns \
             WHERE table_schema = 'public'",
            &[],
        )
        .await
        .expect("columns")
    {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        items.insert(format!("table {table}"));
        items.insert(format!("column {table}.{column}"));
    }
    for row in client
        .query(
            "SELECT i.tablename, i.indexname FROM pg_indexes i \
             WHERE i.schemaname = 'public' AND NOT EXISTS ( \
                 SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
            &[],
        )
        .await
        .expect("indexes")
    {
        let (table, index): (String, String) = (row.get(0), row.get(1));
        items.insert(format!("index {table}.{index}"));
    }
    items
}
