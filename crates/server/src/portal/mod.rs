//! The portal: server-rendered pages under `/portal` to sign in, manage the organisation's
//! credentials ("Brand Kit keys"), read the audit trail and browse brand kits. Handlers call
//! the same services as the APIs (`CredentialAdmin`, the stores); they add no rules of their
//! own.

pub mod pages;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use brandstream_auth::{AuthError, CreateCredential};
use brandstream_domain::{now_unix, ClientId, ScopeSet};
use brandstream_store::{KitQuery, SessionRecord};
use serde::Deserialize;

use crate::AppState;
use session::{
    check_csrf, cookie, forbidden, is_https, random_token, set_cookie, token_hash, PortalUser,
    LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};

const CSS: &str = include_str!("../../assets/portal/portal.css");
const JS: &str = include_str!("../../assets/portal/portal.js");

/// The portal routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/portal", get(home))
        .route("/portal/", get(home))
        .route("/portal/login", get(login_page).post(login))
        .route("/portal/logout", post(logout))
        .route("/portal/org", post(switch_org))
        .route("/portal/admin/keys", get(keys_page).post(create_key))
        .route("/portal/admin/keys/new", get(new_key_page))
        .route("/portal/admin/keys/{client_id}/rotate", post(rotate_key))
        .route("/portal/admin/keys/{client_id}/revoke", post(revoke_key))
        .route("/portal/admin/audit", get(audit_page))
        .route("/portal/kits", get(kits_page))
        .route("/portal/assets/portal.css", get(stylesheet))
        .route("/portal/assets/portal.js", get(script))
        .layer(middleware::from_fn(security_headers))
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

async fn home(user: Option<PortalUser>) -> Redirect {
    match user {
        Some(user) if user.is_admin() => Redirect::to("/portal/admin/keys"),
        Some(_) => Redirect::to("/portal/kits"),
        None => Redirect::to("/portal/login"),
    }
}

impl axum::extract::OptionalFromRequestParts<Arc<AppState>> for PortalUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AppState>,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(
            <PortalUser as axum::extract::FromRequestParts<Arc<AppState>>>::from_request_parts(
                parts, state,
            )
            .await
            .ok(),
        )
    }
}

async fn login_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let csrf = random_token();
    let mut response = pages::login(&csrf, None, "").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, is_https(&state, &headers)),
    );
    response
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if let Err(response) = check_csrf(&headers, &expected, &form.csrf) {
        return *response;
    }
    let address = crate::routes::oauth::source_address(&state.settings, &headers, peer);
    let username = form.username.trim().chars().take(64).collect::<String>();
    let again = |status: StatusCode, message: &str| {
        (status, pages::login(&expected, Some(message), &username)).into_response()
    };
    if !state.login_limits.attempt_from(address) || !state.login_limits.attempt_for(&username) {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts. Wait a minute and try again.",
        );
    }
    let signed_in = match state.users.authenticate(&username, &form.password).await {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => {
            return again(
                StatusCode::UNAUTHORIZED,
                "The username or password is wrong.",
            )
        }
        Err(error) => {
            tracing::error!(%error, "sign-in failed");
            return again(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in is unavailable right now.",
            );
        }
    };
    let Some(first) = signed_in.memberships.first() else {
        return again(
            StatusCode::UNAUTHORIZED,
            "The username or password is wrong.",
        );
    };
    let token = random_token();
    let now = now_unix();
    let session = SessionRecord {
        token_hash: token_hash(&token),
        user_id: signed_in.user.id.clone(),
        org_id: first.org_id.clone(),
        csrf_token: random_token(),
        created_at: now,
        last_seen_at: now,
    };
    if let Err(error) = state.store.insert_session(&session).await {
        tracing::error!(%error, "storing a session failed");
        return again(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in is unavailable right now.",
        );
    }
    tracing::info!(user = %signed_in.user.username, "portal sign-in");
    let secure = is_https(&state, &headers);
    let max_age = state.settings.portal.absolute_hours * 3600;
    let mut response = Redirect::to("/portal").into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &token, max_age, secure),
    );
    cookies.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
    );
    response
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(response) = check_csrf(&headers, user.csrf(), &form.csrf) {
        return *response;
    }
    let _ = state.store.delete_session(&user.session.token_hash).await;
    let mut response = Redirect::to("/portal/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, is_https(&state, &headers)),
    );
    response
}

#[derive(Deserialize)]
struct OrgForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    org: String,
}

async fn switch_org(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Form(form): Form<OrgForm>,
) -> Response {
    if let Err(response) = check_csrf(&headers, user.csrf(), &form.csrf) {
        return *response;
    }
    let Some(membership) = user
        .memberships
        .iter()
        .find(|m| m.org_id.as_str() == form.org)
    else {
        return forbidden("You are not a member of that organisation.");
    };
    let _ = state
        .store
        .touch_session(&user.session.token_hash, &membership.org_id, now_unix())
        .await;
    Redirect::to("/portal").into_response()
}

fn admins_only(user: &PortalUser) -> Result<(), Box<Response>> {
    if user.is_admin() {
        Ok(())
    } else {
        Err(Box::new(forbidden(
            "Only administrators of this organisation can open this page.",
        )))
    }
}

async fn keys_page(State(state): State<Arc<AppState>>, user: PortalUser) -> Response {
    if let Err(response) = admins_only(&user) {
        return *response;
    }
    match state.admin.list_credentials(&user.org).await {
        Ok(clients) => pages::keys(&user, &clients).into_response(),
        Err(error) => failure(&error),
    }
}

async fn new_key_page(user: PortalUser) -> Response {
    if let Err(response) = admins_only(&user) {
        return *response;
    }
    pages::new_key(&user, None).into_response()
}

fn failure(error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, "portal request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::message_page("Something went wrong", "The request failed; try again."),
    )
        .into_response()
}

async fn create_key(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(response) = admins_only(&user) {
        return *response;
    }
    // Repeated `scope` fields: parse the form by hand.
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
    if let Err(response) = check_csrf(&headers, user.csrf(), &csrf) {
        return *response;
    }
    let invalid = |message: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::new_key(&user, Some(message)),
        )
            .into_response()
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
        Ok(created) => pages::secret(
            &user,
            "Credential created",
            created.client.client_id.as_str(),
            created.secret.expose(),
        )
        .into_response(),
        Err(AuthError::Validation(message)) => invalid(&message),
        Err(error) => failure(&error),
    }
}

/// A credential of the user's organisation, or a 404 page.
async fn own_credential(
    state: &AppState,
    user: &PortalUser,
    client_id: &str,
) -> Result<ClientId, Response> {
    let not_found = || {
        (
            StatusCode::NOT_FOUND,
            pages::message_page(
                "Not found",
                "There is no such credential in this organisation.",
            ),
        )
            .into_response()
    };
    let id = ClientId::parse(client_id).map_err(|_| not_found())?;
    match state.admin.get_credential(&id).await {
        Ok(client) if client.org_id == user.org => Ok(id),
        _ => Err(not_found()),
    }
}

async fn rotate_key(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(response) = admins_only(&user) {
        return *response;
    }
    if let Err(response) = check_csrf(&headers, user.csrf(), &form.csrf) {
        return *response;
    }
    let id = match own_credential(&state, &user, &client_id).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    match state.admin.rotate_secret(&id, &user.actor()).await {
        Ok(secret) => {
            state.tokens.note_client_changed(&id, false);
            pages::secret(&user, "New secret", id.as_str(), secret.expose()).into_response()
        }
        Err(error) => failure(&error),
    }
}

async fn revoke_key(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(response) = admins_only(&user) {
        return *response;
    }
    if let Err(response) = check_csrf(&headers, user.csrf(), &form.csrf) {
        return *response;
    }
    let id = match own_credential(&state, &user, &client_id).await {
        Ok(id) => id,
        Err(response) => return response,
    };
    match state.admin.revoke_credential(&id, &user.actor()).await {
        Ok(_) => {
            // This process stops honouring it now; others within a second (revocation sync).
            state.tokens.note_client_changed(&id, true);
            Redirect::to("/portal/admin/keys").into_response()
        }
        Err(error) => failure(&error),
    }
}

async fn audit_page(State(state): State<Arc<AppState>>, user: PortalUser) -> Response {
    if let Err(response) = admins_only(&user) {
        return *response;
    }
    match state.store.list_audit_events(Some(&user.org), 200).await {
        Ok(events) => pages::audit(&user, &events).into_response(),
        Err(error) => failure(&error),
    }
}

async fn kits_page(State(state): State<Arc<AppState>>, user: PortalUser) -> Response {
    let query = KitQuery {
        limit: 200,
        descending: true,
        ..KitQuery::default()
    };
    match state.store.list_kits(&user.org, &query).await {
        Ok((_, kits)) => pages::kits(&user, &kits).into_response(),
        Err(error) => failure(&error),
    }
}
