//! The SQLite implementation of [`BrandStore`].

use async_trait::async_trait;
use brandstream_domain::OrgId;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, Row};
use serde_json::Value;

use crate::brand::{BrandStore, FieldRecord, KitQuery, KitRecord, SectionRecord};
use crate::sqlite::{is_unique_violation, query_all, query_one};
use crate::{SqliteStore, StoreError, StoreResult};

const KIT_COLUMNS: &str =
    "id, org_id, name, description, brand_name, company_name, logo, industry, \
     status, parent_id, parent_type, tags, refs, locked, version, created_at, created_by, \
     updated_at, updated_by, deleted_at";
const SECTION_COLUMNS: &str =
    "id, kit_id, name, position, deletable, predefined, properties, version, \
     created_at, created_by, updated_at, updated_by, deleted_at";
pub(crate) const FIELD_COLUMNS: &str =
    "id, section_id, kit_id, name, field_type, position, value, intent, refs, \
     deletable, verified, ai_editable, predefined, properties, version, created_at, created_by, \
     updated_at, updated_by";

pub(crate) fn json(row: &Row<'_>, column: &str) -> StoreResult<Value> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn kit_from_row(row: &Row<'_>) -> StoreResult<KitRecord> {
    Ok(KitRecord {
        id: row.get("id")?,
        org_id: crate::sqlite::org_column(row)?,
        name: row.get("name")?,
        description: row.get("description")?,
        brand_name: row.get("brand_name")?,
        company_name: row.get("company_name")?,
        logo: row.get("logo")?,
        industry: row.get("industry")?,
        status: row.get("status")?,
        parent_id: row.get("parent_id")?,
        parent_type: row.get("parent_type")?,
        tags: json(row, "tags")?,
        references: json(row, "refs")?,
        locked: row.get::<_, i64>("locked")? != 0,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
        created_by: row.get("created_by")?,
        updated_at: row.get("updated_at")?,
        updated_by: row.get("updated_by")?,
        deleted_at: row.get("deleted_at")?,
    })
}

fn section_from_row(row: &Row<'_>) -> StoreResult<SectionRecord> {
    Ok(SectionRecord {
        id: row.get("id")?,
        kit_id: row.get("kit_id")?,
        name: row.get("name")?,
        order: row.get("position")?,
        deletable: row.get::<_, i64>("deletable")? != 0,
        predefined: row.get::<_, i64>("predefined")? != 0,
        properties: json(row, "properties")?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
        created_by: row.get("created_by")?,
        updated_at: row.get("updated_at")?,
        updated_by: row.get("updated_by")?,
        deleted_at: row.get("deleted_at")?,
    })
}

pub(crate) fn field_from_row(row: &Row<'_>) -> StoreResult<FieldRecord> {
    Ok(FieldRecord {
        id: row.get("id")?,
        section_id: row.get("section_id")?,
        kit_id: row.get("kit_id")?,
        name: row.get("name")?,
        field_type: row.get("field_type")?,
        order: row.get("position")?,
        value: json(row, "value")?,
        intent: row.get("intent")?,
        references: json(row, "refs")?,
        deletable: row.get::<_, i64>("deletable")? != 0,
        verified: row.get::<_, Option<i64>>("verified")?.map(|v| v != 0),
        ai_editable: row.get::<_, i64>("ai_editable")? != 0,
        predefined: row.get::<_, i64>("predefined")? != 0,
        properties: json(row, "properties")?,
        version: row.get("version")?,
        created_at: row.get("created_at")?,
        created_by: row.get("created_by")?,
        updated_at: row.get("updated_at")?,
        updated_by: row.get("updated_by")?,
    })
}

fn duplicate_or(error: rusqlite::Error) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Duplicate("brand kit name")
    } else {
        error.into()
    }
}

fn insert_section_in(connection: &Connection, section: &SectionRecord) -> StoreResult<()> {
    connection.execute(
        &format!("INSERT INTO brand_sections ({SECTION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
        params![
            section.id,
            section.kit_id,
            section.name,
            section.order,
            i64::from(section.deletable),
            i64::from(section.predefined),
            section.properties.to_string(),
            section.version,
            section.created_at,
            section.created_by,
            section.updated_at,
            section.updated_by,
            section.deleted_at
        ],
    )?;
    Ok(())
}

pub(crate) fn insert_field_in(connection: &Connection, field: &FieldRecord) -> StoreResult<()> {
    connection.execute(
        &format!(
            "INSERT INTO brand_fields ({FIELD_COLUMNS}) VALUES \
             (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
        ),
        params![
            field.id,
            field.section_id,
            field.kit_id,
            field.name,
            field.field_type,
            field.order,
            field.value.to_string(),
            field.intent,
            field.references.to_string(),
            i64::from(field.deletable),
            field.verified.map(i64::from),
            i64::from(field.ai_editable),
            i64::from(field.predefined),
            field.properties.to_string(),
            field.version,
            field.created_at,
            field.created_by,
            field.updated_at,
            field.updated_by
        ],
    )?;
    Ok(())
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

#[async_trait]
impl BrandStore for SqliteStore {
    async fn create_kit(
        &self,
        kit: &KitRecord,
        sections: &[SectionRecord],
        fields: &[FieldRecord],
    ) -> StoreResult<()> {
        self.transact(|transaction| {
            transaction
                .execute(
                    &format!(
                        "INSERT INTO brand_kits ({KIT_COLUMNS}) VALUES \
                         (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
                    ),
                    params![
                        kit.id,
                        kit.org_id.as_str(),
                        kit.name,
                        kit.description,
                        kit.brand_name,
                        kit.company_name,
                        kit.logo,
                        kit.industry,
                        kit.status,
                        kit.parent_id,
                        kit.parent_type,
                        kit.tags.to_string(),
                        kit.references.to_string(),
                        i64::from(kit.locked),
                        kit.version,
                        kit.created_at,
                        kit.created_by,
                        kit.updated_at,
                        kit.updated_by,
                        kit.deleted_at
                    ],
                )
                .map_err(duplicate_or)?;
            for section in sections {
                insert_section_in(transaction, section)?;
            }
            for field in fields {
                insert_field_in(transaction, field)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_kits(&self, org: &OrgId, query: &KitQuery) -> StoreResult<(i64, Vec<KitRecord>)> {
        let mut values = vec![SqlValue::Text(org.to_string())];
        let mut conditions = vec!["org_id = ?1".to_owned()];
        let bind = |values: &mut Vec<SqlValue>, value: SqlValue| {
            values.push(value);
            format!("?{}", values.len())
        };
        if !query.include_deleted {
            conditions.push("deleted_at IS NULL".into());
        }
        if let Some(search) = &query.search {
            let placeholder = bind(&mut values, SqlValue::Text(like_pattern(search)));
            conditions.push(format!(
                "(name LIKE {placeholder} ESCAPE '\\' OR COALESCE(description, '') LIKE {placeholder} ESCAPE '\\')"
            ));
        }
        if let Some(status) = &query.status {
            let placeholder = bind(&mut values, SqlValue::Text(status.clone()));
            conditions.push(format!("lower(status) = lower({placeholder})"));
        }
        if let Some(parent) = &query.parent_id {
            let placeholder = bind(&mut values, SqlValue::Text(parent.clone()));
            conditions.push(format!("parent_id = {placeholder}"));
        }
        if !query.ids.is_empty() {
            let placeholders: Vec<String> = query
                .ids
                .iter()
                .map(|id| bind(&mut values, SqlValue::Text(id.clone())))
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
        let count_sql = format!("SELECT COUNT(*) FROM brand_kits WHERE {filter}");
        let filter_values = values.clone();
        let limit = bind(&mut values, SqlValue::Integer(query.limit));
        let offset = bind(&mut values, SqlValue::Integer(query.offset));
        let page_sql = format!(
            "SELECT {KIT_COLUMNS} FROM brand_kits WHERE {filter} \
             ORDER BY {order_column} {direction}, id {direction} LIMIT {limit} OFFSET {offset}"
        );
        self.read(|c| {
            let total: i64 =
                c.query_row(&count_sql, params_from_iter(filter_values.iter()), |row| {
                    row.get(0)
                })?;
            let kits = query_all(c, &page_sql, params_from_iter(values.iter()), kit_from_row)?;
            Ok((total, kits))
        })
    }

    async fn get_kit(&self, org: &OrgId, id: &str) -> StoreResult<Option<KitRecord>> {
        self.read(|c| {
            query_one(
                c,
                &format!("SELECT {KIT_COLUMNS} FROM brand_kits WHERE org_id = ?1 AND id = ?2"),
                params![org.as_str(), id],
                kit_from_row,
            )
        })
    }

    async fn update_kit(&self, kit: &KitRecord, expected_version: i64) -> StoreResult<bool> {
        self.write(|c| {
            let changed = c
                .execute(
                    "UPDATE brand_kits SET name = ?1, description = ?2, brand_name = ?3, company_name = ?4, logo = ?5, \
                     industry = ?6, status = ?7, parent_id = ?8, parent_type = ?9, tags = ?10, refs = ?11, locked = ?12, \
                     version = ?13, updated_at = ?14, updated_by = ?15, deleted_at = ?16 \
                     WHERE org_id = ?17 AND id = ?18 AND version = ?19",
                    params![
                        kit.name,
                        kit.description,
                        kit.brand_name,
                        kit.company_name,
                        kit.logo,
                        kit.industry,
                        kit.status,
                        kit.parent_id,
                        kit.parent_type,
                        kit.tags.to_string(),
                        kit.references.to_string(),
                        i64::from(kit.locked),
                        kit.version,
                        kit.updated_at,
                        kit.updated_by,
                        kit.deleted_at,
                        kit.org_id.as_str(),
                        kit.id,
                        expected_version
                    ],
                )
                .map_err(duplicate_or)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn list_sections(&self, kit_id: &str) -> StoreResult<Vec<SectionRecord>> {
        self.read(|c| {
            query_all(
                c,
                &format!("SELECT {SECTION_COLUMNS} FROM brand_sections WHERE kit_id = ?1 ORDER BY position, created_at, id"),
                [kit_id],
                section_from_row,
            )
        })
    }

    async fn get_section(&self, kit_id: &str, id: &str) -> StoreResult<Option<SectionRecord>> {
        self.read(|c| {
            query_one(
                c,
                &format!(
                    "SELECT {SECTION_COLUMNS} FROM brand_sections WHERE kit_id = ?1 AND id = ?2"
                ),
                [kit_id, id],
                section_from_row,
            )
        })
    }

    async fn insert_section(&self, section: &SectionRecord) -> StoreResult<()> {
        self.write(|c| insert_section_in(c, section)).await
    }

    async fn update_section(
        &self,
        section: &SectionRecord,
        expected_version: i64,
    ) -> StoreResult<bool> {
        self.write(|c| {
            let changed = c.execute(
                "UPDATE brand_sections SET name = ?1, position = ?2, deletable = ?3, properties = ?4, version = ?5, \
                 updated_at = ?6, updated_by = ?7, deleted_at = ?8 WHERE kit_id = ?9 AND id = ?10 AND version = ?11",
                params![
                    section.name,
                    section.order,
                    i64::from(section.deletable),
                    section.properties.to_string(),
                    section.version,
                    section.updated_at,
                    section.updated_by,
                    section.deleted_at,
                    section.kit_id,
                    section.id,
                    expected_version
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn list_fields(&self, section_id: &str) -> StoreResult<Vec<FieldRecord>> {
        self.read(|c| {
            query_all(
                c,
                &format!(
                    "SELECT {FIELD_COLUMNS} FROM brand_fields WHERE section_id = ?1 \
                     ORDER BY position IS NULL, position, created_at, id"
                ),
                [section_id],
                field_from_row,
            )
        })
    }

    async fn page_fields(
        &self,
        section_id: &str,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(i64, Vec<FieldRecord>)> {
        self.read(|c| {
            let total: i64 = c.query_row(
                "SELECT COUNT(*) FROM brand_fields WHERE section_id = ?1",
                [section_id],
                |row| row.get(0),
            )?;
            let fields = query_all(
                c,
                &format!(
                    "SELECT {FIELD_COLUMNS} FROM brand_fields WHERE section_id = ?1 \
                     ORDER BY position IS NULL, position, created_at, id LIMIT ?2 OFFSET ?3"
                ),
                params![section_id, limit, offset],
                field_from_row,
            )?;
            Ok((total, fields))
        })
    }

    async fn get_field(&self, section_id: &str, id: &str) -> StoreResult<Option<FieldRecord>> {
        self.read(|c| {
            query_one(
                c,
                &format!(
                    "SELECT {FIELD_COLUMNS} FROM brand_fields WHERE section_id = ?1 AND id = ?2"
                ),
                [section_id, id],
                field_from_row,
            )
        })
    }

    async fn insert_field(&self, field: &FieldRecord) -> StoreResult<()> {
        self.write(|c| insert_field_in(c, field)).await
    }

    async fn update_field(&self, field: &FieldRecord, expected_version: i64) -> StoreResult<bool> {
        self.write(|c| {
            let changed = c.execute(
                "UPDATE brand_fields SET name = ?1, position = ?2, value = ?3, intent = ?4, refs = ?5, deletable = ?6, \
                 verified = ?7, ai_editable = ?8, properties = ?9, version = ?10, updated_at = ?11, updated_by = ?12 \
                 WHERE section_id = ?13 AND id = ?14 AND version = ?15",
                params![
                    field.name,
                    field.order,
                    field.value.to_string(),
                    field.intent,
                    field.references.to_string(),
                    i64::from(field.deletable),
                    field.verified.map(i64::from),
                    i64::from(field.ai_editable),
                    field.properties.to_string(),
                    field.version,
                    field.updated_at,
                    field.updated_by,
                    field.section_id,
                    field.id,
                    expected_version
                ],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_field(&self, section_id: &str, id: &str) -> StoreResult<bool> {
        self.write(|c| {
            Ok(c.execute(
                "DELETE FROM brand_fields WHERE section_id = ?1 AND id = ?2",
                [section_id, id],
            )? == 1)
        })
        .await
    }
}
