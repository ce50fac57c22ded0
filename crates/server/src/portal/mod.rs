//! The portal: server-rendered pages under `/portal` to sign in, manage the organisation's
//! credentials ("Brand Kit keys"), read the audit trail and browse brand kits. Handlers call
//! the same services as the APIs (`CredentialAdmin`, the stores); they add no rules of their
//! own. This module holds the router and what every page shares; the handlers live in one
//! module per resource, errors in `errors`, and authorization in the extractors of `extract`.

mod auth;
mod documents;
pub mod errors;
pub mod extract;
mod keys;
mod kits;
mod members;
mod orgs;
pub mod pages;
pub mod session;
pub mod setup;

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;
use session::PortalUser;

/// Largest form body (sign-in, credentials, subsection values).
const FORM_LIMIT: usize = 256 * 1024;

const CSS: &str = include_str!("../../assets/portal/portal.css");
const JS: &str = include_str!("../../assets/portal/portal.js");

/// The portal routes; `upload_limit` bounds document uploads.
pub fn router(upload_limit: usize) -> Router<Arc<AppState>> {
    Router::new()
        .route("/portal", get(home))
        .route("/portal/", get(home))
        .route("/portal/login", get(auth::login_page).post(auth::login))
        .route("/portal/logout", post(auth::logout))
        .route("/portal/setup", get(setup::setup_page).post(setup::setup))
        .route("/portal/org", post(orgs::switch_org))
        .route(
            "/portal/admin/keys",
            get(keys::keys_page).post(keys::create_key),
        )
        .route("/portal/admin/keys/new", get(keys::new_key_page))
        .route(
            "/portal/admin/keys/{client_id}/rotate",
            post(keys::rotate_key),
        )
        .route(
            "/portal/admin/keys/{client_id}/revoke",
            post(keys::revoke_key),
        )
        .route("/portal/admin/audit", get(orgs::audit_page))
        .route(
            "/portal/admin/members",
            get(members::members_page).post(members::invite_member),
        )
        .route(
            "/portal/admin/members/{user_id}/role",
            post(members::change_role),
        )
        .route(
            "/portal/admin/members/{user_id}/remove",
            post(members::remove_member),
        )
        .route(
            "/portal/password",
            get(auth::password_page).post(auth::change_password),
        )
        .route("/portal/kits", get(kits::kits_page).post(kits::create_kit))
        .route("/portal/kits/{kit_id}", get(kits::kit_page))
        .route("/portal/kits/{kit_id}/lock", post(kits::lock_kit))
        .route(
            "/portal/kits/{kit_id}/documents",
            post(documents::upload_document)
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/portal/kits/{kit_id}/ingest",
            post(documents::start_ingestion),
        )
        .route(
            "/portal/kits/{kit_id}/sections/{section_id}/fields/{field_id}",
            post(kits::edit_field),
        )
        .route("/portal/assets/portal.css", get(stylesheet))
        .route("/portal/assets/portal.js", get(script))
        // Forms are small; only the upload route (above) takes whole files.
        .layer(axum::extract::DefaultBodyLimit::max(FORM_LIMIT))
        .layer(middleware::from_fn(refuse_nul_in_forms))
        .layer(middleware::from_fn(security_headers))
}

/// Refuses a form whose fields hold an encoded NUL (`%00`): no name, label or value contains
/// one, and PostgreSQL could not even look it up. Reads at most `FORM_LIMIT` bytes.
async fn refuse_nul_in_forms(request: axum::extract::Request, next: Next) -> Response {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FORM_LIMIT).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "The form is too large").into_response();
    };
    if bytes.windows(3).any(|w| w == b"%00") || bytes.contains(&0) {
        return (
            StatusCode::BAD_REQUEST,
            "Form fields must not contain NUL characters",
        )
            .into_response();
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

/// Headers on every portal response: a strict CSP (scripts and styles only from us), no
/// framing, no referrer leaks, and no caching of pages (which can show secrets).
async fn security_headers(request: axum::extract::Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/portal/assets/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !is_asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        CSS,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        JS,
    )
        .into_response()
}

/// `/portal`: where each user starts.
async fn home(user: Option<PortalUser>) -> Redirect {
    match user {
        Some(user) if user.is_admin() => Redirect::to("/portal/admin/keys"),
        Some(_) => Redirect::to("/portal/kits"),
        None => Redirect::to("/portal/login"),
    }
}

/// `422` when a page is shown again with an error, else `200`.
fn page_status(error: bool) -> StatusCode {
    if error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
}

/// A UUID from a path, in its canonical hyphenated form.
fn valid_uuid<Id: From<String>>(id: &str) -> Option<Id> {
    uuid::Uuid::try_parse(id)
        .ok()
        .map(|id| Id::from(id.hyphenated().to_string()))
}
