//! Brand kits in the portal: the list, one kit with its sections, fields and their sources,
//! creating and locking kits, and editing a field's value.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use brandstream_store::{DocumentQuery, KitQuery, RunQuery};
use serde::Deserialize;

use super::errors::PortalError;
use super::extract::CsrfForm;
use super::session::PortalUser;
use super::{page_status, pages, valid_uuid};
use crate::api::IfMatch;
use crate::services::brands::{FieldChanges, Issues, KitChanges, NewKit};
use crate::AppState;

/// The `404` for a kit that is not the organisation's (or any path part that is no UUID).
pub(super) const NO_SUCH_KIT: PortalError =
    PortalError::NotFound("There is no such brand kit in this organisation.");

pub(super) async fn kits_page(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
) -> Result<Response, PortalError> {
    render_kits(&state, &user, None).await
}

/// The kits page, with `error` shown above the form (`422`) when given.
async fn render_kits(
    state: &AppState,
    user: &PortalUser,
    error: Option<&str>,
) -> Result<Response, PortalError> {
    let query = KitQuery {
        limit: 200,
        descending: true,
        ..KitQuery::default()
    };
    let (_, kits) = state.brands.list_kits(&user.org, &query).await?;
    let status = page_status(error.is_some());
    Ok((status, pages::kits(user, &kits, error)).into_response())
}

#[derive(Deserialize)]
pub(super) struct KitForm {
    #[serde(default)]
    name: String,
}

pub(super) async fn create_kit(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    CsrfForm(form): CsrfForm<KitForm>,
) -> Result<Response, PortalError> {
    let mut issues = Issues::default();
    let name = issues.name("name", &form.name);
    if let Err(error) = issues.finish() {
        return render_kits(&state, &user, Some(&error.message())).await;
    }
    let new = NewKit {
        name,
        ..Default::default()
    };
    match state.brands.create_kit(&user.org, &user.actor(), new).await {
        Ok(kit) => Ok(Redirect::to(&format!("/portal/kits/{}", kit.id)).into_response()),
        Err(error) => render_kits(&state, &user, Some(&error.message())).await,
    }
}

pub(super) async fn kit_page(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    Path(kit_id): Path<String>,
) -> Result<Response, PortalError> {
    render_kit(&state, &user, &kit_id, None).await
}

/// The kit page, with `error` shown at the top (`422`) when given: after a failed change the
/// kit is shown again rather than an error page.
pub(super) async fn render_kit(
    state: &AppState,
    user: &PortalUser,
    kit_id: &str,
    error: Option<String>,
) -> Result<Response, PortalError> {
    let kit_id = valid_uuid(kit_id).ok_or(NO_SUCH_KIT)?;
    let kit = state
        .brands
        .get_kit(&user.org, &kit_id, false)
        .await
        .map_err(|_| NO_SUCH_KIT)?;
    let loaded = async {
        let mut sections = Vec::new();
        for section in state
            .brands
            .list_sections(&user.org, &kit.id, &[], false)
            .await?
        {
            let mut fields = Vec::new();
            for field in state
                .brands
                .list_fields(&user.org, &kit.id, &section.id)
                .await?
            {
                let mut sources = Vec::new();
                let ids = field.references.as_array().cloned().unwrap_or_default();
                for reference in ids.iter().take(3) {
                    let Some(id) = reference.get("id").and_then(serde_json::Value::as_str) else {
                        continue;
                    };
                    if let Ok(chunk) = state.documents.get_chunk(&user.org, &id.into()).await {
                        let heading = chunk.headings.last().cloned().unwrap_or_default();
                        let mut excerpt: String = chunk.text.chars().take(400).collect();
                        if chunk.text.chars().count() > 400 {
                            excerpt.push('…');
                        }
                        sources.push(pages::SourceView {
                            label: format!("p. {} — {heading}", chunk.page_start),
                            excerpt,
                        });
                    }
                }
                fields.push(pages::FieldView { field, sources });
            }
            sections.push((section, fields));
        }
        let (_, documents) = state
            .documents
            .list(
                &user.org,
                &DocumentQuery {
                    limit: 100,
                    reference_id: Some(kit.id.to_string()),
                    ..DocumentQuery::default()
                },
            )
            .await?;
        let (_, runs) = state
            .runs
            .list_runs(
                &user.org,
                &RunQuery {
                    kit_id: Some(kit.id.to_string()),
                    limit: 10,
                    ..RunQuery::default()
                },
            )
            .await?;
        Ok::<_, crate::error::ApiError>((sections, documents, runs))
    }
    .await;
    let (sections, documents, runs) =
        loaded.map_err(|error| PortalError::Failed(error.message()))?;
    let status = page_status(error.is_some());
    let view = pages::KitView {
        kit: &kit,
        sections,
        documents,
        runs,
        error,
    };
    Ok((status, pages::kit(user, &view)).into_response())
}

#[derive(Deserialize)]
pub(super) struct LockForm {
    #[serde(default)]
    locked: String,
}

pub(super) async fn lock_kit(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    Path(kit_id): Path<String>,
    CsrfForm(form): CsrfForm<LockForm>,
) -> Result<Response, PortalError> {
    let kit_id = valid_uuid(&kit_id).ok_or(NO_SUCH_KIT)?;
    let changes = KitChanges {
        locked: Some(Some(form.locked == "true")),
        ..Default::default()
    };
    match state
        .brands
        .update_kit(&user.org, &kit_id, &user.actor(), changes, &IfMatch::any())
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/portal/kits/{kit_id}")).into_response()),
        Err(error) => render_kit(&state, &user, &kit_id, Some(error.message())).await,
    }
}

#[derive(Deserialize)]
pub(super) struct ValueForm {
    #[serde(default)]
    value: String,
}

pub(super) async fn edit_field(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    Path((kit_id, section_id, field_id)): Path<(String, String, String)>,
    CsrfForm(form): CsrfForm<ValueForm>,
) -> Result<Response, PortalError> {
    let (Some(kit_id), Some(section_id), Some(field_id)) = (
        valid_uuid(&kit_id),
        valid_uuid(&section_id),
        valid_uuid(&field_id),
    ) else {
        return Err(NO_SUCH_KIT);
    };
    let field = state
        .brands
        .get_field(&user.org, &kit_id, &section_id, &field_id)
        .await
        .map_err(|_| NO_SUCH_KIT)?;
    // Text stays text; list types take one entry per line (the service adds entry ids).
    let value = if field.field_type == "text" {
        serde_json::json!(form.value.trim())
    } else {
        let key = if field
            .value
            .as_array()
            .is_some_and(|items| items.first().is_some_and(|item| item.get("term").is_some()))
        {
            "term"
        } else {
            "name"
        };
        serde_json::Value::Array(
            form.value
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(|line| {
                    let mut entry = serde_json::Map::new();
                    entry.insert(key.into(), serde_json::json!(line));
                    serde_json::Value::Object(entry)
                })
                .collect(),
        )
    };
    let changes = FieldChanges {
        value: Some(Some(value)),
        ai_editable: Some(Some(false)),
        ..Default::default()
    };
    match state
        .brands
        .update_field(
            &user.org,
            &kit_id,
            &section_id,
            &field_id,
            &user.actor(),
            changes,
            &IfMatch::any(),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/portal/kits/{kit_id}")).into_response()),
        Err(error) => render_kit(&state, &user, &kit_id, Some(error.message())).await,
    }
}
