//! The Brand Management API (reference §2A): brand kits (v1), sections (v1), subsections
//! (v2, and the paginated v3 list). Request and response types mirror the hosted service's
//! shapes field for field.

pub mod fields;
pub mod kits;
pub mod sections;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Deserializer};

use crate::AppState;

/// Deserialises a present key (even `null`) as `Some(value)`, so a missing key stays `None`:
/// the basis of true partial updates.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The Brand Management routes, relative to the API base URL.
pub fn router() -> Router<Arc<AppState>> {
    let kits = "/api/brands/v1/organizations/{organizationId}/brandkits";
    let kit = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}";
    let sections = "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}/sections";
    let section =
        "/api/brands/v1/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}";
    let fields_v2 =
        "/api/brands/v2/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields";
    let field_v2 = "/api/brands/v2/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields/{fieldId}";
    let fields_v3 =
        "/api/brands/v3/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields";
    Router::new()
        .route(kits, get(kits::list_kits).post(kits::create_kit))
        .route(
            kit,
            get(kits::get_kit)
                .patch(kits::update_kit)
                .delete(kits::delete_kit),
        )
        .route(
            sections,
            get(sections::list_sections).post(sections::create_section),
        )
        .route(
            section,
            get(sections::get_section)
                .patch(sections::update_section)
                .delete(sections::delete_section),
        )
        .route(
            fields_v2,
            get(fields::list_fields).post(fields::create_field),
        )
        .route(
            field_v2,
            get(fields::get_field)
                .patch(fields::update_field)
                .delete(fields::delete_field),
        )
        .route(fields_v3, get(fields::page_fields))
}
