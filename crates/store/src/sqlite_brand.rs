//! The SQLite implementation of [`BrandStore`].

use async_trait::async_trait;
use brandstream_domain::OrgId;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use crate::brand::{BrandStore, FieldRecord, KitQuery, KitRecord, SectionRecord};
use crate::{SqliteStore, StoreError, StoreResult};

const KIT_COLUMNS: &str =
    "id, org_id, name, description, brand_name, company_name, logo, industry, \
     status, parent_id, parent_type, tags, refs, locked, version, created_at, created_by, \
     updated_at, updated_by, deleted_at";
const SECTION_COLUMNS: &str =
    "id, kit_id, name, position, deletable, predefined, properties, version, \
     created_at, created_by, updated_at, updated_by, deleted_at";
const FIELD_COLUMNS: &str =
    "id, section_id, kit_id, name, field_type, position, value, intent, refs, \
     deletable, verified, ai_editable, predefined, properties, version, created_at, created_by, \
     updated_at, updated_by";

fn json(row: &SqliteRow, column: &str) -> StoreResult<Value> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn kit_from_row(row: &SqliteRow) -> StoreResult<KitRecord> {
    Ok(KitRecord {
        id: row.try_get("id")?,
        org_id: OrgId::parse(row.try_get::<&str, _>("org_id")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        brand_name: row.try_get("brand_name")?,
        company_name: row.try_get("company_name")?,
        logo: row.try_get("logo")?,
        industry: row.try_get("industry")?,
        status: row.try_get("status")?,
        parent_id: row.try_get("parent_id")?,
        parent_type: row.try_get("parent_type")?,
        tags: json(row, "tags")?,
        references: json(row, "refs")?,
        locked: row.try_get::<i64, _>("locked")? != 0,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
        deleted_at: row.try_get("deleted_at")?,
    })
}

fn section_from_row(row: &SqliteRow) -> StoreResult<SectionRecord> {
    Ok(SectionRecord {
        id: row.try_get("id")?,
        kit_id: row.try_get("kit_id")?,
        name: row.try_get("name")?,
        order: row.try_get("position")?,
        deletable: row.try_get::<i64, _>("deletable")? != 0,
        predefined: row.try_get::<i64, _>("predefined")? != 0,
        properties: json(row, "properties")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
        deleted_at: row.try_get("deleted_at")?,
    })
}

fn field_from_row(row: &SqliteRow) -> StoreResult<FieldRecord> {
    Ok(FieldRecord {
        id: row.try_get("id")?,
        section_id: row.try_get("section_id")?,
        kit_id: row.try_get("kit_id")?,
        name: row.try_get("name")?,
        field_type: row.try_get("field_type")?,
        order: row.try_get("position")?,
        value: json(row, "value")?,
        intent: row.try_get("intent")?,
        references: json(row, "refs")?,
        deletable: row.try_get::<i64, _>("deletable")? != 0,
        verified: row.try_get::<Option<i64>, _>("verified")?.map(|v| v != 0),
        ai_editable: row.try_get::<i64, _>("ai_editable")? != 0,
        predefined: row.try_get::<i64, _>("predefined")? != 0,
        properties: json(row, "properties")?,
        version: row.try_get("version")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

fn duplicate_or(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Duplicate("brand kit name")
        }
        _ => error.into(),
    }
}

async fn insert_section_in(
    transaction: &mut Transaction<'static, Sqlite>,
    section: &SectionRecord,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO brand_sections ({SECTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&section.id)
    .bind(&section.kit_id)
    .bind(&section.name)
    .bind(section.order)
    .bind(i64::from(section.deletable))
    .bind(i64::from(section.predefined))
    .bind(section.properties.to_string())
    .bind(section.version)
    .bind(section.created_at)
    .bind(&section.created_by)
    .bind(section.updated_at)
    .bind(&section.updated_by)
    .bind(section.deleted_at)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

async fn insert_field_in(
    transaction: &mut Transaction<'static, Sqlite>,
    field: &FieldRecord,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO brand_fields ({FIELD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ))
    .bind(&field.id)
    .bind(&field.section_id)
    .bind(&field.kit_id)
    .bind(&field.name)
    .bind(&field.field_type)
    .bind(field.order)
    .bind(field.value.to_string())
    .bind(&field.intent)
    .bind(field.references.to_string())
    .bind(i64::from(field.deletable))
    .bind(field.verified.map(i64::from))
    .bind(i64::from(field.ai_editable))
    .bind(i64::from(field.predefined))
    .bind(field.properties.to_string())
    .bind(field.version)
    .bind(field.created_at)
    .bind(&field.created_by)
    .bind(field.updated_at)
    .bind(&field.updated_by)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_pattern(search: &str) -> String {
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

#[async_trait]
impl BrandStore for SqliteStore {
    async fn create_kit(
        &self,
        kit: &KitRecord,
        sections: &[SectionRecord],
        fields: &[FieldRecord],
    ) -> StoreResult<()> {
        let mut transaction = self.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO brand_kits ({KIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&kit.id)
        .bind(kit.org_id.as_str())
        .bind(&kit.name)
        .bind(&kit.description)
        .bind(&kit.brand_name)
        .bind(&kit.company_name)
        .bind(&kit.logo)
        .bind(&kit.industry)
        .bind(&kit.status)
        .bind(&kit.parent_id)
        .bind(&kit.parent_type)
        .bind(kit.tags.to_string())
        .bind(kit.references.to_string())
        .bind(i64::from(kit.locked))
        .bind(kit.version)
        .bind(kit.created_at)
        .bind(&kit.created_by)
        .bind(kit.updated_at)
        .bind(&kit.updated_by)
        .bind(kit.deleted_at)
        .execute(&mut *transaction)
        .await
        .map_err(duplicate_or)?;
        for section in sections {
            insert_section_in(&mut transaction, section).await?;
        }
        for field in fields {
            insert_field_in(&mut transaction, field).await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn list_kits(&self, org: &OrgId, query: &KitQuery) -> StoreResult<(i64, Vec<KitRecord>)> {
        let mut conditions = vec!["org_id = ?".to_owned()];
        if !query.include_deleted {
            conditions.push("deleted_at IS NULL".into());
        }
        if query.search.is_some() {
            conditions.push(
                "(name LIKE ? ESCAPE '\\' OR COALESCE(description, '') LIKE ? ESCAPE '\\')".into(),
            );
        }
        if query.status.is_some() {
            conditions.push("lower(status) = lower(?)".into());
        }
        if query.parent_id.is_some() {
            conditions.push("parent_id = ?".into());
        }
        if !query.ids.is_empty() {
            conditions.push(format!("id IN ({})", vec!["?"; query.ids.len()].join(", ")));
        }
        let filter = conditions.join(" AND ");
        let order_column = if query.sort_by_updated {
            "updated_at"
        } else {
            "created_at"
        };
        let direction = if query.descending { "DESC" } else { "ASC" };
        let count_sql = format!("SELECT COUNT(*) FROM brand_kits WHERE {filter}");
        let page_sql = format!(
            "SELECT {KIT_COLUMNS} FROM brand_kits WHERE {filter} \
             ORDER BY {order_column} {direction}, id {direction} LIMIT ? OFFSET ?"
        );
        let pattern = query.search.as_deref().map(like_pattern);
        macro_rules! bind_filters {
            ($statement:expr) => {{
                let mut statement = $statement.bind(org.as_str());
                if let Some(pattern) = &pattern {
                    statement = statement.bind(pattern.clone()).bind(pattern.clone());
                }
                if let Some(status) = &query.status {
                    statement = statement.bind(status.clone());
                }
                if let Some(parent) = &query.parent_id {
                    statement = statement.bind(parent.clone());
                }
                for id in &query.ids {
                    statement = statement.bind(id.clone());
                }
                statement
            }};
        }
        let total: i64 = bind_filters!(sqlx::query_scalar(&count_sql))
            .fetch_one(&self.pool)
            .await?;
        let rows = bind_filters!(sqlx::query(&page_sql))
            .bind(query.limit)
            .bind(query.offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((
            total,
            rows.iter().map(kit_from_row).collect::<StoreResult<_>>()?,
        ))
    }

    async fn get_kit(&self, org: &OrgId, id: &str) -> StoreResult<Option<KitRecord>> {
        sqlx::query(&format!(
            "SELECT {KIT_COLUMNS} FROM brand_kits WHERE org_id = ? AND id = ?"
        ))
        .bind(org.as_str())
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(kit_from_row)
        .transpose()
    }

    async fn update_kit(&self, kit: &KitRecord, expected_version: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE brand_kits SET name = ?, description = ?, brand_name = ?, company_name = ?, logo = ?, \
             industry = ?, status = ?, parent_id = ?, parent_type = ?, tags = ?, refs = ?, locked = ?, \
             version = ?, updated_at = ?, updated_by = ?, deleted_at = ? \
             WHERE org_id = ? AND id = ? AND version = ?",
        )
        .bind(&kit.name)
        .bind(&kit.description)
        .bind(&kit.brand_name)
        .bind(&kit.company_name)
        .bind(&kit.logo)
        .bind(&kit.industry)
        .bind(&kit.status)
        .bind(&kit.parent_id)
        .bind(&kit.parent_type)
        .bind(kit.tags.to_string())
        .bind(kit.references.to_string())
        .bind(i64::from(kit.locked))
        .bind(kit.version)
        .bind(kit.updated_at)
        .bind(&kit.updated_by)
        .bind(kit.deleted_at)
        .bind(kit.org_id.as_str())
        .bind(&kit.id)
        .bind(expected_version)
        .execute(&self.pool)
        .await
        .map_err(duplicate_or)?;
        Ok(result.rows_affected() == 1)
    }

    async fn list_sections(&self, kit_id: &str) -> StoreResult<Vec<SectionRecord>> {
        sqlx::query(&format!(
            "SELECT {SECTION_COLUMNS} FROM brand_sections WHERE kit_id = ? ORDER BY position, created_at, id"
        ))
        .bind(kit_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(section_from_row)
        .collect()
    }

    async fn get_section(&self, kit_id: &str, id: &str) -> StoreResult<Option<SectionRecord>> {
        sqlx::query(&format!(
            "SELECT {SECTION_COLUMNS} FROM brand_sections WHERE kit_id = ? AND id = ?"
        ))
        .bind(kit_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(section_from_row)
        .transpose()
    }

    async fn insert_section(&self, section: &SectionRecord) -> StoreResult<()> {
        let mut transaction = self.begin().await?;
        insert_section_in(&mut transaction, section).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn update_section(
        &self,
        section: &SectionRecord,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE brand_sections SET name = ?, position = ?, deletable = ?, properties = ?, version = ?, \
             updated_at = ?, updated_by = ?, deleted_at = ? WHERE kit_id = ? AND id = ? AND version = ?",
        )
        .bind(&section.name)
        .bind(section.order)
        .bind(i64::from(section.deletable))
        .bind(section.properties.to_string())
        .bind(section.version)
        .bind(section.updated_at)
        .bind(&section.updated_by)
        .bind(section.deleted_at)
        .bind(&section.kit_id)
        .bind(&section.id)
        .bind(expected_version)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn list_fields(&self, section_id: &str) -> StoreResult<Vec<FieldRecord>> {
        sqlx::query(&format!(
            "SELECT {FIELD_COLUMNS} FROM brand_fields WHERE section_id = ? \
             ORDER BY position IS NULL, position, created_at, id"
        ))
        .bind(section_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(field_from_row)
        .collect()
    }

    async fn page_fields(
        &self,
        section_id: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(i64, Vec<FieldRecord>)> {
        let total: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM brand_fields WHERE section_id = ?")
                .bind(section_id)
                .fetch_one(&self.pool)
                .await?;
        let rows = sqlx::query(&format!(
            "SELECT {FIELD_COLUMNS} FROM brand_fields WHERE section_id = ? \
             ORDER BY position IS NULL, position, created_at, id LIMIT ? OFFSET ?"
        ))
        .bind(section_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((
            total,
            rows.iter()
                .map(field_from_row)
                .collect::<StoreResult<_>>()?,
        ))
    }

    async fn get_field(&self, section_id: &str, id: &str) -> StoreResult<Option<FieldRecord>> {
        sqlx::query(&format!(
            "SELECT {FIELD_COLUMNS} FROM brand_fields WHERE section_id = ? AND id = ?"
        ))
        .bind(section_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(field_from_row)
        .transpose()
    }

    async fn insert_field(&self, field: &FieldRecord) -> StoreResult<()> {
        let mut transaction = self.begin().await?;
        insert_field_in(&mut transaction, field).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn update_field(&self, field: &FieldRecord, expected_version: i64) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE brand_fields SET name = ?, position = ?, value = ?, intent = ?, refs = ?, deletable = ?, \
             verified = ?, ai_editable = ?, properties = ?, version = ?, updated_at = ?, updated_by = ? \
             WHERE section_id = ? AND id = ? AND version = ?",
        )
        .bind(&field.name)
        .bind(field.order)
        .bind(field.value.to_string())
        .bind(&field.intent)
        .bind(field.references.to_string())
        .bind(i64::from(field.deletable))
        .bind(field.verified.map(i64::from))
        .bind(i64::from(field.ai_editable))
        .bind(field.properties.to_string())
        .bind(field.version)
        .bind(field.updated_at)
        .bind(&field.updated_by)
        .bind(&field.section_id)
        .bind(&field.id)
        .bind(expected_version)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn delete_field(&self, section_id: &str, id: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM brand_fields WHERE section_id = ? AND id = ?")
            .bind(section_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }
}
