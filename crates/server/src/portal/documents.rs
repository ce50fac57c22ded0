//! A kit's documents in the portal: uploading a file, and starting an ingestion run over the
//! kit's documents.

use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::errors::PortalError;
use super::extract::CsrfForm;
use super::kits::{render_kit, NO_SUCH_KIT};
use super::session::{check_csrf, PortalUser};
use super::valid_uuid;
use crate::services::documents::NewDocument;
use crate::AppState;

/// A multipart form, so the CSRF token is read from its part (after the file) and checked with
/// the same `check_csrf` as every other form.
pub(super) async fn upload_document(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Path(kit_id): Path<String>,
    mut multipart: Multipart,
) -> Result<Response, PortalError> {
    let kit_id = valid_uuid::<brandstream_domain::BrandKitId>(&kit_id).ok_or(NO_SUCH_KIT)?;
    let mut csrf = String::new();
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("file") => {
                    let name = field.file_name().map(str::to_owned);
                    let declared = field.content_type().map(str::to_owned);
                    match field.bytes().await {
                        Ok(bytes) => file = Some((bytes, name, declared)),
                        Err(error) => {
                            return render_kit(&state, &user, &kit_id, Some(error.body_text()))
                                .await
                        }
                    }
                }
                _ => {}
            },
            Ok(None) => break,
            Err(error) => return render_kit(&state, &user, &kit_id, Some(error.body_text())).await,
        }
    }
    check_csrf(&headers, user.csrf(), &csrf)?;
    let title = file
        .as_ref()
        .and_then(|(_, name, _): &(_, Option<String>, _)| name.clone());
    let create = NewDocument {
        title,
        references: Some(vec![serde_json::json!({"type": "brandkit", "id": kit_id})]),
        ..Default::default()
    };
    match state
        .documents
        .create_document(&user.org, &user.actor(), create, file)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/portal/kits/{kit_id}")).into_response()),
        Err(error) => render_kit(&state, &user, &kit_id, Some(error.message())).await,
    }
}

pub(super) async fn start_ingestion(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    Path(kit_id): Path<String>,
    CsrfForm(_): CsrfForm,
) -> Result<Response, PortalError> {
    let kit_id = valid_uuid::<brandstream_domain::BrandKitId>(&kit_id).ok_or(NO_SUCH_KIT)?;
    let mut parameters = serde_json::Map::new();
    parameters.insert("brand_kit_id".into(), serde_json::json!(kit_id));
    parameters.insert("populateSections".into(), serde_json::json!(true));
    match state
        .runs
        .queue_ingestion(&user.org, &user.actor(), parameters)
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/portal/kits/{kit_id}")).into_response()),
        Err(error) => render_kit(&state, &user, &kit_id, Some(error.message())).await,
    }
}
