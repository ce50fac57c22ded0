//! The first portal user, without a password in the environment: when a server starts and no
//! portal user exists, it prints a one-time setup link (`/portal/setup?token=…`) on its
//! standard error. Whoever opens it chooses the first administrator's username and password.
//!
//! The link is valid once, for [`SETUP_TTL`], only while no portal user exists, and — unless
//! `portal.setup_from_any_address` is set — only from a loopback address (the person at the
//! server's console). The token is kept as its SHA-256 only and compared in constant time; it
//! is never written to the log (which may be shipped elsewhere) or to disk. Each node of a
//! cluster has its own link; restarting prints a new one.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::errors::PortalError;
use super::pages;
use super::session::{check_csrf, cookie, is_https, random_token, set_cookie, LOGIN_CSRF_COOKIE};
use crate::AppState;

/// How long a setup link stays valid.
pub const SETUP_TTL: Duration = Duration::from_secs(3600);

/// The pending setup link of this process, if any.
#[derive(Default)]
pub struct SetupLink {
    pending: Mutex<Option<Pending>>,
}

impl SetupLink {
    /// Issues a new link token (replacing any earlier one) and returns it.
    pub fn issue(&self) -> String {
        let token = random_token();
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Ok(mut pending) = self.pending.lock() {
            *pending = Some(Pending {
                digest,
                expires: Instant::now() + SETUP_TTL,
            });
        }
        token
    }

    /// Whether `token` is the pending, unexpired one (the link stays pending).
    fn valid(&self, token: &str) -> bool {
        self.pending().is_some_and(|pending| pending.matches(token))
    }

    /// Ends the link if `token` is the pending, unexpired one, returning it so that a refused
    /// submission can [`restore`](Self::restore) it. Taking is atomic: of two concurrent
    /// submissions, one gets the link.
    fn take(&self, token: &str) -> Option<Pending> {
        let mut pending = self.pending.lock().ok()?;
        let current = (*pending)?;
        if !current.matches(token) {
            return None;
        }
        *pending = None;
        Some(current)
    }

    /// Puts back a link [`take`](Self::take) ended, unless a newer one was issued meanwhile.
    fn restore(&self, link: Pending) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.get_or_insert(link);
        }
    }

    fn pending(&self) -> Option<Pending> {
        *self.pending.lock().ok()?
    }
}

/// A pending link: the token's SHA-256 and when it expires.
#[derive(Clone, Copy)]
struct Pending {
    digest: [u8; 32],
    expires: Instant,
}

impl Pending {
    /// `token` hashes to the digest (compared in constant time) and the link has not expired.
    fn matches(&self, token: &str) -> bool {
        let offered: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let same: bool = subtle::ConstantTimeEq::ct_eq(&self.digest[..], &offered[..]).into();
        same && Instant::now() < self.expires
    }
}

#[derive(Deserialize)]
pub(super) struct SetupQuery {
    #[serde(default)]
    token: String,
}

#[derive(Deserialize)]
pub(super) struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// Why a setup request is refused (the page says it), or `None` to go on.
async fn refusal(
    state: &AppState,
    peer: SocketAddr,
    token: &str,
) -> Result<Option<(StatusCode, &'static str)>, PortalError> {
    if !peer.ip().is_loopback() && !state.settings.portal.setup_from_any_address {
        return Ok(Some((
            StatusCode::FORBIDDEN,
            "The setup link works only on the server's own machine (a loopback address). Open it there, or set portal.setup_from_any_address.",
        )));
    }
    if state.members.count_users().await? > 0 {
        return Ok(Some((
            StatusCode::GONE,
            "The portal is set up already: sign in instead.",
        )));
    }
    if !state.setup.valid(token) {
        return Ok(Some((
            StatusCode::NOT_FOUND,
            "This setup link is not valid: it was used, it expired, or it is mistyped. Restart the server for a new one, or create a user with brandstream admin users create.",
        )));
    }
    Ok(None)
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, pages::message_page("Portal setup", message)).into_response()
}

/// `GET /portal/setup?token=…`: the form choosing the first administrator.
pub(super) async fn setup_page(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<SetupQuery>,
) -> Result<Response, PortalError> {
    if let Some((status, message)) = refusal(&state, peer, &query.token).await? {
        return Ok(refused(status, message));
    }
    let csrf = random_token();
    let mut response = pages::setup(&csrf, &query.token, None, "admin").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, &csrf, 3600, is_https(&state, &headers)),
    );
    Ok(response)
}

/// `POST /portal/setup`: creates the first administrator (in the default organisation) and
/// ends the link; then the person signs in as usual.
pub(super) async fn setup(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Result<Response, PortalError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    check_csrf(&headers, &expected, &form.csrf)?;
    if let Some((status, message)) = refusal(&state, peer, &form.token).await? {
        return Ok(refused(status, message));
    }
    let username = form.username.trim().chars().take(64).collect::<String>();
    let again = |message: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::setup(&expected, &form.token, Some(message), &username),
        )
            .into_response()
    };
    if form.password != form.confirm {
        return Ok(again("The two passwords differ."));
    }
    // Taken before the user is created, so two concurrent submissions cannot both create one.
    let Some(link) = state.setup.take(&form.token) else {
        return Ok(refused(
            StatusCode::GONE,
            "This setup link was just used: sign in instead.",
        ));
    };
    let (org, _) = state.admin.ensure_default_org().await?;
    match state
        .users
        .create(&username, &form.password, &org.id, "admin")
        .await
    {
        Ok(_) => {}
        Err(error) => {
            // Nothing was created: the link stays usable for a corrected form.
            state.setup.restore(link);
            return match error {
                brandstream_auth::AuthError::Validation(message) => Ok(again(&message)),
                error => Err(error.into()),
            };
        }
    }
    tracing::info!(org_id = %org.id, username = %username, "created the first portal administrator through the setup link");
    Ok(Redirect::to("/portal/login").into_response())
}
