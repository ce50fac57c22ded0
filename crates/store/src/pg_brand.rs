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
use serde_json::Value;
use tokio_postgres::Row;

use crate::brand::{BrandStore, FieldRecord, KitQuery, KitRecord, SectionRecord};
use crate::pg::{column, count_and_page, duplicate_as, execute, org_column, Param};
use crate::sqlite_brand::like_pattern;
use crate::{PgStore, StoreError, StoreResult};

const KIT_COLUMNS: &str = "id, org_id, name, description, brand_name, company_name, logo, \
     industry, status, parent_id, parent_type, tags, refs, locked, version, created_at, \
     created_by, updated_at, updated_by, deleted_at";
const SECTION_COLUMNS: &str = "id, kit_id, name, position, deletable, predefined, properties, \
     version, created_at, created_by, updated_at, updated_by, deleted_at";
/// The columns `field_from_row` reads, for other modules that select fields.
pub(crate) const FIELD_COLUMNS: &str = "id, section_id, kit_id, name, field_type, position, \
     value, intent, refs, deletable, verified, ai_editable, predefined, properties, version, \
     created_at, created_by, updated_at, updated_by";

/// The error a kit insert or rename reports for a name already taken in the organisation.
const DUPLICATE_KIT_NAME: &str = "brand kit name";

/// A JSON column: text holding serialized JSON (kept as text so it reads back byte for byte
/// like SQLite's).
pub(crate) fn json_column(row: &Row, name: &str) -> StoreResult<Value> {
    let text: String = column(row, name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

fn kit_from_row(row: &Row) -> StoreResult<KitRecord> {
    Ok(KitRecord {
        id: column(row, "id")?,
        org_id: org_column(row)?,
        name: column(row, "name")?,
        description: column(row, "description")?,
        brand_name: column(row, "brand_name")?,
        company_name: column(row, "company_name")?,
        logo: column(row, "logo")?,
        industry: column(row, "industry")?,
        status: column(row, "status")?,
        parent_id: column(row, "parent_id")?,
        parent_type: column(row, "parent_type")?,
        tags: json_column(row, "tags")?,
        references: json_column(row, "refs")?,
        locked: column(row, "locked")?,
        version: column(row, "version")?,
        created_at: column(row, "created_at")?,
        created_by: column(row, "created_by")?,
        updated_at: column(row, "updated_at")?,
        updated_by: column(row, "updated_by")?,
        deleted_at: column(row, "deleted_at")?,
    })
}

fn section_from_row(row: &Row) -> StoreResult<SectionRecord> {
    Ok(SectionRecord {
        id: column(row, "id")?,
        kit_id: column(row, "kit_id")?,
        name: column(row, "name")?,
        order: column(row, "position")?,
        deletable: column(row, "deletable")?,
        predefined: column(row, "predefined")?,
        properties: json_column(row, "properties")?,
        version: column(row, "version")?,
        created_at: column(row, "created_at")?,
        created_by: column(row, "created_by")?,
        updated_at: column(row, "updated_at")?,
        updated_by: column(row, "updated_by")?,
        deleted_at: column(row, "deleted_at")?,
    })
}

/// A field from a row holding [`FIELD_COLUMNS`].
pub(crate) fn field_from_row(row: &Row) -> StoreResult<FieldRecord> {
    Ok(FieldRecord {
        id: column(row, "id")?,
        section_id: column(row, "section_id")?,
        kit_id: column(row, "kit_id")?,
        name: column(row, "name")?,
        field_type: column(row, "field_type")?,
        order: column(row, "position")?,
        value: json_column(row, "value")?,
        intent: column(row, "intent")?,
        references: json_column(row, "refs")?,
        deletable: column(row, "deletable")?,
        verified: column(row, "verified")?,
        ai_editable: column(row, "ai_editable")?,
        predefined: column(row, "predefined")?,
        properties: json_column(row, "properties")?,
        version: column(row, "version")?,
        created_at: column(row, "created_at")?,
        created_by: column(row, "created_by")?,
        updated_at: column(row, "updated_at")?,
        updated_by: column(row, "updated_by")?,
    })
}

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
    let tags = kit.tags.to_string();
    let references = kit.references.to_string();
    execute_naming_kit(
        client,
        &format!(
            "INSERT INTO brand_kits ({KIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
        ),
        &[
            &kit.id,
            &kit.org_id.as_str(),
            &kit.name,
            &kit.description,
            &kit.brand_name,
            &kit.company_name,
            &kit.logo,
            &kit.industry,
            &kit.status,
            &kit.parent_id,
            &kit.parent_type,
            &tags,
            &references,
            &kit.locked,
            &kit.version,
            &kit.created_at,
            &kit.created_by,
            &kit.updated_at,
            &kit.updated_by,
            &kit.deleted_at,
        ],
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
        let tags = kit.tags.to_string();
        let references = kit.references.to_string();
        // The version condition is re-checked after waiting for a concurrent writer's lock:
        // of two writers that read the same version, the second changes nothing.
        let changed = execute_naming_kit(
            &client,
            "UPDATE brand_kits SET name = $1, description = $2, brand_name = $3, \
             company_name = $4, logo = $5, industry = $6, status = $7, parent_id = $8, \
             parent_type = $9, tags = $10, refs = $11, locked = $12, version = $13, \
             updated_at = $14, updated_by = $15, deleted_at = $16 \
             WHERE org_id = $17 AND id = $18 AND version = $19",
            &[
                &kit.name,
                &kit.description,
                &kit.brand_name,
                &kit.company_name,
                &kit.logo,
                &kit.industry,
                &kit.status,
                &kit.parent_id,
                &kit.parent_type,
                &tags,
                &references,
                &kit.locked,
                &kit.version,
                &kit.updated_at,
                &kit.updated_by,
                &kit.deleted_at,
                &kit.org_id.as_str(),
                &kit.id,
                &expected_version,
            ],
        )
        .await?;
        Ok(changed == 1)
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
        let properties = section.properties.to_string();
        let changed = execute(
            &client,
            "UPDATE brand_sections SET name = $1, position = $2, deletable = $3, \
             properties = $4, version = $5, updated_at = $6, updated_by = $7, deleted_at = $8 \
             WHERE kit_id = $9 AND id = $10 AND version = $11",
            &[
                &section.name,
                &section.order,
                &section.deletable,
                &properties,
                &section.version,
                &section.updated_at,
                &section.updated_by,
                &section.deleted_at,
                &section.kit_id,
                &section.id,
                &expected_version,
            ],
        )
        .await?;
        Ok(changed == 1)
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
        let value = field.value.to_string();
        let references = field.references.to_string();
        let properties = field.properties.to_string();
        let changed = execute(
            &client,
            "UPDATE brand_fields SET name = $1, position = $2, value = $3, intent = $4, \
             refs = $5, deletable = $6, verified = $7, ai_editable = $8, properties = $9, \
             version = $10, updated_at = $11, updated_by = $12 \
             WHERE section_id = $13 AND id = $14 AND version = $15",
            &[
                &field.name,
                &field.order,
                &value,
                &field.intent,
                &references,
                &field.deletable,
                &field.verified,
                &field.ai_editable,
                &properties,
                &field.version,
                &field.updated_at,
                &field.updated_by,
                &field.section_id,
                &field.id,
                &expected_version,
            ],
        )
        .await?;
        Ok(changed == 1)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::testing::fresh_store;
    use serde_json::json;

    fn kit(org: &OrgId, id: &str, name: &str, at: i64) -> KitRecord {
        KitRecord {
            id: id.into(),
            org_id: org.clone(),
            name: name.into(),
            description: None,
            brand_name: Some("Acme".into()),
            company_name: None,
            logo: None,
            industry: None,
            status: "draft".into(),
            parent_id: None,
            parent_type: Some(String::new()),
            tags: json!([{"category": "tone", "values": ["warm", "plain"]}]),
            references: json!([]),
            locked: false,
            version: 1,
            created_at: at,
            created_by: "creator".into(),
            updated_at: at,
            updated_by: "creator".into(),
            deleted_at: None,
        }
    }

    fn section(kit_id: &str, id: &str, order: i64, at: i64) -> SectionRecord {
        SectionRecord {
            id: id.into(),
            kit_id: kit_id.into(),
            name: format!("Section {id}"),
            order,
            deletable: true,
            predefined: false,
            properties: json!({"sourceLanguage": "en-US", "another": 1}),
            version: 1,
            created_at: at,
            created_by: "creator".into(),
            updated_at: at,
            updated_by: "creator".into(),
            deleted_at: None,
        }
    }

    fn field(section: &SectionRecord, id: &str, order: Option<i64>, at: i64) -> FieldRecord {
        FieldRecord {
            id: id.into(),
            section_id: section.id.clone(),
            kit_id: section.kit_id.clone(),
            name: format!("Field {id}"),
            field_type: "text".into(),
            order,
            value: json!("value"),
            intent: Some("what belongs here".into()),
            references: json!([{"id": "chunk-1", "path": "doc", "type": "chunk"}]),
            deletable: true,
            verified: None,
            ai_editable: true,
            predefined: false,
            properties: json!({}),
            version: 1,
            created_at: at,
            created_by: "creator".into(),
            updated_at: at,
            updated_by: "creator".into(),
        }
    }

    fn query(limit: i64) -> KitQuery {
        KitQuery {
            limit,
            ..KitQuery::default()
        }
    }

    fn ids(kits: &[KitRecord]) -> Vec<&str> {
        kits.iter().map(|k| k.id.as_str()).collect()
    }

    #[tokio::test]
    async fn kits_are_created_listed_filtered_paged_and_updated() {
        let Some(store) = fresh_store("kits_are_created_listed_filtered_paged_and_updated").await
        else {
            return;
        };
        let org = OrgId::generate();
        let other_org = OrgId::generate();
        let mut first = kit(&org, "k1", "Alpha 100% Brand", 10);
        first.description = Some("The first one".into());
        let mut second = kit(&org, "k2", "Beta", 20);
        second.status = "published".into();
        second.parent_id = Some("k1".into());
        second.parent_type = Some("brandkit".into());
        let third = kit(&org, "k3", "Gamma", 30);
        // A catalogue-sized kit: sections and hundreds of fields in one transaction.
        let sections: Vec<SectionRecord> = (1..=12)
            .map(|n| section("k1", &format!("s{n:02}"), n, 10))
            .collect();
        let fields: Vec<FieldRecord> = sections
            .iter()
            .flat_map(|s| {
                (1..=25).map(move |n| field(s, &format!("{}-f{n:02}", s.id), Some(n), 10))
            })
            .collect();
        store.create_kit(&first, &sections, &fields).await.unwrap();
        store.create_kit(&second, &[], &[]).await.unwrap();
        store.create_kit(&third, &[], &[]).await.unwrap();
        store
            .create_kit(&kit(&other_org, "k4", "Alpha 100% Brand", 40), &[], &[])
            .await
            .unwrap();

        assert_eq!(
            store.get_kit(&org, "k1").await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(store.get_kit(&other_org, "k1").await.unwrap(), None);
        assert_eq!(store.list_sections("k1").await.unwrap().len(), 12);
        assert_eq!(store.list_fields("s03").await.unwrap().len(), 25);

        // Default order is oldest first; descending is newest first.
        let (total, kits) = store.list_kits(&org, &query(10)).await.unwrap();
        assert_eq!((total, ids(&kits)), (3, vec!["k1", "k2", "k3"]));
        let newest_first = KitQuery {
            descending: true,
            ..query(10)
        };
        let (_, kits) = store.list_kits(&org, &newest_first).await.unwrap();
        assert_eq!(ids(&kits), vec!["k3", "k2", "k1"]);

        // Paging keeps the total of all matches.
        let second_page = KitQuery {
            offset: 2,
            ..query(2)
        };
        let (total, kits) = store.list_kits(&org, &second_page).await.unwrap();
        assert_eq!((total, ids(&kits)), (3, vec!["k3"]));

        // Search is a case-insensitive substring of name or description; wildcards are literal.
        let search = |text: &str| KitQuery {
            search: Some(text.into()),
            ..query(10)
        };
        let (total, kits) = store.list_kits(&org, &search("ALPHA")).await.unwrap();
        assert_eq!((total, ids(&kits)), (1, vec!["k1"]));
        let (_, kits) = store.list_kits(&org, &search("first ONE")).await.unwrap();
        assert_eq!(ids(&kits), vec!["k1"]);
        let (_, kits) = store.list_kits(&org, &search("100%")).await.unwrap();
        assert_eq!(ids(&kits), vec!["k1"]);
        let (total, _) = store.list_kits(&org, &search("1_0")).await.unwrap();
        assert_eq!(total, 0);
        let (total, _) = store.list_kits(&org, &search("%")).await.unwrap();
        assert_eq!(total, 1);

        // Status compares case-insensitively; parent and ids exactly.
        let by_status = KitQuery {
            status: Some("PUBLISHED".into()),
            ..query(10)
        };
        assert_eq!(
            ids(&store.list_kits(&org, &by_status).await.unwrap().1),
            vec!["k2"]
        );
        let by_parent = KitQuery {
            parent_id: Some("k1".into()),
            ..query(10)
        };
        assert_eq!(
            ids(&store.list_kits(&org, &by_parent).await.unwrap().1),
            vec!["k2"]
        );
        let by_ids = KitQuery {
            ids: vec!["k3".into(), "k1".into(), "k4".into()],
            ..query(10)
        };
        assert_eq!(
            ids(&store.list_kits(&org, &by_ids).await.unwrap().1),
            vec!["k1", "k3"]
        );

        // An update needs the stored version; the record carries the next one.
        let mut renamed = first.clone();
        renamed.name = "Alpha renamed".into();
        renamed.locked = true;
        renamed.tags = json!([{"values": [], "category": "z"}]);
        renamed.version = 2;
        renamed.updated_at = 50;
        assert!(!store.update_kit(&renamed, 7).await.unwrap());
        assert!(store.update_kit(&renamed, 1).await.unwrap());
        assert!(!store.update_kit(&renamed, 1).await.unwrap());
        let stored = store.get_kit(&org, "k1").await.unwrap().unwrap();
        assert_eq!(stored, renamed);
        // JSON is stored as the same text SQLite stores, key order included.
        let client = store.client().await.unwrap();
        let tags: String = client
            .query_one("SELECT tags FROM brand_kits WHERE id = 'k1'", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(tags, renamed.tags.to_string());
        // A kit of another organisation is not updated.
        let mut foreign = renamed.clone();
        foreign.org_id = other_org.clone();
        assert!(!store.update_kit(&foreign, 2).await.unwrap());

        // Sorting by update time puts the renamed kit last.
        let by_update = KitQuery {
            sort_by_updated: true,
            ..query(10)
        };
        let (_, kits) = store.list_kits(&org, &by_update).await.unwrap();
        assert_eq!(ids(&kits), vec!["k2", "k3", "k1"]);

        // Soft-deleted kits are listed only on request.
        let mut deleted = third.clone();
        deleted.deleted_at = Some(60);
        deleted.version = 2;
        assert!(store.update_kit(&deleted, 1).await.unwrap());
        assert_eq!(store.list_kits(&org, &query(10)).await.unwrap().0, 2);
        let with_deleted = KitQuery {
            include_deleted: true,
            ..query(10)
        };
        assert_eq!(store.list_kits(&org, &with_deleted).await.unwrap().0, 3);
        assert!(store.get_kit(&org, "k3").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn kit_names_are_unique_per_org_case_insensitively_until_deleted() {
        let Some(store) = fresh_store("kit_names_are_unique_per_org").await else {
            return;
        };
        let org = OrgId::generate();
        let original = kit(&org, "k1", "Acme", 1);
        store.create_kit(&original, &[], &[]).await.unwrap();
        let result = store
            .create_kit(&kit(&org, "k2", "aCME", 2), &[], &[])
            .await;
        assert!(matches!(
            result,
            Err(StoreError::Duplicate("brand kit name"))
        ));
        // Nothing of the refused kit remains.
        assert!(store.get_kit(&org, "k2").await.unwrap().is_none());
        // Another organisation may use the name.
        store
            .create_kit(&kit(&OrgId::generate(), "k3", "ACME", 3), &[], &[])
            .await
            .unwrap();
        // A rename onto a taken name is refused too.
        store
            .create_kit(&kit(&org, "k4", "Other", 4), &[], &[])
            .await
            .unwrap();
        let mut rename = kit(&org, "k4", "acme", 4);
        rename.version = 2;
        let result = store.update_kit(&rename, 1).await;
        assert!(matches!(
            result,
            Err(StoreError::Duplicate("brand kit name"))
        ));
        // Deleting the kit frees its name.
        let mut deleted = original.clone();
        deleted.deleted_at = Some(5);
        deleted.version = 2;
        assert!(store.update_kit(&deleted, 1).await.unwrap());
        store
            .create_kit(&kit(&org, "k5", "ACME", 6), &[], &[])
            .await
            .unwrap();
        assert!(store.update_kit(&rename, 1).await.is_err());
        // The same id twice is refused as well.
        let result = store
            .create_kit(&kit(&org, "k5", "Fresh", 7), &[], &[])
            .await;
        assert!(matches!(result, Err(StoreError::Duplicate(_))));
    }

    #[tokio::test]
    async fn concurrent_updates_of_one_version_let_exactly_one_succeed() {
        let Some(store) = fresh_store("concurrent_kit_updates").await else {
            return;
        };
        let org = OrgId::generate();
        store
            .create_kit(&kit(&org, "k1", "Acme", 1), &[], &[])
            .await
            .unwrap();
        let attempts: Vec<_> = (0..8)
            .map(|n| {
                let store = store.clone();
                let mut next = kit(&org, "k1", &format!("Acme {n}"), 1);
                next.version = 2;
                tokio::spawn(async move { store.update_kit(&next, 1).await })
            })
            .collect();
        let mut successes = 0;
        for attempt in attempts {
            if attempt.await.unwrap().unwrap() {
                successes += 1;
            }
        }
        assert_eq!(successes, 1);
        assert_eq!(store.get_kit(&org, "k1").await.unwrap().unwrap().version, 2);
    }

    #[tokio::test]
    async fn sections_and_fields_are_ordered_versioned_and_deleted() {
        let Some(store) = fresh_store("sections_and_fields").await else {
            return;
        };
        let org = OrgId::generate();
        let first = section("k1", "s-b", 1, 10);
        store
            .create_kit(
                &kit(&org, "k1", "Acme", 1),
                std::slice::from_ref(&first),
                &[],
            )
            .await
            .unwrap();
        // Sections order by position, then creation, then id.
        store
            .insert_section(&section("k1", "s-c", 2, 5))
            .await
            .unwrap();
        store
            .insert_section(&section("k1", "s-a", 2, 5))
            .await
            .unwrap();
        store
            .insert_section(&section("k1", "s-d", 0, 20))
            .await
            .unwrap();
        let order: Vec<String> = store
            .list_sections("k1")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(order, vec!["s-d", "s-b", "s-a", "s-c"]);
        // A section of an unknown kit is refused.
        assert!(store
            .insert_section(&section("missing", "s-x", 1, 1))
            .await
            .is_err());
        assert_eq!(
            store.get_section("k1", "s-b").await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(store.get_section("k2", "s-b").await.unwrap(), None);

        let mut changed = first.clone();
        changed.name = "Renamed".into();
        changed.order = 9;
        changed.deletable = false;
        changed.properties = json!({"b": 1, "a": 2});
        changed.version = 2;
        changed.deleted_at = Some(30);
        assert!(!store.update_section(&changed, 2).await.unwrap());
        assert!(store.update_section(&changed, 1).await.unwrap());
        assert_eq!(
            store.get_section("k1", "s-b").await.unwrap(),
            Some(changed.clone())
        );
        // Deleted sections are still listed (the service filters them).
        assert_eq!(store.list_sections("k1").await.unwrap().len(), 4);

        // Fields: positioned first by position, unpositioned last, ties by creation and id.
        let mut verified = field(&first, "f-2", Some(2), 1);
        verified.verified = Some(false);
        store.insert_field(&verified).await.unwrap();
        store
            .insert_field(&field(&first, "f-none", None, 0))
            .await
            .unwrap();
        store
            .insert_field(&field(&first, "f-1b", Some(1), 3))
            .await
            .unwrap();
        store
            .insert_field(&field(&first, "f-1a", Some(1), 3))
            .await
            .unwrap();
        store
            .insert_field(&field(&first, "f-0", Some(1), 2))
            .await
            .unwrap();
        let order: Vec<String> = store
            .list_fields("s-b")
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert_eq!(order, vec!["f-0", "f-1a", "f-1b", "f-2", "f-none"]);
        let (total, page) = store.page_fields("s-b", 1, 2).await.unwrap();
        assert_eq!(total, 5);
        let page: Vec<&str> = page.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(page, vec!["f-1a", "f-1b"]);
        assert_eq!(store.page_fields("s-b", 10, 2).await.unwrap(), (5, vec![]));
        assert_eq!(store.page_fields("none", 0, 2).await.unwrap(), (0, vec![]));
        // A duplicate field id is refused.
        assert!(store
            .insert_field(&field(&first, "f-0", None, 9))
            .await
            .is_err());

        assert_eq!(
            store.get_field("s-b", "f-2").await.unwrap(),
            Some(verified.clone())
        );
        assert_eq!(store.get_field("s-c", "f-2").await.unwrap(), None);
        let mut edited = verified.clone();
        edited.name = "Edited".into();
        edited.order = None;
        edited.value = json!(["one", "two"]);
        edited.intent = None;
        edited.references = json!([]);
        edited.deletable = false;
        edited.verified = Some(true);
        edited.ai_editable = false;
        edited.properties = json!({"k": "v"});
        edited.version = 2;
        edited.updated_at = 99;
        edited.updated_by = "editor".into();
        assert!(!store.update_field(&edited, 3).await.unwrap());
        assert!(store.update_field(&edited, 1).await.unwrap());
        assert_eq!(
            store.get_field("s-b", "f-2").await.unwrap(),
            Some(edited.clone())
        );
        let mut cleared = edited.clone();
        cleared.verified = None;
        cleared.version = 3;
        assert!(store.update_field(&cleared, 2).await.unwrap());
        assert_eq!(
            store
                .get_field("s-b", "f-2")
                .await
                .unwrap()
                .unwrap()
                .verified,
            None
        );

        assert!(store.delete_field("s-b", "f-2").await.unwrap());
        assert!(!store.delete_field("s-b", "f-2").await.unwrap());
        assert!(!store.delete_field("s-c", "f-0").await.unwrap());
        assert_eq!(store.list_fields("s-b").await.unwrap().len(), 4);
    }
}
