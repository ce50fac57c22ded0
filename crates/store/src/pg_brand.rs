//! The PostgreSQL implementation of [`BrandStore`]: brand kits, their sections and fields.
//!
//! The statements mirror `sqlite_brand`, so both backends answer the HTTP API identically:
//! the same filters, order, paging, version checks and errors. Two things need care that a
//! single SQLite writer gave for free. Version checks are conditional updates
//! (`WHERE version = $n`), which PostgreSQL re-evaluates after waiting for a concurrent
//! writer's row lock, so of two writers holding the same version only one succeeds. Ties in
//! text order compare bytes (`COLLATE "C"`), as SQLite's BINARY collation does, whatever the
//! database's collation.

use async_trait::async_trait;
use brandstream_domain::OrgId;
use deadpool_postgres::GenericClient;

use crate::brand::{BrandStore, FieldRecord, KitQuery, KitRecord, SectionRecord};
use crate::pg::{count_and_page, duplicate_as, execute, params, update_row, Param};
use crate::rows::{
    field_from_row, field_values, insert_statement, kit_from_row, kit_values, section_from_row,
    section_values, FIELDS, FIELD_COLUMNS, KITS, KIT_COLUMNS, SECTIONS, SECTION_COLUMNS,
};
use crate::sqlite_brand::like_pattern;
use crate::{PgStore, StoreResult};

/// The error a kit insert or rename reports for a name already taken in the organisation.
const DUPLICATE_KIT_NAME: &str = "brand kit name";

/// Runs a statement whose unique violation means the kit name is taken.
async fn execute_naming_kit(
    client: &impl GenericClient,
    sql: &str,
    params: &[Param<'_>],
) -> StoreResult<u64> {
    let statement = client.prepare_cached(sql).await?;
    client
        .execute(&statement, params)
        .await
        .map_err(duplicate_as(DUPLICATE_KIT_NAME))
}

async fn insert_kit(client: &impl GenericClient, kit: &KitRecord) -> StoreResult<()> {
    let values = kit_values(kit);
    execute_naming_kit(
        client,
        &insert_statement("brand_kits", KIT_COLUMNS, '$'),
        &params(&values),
    )
    .await?;
    Ok(())
}

/// Inserts sections in one statement: each column travels as an array, unnested into rows
/// server-side, so a kit's whole catalogue costs one round trip.
async fn insert_sections(
    client: &impl GenericClient,
    sections: &[SectionRecord],
) -> StoreResult<()> {
    if sections.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = sections.iter().map(|s| s.id.as_str()).collect();
    let kit_ids: Vec<&str> = sections.iter().map(|s| s.kit_id.as_str()).collect();
    let names: Vec<&str> = sections.iter().map(|s| s.name.as_str()).collect();
    let positions: Vec<i64> = sections.iter().map(|s| s.order).collect();
    let deletable: Vec<bool> = sections.iter().map(|s| s.deletable).collect();
    let predefined: Vec<bool> = sections.iter().map(|s| s.predefined).collect();
    let properties: Vec<String> = sections.iter().map(|s| s.properties.to_string()).collect();
    let versions: Vec<i64> = sections.iter().map(|s| s.version).collect();
    let created_at: Vec<i64> = sections.iter().map(|s| s.created_at).collect();
    let created_by: Vec<&str> = sections.iter().map(|s| s.created_by.as_str()).collect();
    let updated_at: Vec<i64> = sections.iter().map(|s| s.updated_at).collect();
    let updated_by: Vec<&str> = sections.iter().map(|s| s.updated_by.as_str()).collect();
    let deleted_at: Vec<Option<i64>> = sections.iter().map(|s| s.deleted_at).collect();
    execute(
        client,
        &format!(
            "INSERT INTO brand_sections ({SECTION_COLUMNS}) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], \
                                  $5::boolean[], $6::boolean[], $7::text[], $8::bigint[], \
                                  $9::bigint[], $10::text[], $11::bigint[], $12::text[], \
                                  $13::bigint[])"
        ),
        &[
            &ids,
            &kit_ids,
            &names,
            &positions,
            &deletable,
            &predefined,
            &properties,
            &versions,
            &created_at,
            &created_by,
            &updated_at,
            &updated_by,
            &deleted_at,
        ],
    )
    .await?;
    Ok(())
}

/// Inserts fields in one statement (arrays unnested server-side, as for sections). Also used
/// by ingestion to add fields inside its own transaction.
pub(crate) async fn insert_fields(
    client: &impl GenericClient,
    fields: &[FieldRecord],
) -> StoreResult<()> {
    if fields.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = fields.iter().map(|f| f.id.as_str()).collect();
    let section_ids: Vec<&str> = fields.iter().map(|f| f.section_id.as_str()).collect();
    let kit_ids: Vec<&str> = fields.iter().map(|f| f.kit_id.as_str()).collect();
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let field_types: Vec<&str> = fields.iter().map(|f| f.field_type.as_str()).collect();
    let positions: Vec<Option<i64>> = fields.iter().map(|f| f.order).collect();
    let values: Vec<String> = fields.iter().map(|f| f.value.to_string()).collect();
    let intents: Vec<Option<&str>> = fields.iter().map(|f| f.intent.as_deref()).collect();
    let references: Vec<String> = fields.iter().map(|f| f.references.to_string()).collect();
    let deletable: Vec<bool> = fields.iter().map(|f| f.deletable).collect();
    let verified: Vec<Option<bool>> = fields.iter().map(|f| f.verified).collect();
    let ai_editable: Vec<bool> = fields.iter().map(|f| f.ai_editable).collect();
    let predefined: Vec<bool> = fields.iter().map(|f| f.predefined).collect();
    let properties: Vec<String> = fields.iter().map(|f| f.properties.to_string()).collect();
    let versions: Vec<i64> = fields.iter().map(|f| f.version).collect();
    let created_at: Vec<i64> = fields.iter().map(|f| f.created_at).collect();
    let created_by: Vec<&str> = fields.iter().map(|f| f.created_by.as_str()).collect();
    let updated_at: Vec<i64> = fields.iter().map(|f| f.updated_at).collect();
    let updated_by: Vec<&str> = fields.iter().map(|f| f.updated_by.as_str()).collect();
    execute(
        client,
        &format!(
            "INSERT INTO brand_fields ({FIELD_COLUMNS}) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                                  $6::bigint[], $7::text[], $8::text[], $9::text[], \
                                  $10::boolean[], $11::boolean[], $12::boolean[], \
                                  $13::boolean[], $14::text[], $15::bigint[], $16::bigint[], \
                                  $17::text[], $18::bigint[], $19::text[])"
        ),
        &[
            &ids,
            &section_ids,
            &kit_ids,
            &names,
            &field_types,
            &positions,
            &values,
            &intents,
            &references,
            &deletable,
            &verified,
            &ai_editable,
            &predefined,
            &properties,
            &versions,
            &created_at,
            &created_by,
            &updated_at,
            &updated_by,
        ],
    )
    .await?;
    Ok(())
}

/// The order of a section's fields: positioned ones by position, unpositioned last, then by
/// creation, then by id.
const FIELD_ORDER: &str = "position IS NULL, position, created_at, id COLLATE \"C\"";

#[async_trait]
impl BrandStore for PgStore {
    async fn create_kit(
        &self,
        kit: &KitRecord,
        sections: &[SectionRecord],
        fields: &[FieldRecord],
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        // The unique name index makes a concurrent creation of the same name wait for this
        // transaction and then fail, so no read-then-insert check is needed.
        insert_kit(&transaction, kit).await?;
        insert_sections(&transaction, sections).await?;
        insert_fields(&transaction, fields).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn list_kits(&self, org: &OrgId, query: &KitQuery) -> StoreResult<(i64, Vec<KitRecord>)> {
        let org_id = org.as_str();
        let pattern = query.search.as_deref().map(like_pattern);
        let mut values: Vec<Param<'_>> = vec![&org_id];
        let mut conditions = vec!["org_id = $1".to_owned()];
        if !query.include_deleted {
            conditions.push("deleted_at IS NULL".into());
        }
        if let Some(pattern) = &pattern {
            values.push(pattern);
            let placeholder = values.len();
            // ILIKE: SQLite's LIKE ignores case too.
            conditions.push(format!(
                "(name ILIKE ${placeholder} ESCAPE '\\' \
                  OR COALESCE(description, '') ILIKE ${placeholder} ESCAPE '\\')"
            ));
        }
        if let Some(status) = &query.status {
            values.push(status);
            conditions.push(format!("lower(status) = lower(${})", values.len()));
        }
        if let Some(parent) = &query.parent_id {
            values.push(parent);
            conditions.push(format!("parent_id = ${}", values.len()));
        }
        if !query.ids.is_empty() {
            values.push(&query.ids);
            conditions.push(format!("id = ANY(${}::text[])", values.len()));
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
            "SELECT {KIT_COLUMNS} FROM brand_kits WHERE {filter} \
             ORDER BY {order_column} {direction}, id COLLATE \"C\" {direction} \
             LIMIT ${} OFFSET ${}",
            values.len() + 1,
            values.len() + 2
        );
        let client = self.client().await?;
        count_and_page(
            &client,
            &count_sql,
            &values,
            (query.limit, query.offset),
            &page_sql,
            kit_from_row,
        )
        .await
    }

    async fn get_kit(&self, org: &OrgId, id: &str) -> StoreResult<Option<KitRecord>> {
        self.fetch_one(
            &format!("SELECT {KIT_COLUMNS} FROM brand_kits WHERE org_id = $1 AND id = $2"),
            &[&org.as_str(), &id],
            kit_from_row,
        )
        .await
    }

    async fn update_kit(&self, kit: &KitRecord, expected_version: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        update_row(
            &client,
            &KITS.update(
                kit_values(kit),
                kit.org_id.as_str(),
                &kit.id,
                expected_version,
            ),
        )
        .await
        .map_err(duplicate_as(DUPLICATE_KIT_NAME))
    }

    async fn list_sections(&self, kit_id: &str) -> StoreResult<Vec<SectionRecord>> {
        self.fetch_all(
            &format!(
                "SELECT {SECTION_COLUMNS} FROM brand_sections WHERE kit_id = $1 \
                 ORDER BY position, created_at, id COLLATE \"C\""
            ),
            &[&kit_id],
            section_from_row,
        )
        .await
    }

    async fn get_section(&self, kit_id: &str, id: &str) -> StoreResult<Option<SectionRecord>> {
        self.fetch_one(
            &format!("SELECT {SECTION_COLUMNS} FROM brand_sections WHERE kit_id = $1 AND id = $2"),
            &[&kit_id, &id],
            section_from_row,
        )
        .await
    }

    async fn insert_section(&self, section: &SectionRecord) -> StoreResult<()> {
        let client = self.client().await?;
        insert_sections(&client, std::slice::from_ref(section)).await
    }

    async fn update_section(
        &self,
        section: &SectionRecord,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        Ok(update_row(
            &client,
            &SECTIONS.update(
                section_values(section),
                &section.kit_id,
                &section.id,
                expected_version,
            ),
        )
        .await?)
    }

    async fn list_fields(&self, section_id: &str) -> StoreResult<Vec<FieldRecord>> {
        self.fetch_all(
            &format!(
                "SELECT {FIELD_COLUMNS} FROM brand_fields WHERE section_id = $1 \
                 ORDER BY {FIELD_ORDER}"
            ),
            &[&section_id],
            field_from_row,
        )
        .await
    }

    async fn page_fields(
        &self,
        section_id: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(i64, Vec<FieldRecord>)> {
        let client = self.client().await?;
        count_and_page(
            &client,
            "SELECT COUNT(*) AS count FROM brand_fields WHERE section_id = $1",
            &[&section_id],
            (limit, offset),
            &format!(
                "SELECT {FIELD_COLUMNS} FROM brand_fields WHERE section_id = $1 \
                 ORDER BY {FIELD_ORDER} LIMIT $2 OFFSET $3"
            ),
            field_from_row,
        )
        .await
    }

    async fn get_field(&self, section_id: &str, id: &str) -> StoreResult<Option<FieldRecord>> {
        self.fetch_one(
            &format!("SELECT {FIELD_COLUMNS} FROM brand_fields WHERE section_id = $1 AND id = $2"),
            &[&section_id, &id],
            field_from_row,
        )
        .await
    }

    async fn insert_field(&self, field: &FieldRecord) -> StoreResult<()> {
        let client = self.client().await?;
        insert_fields(&client, std::slice::from_ref(field)).await
    }

    async fn update_field(&self, field: &FieldRecord, expected_version: i64) -> StoreResult<bool> {
        let client = self.client().await?;
        Ok(update_row(
            &client,
            &FIELDS.update(
                field_values(field),
                &field.section_id,
                &field.id,
                expected_version,
            ),
        )
        .await?)
    }

    async fn delete_field(&self, section_id: &str, id: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let deleted = execute(
            &client,
            "DELETE FROM brand_fields WHERE section_id = $1 AND id = $2",
            &[&section_id, &id],
        )
        .await?;
        Ok(deleted == 1)
    }
}
