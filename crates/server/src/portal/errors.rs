//! `PortalError`: why a portal request ends on an error page instead of the page asked for,
//! and the one place those pages are rendered. A form shown again with an inline message
//! (`render_kit(…, Some(message))`) is a page, not an error, and handlers render it themselves.

use std::fmt::Display;

use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use brandstream_auth::AuthError;
use brandstream_store::StoreError;

use super::pages;
use super::session::{CsrfRejection, SignInRequired};
use crate::error::ServiceError;

/// Why a portal request failed; its response is the page people see.
pub enum PortalError {
    /// Not signed in, or a one-time password must be changed first: a redirect.
    SignIn(SignInRequired),
    /// The form body could not be read: axum's own answer, as before the portal had extractors.
    Form(FormRejection),
    /// `403` with this sentence.
    Forbidden(&'static str),
    /// `404` with this sentence.
    NotFound(&'static str),
    /// `500` with a generic sentence; the cause (kept here) is logged, never shown.
    Failed(String),
}

impl PortalError {
    /// A failure on our side, logged with `error` as its cause.
    pub fn failed(error: impl Display) -> Self {
        PortalError::Failed(error.to_string())
    }
}

impl From<SignInRequired> for PortalError {
    fn from(rejection: SignInRequired) -> Self {
        PortalError::SignIn(rejection)
    }
}

impl From<FormRejection> for PortalError {
    fn from(rejection: FormRejection) -> Self {
        PortalError::Form(rejection)
    }
}

impl From<CsrfRejection> for PortalError {
    fn from(rejection: CsrfRejection) -> Self {
        PortalError::Forbidden(rejection.message())
    }
}

impl From<StoreError> for PortalError {
    fn from(error: StoreError) -> Self {
        PortalError::failed(error)
    }
}

impl From<ServiceError> for PortalError {
    /// A rule that forbids the action is its error page; anything else a service refuses
    /// here is a failure (handlers that show a refusal inline match on it themselves).
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Forbidden(message) => PortalError::Forbidden(message),
            other => PortalError::failed(other.message()),
        }
    }
}

impl From<AuthError> for PortalError {
    fn from(error: AuthError) -> Self {
        PortalError::failed(error)
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        match self {
            PortalError::SignIn(rejection) => rejection.into_response(),
            PortalError::Form(rejection) => rejection.into_response(),
            PortalError::Forbidden(message) => (
                StatusCode::FORBIDDEN,
                pages::message_page("Not allowed", message),
            )
                .into_response(),
            PortalError::NotFound(message) => (
                StatusCode::NOT_FOUND,
                pages::message_page("Not found", message),
            )
                .into_response(),
            PortalError::Failed(error) => {
                tracing::error!(%error, "portal request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    pages::message_page("Something went wrong", "The request failed; try again."),
                )
                    .into_response()
            }
        }
    }
}
