//! The Brand Management API (reference §2A): brand kits (v1), sections (v1), subsections
//! (v2, and the paginated v3 list). Request and response types mirror the hosted service's
//! shapes field for field.

pub mod fields;
pub mod kits;
pub mod sections;

use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// The Brand Management routes with their OpenAPI entries, relative to the API base URL.
pub fn router() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::new()
        .routes(routes!(kits::list_kits, kits::create_kit))
        .routes(routes!(kits::get_kit, kits::update_kit, kits::delete_kit))
        .routes(routes!(sections::list_sections, sections::create_section))
        .routes(routes!(
            sections::get_section,
            sections::update_section,
            sections::delete_section
        ))
        .routes(routes!(fields::list_fields, fields::create_field))
        .routes(routes!(
            fields::get_field,
            fields::update_field,
            fields::delete_field
        ))
        .routes(routes!(fields::page_fields))
}
