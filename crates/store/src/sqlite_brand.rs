//! The SQLite implementation of [`BrandStore`].

use async_trait::async_trait;
use brandstream_domain::OrgId;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};

use crate::brand::{BrandStore, FieldRecord, KitQuery, KitRecord, SectionRecord};
use crate::rows::{
    field_from_row, field_values, insert_statement, kit_from_row, kit_values, section_from_row,
    section_values, FIELDS, FIELD_COLUMNS, KITS, KIT_COLUMNS, SECTIONS, SECTION_COLUMNS,
};
use crate::sqlite::{is_unique_violation, query_all, query_one, update_row};
use crate::{SqliteStore, StoreError, StoreResult};

fn duplicate_or(error: rusqlite::Error) -> StoreError {
    if is_unique_violation(&error) {
        StoreError::Duplicate("brand kit name")
    } else {
        error.into()
    }
}

fn insert_section_in(connection: &Connection, section: &SectionRecord) -> StoreResult<()> {
    connection.execute(
        &insert_statement("brand_sections", SECTION_COLUMNS, '?'),
        params_from_iter(section_values(section)),
    )?;
    Ok(())
}

pub(crate) fn insert_field_in(connection: &Connection, field: &FieldRecord) -> StoreResult<()> {
    connection.execute(
        &insert_statement("brand_fields", FIELD_COLUMNS, '?'),
        params_from_iter(field_values(field)),
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
                    &insert_statement("brand_kits", KIT_COLUMNS, '?'),
                    params_from_iter(kit_values(kit)),
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
            let kits = query_all(c, &page_sql, params_from_iter(values.iter()), |row| {
                kit_from_row(row)
            })?;
            Ok((total, kits))
        })
    }

    async fn get_kit(&self, org: &OrgId, id: &str) -> StoreResult<Option<KitRecord>> {
        self.read(|c| {
            query_one(
                c,
                &format!("SELECT {KIT_COLUMNS} FROM brand_kits WHERE org_id = ?1 AND id = ?2"),
                params![org.as_str(), id],
                |row| kit_from_row(row),
            )
        })
    }

    async fn update_kit(&self, kit: &KitRecord, expected_version: i64) -> StoreResult<bool> {
        self.write(|c| {
            update_row(
                c,
                &KITS.update(
                    kit_values(kit),
                    kit.org_id.as_str(),
                    &kit.id,
                    expected_version,
                ),
            )
            .map_err(duplicate_or)
        })
        .await
    }

    async fn list_sections(&self, kit_id: &str) -> StoreResult<Vec<SectionRecord>> {
        self.read(|c| {
            query_all(
                c,
                &format!("SELECT {SECTION_COLUMNS} FROM brand_sections WHERE kit_id = ?1 ORDER BY position, created_at, id"),
                [kit_id],
                |row| section_from_row(row),
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
                |row| section_from_row(row),
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
            Ok(update_row(
                c,
                &SECTIONS.update(
                    section_values(section),
                    &section.kit_id,
                    &section.id,
                    expected_version,
                ),
            )?)
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
                |row| field_from_row(row),
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
                |row| field_from_row(row),
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
                |row| field_from_row(row),
            )
        })
    }

    async fn insert_field(&self, field: &FieldRecord) -> StoreResult<()> {
        self.write(|c| insert_field_in(c, field)).await
    }

    async fn update_field(&self, field: &FieldRecord, expected_version: i64) -> StoreResult<bool> {
        self.write(|c| {
            Ok(update_row(
                c,
                &FIELDS.update(
                    field_values(field),
                    &field.section_id,
                    &field.id,
                    expected_version,
                ),
            )?)
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
