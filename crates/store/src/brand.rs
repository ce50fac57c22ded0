//! Records and queries of brand kits, sections and subsections (fields).

use async_trait::async_trait;
use brandstream_domain::OrgId;
use serde_json::Value;

use crate::StoreResult;

/// A brand kit as stored. Times are Unix microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct KitRecord {
    /// UUID.
    pub id: String,
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
    pub references: Value,
    /// A locked kit refuses changes.
    pub locked: bool,
    /// Incremented on every change; the ETag.
    pub version: i64,
    /// Creation time.
    pub created_at: i64,
    /// Creating client (`sub`).
    pub created_by: String,
    /// Last change time.
    pub updated_at: i64,
    /// Last changing client.
    pub updated_by: String,
    /// Soft-deletion time.
    pub deleted_at: Option<i64>,
}

/// A section.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionRecord {
    /// UUID.
    pub id: String,
    /// Owning kit.
    pub kit_id: String,
    /// Name.
    pub name: String,
    /// Position.
    pub order: i64,
    /// Whether people may delete it.
    pub deletable: bool,
    /// Whether it comes from the catalogue.
    pub predefined: bool,
    /// Free-form properties.
    pub properties: Value,
    /// ETag version.
    pub version: i64,
    /// Creation time.
    pub created_at: i64,
    /// Creator.
    pub created_by: String,
    /// Last change time.
    pub updated_at: i64,
    /// Last changer.
    pub updated_by: String,
    /// Soft-deletion time.
    pub deleted_at: Option<i64>,
}

/// A subsection (field).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldRecord {
    /// UUID.
    pub id: String,
    /// Owning section.
    pub section_id: String,
    /// Owning kit.
    pub kit_id: String,
    /// Name.
    pub name: String,
    /// text | array | richArray.
    pub field_type: String,
    /// Position.
    pub order: Option<i64>,
    /// The value, validated against the type.
    pub value: Value,
    /// What belongs here.
    pub intent: Option<String>,
    /// `[{"id", "path", "type"}]` sources.
    pub references: Value,
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
    /// Creation time.
    pub created_at: i64,
    /// Creator.
    pub created_by: String,
    /// Last change time.
    pub updated_at: i64,
    /// Last changer.
    pub updated_by: String,
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
