//! The organisation's members: invite, change roles, remove. Administrators only, and never
//! on their own membership.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use brandstream_auth::AuthError;
use brandstream_store::Membership;
use serde::Deserialize;

use super::errors::PortalError;
use super::extract::{AdminUser, CsrfForm};
use super::session::PortalUser;
use super::{page_status, pages};
use crate::AppState;

/// The members page, with `error` shown above the form (`422`) when given.
async fn render_members(
    state: &AppState,
    user: &PortalUser,
    error: Option<&str>,
) -> Result<Response, PortalError> {
    let members = state.store.org_members(&user.org).await?;
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

/// A member of the user's organisation other than the user, or an error page.
async fn other_member(
    state: &AppState,
    user: &PortalUser,
    member_id: &str,
) -> Result<Membership, PortalError> {
    if member_id == user.user.id {
        return Err(PortalError::Forbidden(
            "You cannot change your own membership; ask another administrator.",
        ));
    }
    state
        .store
        .org_members(&user.org)
        .await?
        .into_iter()
        .map(|(_, membership)| membership)
        .find(|membership| membership.user_id == member_id)
        .ok_or(PortalError::NotFound(
            "There is no such member in this organisation.",
        ))
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
    if !brandstream_auth::users::ROLES.contains(&form.role.as_str()) {
        return render_members(&state, &user, Some("The role is admin or member.")).await;
    }
    let mut membership = other_member(&state, &user, &member_id).await?;
    membership.role = form.role;
    state.store.set_membership(&membership).await?;
    Ok(Redirect::to("/portal/admin/members").into_response())
}

pub(super) async fn remove_member(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
    Path(member_id): Path<String>,
    CsrfForm(_): CsrfForm,
) -> Result<Response, PortalError> {
    let membership = other_member(&state, &user, &member_id).await?;
    state
        .store
        .remove_membership(&membership.user_id, &user.org)
        .await?;
    Ok(Redirect::to("/portal/admin/members").into_response())
}
