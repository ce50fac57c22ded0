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
use brandstream_store::{DocumentQuery, KitQuery, RunQuery, SessionRecord};

use crate::api::IfMatch;
use serde::Deserialize;

use crate::AppState;
use session::{
    check_csrf, cookie, forbidden, is_https, random_token, set_cookie, token_hash, PortalUser,
    LOGIN_CSRF_COOKIE, SESSION_COOKIE,
};

/// Largest form body (sign-in, credentials, subsection values).
const FORM_LIMIT: usize = 256 * 1024;

const CSS: &str = include_str!("../../assets/portal/portal.css");
const JS: &str = include_str!("../../assets/portal/portal.js");

/// The portal routes; `upload_limit` bounds document uploads.
pub fn router(upload_limit: usize) -> Router<Arc<AppState>> {
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
        .route(
            "/portal/admin/members",
            get(members_page).post(invite_member),
        )
        .route("/portal/admin/members/{user_id}/role", post(change_role))
        .route(
            "/portal/admin/members/{user_id}/remove",
            post(remove_member),
        )
        .route("/portal/password", get(password_page).post(change_password))
        .route("/portal/kits", get(kits_page).post(create_kit))
        .route("/portal/kits/{kit_id}", get(kit_page))
        .route("/portal/kits/{kit_id}/lock", post(lock_kit))
        .route(
            "/portal/kits/{kit_id}/documents",
            post(upload_document).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/portal/kits/{kit_id}/ingest", post(start_ingestion))
        .route(
            "/portal/kits/{kit_id}/sections/{section_id}/fields/{field_id}",
            post(edit_field),
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
    let address = crate::api::source_address(&state.settings, &headers, peer);
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
    let next = if signed_in.user.must_change {
        "/portal/password"
    } else {
        "/portal"
    };
    let mut response = Redirect::to(next).into_response();
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

/// An administrator's form: the role, then the CSRF token.
fn admin_form(user: &PortalUser, headers: &HeaderMap, csrf: &str) -> Result<(), Box<Response>> {
    admins_only(user)?;
    check_csrf(headers, user.csrf(), csrf)
}

/// `422` when a page is shown again with an error, else `200`.
fn page_status(error: bool) -> StatusCode {
    if error {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    }
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
    if let Err(response) = admin_form(&user, &headers, &form.csrf) {
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
    if let Err(response) = admin_form(&user, &headers, &form.csrf) {
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
    render_kits(&state, &user, None).await
}

async fn render_kits(state: &AppState, user: &PortalUser, error: Option<&str>) -> Response {
    let query = KitQuery {
        limit: 200,
        descending: true,
        ..KitQuery::default()
    };
    match state.store.list_kits(&user.org, &query).await {
        Ok((_, kits)) => {
            let status = page_status(error.is_some());
            (status, pages::kits(user, &kits, error)).into_response()
        }
        Err(error) => failure(&error),
    }
}

#[derive(Deserialize)]
struct KitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

async fn create_kit(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Form(form): Form<KitForm>,
) -> Response {
    if let Err(response) = check_csrf(&headers, user.csrf(), &form.csrf) {
        return *response;
    }
    let mut issues = crate::services::brands::Issues::default();
    let name = issues.name("name", &form.name);
    if let Err(error) = issues.finish() {
        return render_kits(&state, &user, Some(&error.message())).await;
    }
    let new = crate::services::brands::NewKit {
        name,
        ..Default::default()
    };
    match state.brands.create_kit(&user.org, &user.actor(), new).await {
        Ok(kit) => Redirect::to(&format!("/portal/kits/{}", kit.id)).into_response(),
        Err(error) => render_kits(&state, &user, Some(&error.message())).await,
    }
}

fn valid_uuid(id: &str) -> Option<String> {
    uuid::Uuid::try_parse(id)
        .ok()
        .map(|id| id.hyphenated().to_string())
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        pages::message_page(
            "Not found",
            "There is no such brand kit in this organisation.",
        ),
    )
        .into_response()
}

async fn kit_page(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    Path(kit_id): Path<String>,
) -> Response {
    render_kit(&state, &user, &kit_id, None).await
}

async fn render_kit(
    state: &AppState,
    user: &PortalUser,
    kit_id: &str,
    error: Option<String>,
) -> Response {
    let Some(kit_id) = valid_uuid(kit_id) else {
        return not_found();
    };
    let kit = match state.brands.get_kit(&user.org, &kit_id, false).await {
        Ok(kit) => kit,
        Err(_) => return not_found(),
    };
    let loaded = async {
        let mut sections = Vec::new();
        for section in state
            .brands
            .list_sections(&user.org, &kit.id, &[], false)
            .await?
        {
            let mut fields = Vec::new();
            for field in state.store.list_fields(&section.id).await? {
                let mut sources = Vec::new();
                let ids = field.references.as_array().cloned().unwrap_or_default();
                for reference in ids.iter().take(3) {
                    let Some(id) = reference.get("id").and_then(serde_json::Value::as_str) else {
                        continue;
                    };
                    if let Ok(Some(chunk)) = state.store.get_chunk(&user.org, id).await {
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
            .store
            .list_documents(
                &user.org,
                &DocumentQuery {
                    limit: 100,
                    reference_id: Some(kit.id.clone()),
                    ..DocumentQuery::default()
                },
            )
            .await?;
        let (_, runs) = state
            .store
            .list_runs(
                &user.org,
                &RunQuery {
                    kit_id: Some(kit.id.clone()),
                    limit: 10,
                    ..RunQuery::default()
                },
            )
            .await?;
        Ok::<_, crate::error::ApiError>((sections, documents, runs))
    }
    .await;
    match loaded {
        Ok((sections, documents, runs)) => {
            let status = page_status(error.is_some());
            let view = pages::KitView {
                kit: &kit,
                sections,
                documents,
                runs,
                error,
            };
            (status, pages::kit(user, &view)).into_response()
        }
        Err(error) => failure(&error.message()),
    }
}

#[derive(Deserialize)]
struct LockForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    locked: String,
}

async fn lock_kit(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Path(kit_id): Path<String>,
    Form(form): Form<LockForm>,
) -> Response {
    if let Err(response) = check_csrf(&headers, user.csrf(), &form.csrf) {
        return *response;
    }
    let Some(kit_id) = valid_uuid(&kit_id) else {
        return not_found();
    };
    let changes = crate::services::brands::KitChanges {
        locked: Some(Some(form.locked == "true")),
        ..Default::default()
    };
    match state
        .brands
        .update_kit(&user.org, &kit_id, &user.actor(), changes, &IfMatch::any())
        .await
    {
        Ok(_) => Redirect::to(&format!("/portal/kits/{kit_id}")).into_response(),
        Err(error) => render_kit(&state, &user, &kit_id, Some(error.message())).await,
    }
}

async fn upload_document(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Path(kit_id): Path<String>,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let Some(kit_id) = valid_uuid(&kit_id) else {
        return not_found();
    };
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
    if let Err(response) = check_csrf(&headers, user.csrf(), &csrf) {
        return *response;
    }
    let title = file
        .as_ref()
        .and_then(|(_, name, _): &(_, Option<String>, _)| name.clone());
    let create = crate::services::documents::NewDocument {
        title,
        references: Some(vec![serde_json::json!({"type": "brandkit", "id": kit_id})]),
        ..Default::default()
    };
    match state
        .documents
        .create_document(&user.org, &user.actor(), create, file)
        .await
    {
        Ok(_) => Redirect::to(&format!("/portal/kits/{kit_id}")).into_response(),
        Err(error) => render_kit(&state, &user, &kit_id, Some(error.message())).await,
    }
}

async fn start_ingestion(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Path(kit_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(response) = check_csrf(&headers, user.csrf(), &form.csrf) {
        return *response;
    }
    let Some(kit_id) = valid_uuid(&kit_id) else {
        return not_found();
    };
    let mut parameters = serde_json::Map::new();
    parameters.insert("brand_kit_id".into(), serde_json::json!(kit_id));
    parameters.insert("populateSections".into(), serde_json::json!(true));
    match state
        .runs
        .queue_ingestion(&user.org, &user.actor(), parameters)
        .await
    {
        Ok(_) => Redirect::to(&format!("/portal/kits/{kit_id}")).into_response(),
        Err(error) => render_kit(&state, &user, &kit_id, Some(error.message())).await,
    }
}

#[derive(Deserialize)]
struct ValueForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    value: String,
}

async fn edit_field(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Path((kit_id, section_id, field_id)): Path<(String, String, String)>,
    Form(form): Form<ValueForm>,
) -> Response {
    if let Err(response) = check_csrf(&headers, user.csrf(), &form.csrf) {
        return *response;
    }
    let (Some(kit_id), Some(section_id), Some(field_id)) = (
        valid_uuid(&kit_id),
        valid_uuid(&section_id),
        valid_uuid(&field_id),
    ) else {
        return not_found();
    };
    let field = match state
        .brands
        .get_field(&user.org, &kit_id, &section_id, &field_id)
        .await
    {
        Ok(field) => field,
        Err(_) => return not_found(),
    };
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
    let changes = crate::services::brands::FieldChanges {
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
        Ok(_) => Redirect::to(&format!("/portal/kits/{kit_id}")).into_response(),
        Err(error) => render_kit(&state, &user, &kit_id, Some(error.message())).await,
    }
}

async fn render_members(state: &AppState, user: &PortalUser, error: Option<&str>) -> Response {
    match state.store.org_members(&user.org).await {
        Ok(members) => {
            let status = page_status(error.is_some());
            (status, pages::members(user, &members, error)).into_response()
        }
        Err(error) => failure(&error),
    }
}

async fn members_page(State(state): State<Arc<AppState>>, user: PortalUser) -> Response {
    if let Err(response) = admins_only(&user) {
        return *response;
    }
    render_members(&state, &user, None).await
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    role: String,
}

async fn invite_member(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Response {
    if let Err(response) = admin_form(&user, &headers, &form.csrf) {
        return *response;
    }
    match state
        .users
        .invite(form.username.trim(), &user.org, &form.role)
        .await
    {
        Ok((member, Some(password))) => {
            tracing::info!(user = %member.username, by = %user.user.username, "portal member invited");
            pages::invited(&user, &member.username, &password).into_response()
        }
        Ok((member, None)) => {
            tracing::info!(user = %member.username, by = %user.user.username, "existing user added to an organisation");
            Redirect::to("/portal/admin/members").into_response()
        }
        Err(AuthError::Validation(message)) => render_members(&state, &user, Some(&message)).await,
        Err(error) => failure(&error),
    }
}

#[derive(Deserialize)]
struct RoleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
}

/// A member of the user's organisation other than the user, or an error page.
async fn other_member(
    state: &AppState,
    user: &PortalUser,
    member_id: &str,
) -> Result<brandstream_store::Membership, Box<Response>> {
    if member_id == user.user.id {
        return Err(Box::new(forbidden(
            "You cannot change your own membership; ask another administrator.",
        )));
    }
    let members = state
        .store
        .org_members(&user.org)
        .await
        .map_err(|error| Box::new(failure(&error)))?;
    members
        .into_iter()
        .map(|(_, membership)| membership)
        .find(|membership| membership.user_id == member_id)
        .ok_or_else(|| {
            Box::new(
                (
                    StatusCode::NOT_FOUND,
                    pages::message_page(
                        "Not found",
                        "There is no such member in this organisation.",
                    ),
                )
                    .into_response(),
            )
        })
}

async fn change_role(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Path(member_id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    if let Err(response) = admin_form(&user, &headers, &form.csrf) {
        return *response;
    }
    if !brandstream_auth::users::ROLES.contains(&form.role.as_str()) {
        return render_members(&state, &user, Some("The role is admin or member.")).await;
    }
    let mut membership = match other_member(&state, &user, &member_id).await {
        Ok(membership) => membership,
        Err(response) => return *response,
    };
    membership.role = form.role;
    match state.store.set_membership(&membership).await {
        Ok(()) => Redirect::to("/portal/admin/members").into_response(),
        Err(error) => failure(&error),
    }
}

async fn remove_member(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Path(member_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(response) = admin_form(&user, &headers, &form.csrf) {
        return *response;
    }
    let membership = match other_member(&state, &user, &member_id).await {
        Ok(membership) => membership,
        Err(response) => return *response,
    };
    match state
        .store
        .remove_membership(&membership.user_id, &user.org)
        .await
    {
        Ok(_) => Redirect::to("/portal/admin/members").into_response(),
        Err(error) => failure(&error),
    }
}

async fn password_page(user: PortalUser) -> Response {
    pages::password(&user, None).into_response()
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn change_password(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    if let Err(response) = check_csrf(&headers, user.csrf(), &form.csrf) {
        return *response;
    }
    let invalid = |message: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::password(&user, Some(message)),
        )
            .into_response()
    };
    if form.password != form.confirm {
        return invalid("The two passwords differ.");
    }
    match state
        .users
        .change_password(&user.user.id, &form.password, &user.session.token_hash)
        .await
    {
        Ok(()) => Redirect::to("/portal").into_response(),
        Err(AuthError::Validation(message)) => invalid(&message),
        Err(error) => failure(&error),
    }
}
