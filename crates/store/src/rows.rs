//! What both SQL backends share: each record's columns in one order, the function that builds
//! the record from a row (written once against [`SqlRow`], which rusqlite's and
//! tokio-postgres' rows both implement) and the values a record is written with (a list of
//! [`Bind`], which both drivers accept as parameters).
//!
//! The two schemas store the same values with the same names; they differ only in how a flag
//! is stored (SQLite `INTEGER` 0/1, PostgreSQL `BOOLEAN`), which the implementations absorb.
//! JSON columns are text on both, holding the serialized form written by the application.

use brandstream_domain::OrgId;
use serde_json::Value;

use crate::brand::{FieldRecord, KitRecord, SectionRecord};
use crate::documents::{
    document_status_column, run_status_column, ChunkRecord, DocumentRecord, RunRecord,
};
use crate::{StoreError, StoreResult};

/// Columns of `brand_kits`: first those fixed at creation, then [`KIT_UPDATE_COLUMNS`], in
/// the order of [`kit_values`].
pub(crate) const KIT_COLUMNS: &str =
    "id, org_id, created_at, created_by, name, description, brand_name, company_name, logo, \
     industry, status, parent_id, parent_type, tags, refs, locked, version, updated_at, \
     updated_by, deleted_at";
/// The columns of `brand_kits` an update writes.
pub(crate) const KIT_UPDATE_COLUMNS: &str =
    "name, description, brand_name, company_name, logo, industry, status, parent_id, \
     parent_type, tags, refs, locked, version, updated_at, updated_by, deleted_at";
/// Columns of `brand_sections`, in the order of [`section_values`].
pub(crate) const SECTION_COLUMNS: &str =
    "id, kit_id, name, position, deletable, predefined, properties, version, \
     created_at, created_by, updated_at, updated_by, deleted_at";
/// The columns of `brand_sections` an update writes.
pub(crate) const SECTION_UPDATE_COLUMNS: &str =
    "name, position, deletable, properties, version, updated_at, updated_by, deleted_at";
/// Columns of `brand_fields` (subsections), in the order of [`field_values`].
pub(crate) const FIELD_COLUMNS: &str =
    "id, section_id, kit_id, name, field_type, position, value, intent, refs, \
     deletable, verified, ai_editable, predefined, properties, version, created_at, created_by, \
     updated_at, updated_by";

/// The columns of `brand_fields` an update writes.
pub(crate) const FIELD_UPDATE_COLUMNS: &str =
    "name, position, value, intent, refs, deletable, verified, ai_editable, properties, \
     version, updated_at, updated_by";

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

    /// The `org_id` column as an organisation id.
    fn org(&self) -> StoreResult<OrgId> {
        OrgId::parse(&self.text("org_id")?).map_err(|e| StoreError::Corrupt(e.to_string()))
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

/// A kit from a row holding [`KIT_COLUMNS`].
pub(crate) fn kit_from_row(row: &dyn SqlRow) -> StoreResult<KitRecord> {
    Ok(KitRecord {
        id: row.text("id")?.into(),
        org_id: row.org()?,
        name: row.text("name")?,
        description: row.opt_text("description")?,
        brand_name: row.opt_text("brand_name")?,
        company_name: row.opt_text("company_name")?,
        logo: row.opt_text("logo")?,
        industry: row.opt_text("industry")?,
        status: row.text("status")?,
        parent_id: row.opt_text("parent_id")?,
        parent_type: row.opt_text("parent_type")?,
        tags: row.json("tags")?,
        references: row.json("refs")?,
        locked: row.flag("locked")?,
        version: row.int("version")?,
        created_at: row.int("created_at")?,
        created_by: row.text("created_by")?,
        updated_at: row.int("updated_at")?,
        updated_by: row.text("updated_by")?,
        deleted_at: row.opt_int("deleted_at")?,
    })
}

/// A section from a row holding [`SECTION_COLUMNS`].
pub(crate) fn section_from_row(row: &dyn SqlRow) -> StoreResult<SectionRecord> {
    Ok(SectionRecord {
        id: row.text("id")?.into(),
        kit_id: row.text("kit_id")?.into(),
        name: row.text("name")?,
        order: row.int("position")?,
        deletable: row.flag("deletable")?,
        predefined: row.flag("predefined")?,
        properties: row.json("properties")?,
        version: row.int("version")?,
        created_at: row.int("created_at")?,
        created_by: row.text("created_by")?,
        updated_at: row.int("updated_at")?,
        updated_by: row.text("updated_by")?,
        deleted_at: row.opt_int("deleted_at")?,
    })
}

/// A field (subsection) from a row holding [`FIELD_COLUMNS`].
pub(crate) fn field_from_row(row: &dyn SqlRow) -> StoreResult<FieldRecord> {
    Ok(FieldRecord {
        id: row.text("id")?.into(),
        section_id: row.text("section_id")?.into(),
        kit_id: row.text("kit_id")?.into(),
        name: row.text("name")?,
        field_type: row.text("field_type")?,
        order: row.opt_int("position")?,
        value: row.json("value")?,
        intent: row.opt_text("intent")?,
        references: row.json("refs")?,
        deletable: row.flag("deletable")?,
        verified: row.opt_flag("verified")?,
        ai_editable: row.flag("ai_editable")?,
        predefined: row.flag("predefined")?,
        properties: row.json("properties")?,
        version: row.int("version")?,
        created_at: row.int("created_at")?,
        created_by: row.text("created_by")?,
        updated_at: row.int("updated_at")?,
        updated_by: row.text("updated_by")?,
    })
}

/// Columns of `documents`: first those fixed at upload, then [`DOCUMENT_UPDATE_COLUMNS`], in
/// the order of [`document_values`].
pub(crate) const DOCUMENT_COLUMNS: &str =
    "id, org_id, url, file_id, file_type, file_name, size, sha256, created_at, created_by, \
     charset, status, doc_type, title, summary, number_of_pages, page_range_from, \
     page_range_to, tags, refs, chunked, summarized, message, version, updated_at, updated_by, \
     deleted_at";
/// The columns of `documents` an update writes.
pub(crate) const DOCUMENT_UPDATE_COLUMNS: &str =
    "status, doc_type, title, summary, number_of_pages, page_range_from, page_range_to, tags, \
     refs, chunked, summarized, message, version, updated_at, updated_by, deleted_at";
/// Columns of `chunks`, qualified by the alias `c`.
pub(crate) const CHUNK_COLUMNS: &str = "c.id, c.document_id, c.org_id, c.ordinal, c.headings, \
     c.text, c.page_start, c.page_end, c.created_at";
/// Columns a chunk is written with, in the order of [`chunk_values`] (`heading` is its
/// headings joined, for the full-text index).
pub(crate) const CHUNK_INSERT_COLUMNS: &str = "id, document_id, org_id, ordinal, heading, \
     headings, text, page_start, page_end, created_at";
/// Columns of `pipeline_runs`.
pub(crate) const RUN_COLUMNS: &str =
    "id, org_id, pipeline_id, kit_id, parameters, status, message, progress, run_start, \
     run_end, duration_ms, attempts, lease_owner, lease_until, created_at, created_by, \
     updated_at, updated_by";

/// A document from a row holding [`DOCUMENT_COLUMNS`]; an unknown status is corrupt.
pub(crate) fn document_from_row(row: &dyn SqlRow) -> StoreResult<DocumentRecord> {
    Ok(DocumentRecord {
        id: row.text("id")?.into(),
        org_id: row.org()?,
        status: document_status_column(&row.text("status")?)?,
        doc_type: row.text("doc_type")?,
        title: row.text("title")?,
        summary: row.opt_text("summary")?,
        url: row.text("url")?,
        file_id: row.text("file_id")?,
        file_type: row.text("file_type")?,
        file_name: row.opt_text("file_name")?,
        size: row.int("size")?,
        sha256: row.text("sha256")?,
        number_of_pages: row.int("number_of_pages")?,
        page_range_from: row.opt_int("page_range_from")?,
        page_range_to: row.opt_int("page_range_to")?,
        tags: row.json("tags")?,
        references: row.json("refs")?,
        chunked: row.flag("chunked")?,
        summarized: row.flag("summarized")?,
        message: row.text("message")?,
        version: row.int("version")?,
        created_at: row.int("created_at")?,
        created_by: row.text("created_by")?,
        updated_at: row.int("updated_at")?,
        updated_by: row.text("updated_by")?,
        deleted_at: row.opt_int("deleted_at")?,
        charset: row.opt_text("charset")?,
    })
}

/// A chunk from a row holding [`CHUNK_COLUMNS`].
pub(crate) fn chunk_from_row(row: &dyn SqlRow) -> StoreResult<ChunkRecord> {
    Ok(ChunkRecord {
        id: row.text("id")?.into(),
        document_id: row.text("document_id")?.into(),
        org_id: row.org()?,
        ordinal: row.int("ordinal")?,
        headings: serde_json::from_value(row.json("headings")?)
            .map_err(|e| StoreError::Corrupt(format!("headings: {e}")))?,
        text: row.text("text")?,
        page_start: row.int("page_start")?,
        page_end: row.int("page_end")?,
        created_at: row.int("created_at")?,
    })
}

/// A pipeline run from a row holding [`RUN_COLUMNS`]; an unknown status is corrupt.
pub(crate) fn run_from_row(row: &dyn SqlRow) -> StoreResult<RunRecord> {
    Ok(RunRecord {
        id: row.text("id")?.into(),
        org_id: row.org()?,
        pipeline_id: row.text("pipeline_id")?,
        kit_id: row.text("kit_id")?.into(),
        parameters: row.json("parameters")?,
        status: run_status_column(&row.text("status")?)?,
        message: row.text("message")?,
        progress: row.json("progress")?,
        run_start: row.opt_int("run_start")?,
        run_end: row.opt_int("run_end")?,
        duration_ms: row.int("duration_ms")?,
        attempts: row.int("attempts")?,
        lease_owner: row.opt_text("lease_owner")?,
        lease_until: row.opt_int("lease_until")?,
        created_at: row.int("created_at")?,
        created_by: row.text("created_by")?,
        updated_at: row.int("updated_at")?,
        updated_by: row.text("updated_by")?,
    })
}

/// A value bound to a statement parameter, accepted by both drivers: text, a 64-bit integer
/// (`BIGINT`), a flag (SQLite `INTEGER` 0/1, PostgreSQL `BOOLEAN`), each possibly NULL.
#[derive(Debug)]
pub(crate) enum Bind<'a> {
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
impl<'a> From<Option<&'a str>> for Bind<'a> {
    fn from(text: Option<&'a str>) -> Self {
        Bind::OptText(text)
    }
}
impl<'a> From<&'a Option<String>> for Bind<'a> {
    fn from(text: &'a Option<String>) -> Self {
        Bind::OptText(text.as_deref())
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
impl From<Option<i64>> for Bind<'_> {
    fn from(value: Option<i64>) -> Self {
        Bind::OptInt(value)
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

/// Record ids bind as their text.
macro_rules! bind_ids {
    ($($id:ty),*) => {$(
        impl<'a> From<&'a $id> for Bind<'a> {
            fn from(id: &'a $id) -> Self {
                Bind::Text(id.as_str())
            }
        }
    )*};
}
bind_ids!(
    brandstream_domain::BrandKitId,
    brandstream_domain::SectionId,
    brandstream_domain::FieldId,
    brandstream_domain::DocumentId,
    brandstream_domain::ChunkId,
    brandstream_domain::RunId
);

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

/// `INSERT INTO table (columns) VALUES (?1, …)` (or `$1, …`), one placeholder per column.
pub(crate) fn insert_statement(table: &str, columns: &str, sign: char) -> String {
    insert_rows_statement(table, columns, 1, sign)
}

/// `INSERT INTO table (columns) VALUES (?1, …), (…), …` (or `$N`) for `rows` rows, numbered
/// row after row: the values of all rows, each in `columns` order, flattened.
pub(crate) fn insert_rows_statement(table: &str, columns: &str, rows: usize, sign: char) -> String {
    let width = columns.split(',').count();
    let rows: Vec<String> = (0..rows)
        .map(|row| {
            let placeholders: Vec<String> = (1..=width)
                .map(|column| format!("{sign}{}", row * width + column))
                .collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    format!("INSERT INTO {table} ({columns}) VALUES {}", rows.join(", "))
}

/// One row's versioned update: `UPDATE table SET column = ?1, … WHERE key = ?n AND …` (or
/// `$N`), the columns' values first, then the keys' (the last key is the expected version).
pub(crate) struct RowUpdate<'a> {
    pub(crate) table: &'static str,
    pub(crate) columns: &'static str,
    pub(crate) keys: [&'static str; 3],
    pub(crate) values: Vec<Bind<'a>>,
}

impl RowUpdate<'_> {
    /// The statement, with `sign` (`?` or `$`) before each placeholder number.
    pub(crate) fn sql(&self, sign: char) -> String {
        let columns: Vec<&str> = self.columns.split(',').map(str::trim).collect();
        let assignments: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(index, column)| format!("{column} = {sign}{}", index + 1))
            .collect();
        let conditions: Vec<String> = self
            .keys
            .iter()
            .enumerate()
            .map(|(index, key)| format!("{key} = {sign}{}", columns.len() + index + 1))
            .collect();
        format!(
            "UPDATE {} SET {} WHERE {}",
            self.table,
            assignments.join(", "),
            conditions.join(" AND ")
        )
    }
}

/// A kit's values in [`KIT_COLUMNS`] order.
pub(crate) fn kit_values(kit: &KitRecord) -> Vec<Bind<'_>> {
    vec![
        Bind::Text(&kit.id),
        Bind::Text(kit.org_id.as_str()),
        Bind::Int(kit.created_at),
        Bind::Text(&kit.created_by),
        Bind::Text(&kit.name),
        Bind::OptText(kit.description.as_deref()),
        Bind::OptText(kit.brand_name.as_deref()),
        Bind::OptText(kit.company_name.as_deref()),
        Bind::OptText(kit.logo.as_deref()),
        Bind::OptText(kit.industry.as_deref()),
        Bind::Text(&kit.status),
        Bind::OptText(kit.parent_id.as_deref()),
        Bind::OptText(kit.parent_type.as_deref()),
        Bind::Owned(kit.tags.to_string()),
        Bind::Owned(kit.references.to_string()),
        Bind::Flag(kit.locked),
        Bind::Int(kit.version),
        Bind::Int(kit.updated_at),
        Bind::Text(&kit.updated_by),
        Bind::OptInt(kit.deleted_at),
    ]
}

/// A document's values in [`DOCUMENT_COLUMNS`] order.
pub(crate) fn document_values(document: &DocumentRecord) -> Vec<Bind<'_>> {
    vec![
        Bind::Text(&document.id),
        Bind::Text(document.org_id.as_str()),
        Bind::Text(&document.url),
        Bind::Text(&document.file_id),
        Bind::Text(&document.file_type),
        Bind::OptText(document.file_name.as_deref()),
        Bind::Int(document.size),
        Bind::Text(&document.sha256),
        Bind::Int(document.created_at),
        Bind::Text(&document.created_by),
        Bind::OptText(document.charset.as_deref()),
        Bind::Text(document.status.as_str()),
        Bind::Text(&document.doc_type),
        Bind::Text(&document.title),
        Bind::OptText(document.summary.as_deref()),
        Bind::Int(document.number_of_pages),
        Bind::OptInt(document.page_range_from),
        Bind::OptInt(document.page_range_to),
        Bind::Owned(document.tags.to_string()),
        Bind::Owned(document.references.to_string()),
        Bind::Flag(document.chunked),
        Bind::Flag(document.summarized),
        Bind::Text(&document.message),
        Bind::Int(document.version),
        Bind::Int(document.updated_at),
        Bind::Text(&document.updated_by),
        Bind::OptInt(document.deleted_at),
    ]
}

/// A run's values in [`RUN_COLUMNS`] order.
pub(crate) fn run_values(run: &RunRecord) -> Vec<Bind<'_>> {
    vec![
        Bind::Text(&run.id),
        Bind::Text(run.org_id.as_str()),
        Bind::Text(&run.pipeline_id),
        Bind::Text(&run.kit_id),
        Bind::Owned(run.parameters.to_string()),
        Bind::Text(run.status.as_str()),
        Bind::Text(&run.message),
        Bind::Owned(run.progress.to_string()),
        Bind::OptInt(run.run_start),
        Bind::OptInt(run.run_end),
        Bind::Int(run.duration_ms),
        Bind::Int(run.attempts),
        Bind::OptText(run.lease_owner.as_deref()),
        Bind::OptInt(run.lease_until),
        Bind::Int(run.created_at),
        Bind::Text(&run.created_by),
        Bind::Int(run.updated_at),
        Bind::Text(&run.updated_by),
    ]
}

/// A section's values in [`SECTION_COLUMNS`] order.
pub(crate) fn section_values(section: &SectionRecord) -> Vec<Bind<'_>> {
    vec![
        Bind::Text(&section.id),
        Bind::Text(&section.kit_id),
        Bind::Text(&section.name),
        Bind::Int(section.order),
        Bind::Flag(section.deletable),
        Bind::Flag(section.predefined),
        Bind::Owned(section.properties.to_string()),
        Bind::Int(section.version),
        Bind::Int(section.created_at),
        Bind::Text(&section.created_by),
        Bind::Int(section.updated_at),
        Bind::Text(&section.updated_by),
        Bind::OptInt(section.deleted_at),
    ]
}

/// A field's values in [`FIELD_COLUMNS`] order.
pub(crate) fn field_values(field: &FieldRecord) -> Vec<Bind<'_>> {
    vec![
        Bind::Text(&field.id),
        Bind::Text(&field.section_id),
        Bind::Text(&field.kit_id),
        Bind::Text(&field.name),
        Bind::Text(&field.field_type),
        Bind::OptInt(field.order),
        Bind::Owned(field.value.to_string()),
        Bind::OptText(field.intent.as_deref()),
        Bind::Owned(field.references.to_string()),
        Bind::Flag(field.deletable),
        Bind::OptFlag(field.verified),
        Bind::Flag(field.ai_editable),
        Bind::Flag(field.predefined),
        Bind::Owned(field.properties.to_string()),
        Bind::Int(field.version),
        Bind::Int(field.created_at),
        Bind::Text(&field.created_by),
        Bind::Int(field.updated_at),
        Bind::Text(&field.updated_by),
    ]
}

/// A table whose rows are written by versioned updates: its columns in record-value order,
/// those an update writes, and the key naming the row's parent (organisation, kit, section).
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static str,
    pub(crate) update_columns: &'static str,
    pub(crate) parent_key: &'static str,
}

/// `brand_kits`, rows of an organisation.
pub(crate) const KITS: Table = Table {
    name: "brand_kits",
    columns: KIT_COLUMNS,
    update_columns: KIT_UPDATE_COLUMNS,
    parent_key: "org_id",
};
/// `documents`, rows of an organisation.
pub(crate) const DOCUMENTS: Table = Table {
    name: "documents",
    columns: DOCUMENT_COLUMNS,
    update_columns: DOCUMENT_UPDATE_COLUMNS,
    parent_key: "org_id",
};
/// `brand_sections`, rows of a kit.
pub(crate) const SECTIONS: Table = Table {
    name: "brand_sections",
    columns: SECTION_COLUMNS,
    update_columns: SECTION_UPDATE_COLUMNS,
    parent_key: "kit_id",
};
/// `brand_fields`, rows of a section.
pub(crate) const FIELDS: Table = Table {
    name: "brand_fields",
    columns: FIELD_COLUMNS,
    update_columns: FIELD_UPDATE_COLUMNS,
    parent_key: "section_id",
};

impl Table {
    /// The update that writes a record (`values`, in [`Table::columns`] order) to its row, the
    /// one with `parent` and `id`, where the row still has `expected_version`.
    pub(crate) fn update<'a>(
        &self,
        values: Vec<Bind<'a>>,
        parent: &'a str,
        id: &'a str,
        expected_version: i64,
    ) -> RowUpdate<'a> {
        let names: Vec<&str> = self.columns.split(',').map(str::trim).collect();
        let mut values: Vec<Option<Bind<'a>>> = values.into_iter().map(Some).collect();
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

/// A chunk's values in [`CHUNK_INSERT_COLUMNS`] order.
pub(crate) fn chunk_values(chunk: &ChunkRecord) -> StoreResult<Vec<Bind<'_>>> {
    let headings = serde_json::to_string(&chunk.headings)
        .map_err(|e| StoreError::Corrupt(format!("headings: {e}")))?;
    Ok(vec![
        Bind::Text(&chunk.id),
        Bind::Text(&chunk.document_id),
        Bind::Text(chunk.org_id.as_str()),
        Bind::Int(chunk.ordinal),
        Bind::Owned(chunk.headings.join(" / ")),
        Bind::Owned(headings),
        Bind::Text(&chunk.text),
        Bind::Int(chunk.page_start),
        Bind::Int(chunk.page_end),
        Bind::Int(chunk.created_at),
    ])
}
