//! Brand kits, sections and subsections: creation from the catalogue, validation, partial
//! updates with optimistic concurrency, locking, and soft deletion.

use std::sync::Arc;

use brandstream_domain::brand::{
    validate_value, FieldType, KitStatus, CATALOGUE, GLOSSARY_SECTION, NAME_MAX,
};
use brandstream_domain::{BrandKitId, FieldId, OrgId, SectionId};
use brandstream_store::{FieldRecord, KitQuery, KitRecord, SectionRecord, Stamp, Store};
use serde_json::{json, Value};

use super::{now_micros, Precondition};
use crate::error::{FieldIssue, ServiceError};

/// A value that may be absent (leave unchanged), `null` (clear) or set.
pub type Patch<T> = Option<Option<T>>;

/// Collects 422 issues for body fields.
#[derive(Default)]
pub struct Issues(Vec<FieldIssue>);

impl Issues {
    /// Records a problem with body field `field`.
    pub fn add(&mut self, field: &str, msg: impl Into<String>, kind: &str) {
        self.0.push(FieldIssue::new(
            vec![json!("body"), json!(field)],
            msg,
            kind,
        ));
    }

    /// Records a problem at a nested location under `body`.
    pub fn add_at(&mut self, loc: Vec<Value>, msg: impl Into<String>, kind: &str) {
        let mut full = vec![json!("body")];
        full.extend(loc);
        self.0.push(FieldIssue::new(full, msg, kind));
    }

    /// Checks a required name: 1 to 200 characters after trimming.
    pub fn name(&mut self, field: &str, value: &str) -> String {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.add(
                field,
                "String should have at least 1 character",
                "string_too_short",
            );
        } else if trimmed.chars().count() > NAME_MAX {
            self.add(
                field,
                format!("String should have at most {NAME_MAX} characters"),
                "string_too_long",
            );
        }
        trimmed.to_owned()
    }

    /// Checks an optional text of at most `max` characters.
    pub fn text(&mut self, field: &str, value: Option<String>, max: usize) -> Option<String> {
        if let Some(text) = &value {
            if text.chars().count() > max {
                self.add(
                    field,
                    format!("String should have at most {max} characters"),
                    "string_too_long",
                );
            }
        }
        value
    }

    /// Fails with 422 if anything was recorded.
    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(self.0))
        }
    }
}

fn locked() -> ServiceError {
    ServiceError::Conflict("Brand Kit is locked".into())
}

/// Kit fields a creation may set.
#[derive(Debug, Default)]
pub struct NewKit {
    /// Name (required).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Brand name.
    pub brand_name: Option<String>,
    /// Company name.
    pub company_name: Option<String>,
    /// Logo URL.
    pub logo: Option<String>,
}

/// Kit fields a PATCH may change.
#[derive(Debug, Default)]
pub struct KitChanges {
    /// New status.
    pub status: Patch<KitStatus>,
    /// New name.
    pub name: Patch<String>,
    /// New description.
    pub description: Patch<String>,
    /// New parent.
    pub parent_id: Patch<String>,
    /// New parent type.
    pub parent_type: Patch<String>,
    /// New industry.
    pub industry: Patch<String>,
    /// New tags (validated `[{"category", "values"}]`).
    pub tags: Patch<Value>,
    /// New brand name.
    pub brand_name: Patch<String>,
    /// New company name.
    pub company_name: Patch<String>,
    /// New logo.
    pub logo: Patch<String>,
    /// Lock or unlock.
    pub locked: Patch<bool>,
}

/// Section fields a creation may set.
#[derive(Debug, Default)]
pub struct NewSection {
    /// Name.
    pub name: String,
    /// Position (default: after the last).
    pub order: Option<i64>,
    /// Whether people may delete it (default true for custom sections).
    pub deletable: Option<bool>,
    /// Free-form properties.
    pub properties: Option<Value>,
}

/// Section fields a PATCH may change.
#[derive(Debug, Default)]
pub struct SectionChanges {
    /// New name.
    pub name: Patch<String>,
    /// New position.
    pub order: Patch<i64>,
    /// New deletability.
    pub deletable: Patch<bool>,
    /// New properties.
    pub properties: Patch<Value>,
}

/// Subsection fields a creation may set.
#[derive(Debug, Default)]
pub struct NewField {
    /// Name.
    pub name: String,
    /// Type.
    pub field_type: Option<FieldType>,
    /// Position.
    pub order: Option<i64>,
    /// Value (validated against the type).
    pub value: Option<Value>,
    /// Intent.
    pub intent: Option<String>,
    /// Sources (`[{"id", "path", "type"}]`).
    pub references: Option<Value>,
    /// Deletable (default false, as the hosted service).
    pub deletable: Option<bool>,
    /// Verified.
    pub verified: Option<bool>,
    /// AI-editable (default true).
    pub ai_editable: Option<bool>,
    /// Properties.
    pub properties: Option<Value>,
}

/// Subsection fields a PATCH may change.
#[derive(Debug, Default)]
pub struct FieldChanges {
    /// New deletability.
    pub deletable: Patch<bool>,
    /// New name.
    pub name: Patch<String>,
    /// New verified flag.
    pub verified: Patch<bool>,
    /// New position.
    pub order: Patch<i64>,
    /// New value (validated against the type).
    pub value: Patch<Value>,
    /// New intent.
    pub intent: Patch<String>,
    /// New AI-editability.
    pub ai_editable: Patch<bool>,
    /// New properties.
    pub properties: Patch<Value>,
}

/// The brand service.
#[derive(Clone)]
pub struct BrandService {
    store: Arc<dyn Store>,
}

/// Applies a patch to an optional field: absent leaves it, `null` clears it.
fn set_optional<T>(target: &mut Option<T>, patch: Patch<T>) {
    if let Some(value) = patch {
        *target = value;
    }
}

/// Applies a patch to a required field: absent leaves it, `null` resets it with `cleared`.
fn apply<T>(target: &mut T, patch: Patch<T>, cleared: impl FnOnce() -> T) {
    match patch {
        None => {}
        Some(None) => *target = cleared(),
        Some(Some(value)) => *target = value,
    }
}

impl BrandService {
    /// A service over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    /// Creates a kit with the catalogue's sections and empty subsections.
    pub async fn create_kit(
        &self,
        org: &OrgId,
        actor: &str,
        new: NewKit,
    ) -> Result<KitRecord, ServiceError> {
        let now = now_micros();
        let kit = KitRecord {
            id: BrandKitId::generate(),
            org_id: org.clone(),
            name: new.name,
            description: new.description,
            brand_name: new.brand_name,
            company_name: new.company_name,
            logo: new.logo,
            industry: new.industry,
            status: KitStatus::Draft.as_str().into(),
            parent_id: None,
            parent_type: Some(String::new()),
            tags: json!([]),
            references: json!([]),
            locked: false,
            version: 1,
            stamp: Stamp::new(now, actor),
            deleted_at: None,
        };
        let mut sections = Vec::with_capacity(CATALOGUE.len());
        let mut fields = Vec::new();
        for template in CATALOGUE {
            let section_id = SectionId::generate();
            let properties = if template.name == GLOSSARY_SECTION {
                json!({"sourceLanguage": "en-US"})
            } else {
                json!({})
            };
            sections.push(SectionRecord {
                id: section_id.clone(),
                kit_id: kit.id.clone(),
                name: template.name.into(),
                order: template.order,
                deletable: false,
                predefined: true,
                properties,
                version: 1,
                stamp: Stamp::new(now, actor),
                deleted_at: None,
            });
            for (index, subsection) in template.subsections.iter().enumerate() {
                fields.push(FieldRecord {
                    id: FieldId::generate(),
                    section_id: section_id.clone(),
                    kit_id: kit.id.clone(),
                    name: subsection.name.into(),
                    field_type: subsection.field_type.as_str().into(),
                    order: Some(index as i64 + 1),
                    value: subsection.field_type.empty_value(),
                    intent: Some(subsection.intent.into()),
                    references: json!([]),
                    deletable: false,
                    verified: None,
                    ai_editable: true,
                    predefined: true,
                    properties: json!({}),
                    version: 1,
                    stamp: Stamp::new(now, actor),
                });
            }
        }
        self.store.create_kit(&kit, &sections, &fields).await?;
        Ok(kit)
    }

    /// One page of kits.
    pub async fn list_kits(
        &self,
        org: &OrgId,
        query: &KitQuery,
    ) -> Result<(i64, Vec<KitRecord>), ServiceError> {
        self.store
            .list_kits(org, query)
            .await
            .map_err(ServiceError::from)
    }

    /// A kit; deleted kits only with `include_deleted`.
    pub async fn get_kit(
        &self,
        org: &OrgId,
        id: &BrandKitId,
        include_deleted: bool,
    ) -> Result<KitRecord, ServiceError> {
        match self.store.get_kit(org, id).await? {
            Some(kit) if include_deleted || kit.deleted_at.is_none() => Ok(kit),
            _ => Err(ServiceError::NotFound("Brand kit")),
        }
    }

    /// A live kit that may be written to (not locked).
    async fn writable_kit(&self, org: &OrgId, id: &BrandKitId) -> Result<KitRecord, ServiceError> {
        let kit = self.get_kit(org, id, false).await?;
        if kit.locked {
            return Err(locked());
        }
        Ok(kit)
    }

    /// Applies a partial update. A locked kit only accepts changes to `locked` itself.
    pub async fn update_kit(
        &self,
        org: &OrgId,
        id: &BrandKitId,
        actor: &str,
        changes: KitChanges,
        precondition: &dyn Precondition,
    ) -> Result<KitRecord, ServiceError> {
        let current = self.get_kit(org, id, false).await?;
        if !precondition.admits(&current.id, current.version) {
            return Err(ServiceError::PreconditionFailed);
        }
        let only_lock = changes.status.is_none()
            && changes.name.is_none()
            && changes.description.is_none()
            && changes.parent_id.is_none()
            && changes.parent_type.is_none()
            && changes.industry.is_none()
            && changes.tags.is_none()
            && changes.brand_name.is_none()
            && changes.company_name.is_none()
            && changes.logo.is_none();
        if current.locked && !only_lock {
            return Err(locked());
        }
        let mut kit = current.clone();
        if let Some(status) = changes.status {
            kit.status = status.unwrap_or(KitStatus::Draft).as_str().into();
        }
        if let Some(Some(name)) = changes.name {
            kit.name = name;
        }
        set_optional(&mut kit.description, changes.description);
        set_optional(&mut kit.parent_id, changes.parent_id);
        set_optional(&mut kit.parent_type, changes.parent_type);
        set_optional(&mut kit.industry, changes.industry);
        apply(&mut kit.tags, changes.tags, || json!([]));
        set_optional(&mut kit.brand_name, changes.brand_name);
        set_optional(&mut kit.company_name, changes.company_name);
        set_optional(&mut kit.logo, changes.logo);
        apply(&mut kit.locked, changes.locked, || false);
        kit.version += 1;
        kit.stamp.touch(now_micros(), actor);
        if !self.store.update_kit(&kit, current.version).await? {
            return Err(ServiceError::PreconditionFailed);
        }
        Ok(kit)
    }

    /// Soft-deletes a kit. Locked kits cannot be deleted.
    pub async fn delete_kit(
        &self,
        org: &OrgId,
        id: &BrandKitId,
        actor: &str,
    ) -> Result<(), ServiceError> {
        let current = self.writable_kit(org, id).await?;
        let mut kit = current.clone();
        kit.deleted_at = Some(now_micros());
        kit.version += 1;
        kit.stamp.updated_by = actor.into();
        if !self.store.update_kit(&kit, current.version).await? {
            return Err(ServiceError::PreconditionFailed);
        }
        Ok(())
    }

    /// A kit's sections, optionally only `ids`, by position.
    pub async fn list_sections(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        ids: &[String],
        include_deleted: bool,
    ) -> Result<Vec<SectionRecord>, ServiceError> {
        self.get_kit(org, kit_id, false).await?;
        let sections = self.store.list_sections(kit_id).await?;
        Ok(sections
            .into_iter()
            .filter(|section| include_deleted || section.deleted_at.is_none())
            .filter(|section| ids.is_empty() || ids.iter().any(|id| section.id == *id))
            .collect())
    }

    /// One live section of a live kit.
    pub async fn get_section(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        id: &SectionId,
    ) -> Result<SectionRecord, ServiceError> {
        self.get_kit(org, kit_id, false).await?;
        self.live_section(kit_id, id).await
    }

    async fn live_section(
        &self,
        kit_id: &BrandKitId,
        id: &SectionId,
    ) -> Result<SectionRecord, ServiceError> {
        match self.store.get_section(kit_id, id).await? {
            Some(section) if section.deleted_at.is_none() => Ok(section),
            _ => Err(ServiceError::NotFound("Section")),
        }
    }

    /// Adds a custom section.
    pub async fn create_section(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        actor: &str,
        new: NewSection,
    ) -> Result<SectionRecord, ServiceError> {
        self.writable_kit(org, kit_id).await?;
        let existing = self.store.list_sections(kit_id).await?;
        let next = existing.iter().map(|s| s.order).max().unwrap_or(0) + 1;
        let now = now_micros();
        let section = SectionRecord {
            id: SectionId::generate(),
            kit_id: kit_id.clone(),
            name: new.name,
            order: new.order.unwrap_or(next),
            deletable: new.deletable.unwrap_or(true),
            predefined: false,
            properties: new.properties.unwrap_or_else(|| json!({})),
            version: 1,
            stamp: Stamp::new(now, actor),
            deleted_at: None,
        };
        self.store.insert_section(&section).await?;
        Ok(section)
    }

    /// Partially updates a section. Predefined sections keep their name.
    pub async fn update_section(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        id: &SectionId,
        actor: &str,
        changes: SectionChanges,
        precondition: &dyn Precondition,
    ) -> Result<SectionRecord, ServiceError> {
        self.writable_kit(org, kit_id).await?;
        let current = self.live_section(kit_id, id).await?;
        if !precondition.admits(&current.id, current.version) {
            return Err(ServiceError::PreconditionFailed);
        }
        let mut section = current.clone();
        if let Some(Some(name)) = changes.name {
            if current.predefined && name != current.name {
                return Err(ServiceError::Rejected(
                    "Predefined sections cannot be renamed".into(),
                ));
            }
            section.name = name;
        }
        if let Some(Some(order)) = changes.order {
            section.order = order;
        }
        if let Some(Some(deletable)) = changes.deletable {
            if current.predefined && deletable {
                return Err(ServiceError::Rejected(
                    "Predefined sections cannot be made deletable".into(),
                ));
            }
            section.deletable = deletable;
        }
        apply(&mut section.properties, changes.properties, || json!({}));
        section.version += 1;
        section.stamp.touch(now_micros(), actor);
        if !self.store.update_section(&section, current.version).await? {
            return Err(ServiceError::PreconditionFailed);
        }
        Ok(section)
    }

    /// Soft-deletes a custom, deletable section.
    pub async fn delete_section(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        id: &SectionId,
        actor: &str,
    ) -> Result<(), ServiceError> {
        self.writable_kit(org, kit_id).await?;
        let current = self.live_section(kit_id, id).await?;
        if current.predefined || !current.deletable {
            return Err(ServiceError::Rejected(
                "Predefined sections cannot be deleted".into(),
            ));
        }
        let mut section = current.clone();
        section.deleted_at = Some(now_micros());
        section.version += 1;
        section.stamp.updated_by = actor.into();
        if !self.store.update_section(&section, current.version).await? {
            return Err(ServiceError::PreconditionFailed);
        }
        Ok(())
    }

    /// A section's subsections.
    pub async fn list_fields(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        section_id: &SectionId,
    ) -> Result<Vec<FieldRecord>, ServiceError> {
        self.get_section(org, kit_id, section_id).await?;
        self.store
            .list_fields(section_id)
            .await
            .map_err(ServiceError::from)
    }

    /// One page of a section's subsections.
    pub async fn page_fields(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        section_id: &SectionId,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<FieldRecord>), ServiceError> {
        self.get_section(org, kit_id, section_id).await?;
        self.store
            .page_fields(section_id, offset, limit)
            .await
            .map_err(ServiceError::from)
    }

    /// One subsection.
    pub async fn get_field(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        section_id: &SectionId,
        id: &FieldId,
    ) -> Result<FieldRecord, ServiceError> {
        self.get_section(org, kit_id, section_id).await?;
        self.store
            .get_field(section_id, id)
            .await?
            .ok_or(ServiceError::NotFound("Subsection"))
    }

    /// Adds a subsection (or a glossary term).
    pub async fn create_field(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        section_id: &SectionId,
        actor: &str,
        new: NewField,
    ) -> Result<FieldRecord, ServiceError> {
        self.writable_kit(org, kit_id).await?;
        let section = self.live_section(kit_id, section_id).await?;
        let field_type = new.field_type.unwrap_or(FieldType::Text);
        let glossary = section.name == GLOSSARY_SECTION;
        let value = match &new.value {
            Some(value) => checked_value(field_type, glossary, value)?,
            None => field_type.empty_value(),
        };
        let now = now_micros();
        let field = FieldRecord {
            id: FieldId::generate(),
            section_id: section_id.clone(),
            kit_id: kit_id.clone(),
            name: new.name,
            field_type: field_type.as_str().into(),
            order: new.order,
            value,
            intent: new.intent,
            references: new.references.unwrap_or_else(|| json!([])),
            deletable: new.deletable.unwrap_or(false),
            verified: new.verified,
            ai_editable: new.ai_editable.unwrap_or(true),
            predefined: false,
            properties: new.properties.unwrap_or_else(|| json!({})),
            version: 1,
            stamp: Stamp::new(now, actor),
        };
        self.store.insert_field(&field).await?;
        Ok(field)
    }

    /// Partially updates a subsection; only the keys sent change.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_field(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        section_id: &SectionId,
        id: &FieldId,
        actor: &str,
        changes: FieldChanges,
        precondition: &dyn Precondition,
    ) -> Result<FieldRecord, ServiceError> {
        self.writable_kit(org, kit_id).await?;
        let section = self.live_section(kit_id, section_id).await?;
        let current = self
            .store
            .get_field(section_id, id)
            .await?
            .ok_or(ServiceError::NotFound("Subsection"))?;
        if !precondition.admits(&current.id, current.version) {
            return Err(ServiceError::PreconditionFailed);
        }
        let mut field = current.clone();
        if let Some(Some(name)) = changes.name {
            if current.predefined && name != current.name {
                return Err(ServiceError::Rejected(
                    "Predefined subsections cannot be renamed".into(),
                ));
            }
            field.name = name;
        }
        if let Some(value) = changes.value {
            let field_type = FieldType::parse(&current.field_type).unwrap_or(FieldType::Text);
            field.value = match value {
                None => field_type.empty_value(),
                Some(value) => checked_value(field_type, section.name == GLOSSARY_SECTION, &value)?,
            };
        }
        if let Some(Some(deletable)) = changes.deletable {
            if current.predefined && deletable {
                return Err(ServiceError::Rejected(
                    "Predefined subsections cannot be made deletable".into(),
                ));
            }
            field.deletable = deletable;
        }
        set_optional(&mut field.verified, changes.verified);
        set_optional(&mut field.order, changes.order);
        set_optional(&mut field.intent, changes.intent);
        if let Some(Some(ai_editable)) = changes.ai_editable {
            field.ai_editable = ai_editable;
        }
        apply(&mut field.properties, changes.properties, || json!({}));
        field.version += 1;
        field.stamp.touch(now_micros(), actor);
        if !self.store.update_field(&field, current.version).await? {
            return Err(ServiceError::PreconditionFailed);
        }
        Ok(field)
    }

    /// Deletes a custom, deletable subsection.
    pub async fn delete_field(
        &self,
        org: &OrgId,
        kit_id: &BrandKitId,
        section_id: &SectionId,
        id: &FieldId,
    ) -> Result<(), ServiceError> {
        self.writable_kit(org, kit_id).await?;
        self.live_section(kit_id, section_id).await?;
        let field = self
            .store
            .get_field(section_id, id)
            .await?
            .ok_or(ServiceError::NotFound("Subsection"))?;
        if field.predefined || !field.deletable {
            return Err(ServiceError::Rejected(
                "Predefined subsections cannot be deleted".into(),
            ));
        }
        self.store.delete_field(section_id, id).await?;
        Ok(())
    }
}

/// Validates a value for its type, as a 422 located at `body.value…`.
fn checked_value(
    field_type: FieldType,
    glossary: bool,
    value: &Value,
) -> Result<Value, ServiceError> {
    validate_value(field_type, glossary, value).map_err(|errors| {
        ServiceError::Invalid(
            errors
                .into_iter()
                .map(|error| {
                    let mut loc = vec![json!("body"), json!("value")];
                    loc.extend(error.loc);
                    FieldIssue::new(loc, error.msg, error.kind)
                })
                .collect(),
        )
    })
}
