//! The organisation's credentials ("Brand Kit keys"): list, create, rotate and revoke.
//! Administrators only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use brandstream_auth::{AuthError, CreateCredential};
use brandstream_domain::{ClientId, ScopeSet};

use super::errors::PortalError;
use super::extract::{AdminUser, CsrfForm};
use super::pages;
use super::session::{check_csrf, PortalUser};
use crate::AppState;

pub(super) async fn keys_page(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
) -> Result<Response, PortalError> {
    let clients = state.admin.list_credentials(&user.org).await?;
    Ok(pages::keys(&user, &clients).into_response())
}

pub(super) async fn new_key_page(AdminUser(user): AdminUser) -> Response {
    pages::new_key(&user, None).into_response()
}

/// Takes the raw body rather than a `CsrfForm`: the form repeats its `scope` field.
pub(super) async fn create_key(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PortalError> {
    let mut csrf = String::new();
    let mut label = String::new();
    let mut description = String::new();
    let mut expires_in = String::new();
    let mut scopes = Vec::new();
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "csrf" => csrf = value.into_owned(),
            "label" => label = value.into_owned(),
            "description" => description = value.into_owned(),
            "expires_in" => expires_in = value.into_owned(),
            "scope" => scopes.push(value.into_owned()),
            _ => {}
        }
    }
    check_csrf(&headers, user.csrf(), &csrf)?;
    let invalid = |message: &str| {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::new_key(&user, Some(message)),
        )
            .into_response())
    };
    let scopes = match ScopeSet::parse(&scopes.join(" ")) {
        Ok(scopes) if !scopes.is_empty() => scopes,
        _ => return invalid("Choose at least one scope."),
    };
    let expires_in = match expires_in.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(seconds) => Some(seconds),
            Err(_) => return invalid("The token lifetime must be a number of seconds."),
        },
    };
    let request = CreateCredential {
        org_id: user.org.clone(),
        label: label.trim().to_owned(),
        description: Some(description.trim().to_owned()).filter(|d| !d.is_empty()),
        scopes: Some(scopes),
        expires_in,
    };
    match state.admin.create_credential(request, &user.actor()).await {
        Ok(created) => Ok(pages::secret(
            &user,
            "Credential created",
            created.client.client_id.as_str(),
            created.secret.expose(),
        )
        .into_response()),
        Err(AuthError::Validation(message)) => invalid(&message),
        Err(error) => Err(error.into()),
    }
}

/// A credential of the user's organisation, or the `404` page.
async fn own_credential(
    state: &AppState,
    user: &PortalUser,
    client_id: &str,
) -> Result<ClientId, PortalError> {
    let not_found = PortalError::NotFound("There is no such credential in this organisation.");
    let Ok(id) = ClientId::parse(client_id) else {
        return Err(not_found);
    };
    match state.admin.get_credential(&id).await {
        Ok(client) if client.org_id == user.org => Ok(id),
        _ => Err(not_found),
    }
}

pub(super) async fn rotate_key(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
    Path(client_id): Path<String>,
    CsrfForm(_): CsrfForm,
) -> Result<Response, PortalError> {
    let id = own_credential(&state, &user, &client_id).await?;
    let secret = state.admin.rotate_secret(&id, &user.actor()).await?;
    state.tokens.note_client_changed(&id, false);
    Ok(pages::secret(&user, "New secret", id.as_str(), secret.expose()).into_response())
}

pub(super) async fn revoke_key(
    State(state): State<Arc<AppState>>,
    AdminUser(user): AdminUser,
    Path(client_id): Path<String>,
    CsrfForm(_): CsrfForm,
) -> Result<Response, PortalError> {
    let id = own_credential(&state, &user, &client_id).await?;
    state.admin.revoke_credential(&id, &user.actor()).await?;
    // This process stops honouring it now; others within a second (revocation sync).
    state.tokens.note_client_changed(&id, true);
    Ok(Redirect::to("/portal/admin/keys").into_response())
}
