//! Records and queries of brand kits, sections and subsections (fields).

use async_trait::async_trait;
use brandstream_domain::{BrandKitId, FieldId, OrgId, SectionId};
use serde_json::Value;

use std::borrow::Cow;

use crate::record::{stored_record, Stamp, Stored};
use crate::rows::{binds, Bind, FIELDS, KITS, SECTIONS};
use crate::sql::{duplicate_as, Backend, Dialect, Tx};
use crate::StoreResult;

stored_record! {
    /// A brand kit as stored. Times are Unix microseconds.
    #[derive(Debug, Clone, PartialEq)]
    pub struct KitRecord {
        /// UUID.
        pub id: BrandKitId,
        /// Owning organisation.
        pub org_id: OrgId,
        /// Unique (per organisation, case-insensitively) name.
        pub name: String,
        /// Description.
        pub description: Option<String>,
        /// Brand name.
        pub brand_name: Option<String>,
        /// Company name.
        pub company_name: Option<String>,
        /// Logo URL.
        pub logo: Option<String>,
        /// Industry.
        pub industry: Option<String>,
        /// draft | inprocess | published | failed.
        pub status: String,
        /// Kit this one was derived from.
        pub parent_id: Option<String>,
        /// `brandkit` or empty.
        pub parent_type: Option<String>,
        /// `[{"category", "values"}]`.
        pub tags: Value,
        /// `[{"id", "path", "type"}]`.
        pub references: Value as "refs",
        /// A locked kit refuses changes.
        pub locked: bool,
        /// Incremented on every change; the ETag.
        pub version: i64,
        /// Soft-deletion time.
        pub deleted_at: Option<i64>,
        /// Who made it and changed it last, and when.
        pub stamp: Stamp,
    }
}

stored_record! {
    /// A section.
    #[derive(Debug, Clone, PartialEq)]
    pub struct SectionRecord {
        /// UUID.
        pub id: SectionId,
        /// Owning kit.
        pub kit_id: BrandKitId,
        /// Name.
        pub name: String,
        /// Position.
        pub order: i64 as "position",
        /// Whether people may delete it.
        pub deletable: bool,
        /// Whether it comes from the catalogue.
        pub predefined: bool,
        /// Free-form properties.
        pub properties: Value,
        /// ETag version.
        pub version: i64,
        /// Soft-deletion time.
        pub deleted_at: Option<i64>,
        /// Who made it and changed it last, and when.
        pub stamp: Stamp,
    }
}

stored_record! {
    /// A subsection (field).
    #[derive(Debug, Clone, PartialEq)]
    pub struct FieldRecord {
        /// UUID.
        pub id: FieldId,
        /// Owning section.
        pub section_id: SectionId,
        /// Owning kit.
        pub kit_id: BrandKitId,
        /// Name.
        pub name: String,
        /// text | array | richArray.
        pub field_type: String,
        /// Position.
        pub order: Option<i64> as "position",
        /// The value, validated against the type.
        pub value: Value,
        /// What belongs here.
        pub intent: Option<String>,
        /// `[{"id", "path", "type"}]` sources.
        pub references: Value as "refs",
        /// Whether people may delete it.
        pub deletable: bool,
        /// Verified by a person.
        pub verified: Option<bool>,
        /// Whether ingestion may overwrite the value.
        pub ai_editable: bool,
        /// Whether it comes from the catalogue.
        pub predefined: bool,
        /// Free-form properties.
        pub properties: Value,
        /// ETag version.
        pub version: i64,
        /// Who made it and changed it last, and when.
        pub stamp: Stamp,
    }
}

/// Filters, order and page of a kit listing.
#[derive(Debug, Clone, Default)]
pub struct KitQuery {
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
    /// Substring of name or description (case-insensitive).
    pub search: Option<String>,
    /// Exact status.
    pub status: Option<String>,
    /// Parent kit.
    pub parent_id: Option<String>,
    /// Only these ids (empty = all).
    pub ids: Vec<String>,
    /// Include soft-deleted kits.
    pub include_deleted: bool,
    /// Sort by `updated_at` instead of `created_at`.
    pub sort_by_updated: bool,
    /// Newest first.
    pub descending: bool,
}

/// Brand-kit storage.
#[async_trait]
pub trait BrandStore {
    /// Stores a new kit with its sections and fields in one transaction. A duplicate name
    /// fails with `Duplicate`.
    async fn create_kit(
        &self,
        kit: &KitRecord,
        sections: &[SectionRecord],
        fields: &[FieldRecord],
    ) -> StoreResult<()>;
    /// One page of an organisation's kits and the total matching.
    async fn list_kits(&self, org: &OrgId, query: &KitQuery) -> StoreResult<(i64, Vec<KitRecord>)>;
    /// A kit of the organisation (deleted ones too).
    async fn get_kit(&self, org: &OrgId, id: &str) -> StoreResult<Option<KitRecord>>;
    /// Replaces a kit if its stored version is `expected_version` (the record carries the new
    /// version). Returns false on a version mismatch. A duplicate name fails with `Duplicate`.
    async fn update_kit(&self, kit: &KitRecord, expected_version: i64) -> StoreResult<bool>;
    /// A kit's sections (deleted ones too), by position.
    async fn list_sections(&self, kit_id: &str) -> StoreResult<Vec<SectionRecord>>;
    /// One section of a kit.
    async fn get_section(&self, kit_id: &str, id: &str) -> StoreResult<Option<SectionRecord>>;
    /// Stores a new section.
    async fn insert_section(&self, section: &SectionRecord) -> StoreResult<()>;
    /// Replaces a section if its stored version is `expected_version`.
    async fn update_section(
        &self,
        section: &SectionRecord,
        expected_version: i64,
    ) -> StoreResult<bool>;
    /// A section's fields, by position (unpositioned last), then creation.
    async fn list_fields(&self, section_id: &str) -> StoreResult<Vec<FieldRecord>>;
    /// One page of a section's fields and their total.
    async fn page_fields(
        &self,
        section_id: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(i64, Vec<FieldRecord>)>;
    /// One field of a section.
    async fn get_field(&self, section_id: &str, id: &str) -> StoreResult<Option<FieldRecord>>;
    /// Stores a new field.
    async fn insert_field(&self, field: &FieldRecord) -> StoreResult<()>;
    /// Replaces a field if its stored version is `expected_version`.
    async fn update_field(&self, field: &FieldRecord, expected_version: i64) -> StoreResult<bool>;
    /// Deletes a field. Returns false when it did not exist.
    async fn delete_field(&self, section_id: &str, id: &str) -> StoreResult<bool>;
}

/// The order of a kit's sections: by position, then creation, then id (bytewise, as
/// SQLite's BINARY collation compares, whatever PostgreSQL's database collation).
const SECTION_ORDER: &str = "position, created_at, id COLLATE \"C\"";
/// The order of a section's fields: positioned ones by position, unpositioned last, then by
/// creation, then by id.
const FIELD_ORDER: &str = "position IS NULL, position, created_at, id COLLATE \"C\"";

/// The error a kit insert or rename reports for a name already taken in the organisation.
const DUPLICATE_KIT_NAME: &str = "brand kit name";

/// Inserts fields, in batches; also used by ingestion inside its own transaction.
pub(crate) async fn insert_fields(tx: &mut Tx<'_>, fields: &[FieldRecord]) -> StoreResult<()> {
    tx.insert_rows("brand_fields", FieldRecord::columns(), fields, |field| {
        Ok(field.values())
    })
    .await
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub(crate) fn like_pattern(search: &str) -> String {
    let mut pattern = String::with_capacity(search.len() + 2);
    pattern.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `COLLATE "C"` is PostgreSQL's name for bytewise order; SQLite's BINARY is its default
/// and it has no collation named "C".
pub(crate) fn collated(dialect: Dialect, sql: &str) -> Cow<'_, str> {
    match dialect {
        Dialect::Sqlite => Cow::Owned(sql.replace(" COLLATE \"C\"", "")),
        Dialect::Postgres => Cow::Borrowed(sql),
    }
}

#[async_trait]
impl<B: Backend> BrandStore for B {
    async fn create_kit(
        &self,
        kit: &KitRecord,
        sections: &[SectionRecord],
        fields: &[FieldRecord],
    ) -> StoreResult<()> {
        let mut conn = self.writer().await?;
        let mut tx = conn.begin().await?;
        // The unique name index makes a concurrent creation of the same name wait for this
        // transaction and then fail, so no read-then-insert check is needed.
        tx.insert(KITS.name, kit)
            .await
            .map_err(duplicate_as(DUPLICATE_KIT_NAME))?;
        tx.insert_rows(
            "brand_sections",
            SectionRecord::columns(),
            sections,
            |section| Ok(section.values()),
        )
        .await?;
        insert_fields(&mut tx, fields).await?;
        tx.commit().await
    }

    async fn list_kits(&self, org: &OrgId, query: &KitQuery) -> StoreResult<(i64, Vec<KitRecord>)> {
        let mut conn = self.reader().await?;
        let dialect = conn.dialect();
        let pattern = query.search.as_deref().map(like_pattern);
        let mut binds = vec![Bind::Text(org.as_str())];
        let mut conditions = vec!["org_id = $1".to_owned()];
        if !query.include_deleted {
            conditions.push("deleted_at IS NULL".into());
        }
        if let Some(pattern) = &pattern {
            binds.push(Bind::Text(pattern));
            let n = binds.len();
            // Case-insensitive on both (SQLite's LIKE is).
            let like = dialect.pick("LIKE", "ILIKE");
            conditions.push(format!(
                "(name {like} ${n} ESCAPE '\\' OR COALESCE(description, '') {like} ${n} ESCAPE '\\')"
            ));
        }
        if let Some(status) = &query.status {
            binds.push(Bind::Text(status));
            conditions.push(format!("lower(status) = lower(${})", binds.len()));
        }
        if let Some(parent) = &query.parent_id {
            binds.push(Bind::Text(parent));
            conditions.push(format!("parent_id = ${}", binds.len()));
        }
        if !query.ids.is_empty() {
            let placeholders: Vec<String> = query
                .ids
                .iter()
                .map(|id| {
                    binds.push(Bind::Text(id));
                    format!("${}", binds.len())
                })
                .collect();
            conditions.push(format!("id IN ({})", placeholders.join(", ")));
        }
        let filter = conditions.join(" AND ");
        let order_column = if query.sort_by_updated {
            "updated_at"
        } else {
            "created_at"
        };
        let direction = if query.descending { "DESC" } else { "ASC" };
        let count_sql = format!("SELECT COUNT(*) AS count FROM brand_kits WHERE {filter}");
        let page_sql = format!(
            "SELECT {columns} FROM brand_kits WHERE {filter} \
             ORDER BY {order_column} {direction}, id COLLATE \"C\" {direction} \
             LIMIT ${} OFFSET ${}",
            binds.len() + 1,
            binds.len() + 2,
            columns = KitRecord::columns()
        );
        conn.count_and_page(
            &count_sql,
            binds,
            (query.limit, query.offset),
            &collated(dialect, &page_sql),
            KitRecord::from_row,
        )
        .await
    }

    async fn get_kit(&self, org: &OrgId, id: &str) -> StoreResult<Option<KitRecord>> {
        KITS.get(self, org.as_str(), id).await
    }

    async fn update_kit(&self, kit: &KitRecord, expected_version: i64) -> StoreResult<bool> {
        let update = KITS.update(kit, kit.org_id.as_str(), &kit.id, expected_version);
        let mut conn = self.writer().await?;
        conn.update_row(&update)
            .await
            .map_err(duplicate_as(DUPLICATE_KIT_NAME))
    }

    async fn list_sections(&self, kit_id: &str) -> StoreResult<Vec<SectionRecord>> {
        SECTIONS.list(self, kit_id, SECTION_ORDER).await
    }

    async fn get_section(&self, kit_id: &str, id: &str) -> StoreResult<Option<SectionRecord>> {
        SECTIONS.get(self, kit_id, id).await
    }

    async fn insert_section(&self, section: &SectionRecord) -> StoreResult<()> {
        SECTIONS.insert_one(self, section).await
    }

    async fn update_section(
        &self,
        section: &SectionRecord,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let update = SECTIONS.update(section, &section.kit_id, &section.id, expected_version);
        self.writer().await?.update_row(&update).await
    }

    async fn list_fields(&self, section_id: &str) -> StoreResult<Vec<FieldRecord>> {
        FIELDS.list(self, section_id, FIELD_ORDER).await
    }

    async fn page_fields(
        &self,
        section_id: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(i64, Vec<FieldRecord>)> {
        let mut conn = self.reader().await?;
        let sql = format!(
            "SELECT {columns} FROM brand_fields WHERE section_id = $1 \
             ORDER BY {FIELD_ORDER} LIMIT $2 OFFSET $3",
            columns = FieldRecord::columns()
        );
        let sql = collated(conn.dialect(), &sql);
        conn.count_and_page(
            "SELECT COUNT(*) AS count FROM brand_fields WHERE section_id = $1",
            vec![Bind::Text(section_id)],
            (limit, offset),
            &sql,
            FieldRecord::from_row,
        )
        .await
    }

    async fn get_field(&self, section_id: &str, id: &str) -> StoreResult<Option<FieldRecord>> {
        FIELDS.get(self, section_id, id).await
    }

    async fn insert_field(&self, field: &FieldRecord) -> StoreResult<()> {
        FIELDS.insert_one(self, field).await
    }

    async fn update_field(&self, field: &FieldRecord, expected_version: i64) -> StoreResult<bool> {
        let update = FIELDS.update(field, &field.section_id, &field.id, expected_version);
        self.writer().await?.update_row(&update).await
    }

    async fn delete_field(&self, section_id: &str, id: &str) -> StoreResult<bool> {
        let deleted = self
            .write(
                "DELETE FROM brand_fields WHERE section_id = $1 AND id = $2",
                &binds![section_id, id],
            )
            .await?;
        Ok(deleted == 1)
    }
}
