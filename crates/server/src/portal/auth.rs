//! Signing in and out, and changing one's password (also the forced change after a one-time
//! password).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Form, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use brandstream_auth::AuthError;
use serde::Deserialize;

use super::errors::PortalError;
use super::extract::CsrfForm;
use super::pages;
use super::session::{
    check_csrf, cookie, is_https, random_token, set_cookie, PortalUser, LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
};
use crate::AppState;

pub(super) async fn login_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let csrf = random_token();
    let mut response = pages::login(&csrf, None, "").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, is_https(&state, &headers)),
    );
    response
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    /// Checked against the pre-sign-in cookie (there is no session yet).
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn login(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PortalError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    check_csrf(&headers, &expected, &form.csrf)?;
    let address = crate::api::source_address(&state.settings, &headers, peer);
    let username = form.username.trim().chars().take(64).collect::<String>();
    let again = |status: StatusCode, message: &str| {
        Ok((status, pages::login(&expected, Some(message), &username)).into_response())
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
    let token = match state
        .sessions
        .start(&signed_in.user.id, &first.org_id)
        .await
    {
        Ok((token, _)) => token,
        Err(error) => {
            tracing::error!(?error, "storing a session failed");
            return again(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in is unavailable right now.",
            );
        }
    };
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
    Ok(response)
}

pub(super) async fn logout(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    headers: HeaderMap,
    CsrfForm(_): CsrfForm,
) -> Response {
    state.sessions.end(&user.session).await;
    let mut response = Redirect::to("/portal/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, is_https(&state, &headers)),
    );
    response
}

pub(super) async fn password_page(user: PortalUser) -> Response {
    pages::password(&user, None).into_response()
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub(super) async fn change_password(
    State(state): State<Arc<AppState>>,
    user: PortalUser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, PortalError> {
    let invalid = |message: &str| {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::password(&user, Some(message)),
        )
            .into_response())
    };
    if form.password != form.confirm {
        return invalid("The two passwords differ.");
    }
    match state
        .users
        .change_password(&user.user.id, &form.password, &user.session.token_hash)
        .await
    {
        Ok(()) => Ok(Redirect::to("/portal").into_response()),
        Err(AuthError::Validation(message)) => invalid(&message),
        Err(error) => Err(error.into()),
    }
}
