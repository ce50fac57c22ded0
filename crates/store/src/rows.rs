//! What both SQL backends share: rows read by column name through [`SqlRow`] (which rusqlite's
//! and tokio-postgres' rows both implement), values bound as [`Bind`] (which both drivers
//! accept as parameters) and the statements built from a record's columns
//! ([`crate::record`] declares those).
//!
//! The two schemas store the same values with the same names; they differ only in how a flag
//! is stored (SQLite `INTEGER` 0/1, PostgreSQL `BOOLEAN`), which the implementations absorb.
//! JSON columns are text on both, holding the serialized form written by the application.

use serde_json::Value;

use std::marker::PhantomData;

use crate::brand::{FieldRecord, KitRecord, SectionRecord};
use crate::documents::{ChunkRecord, DocumentRecord, RunRecord};
use crate::record::Stored;
use crate::sql::Backend;
use crate::{StoreError, StoreResult};

/// A result row, read by column name. A value of another type than asked for, or a missing
/// column, is [`StoreError::Corrupt`] naming the column.
pub(crate) trait SqlRow {
    fn text(&self, name: &str) -> StoreResult<String>;
    fn opt_text(&self, name: &str) -> StoreResult<Option<String>>;
    fn int(&self, name: &str) -> StoreResult<i64>;
    fn opt_int(&self, name: &str) -> StoreResult<Option<i64>>;
    /// A `BLOB` (SQLite) or `BYTEA` (PostgreSQL).
    fn bytes(&self, name: &str) -> StoreResult<Vec<u8>>;
    /// A floating-point number (`REAL`, `DOUBLE PRECISION`).
    fn real(&self, name: &str) -> StoreResult<f64>;
    /// A flag (SQLite: `INTEGER`, non-zero is true; PostgreSQL: `BOOLEAN`).
    fn flag(&self, name: &str) -> StoreResult<bool>;
    fn opt_flag(&self, name: &str) -> StoreResult<Option<bool>>;

    /// A JSON column (stored as text).
    fn json(&self, name: &str) -> StoreResult<Value> {
        serde_json::from_str(&self.text(name)?)
            .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
    }

    /// A JSON list of strings (stored as text).
    fn json_list(&self, name: &str) -> StoreResult<Vec<String>> {
        serde_json::from_str(&self.text(name)?)
            .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
    }
}

fn corrupt(name: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {name}: {error}"))
}

/// The getters both drivers answer the same way: `$get` reads a column by name as any type
/// the driver converts to.
macro_rules! typed_getters {
    ($get:ident) => {
        fn text(&self, name: &str) -> StoreResult<String> {
            self.$get(name).map_err(|e| corrupt(name, e))
        }
        fn opt_text(&self, name: &str) -> StoreResult<Option<String>> {
            self.$get(name).map_err(|e| corrupt(name, e))
        }
        fn int(&self, name: &str) -> StoreResult<i64> {
            self.$get(name).map_err(|e| corrupt(name, e))
        }
        fn opt_int(&self, name: &str) -> StoreResult<Option<i64>> {
            self.$get(name).map_err(|e| corrupt(name, e))
        }
        fn bytes(&self, name: &str) -> StoreResult<Vec<u8>> {
            self.$get(name).map_err(|e| corrupt(name, e))
        }
        fn real(&self, name: &str) -> StoreResult<f64> {
            self.$get(name).map_err(|e| corrupt(name, e))
        }
    };
}

impl SqlRow for rusqlite::Row<'_> {
    typed_getters!(get);
    fn flag(&self, name: &str) -> StoreResult<bool> {
        Ok(self.int(name)? != 0)
    }
    fn opt_flag(&self, name: &str) -> StoreResult<Option<bool>> {
        Ok(self.opt_int(name)?.map(|value| value != 0))
    }
}

impl SqlRow for tokio_postgres::Row {
    typed_getters!(try_get);
    fn flag(&self, name: &str) -> StoreResult<bool> {
        self.try_get(name).map_err(|e| corrupt(name, e))
    }
    fn opt_flag(&self, name: &str) -> StoreResult<Option<bool>> {
        self.try_get(name).map_err(|e| corrupt(name, e))
    }
}

/// The columns of `chunks` qualified by the alias `c` (chunk queries join documents `d`).
pub(crate) fn chunk_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| format!("c.{}", ChunkRecord::columns().replace(", ", ", c.")))
}

/// The columns a chunk is written with: its own, then `heading` (its headings joined, for the
/// full-text index).
pub(crate) fn chunk_insert_columns() -> &'static str {
    static COLUMNS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| format!("{}, heading", ChunkRecord::columns()))
}

/// A chunk's values in [`chunk_insert_columns`] order.
pub(crate) fn chunk_values(chunk: &ChunkRecord) -> StoreResult<Vec<Bind<'_>>> {
    let mut values = chunk.values();
    values.push(Bind::Owned(chunk.headings.join(" / ")));
    Ok(values)
}

/// A value bound to a statement parameter, accepted by both drivers: text, a 64-bit integer
/// (`BIGINT`), a flag (SQLite `INTEGER` 0/1, PostgreSQL `BOOLEAN`), each possibly NULL.
#[derive(Debug)]
pub enum Bind<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    /// Text made for the statement (serialized JSON).
    Owned(String),
    Int(i64),
    OptInt(Option<i64>),
    Flag(bool),
    OptFlag(Option<bool>),
    Bytes(&'a [u8]),
}

impl<'a> From<&'a str> for Bind<'a> {
    fn from(text: &'a str) -> Self {
        Bind::Text(text)
    }
}
impl<'a> From<&'a String> for Bind<'a> {
    fn from(text: &'a String) -> Self {
        Bind::Text(text)
    }
}
impl From<String> for Bind<'_> {
    fn from(text: String) -> Self {
        Bind::Owned(text)
    }
}
impl From<i64> for Bind<'_> {
    fn from(value: i64) -> Self {
        Bind::Int(value)
    }
}
impl From<bool> for Bind<'_> {
    fn from(flag: bool) -> Self {
        Bind::Flag(flag)
    }
}
impl<'a> From<&'a [u8]> for Bind<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Bind::Bytes(bytes)
    }
}
impl<'a> From<&'a Vec<u8>> for Bind<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        Bind::Bytes(bytes)
    }
}

/// A statement's parameter list: `binds![a, b]` is `[Bind::from(a), Bind::from(b)]`.
macro_rules! binds {
    ($($value:expr),* $(,)?) => {
        [$($crate::rows::Bind::from($value)),*]
    };
}
pub(crate) use binds;

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match self {
            Bind::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Bind::OptText(Some(text)) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Bind::Owned(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            Bind::Int(value) | Bind::OptInt(Some(value)) => {
                ToSqlOutput::Owned(Value::Integer(*value))
            }
            Bind::Flag(flag) | Bind::OptFlag(Some(flag)) => {
                ToSqlOutput::Owned(Value::Integer(i64::from(*flag)))
            }
            Bind::Bytes(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Bind::OptText(None) | Bind::OptInt(None) | Bind::OptFlag(None) => {
                ToSqlOutput::Owned(Value::Null)
            }
        })
    }
}

impl tokio_postgres::types::ToSql for Bind<'_> {
    fn to_sql(
        &self,
        ty: &tokio_postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // Each variant checks the column's type itself: text never lands in a BIGINT column.
        match self {
            Bind::Text(text) => text.to_sql_checked(ty, out),
            Bind::OptText(text) => text.to_sql_checked(ty, out),
            Bind::Owned(text) => text.to_sql_checked(ty, out),
            Bind::Int(value) => value.to_sql_checked(ty, out),
            Bind::OptInt(value) => value.to_sql_checked(ty, out),
            Bind::Flag(flag) => flag.to_sql_checked(ty, out),
            Bind::OptFlag(flag) => flag.to_sql_checked(ty, out),
            Bind::Bytes(bytes) => bytes.to_sql_checked(ty, out),
        }
    }

    fn accepts(ty: &tokio_postgres::types::Type) -> bool {
        <&str as tokio_postgres::types::ToSql>::accepts(ty)
            || <i64 as tokio_postgres::types::ToSql>::accepts(ty)
            || <bool as tokio_postgres::types::ToSql>::accepts(ty)
            || <&[u8] as tokio_postgres::types::ToSql>::accepts(ty)
    }

    tokio_postgres::types::to_sql_checked!();
}

/// `INSERT INTO table (columns) VALUES ($1, …)`, one placeholder per column.
pub(crate) fn insert_statement(table: &str, columns: &str) -> String {
    insert_rows_statement(table, columns, 1)
}

/// `INSERT INTO table (columns) VALUES ($1, …), (…), …` for `rows` rows, numbered row after
/// row: the values of all rows, each in `columns` order, flattened.
pub(crate) fn insert_rows_statement(table: &str, columns: &str, rows: usize) -> String {
    let width = columns.split(',').count();
    let rows: Vec<String> = (0..rows)
        .map(|row| {
            let placeholders: Vec<String> = (1..=width)
                .map(|column| format!("${}", row * width + column))
                .collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    format!("INSERT INTO {table} ({columns}) VALUES {}", rows.join(", "))
}

/// One row's versioned update: `UPDATE table SET column = $1, … WHERE key = $n AND …`, the
/// columns' values first, then the keys' (the last key is the expected version).
pub(crate) struct RowUpdate<'a> {
    pub(crate) table: &'static str,
    pub(crate) columns: &'static str,
    pub(crate) keys: [&'static str; 3],
    pub(crate) values: Vec<Bind<'a>>,
}

impl RowUpdate<'_> {
    /// The statement.
    pub(crate) fn sql(&self) -> String {
        let columns: Vec<&str> = self.columns.split(',').map(str::trim).collect();
        let assignments: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(index, column)| format!("{column} = ${}", index + 1))
            .collect();
        let conditions: Vec<String> = self
            .keys
            .iter()
            .enumerate()
            .map(|(index, key)| format!("{key} = ${}", columns.len() + index + 1))
            .collect();
        format!(
            "UPDATE {} SET {} WHERE {}",
            self.table,
            assignments.join(", "),
            conditions.join(" AND ")
        )
    }
}

/// A table whose rows (records `R`) are written by versioned updates: the columns an update
/// writes, and the key naming the row's parent (organisation, kit, section).
pub(crate) struct Table<R> {
    pub(crate) name: &'static str,
    pub(crate) update_columns: &'static str,
    pub(crate) parent_key: &'static str,
    record: PhantomData<fn() -> R>,
}

/// `brand_kits`, rows of an organisation.
pub(crate) const KITS: Table<KitRecord> = Table {
    name: "brand_kits",
    update_columns: "name, description, brand_name, company_name, logo, industry, status, \
                     parent_id, parent_type, tags, refs, locked, version, updated_at, \
                     updated_by, deleted_at",
    parent_key: "org_id",
    record: PhantomData,
};
/// `documents`, rows of an organisation.
pub(crate) const DOCUMENTS: Table<DocumentRecord> = Table {
    name: "documents",
    update_columns: "status, doc_type, title, summary, number_of_pages, page_range_from, \
                     page_range_to, tags, refs, chunked, summarized, message, version, \
                     updated_at, updated_by, deleted_at",
    parent_key: "org_id",
    record: PhantomData,
};
/// `brand_sections`, rows of a kit.
pub(crate) const SECTIONS: Table<SectionRecord> = Table {
    name: "brand_sections",
    update_columns: "name, position, deletable, properties, version, updated_at, updated_by, \
                     deleted_at",
    parent_key: "kit_id",
    record: PhantomData,
};
/// `brand_fields`, rows of a section.
pub(crate) const FIELDS: Table<FieldRecord> = Table {
    name: "brand_fields",
    update_columns: "name, position, value, intent, refs, deletable, verified, ai_editable, \
                     properties, version, updated_at, updated_by",
    parent_key: "section_id",
    record: PhantomData,
};

/// `pipeline_runs`, rows of an organisation (not versioned: never written by [`Table::update`]).
pub(crate) const RUNS: Table<RunRecord> = Table {
    name: "pipeline_runs",
    update_columns: "",
    parent_key: "org_id",
    record: PhantomData,
};

impl<R: Stored + Send> Table<R> {
    /// Stores a new record.
    pub(crate) async fn insert_one(&self, store: &impl Backend, record: &R) -> StoreResult<()>
    where
        R: Sync,
    {
        store.writer().await?.insert(self.name, record).await
    }

    /// Every record under `parent` (deleted ones too), in `order` (byte order where the
    /// engines' text collations differ: [`crate::brand::collated`]).
    pub(crate) async fn list(
        &self,
        store: &impl Backend,
        parent: &str,
        order: &str,
    ) -> StoreResult<Vec<R>> {
        let mut conn = store.reader().await?;
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = $1 ORDER BY {order}",
            R::columns(),
            self.name,
            self.parent_key
        );
        let sql = crate::brand::collated(conn.dialect(), &sql);
        conn.query(&sql, &binds![parent], R::from_row).await
    }

    /// The record `id` under `parent` (deleted ones too), if any.
    pub(crate) async fn get(
        &self,
        store: &impl Backend,
        parent: &str,
        id: &str,
    ) -> StoreResult<Option<R>> {
        let from = format!("{} WHERE {} = $1 AND id = $2", self.name, self.parent_key);
        let mut conn = store.reader().await?;
        conn.select_opt(&from, &binds![parent, id]).await
    }

    /// The update that writes `record` to its row, the one with `parent` and `id`, where the
    /// row still has `expected_version`.
    pub(crate) fn update<'a>(
        &self,
        record: &'a R,
        parent: &'a str,
        id: &'a str,
        expected_version: i64,
    ) -> RowUpdate<'a> {
        let names: Vec<&str> = R::columns().split(", ").collect();
        let mut values: Vec<Option<Bind<'a>>> = record.values().into_iter().map(Some).collect();
        let values = self
            .update_columns
            .split(',')
            .map(str::trim)
            .filter_map(|column| {
                let index = names.iter().position(|name| *name == column);
                debug_assert!(index.is_some(), "{column} is not in {}", self.name);
                index.and_then(|index| values[index].take())
            })
            .chain([
                Bind::Text(parent),
                Bind::Text(id),
                Bind::Int(expected_version),
            ])
            .collect();
        RowUpdate {
            table: self.name,
            columns: self.update_columns,
            keys: [self.parent_key, "id", "version"],
            values,
        }
    }
}
