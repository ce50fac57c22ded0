//! The organisation being worked in: switching between one's organisations, and its audit
//! trail.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::errors::PortalError;
use super::extract::{AdminUser, CsrfForm};
use super::pages;
use super::session::PortalUser;
use crate::AppState;

#[derive(Deserialize)]
pub(super) struct OrgForm {
    #[serde(default)]
    org: String,
}

pub(super) async fn switch_org(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    CsrfForm(form): CsrfForm<OrgForm>,
) -> Result<Response, PortalError> {
    let membership = user
        .memberships
        .iter()
        .find(|m| m.org_id.as_str() == form.org)
        .ok_or(PortalError::Forbidden(
            "You are not a member of that organisation.",
        ))?;
    state
        .sessions
        .switch_org(&user.session, &membership.org_id)
        .await;
    Ok(Redirect::to("/portal").into_response())
}

pub(super) async fn audit_page(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
) -> Result<Response, PortalError> {
    let events = state.audit.recent(&user.org, 200).await?;
    Ok(pages::audit(&user, &events).into_response())
}
