//! The organisation's members: invite, change roles, remove. Administrators only; the rules
//! are `MemberService`'s.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use brandstream_auth::AuthError;
use serde::Deserialize;

use super::errors::PortalError;
use super::extract::{AdminUser, CsrfForm};
use super::session::PortalUser;
use super::{page_status, pages};
use crate::error::ServiceError;
use crate::AppState;

/// The members page, with `error` shown above the form (`422`) when given.
async fn render_members(
    state: &AppState,
    user: &PortalUser,
    error: Option<&str>,
) -> Result<Response, PortalError> {
    let members = state.members.list(&user.org).await?;
    let status = page_status(error.is_some());
    Ok((status, pages::members(user, &members, error)).into_response())
}

pub(super) async fn members_page(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
) -> Result<Response, PortalError> {
    render_members(&state, &user, None).await
}

#[derive(Deserialize)]
pub(super) struct InviteForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

pub(super) async fn invite_member(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
    CsrfForm(form): CsrfForm<InviteForm>,
) -> Result<Response, PortalError> {
    match state
        .users
        .invite(form.username.trim(), &user.org, &form.role)
        .await
    {
        Ok((member, Some(password))) => {
            tracing::info!(user = %member.username, by = %user.user.username, "portal member invited");
            Ok(pages::invited(&user, &member.username, &password).into_response())
        }
        Ok((member, None)) => {
            tracing::info!(user = %member.username, by = %user.user.username, "existing user added to an organisation");
            Ok(Redirect::to("/portal/admin/members").into_response())
        }
        Err(AuthError::Validation(message)) => render_members(&state, &user, Some(&message)).await,
        Err(error) => Err(error.into()),
    }
}

/// The page a member change ends on: back to the list when done; the list with the reason
/// for a role that does not exist; an error page for one's own membership or a stranger.
async fn after_change(
    state: &AppState,
    user: &PortalUser,
    outcome: Result<(), ServiceError>,
) -> Result<Response, PortalError> {
    match outcome {
        Ok(()) => Ok(Redirect::to("/portal/admin/members").into_response()),
        Err(ServiceError::Rejected(message)) => render_members(state, user, Some(&message)).await,
        Err(ServiceError::NotFound(_)) => Err(PortalError::NotFound(
            "There is no such member in this organisation.",
        )),
        Err(other) => Err(other.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct RoleForm {
    #[serde(default)]
    role: String,
}

pub(super) async fn change_role(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
    Path(member_id): Path<String>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<Response, PortalError> {
    let outcome = state
        .members
        .change_role(&user.org, &user.user.id, &member_id, &form.role)
        .await;
    after_change(&state, &user, outcome).await
}

pub(super) async fn remove_member(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
    Path(member_id): Path<String>,
    CsrfForm(_): CsrfForm,
) -> Result<Response, PortalError> {
    let outcome = state
        .members
        .remove(&user.org, &user.user.id, &member_id)
        .await;
    after_change(&state, &user, outcome).await
}
