//! Server-side tests of the portal: sign-in, sessions, CSRF, throttling, roles, organisation
//! isolation, security headers, and the Brand Kit keys flow (create, rotate, revoke) checked
//! against `/oauth/token`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use reqwest::StatusCode;

const PASSWORD: &str = "correct horse battery staple";

/// The value of the input with id `id`.
fn input_value(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no #{id}"));
    let rest = &page[start..];
    let value = rest.find("value=\"").unwrap() + 7;
    rest[value..].split('"').next().unwrap().to_owned()
}

/// The `Set-Cookie` header that starts the portal session.
fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("bs_session="))
        .unwrap()
}

/// The status of a sign-in from a new browser.
async fn fresh_sign_in(server: &TestServer, username: &str, password: &str) -> StatusCode {
    Browser::new(server)
        .sign_in(username, password)
        .await
        .status()
}

fn server_with_admin() -> TestServer {
    TestServer::start_with(&[("BRANDSTREAM_ADMIN_PASSWORD", PASSWORD)])
}

async fn token_status(server: &TestServer, id: &str, secret: &str) -> u16 {
    server
        .post_form(
            "/oauth/token",
            &[
                ("client_id", id),
                ("client_secret", secret),
                ("grant_type", "client_credentials"),
                ("audience", AUDIENCE),
            ],
        )
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_admin_signs_in_and_manages_brand_kit_keys() {
    let server = server_with_admin();
    let mut browser = Browser::new(&server);
    assert_eq!(
        browser.get("/portal/admin/keys").await.status(),
        StatusCode::SEE_OTHER
    );
    let response = browser.sign_in("admin", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = session_cookie(&response);
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let response = browser.get("/portal/admin/keys").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["cache-control"], "no-store");
    let page = response.text().await.unwrap();
    assert!(page.contains("Brand Kit keys") && page.contains("Create credential"));
    assert!(!page.contains("<script>"), "no inline scripts");
    let csrf = hidden(&page, "csrf");

    // Create a credential: the one page that shows the secret.
    let response = browser
        .post(
            "/portal/admin/keys",
            &[
                ("csrf", &csrf),
                ("label", "Portal script"),
                ("description", "made in the portal"),
                ("scope", "ai.org.brd:r"),
                ("scope", "ai.org.brd:w"),
                ("expires_in", "3600"),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("The Client Secret is displayed only once and cannot be retrieved later.")
    );
    let client_id = input_value(&page, "client-id");
    let secret = input_value(&page, "client-secret");
    assert!(secret.starts_with("bss_"));
    assert_eq!(token_status(&server, &client_id, &secret).await, 200);

    // The list shows it, never the secret.
    let page = browser.page("/portal/admin/keys").await;
    assert!(page.contains(&client_id) && page.contains("Portal script"));
    let row = &page[page.find(&client_id).unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("ai.org.brd:r") && row.contains("ai.org.brd:w") && !row.contains("docs"),
        "{row}"
    );
    assert!(!page.contains(&secret));

    // Rotate: a new secret, the old keeps working.
    let response = browser.key_action(&client_id, "rotate", &csrf).await;
    let page = response.text().await.unwrap();
    let rotated = input_value(&page, "client-secret");
    assert_ne!(rotated, secret);
    assert_eq!(token_status(&server, &client_id, &rotated).await, 200);
    assert_eq!(token_status(&server, &client_id, &secret).await, 200);

    // Revoke: both stop working.
    let response = browser.key_action(&client_id, "revoke", &csrf).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(token_status(&server, &client_id, &rotated).await, 401);
    let page = browser.page("/portal/admin/keys").await;
    assert!(page.contains("Revoked"));

    // The audit page records all three, by this user.
    let page = browser.page("/portal/admin/audit").await;
    for kind in [
        "credential.created",
        "credential.secret_rotated",
        "credential.revoked",
    ] {
        assert!(page.contains(kind), "{kind} missing");
    }
    assert!(page.contains("user:admin"));

    // Logout ends the session.
    let response = browser.post("/portal/logout", &[("csrf", &csrf)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        browser.get("/portal/admin/keys").await.status(),
        StatusCode::SEE_OTHER
    );
    // Nothing secret reached the logs.
    let logs = server.logs();
    assert!(!logs.contains(&secret) && !logs.contains(&rotated) && !logs.contains(PASSWORD));
}

#[tokio::test]
async fn forms_need_the_session_csrf_token_and_our_origin() {
    let server = server_with_admin();
    let mut browser = Browser::signed_in(&server, "admin", PASSWORD).await;
    let csrf = browser.csrf("/portal/admin/keys").await;
    let response = browser
        .post(
            "/portal/admin/keys",
            &[
                ("csrf", "forged"),
                ("label", "x"),
                ("scope", "ai.org.brd:r"),
            ],
        )
        .await;
    assert_eq!(response.status(), 403);
    let response = browser
        .post(
            "/portal/admin/keys",
            &[("label", "x"), ("scope", "ai.org.brd:r")],
        )
        .await;
    assert_eq!(response.status(), 403);
    // Right token, another site's Origin.
    let response = browser
        .http
        .post(server.url("/portal/admin/keys"))
        .header("cookie", browser.cookie_header())
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&label=x&scope=ai.org.brd%3Ar"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // The login form too: no matching pre-session cookie, no sign-in.
    let mut stranger = Browser::new(&server);
    let response = stranger
        .post(
            "/portal/login",
            &[("csrf", "x"), ("username", "admin"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), 403);
    // A validation error re-shows the form.
    let response = browser
        .post(
            "/portal/admin/keys",
            &[("csrf", &csrf), ("label", ""), ("scope", "ai.org.brd:r")],
        )
        .await;
    assert_eq!(response.status(), 422);
    // (a fresh client: the server closes a connection whose body it refused)
    // Forms are small: a megabyte of password is refused before anything reads it.
    let huge = "x".repeat(1024 * 1024);
    let response = Browser::new(&server)
        .post(
            "/portal/login",
            &[("csrf", "x"), ("username", "admin"), ("password", &huge)],
        )
        .await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn wrong_passwords_are_refused_and_throttled() {
    let server = server_with_admin();
    let mut browser = Browser::new(&server);
    let response = browser.sign_in("admin", "not the password").await;
    assert_eq!(response.status(), 401);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("The username or password is wrong."));
    let response = browser.sign_in("nobody", "not the password").await;
    assert_eq!(response.status(), 401);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            browser
                .sign_in("admin", "still wrong")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // Even the right password waits until the account's budget refills.
    assert_eq!(browser.sign_in("admin", PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn members_and_other_organisations_see_only_what_they_may() {
    let server = server_with_admin();
    let org = server.default_org();
    let output = server.create_user("maria", &org, "member", PASSWORD);
    assert!(output.status.success(), "{output:?}");

    let mut member = Browser::new(&server);
    assert_eq!(
        member.sign_in("maria", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    let response = member.get("/portal").await;
    assert_eq!(response.headers()["location"], "/portal/kits");
    assert_eq!(member.get("/portal/kits").await.status(), 200);
    assert_eq!(member.get("/portal/admin/keys").await.status(), 403);
    assert_eq!(member.get("/portal/admin/audit").await.status(), 403);

    // Another organisation's credential is neither listed nor reachable.
    let other = server.admin_json(&["orgs", "create", "--name", "Other", "--json"]);
    let foreign = server.create_credential_in(other["id"].as_str().unwrap(), &[]);
    let mut admin = Browser::signed_in(&server, "admin", PASSWORD).await;
    let page = admin.page("/portal/admin/keys").await;
    assert!(!page.contains(&foreign.client_id));
    let csrf = hidden(&page, "csrf");
    let response = admin.key_action(&foreign.client_id, "revoke", &csrf).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        token_status(&server, &foreign.client_id, &foreign.client_secret).await,
        200
    );
}

#[tokio::test]
async fn admins_invite_members_who_choose_their_own_password() {
    let server = server_with_admin();
    let mut admin = Browser::signed_in(&server, "admin", PASSWORD).await;
    let csrf = admin.csrf("/portal/admin/members").await;
    let response = admin
        .post(
            "/portal/admin/members",
            &[("csrf", &csrf), ("username", "newbie"), ("role", "member")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let page = response.text().await.unwrap();
    let one_time = input_value(&page, "invite-password");
    assert_eq!(one_time.len(), 20);
    let page = admin.page("/portal/admin/members").await;
    assert!(page.contains("newbie") && page.contains("(invited)") && !page.contains(&one_time));
    // A taken name is refused with the form again.
    let response = admin
        .post(
            "/portal/admin/members",
            &[("csrf", &csrf), ("username", "newbie"), ("role", "member")],
        )
        .await;
    assert_eq!(response.status(), 422);

    // The invited member must choose a password before anything else.
    let mut newbie = Browser::new(&server);
    let response = newbie.sign_in("newbie", &one_time).await;
    assert_eq!(response.headers()["location"], "/portal/password");
    let response = newbie.get("/portal/kits").await;
    assert_eq!(response.headers()["location"], "/portal/password");
    let csrf_newbie = newbie.csrf("/portal/password").await;
    let response = newbie
        .post(
            "/portal/password",
            &[
                ("csrf", &csrf_newbie),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let chosen = "a password of my own";
    let response = newbie
        .post(
            "/portal/password",
            &[
                ("csrf", &csrf_newbie),
                ("password", chosen),
                ("confirm", chosen),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(newbie.get("/portal/kits").await.status(), 200);
    // The one-time password is spent.
    assert_eq!(fresh_sign_in(&server, "newbie", &one_time).await, 401);
    assert_eq!(
        fresh_sign_in(&server, "newbie", chosen).await,
        StatusCode::SEE_OTHER
    );

    // Promote, then remove: the removed member's session ends.
    let page = admin.page("/portal/admin/members").await;
    let marker = "action=\"/portal/admin/members/";
    let start = page.find(marker).unwrap() + marker.len();
    let member_id = page[start..].split('/').next().unwrap().to_owned();
    let response = admin
        .post(
            &format!("/portal/admin/members/{member_id}/role"),
            &[("csrf", &csrf), ("role", "admin")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(newbie.get("/portal/admin/keys").await.status(), 200);
    // A role that does not exist is refused on the page; one's own membership and a
    // stranger's are error pages.
    let response = admin
        .post(
            &format!("/portal/admin/members/{member_id}/role"),
            &[("csrf", &csrf), ("role", "owner")],
        )
        .await;
    assert_eq!(response.status(), 422);
    let csrf_newbie = newbie.csrf("/portal/admin/members").await;
    let response = newbie
        .post(
            &format!("/portal/admin/members/{member_id}/remove"),
            &[("csrf", &csrf_newbie)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = admin
        .post(
            "/portal/admin/members/no-such-member/remove",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = admin
        .post(
            &format!("/portal/admin/members/{member_id}/remove"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        newbie.get("/portal/kits").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(fresh_sign_in(&server, "newbie", chosen).await, 401);
    // Nobody can change their own membership.
    let page = admin.page("/portal/admin/members").await;
    assert!(!page.contains("newbie"));
    let logs = server.logs();
    assert!(!logs.contains(&one_time) && !logs.contains(chosen));
}

#[tokio::test]
async fn sessions_expire_and_cookies_are_secure_behind_https() {
    let server = TestServer::start_with(&[
        ("BRANDSTREAM_ADMIN_PASSWORD", PASSWORD),
        ("BRANDSTREAM_PORTAL__IDLE_MINUTES", "0"),
        ("BRANDSTREAM_ISSUER", "https://brandstream.example/"),
    ]);
    let mut browser = Browser::new(&server);
    let response = browser.sign_in("admin", PASSWORD).await;
    let cookie = session_cookie(&response);
    assert!(cookie.contains("; Secure"), "{cookie}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let response = browser.get("/portal/admin/keys").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/portal/login");
}

#[tokio::test]
async fn kits_of_other_organisations_are_not_reachable() {
    let server = server_with_admin();
    let other = server.admin_json(&["orgs", "create", "--name", "Other", "--json"]);
    let foreign = server.create_credential_in(other["id"].as_str().unwrap(), &[]);
    let token = server.token(&foreign).await;
    let kit: serde_json::Value = server
        .http
        .post(server.url(&format!(
            "/api/brands/v1/organizations/{}/brandkits",
            foreign.org_id
        )))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "Secret kit"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut admin = Browser::signed_in(&server, "admin", PASSWORD).await;
    let page = admin.page("/portal/kits").await;
    assert!(!page.contains("Secret kit"));
    let response = admin
        .get(&format!("/portal/kits/{}", kit["id"].as_str().unwrap()))
        .await;
    assert_eq!(response.status(), 404);
    // Creating and editing a kit through the portal works for our own organisation.
    let csrf = hidden(&page, "csrf");
    let response = admin
        .post("/portal/kits", &[("csrf", &csrf), ("name", "Ours")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let page = admin.page(&location).await;
    assert!(page.contains("Brand purpose"));
    // No documents yet, so no ingestion button.
    assert!(!page.contains("Start ingestion"));
    // Edit the first subsection: the value is saved and marked as a person's.
    let start = page
        .find("<form method=\"post\" action=\"/portal/kits/")
        .unwrap();
    let action = page[start..]
        .split("action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let action = page[start..]
        .match_indices("action=\"")
        .map(|(index, _)| {
            page[start + index + 8..]
                .split('"')
                .next()
                .unwrap()
                .to_owned()
        })
        .find(|candidate| candidate.contains("/fields/"))
        .unwrap_or(action);
    let response = admin
        .post(
            &action,
            &[("csrf", &csrf), ("value", "Written in the portal.")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = admin.page(&location).await;
    assert!(page.contains("Written in the portal.") && page.contains("edited by a person"));
    // Locking the kit hides the edit forms.
    let response = admin
        .post(
            &format!("{location}/lock"),
            &[("csrf", &csrf), ("locked", "true")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = admin.page(&location).await;
    assert!(page.contains("Unlock kit") && !page.contains("/fields/"));
}

#[tokio::test]
async fn users_in_several_organisations_switch_between_them() {
    let server = server_with_admin();
    let other = server.admin_json(&["orgs", "create", "--name", "Other", "--json"]);
    let other_org = other["id"].as_str().unwrap().to_owned();
    let foreign = server.create_credential_in(&other_org, &["--description", "Other's key"]);
    // bob administers Other; the default organisation's admin adds him as a member.
    let output = server.create_user("bob", &other_org, "admin", PASSWORD);
    assert!(output.status.success());
    let mut admin = Browser::signed_in(&server, "admin", PASSWORD).await;
    let csrf = admin.csrf("/portal/admin/members").await;
    let response = admin
        .post(
            "/portal/admin/members",
            &[("csrf", &csrf), ("username", "bob"), ("role", "member")],
        )
        .await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "an existing user joins without a new password"
    );

    let mut bob = Browser::signed_in(&server, "bob", PASSWORD).await;
    // In Other, where he is admin, he sees Other's keys.
    let page = bob.page("/portal/kits").await;
    assert!(page.contains("org-switch"), "the switcher is shown");
    let csrf = hidden(&page, "csrf");
    let response = bob
        .post("/portal/org", &[("csrf", &csrf), ("org", &other_org)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page = bob.page("/portal/admin/keys").await;
    assert!(page.contains(&foreign.client_id));
    let default_org = server.default_org();
    let csrf = hidden(&page, "csrf");
    let response = bob
        .post("/portal/org", &[("csrf", &csrf), ("org", &default_org)])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    // Now a member of the default organisation: no keys page, and nothing of Other shown.
    assert_eq!(bob.get("/portal/admin/keys").await.status(), 403);
    let page = bob.page("/portal/kits").await;
    assert!(!page.contains(&foreign.client_id));
    // An organisation he does not belong to cannot be chosen.
    let response = bob
        .post(
            "/portal/org",
            &[("csrf", &csrf), ("org", "org_ABCDEFGHIJKLMNOP")],
        )
        .await;
    assert_eq!(response.status(), 403);
}

/// A NUL character in a form is a client error on both backends, never a 500; an oversized
/// form is refused before it is read whole.
#[tokio::test]
async fn forms_with_nul_characters_or_too_much_data_are_refused() {
    let server = server_with_admin();
    let mut browser = Browser::new(&server);
    let response = browser.sign_in("ad\u{0}min", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let csrf = browser.csrf("/portal/login").await;
    let huge = "x".repeat(300 * 1024);
    let response = browser
        .post(
            "/portal/login",
            &[("csrf", &csrf), ("username", &huge), ("password", "p")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The portal still signs in normally.
    assert_eq!(browser.sign_in("admin", PASSWORD).await.status(), 303);
}

/// Borrowed form fields, as `Browser::post` takes them.
fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The path and token of the setup link a server printed, if it printed one.
fn setup_link(server: &TestServer) -> Option<(String, String)> {
    let logs = server.logs();
    let start = logs.find("/portal/setup?token=")?;
    let path: String = logs[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let token = path.split("token=").nth(1)?.to_owned();
    Some((path, token))
}

/// Without `BRANDSTREAM_ADMIN_PASSWORD` the first start prints a one-time setup link; it lets
/// the person at the server choose the first administrator, who can then sign in. The link
/// refuses a wrong token, differing passwords and a second use, and no link is printed once
/// a user exists.
#[tokio::test]
async fn the_first_administrator_is_chosen_through_a_one_time_setup_link() {
    let server = TestServer::start();
    let (path, token) = setup_link(&server).expect("a setup link on the first start");
    assert!(
        !server.logs().contains("\"token\""),
        "the token is not a log field"
    );
    let mut browser = Browser::new(&server);

    let wrong = browser.get("/portal/setup?token=not-the-token").await;
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    let page = browser.get(&path).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let csrf = hidden(&page, "csrf");
    assert_eq!(hidden(&page, "token"), token);

    // The setup form as a person submits it: (csrf, token, confirmation).
    let form = |csrf: &str, confirm: &str| -> Vec<(String, String)> {
        [
            ("csrf", csrf),
            ("token", token.as_str()),
            ("username", "ada"),
            ("password", PASSWORD),
            ("confirm", confirm),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    let differing = form(&csrf, "something else entirely");
    let differing = browser.post("/portal/setup", &pairs(&differing)).await;
    assert_eq!(differing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A password the rules refuse: 422, and the link stays usable for the corrected form.
    let mut short = form(&csrf, "short");
    short[3].1 = "short".to_owned();
    let short = browser.post("/portal/setup", &pairs(&short)).await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let forged = form("forged", PASSWORD);
    let forged = browser.post("/portal/setup", &pairs(&forged)).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let created = form(&csrf, PASSWORD);
    let created = browser.post("/portal/setup", &pairs(&created)).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert_eq!(created.headers()["location"], "/portal/login");
    let again = browser.get(&path).await;
    assert_eq!(again.status(), StatusCode::GONE, "the link works once");

    let mut person = Browser::new(&server);
    assert_eq!(
        person.sign_in("ada", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        person.get("/portal/admin/keys").await.status(),
        StatusCode::OK
    );

    // With a user, a restart prints no link.
    let dir = server.stop_keep_dir();
    let restarted = TestServer::start_in(dir, &[]);
    assert!(setup_link(&restarted).is_none(), "{}", restarted.logs());
}
