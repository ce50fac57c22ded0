//! Black-box tests of `POST /oauth/token`: the documented request, body formats, client
//! authentication methods, scopes, lifetimes and every error case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::*;
use serde_json::Value;

fn assert_no_store(response: &reqwest::Response) {
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
}

async fn expect_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status, "expected {status} {error}");
    assert_no_store(&response);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

#[tokio::test]
async fn the_documented_request_works_verbatim() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    // Exactly the documented curl invocation, with only the host changed.
    let output = std::process::Command::new("curl")
        .args(["-s", "-X", "POST", &server.url("/oauth/token")])
        .args([
            "--header",
            "Content-Type: application/x-www-form-urlencoded",
        ])
        .args([
            "--data-urlencode",
            &format!("client_id={}", credential.client_id),
        ])
        .args([
            "--data-urlencode",
            &format!("client_secret={}", credential.client_secret),
        ])
        .args(["--data-urlencode", "grant_type=client_credentials"])
        .args(["--data-urlencode", "audience=https://api.sitecorecloud.io"])
        .output();
    let body: Value = match output {
        Ok(output) if output.status.success() => serde_json::from_slice(&output.stdout).unwrap(),
        // Without curl on the machine, send the same bytes with reqwest.
        _ => server
            .token_response(&credential)
            .await
            .json()
            .await
            .unwrap(),
    };
    assert_eq!(keys(&body).len(), 4, "{body}");
    assert_eq!(body["scope"], ALL_SCOPES);
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(body["token_type"], "Bearer");

    let token = body["access_token"].as_str().unwrap();
    let (header, claims) = jwt_parts(token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "at+jwt");
    assert!(header["kid"].is_string());
    assert_eq!(claims["iss"], format!("{}/", server.base));
    assert_eq!(claims["sub"], format!("{}@clients", credential.client_id));
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["azp"], credential.client_id.as_str());
    assert_eq!(claims["client_id"], credential.client_id.as_str());
    assert_eq!(claims["gty"], "client-credentials");
    assert_eq!(claims["scope"], ALL_SCOPES);
    assert_eq!(claims["org_id"], credential.org_id.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86400
    );
    assert!(claims["jti"].as_str().unwrap().len() >= 16);
}

#[tokio::test]
async fn json_bodies_basic_auth_and_headers() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);

    let response = server
        .post_token(|post| {
            post.json(&serde_json::json!({
                "client_id": credential.client_id,
                "client_secret": credential.client_secret,
                "grant_type": "client_credentials",
                "audience": AUDIENCE,
            }))
        })
        .await;
    assert_eq!(response.status(), 200);
    assert_no_store(&response);

    let response = server
        .post_token(|post| {
            post.basic_auth(&credential.client_id, Some(&credential.client_secret))
                .form(&[("grant_type", "client_credentials")])
        })
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    // The audience defaults to the first configured one.
    assert_eq!(
        jwt_parts(body["access_token"].as_str().unwrap()).1["aud"],
        AUDIENCE
    );

    // Basic with the wrong secret: 401 with a challenge.
    let response = server
        .post_token(|post| {
            post.basic_auth(&credential.client_id, Some("bss_wrong"))
                .form(&[("grant_type", "client_credentials")])
        })
        .await;
    let challenge = response.headers().get("www-authenticate").cloned();
    expect_error(response, 401, "invalid_client").await;
    assert!(challenge.unwrap().to_str().unwrap().starts_with("Basic"));
}

#[tokio::test]
async fn every_error_has_its_status_and_code() {
    let server = TestServer::start();
    let credential =
        server.create_credential(&["--scope", "ai.org.brd:r", "--scope", "ai.org.docs:r"]);
    let id = credential.client_id.as_str();
    let secret = credential.client_secret.as_str();
    let grant = ("grant_type", "client_credentials");

    for (extra, status, error) in [
        (None, 400, "invalid_request"),
        (Some("password"), 400, "unsupported_grant_type"),
    ] {
        let form: Vec<_> = extra
            .map(|grant| ("grant_type", grant))
            .into_iter()
            .collect();
        let response = server.post_as("/oauth/token", &credential, &form).await;
        expect_error(response, status, error).await;
    }
    // Wrong, malformed and unknown credentials; none gets a Basic challenge.
    let mut wrong = secret.to_owned();
    wrong.replace_range(10..11, if &secret[10..11] == "a" { "b" } else { "a" });
    for (client_id, client_secret) in [
        (id, wrong.as_str()),
        (id, "not-a-secret"),
        ("0123456789abcdef0123456789ABCDEF", secret),
        ("short", secret),
    ] {
        let caller = Credential {
            client_id: client_id.to_owned(),
            ..credential.with_secret(client_secret)
        };
        let response = server.token_form(&caller, &[]).await;
        assert!(response.headers().get("www-authenticate").is_none());
        expect_error(response, 401, "invalid_client").await;
    }
    expect_error(
        server.post_form("/oauth/token", &[grant]).await,
        401,
        "invalid_client",
    )
    .await;
    expect_error(
        server
            .post_form("/oauth/token", &[("client_id", id), grant])
            .await,
        401,
        "invalid_client",
    )
    .await;

    // Credentials in the query string.
    let response = server
        .http
        .post(server.url(&format!(
            "/oauth/token?client_id={id}&client_secret={secret}"
        )))
        .form(&[grant])
        .send()
        .await
        .unwrap();
    expect_error(response, 400, "invalid_request").await;

    // A repeated parameter.
    let body = format!("client_id={id}&client_secret={secret}&grant_type=client_credentials&grant_type=client_credentials");
    let response = server
        .post_token(|post| {
            post.header("content-type", "application/x-www-form-urlencoded")
                .body(body)
        })
        .await;
    let error = expect_error(response, 400, "invalid_request").await;
    assert!(error["error_description"]
        .as_str()
        .unwrap()
        .contains("grant_type"));

    // Two client-authentication methods at once.
    let response = server
        .post_token(|post| {
            post.basic_auth(id, Some(secret))
                .form(&[("client_secret", secret), grant])
        })
        .await;
    expect_error(response, 400, "invalid_request").await;

    // Oversized body.
    let huge = "x".repeat(70 * 1024);
    let response = server.token_form(&credential, &[("padding", &huge)]).await;
    expect_error(response, 413, "invalid_request").await;

    // Unsupported content type, then malformed JSON.
    for (content_type, body) in [
        ("text/plain", "grant_type=client_credentials"),
        ("application/json", "{\"grant_type\": 5}"),
    ] {
        let response = server
            .post_token(|post| post.header("content-type", content_type).body(body))
            .await;
        expect_error(response, 400, "invalid_request").await;
    }

    // Unknown audience; unknown scope name, then a known scope that was not granted.
    for (extra, status, error) in [
        (("audience", "https://evil.example"), 403, "access_denied"),
        (("scope", "ai.org.brd:r openid"), 400, "invalid_scope"),
        (("scope", "ai.org.brd:w"), 403, "access_denied"),
    ] {
        let response = server.token_form(&credential, &[extra]).await;
        expect_error(response, status, error).await;
    }
}

#[tokio::test]
async fn scope_subsets_and_lifetimes() {
    let server = TestServer::start();
    let credential = server.create_credential(&["--expires-in", "120"]);
    let response = server
        .token_form(&credential, &[("scope", "ai.org.docs:r ai.org.brd:r")])
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "ai.org.brd:r ai.org.docs:r");
    assert_eq!(body["expires_in"], 120);
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "ai.org.brd:r ai.org.docs:r");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );

    // A credential granted fewer scopes gets exactly those by default.
    let narrow = server.create_credential(&["--scope", "ai.org.docs:w"]);
    let body: Value = server.token_response(&narrow).await.json().await.unwrap();
    assert_eq!(body["scope"], "ai.org.docs:w");

    // Lifetimes outside 60 … 2592000 and bad labels are refused by the admin command.
    let org = server.default_org();
    let long_label = "l".repeat(101);
    let long_description = "d".repeat(501);
    for bad in [
        vec!["--label", "x", "--expires-in", "59"],
        vec!["--label", "x", "--expires-in", "2592001"],
        vec!["--label", "x", "--scope", "ai.org.unknown"],
        vec!["--label", &long_label],
        vec!["--label", "  "],
        vec!["--label", "x", "--description", &long_description],
    ] {
        let mut args = vec!["credentials", "create", "--org", &org];
        args.extend(bad.iter());
        let output = server.admin(&args);
        assert!(!output.status.success(), "{bad:?} accepted");
    }
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let server = TestServer::start_with(&[
        ("BRANDSTREAM_RATE_LIMITS__FAILURES_PER_MINUTE", "3"),
        ("BRANDSTREAM_RATE_LIMITS__FAILURES_BURST", "3"),
        ("BRANDSTREAM_RATE_LIMITS__PER_CLIENT_PER_SECOND", "1"),
        ("BRANDSTREAM_RATE_LIMITS__PER_CLIENT_BURST", "2"),
    ]);
    let credential = server.create_credential(&[]);

    // Per client: a burst of two, then 429.
    assert_eq!(server.token_response(&credential).await.status(), 200);
    assert_eq!(server.token_response(&credential).await.status(), 200);
    let response = server.token_response(&credential).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    expect_error(response, 429, "too_many_requests").await;

    // Failed authentications from one address: after the budget, wrong secrets wait; a
    // correct secret from the same address still gets its token.
    let wrong = credential.with_secret("bss_wrong");
    for _ in 0..3 {
        expect_error(server.token_response(&wrong).await, 401, "invalid_client").await;
    }
    let response = server.token_response(&wrong).await;
    assert!(response.headers().contains_key("retry-after"));
    expect_error(response, 429, "too_many_requests").await;
    let other = server.create_credential(&[]);
    assert_eq!(server.token_response(&other).await.status(), 200);
}

/// A noisy neighbour does not lock out correct clients (behind NAT or in one cluster every
/// service shares an address): a burst of wrong secrets for client A ends in 429 with
/// Retry-After, while client B, from the same address, gets its tokens throughout.
#[tokio::test]
async fn a_burst_of_wrong_secrets_does_not_lock_out_a_neighbour() {
    let server = TestServer::start();
    let noisy = server.create_credential(&[]);
    let neighbour = server.create_credential(&[]);
    // A well-formed secret, but another credential's.
    let wrong = noisy.with_secret(&server.create_credential(&[]).client_secret);
    let mut statuses = std::collections::BTreeMap::new();
    let mut last = None;
    for index in 0..200 {
        let response = server.token_response(&wrong).await;
        let status = response.status().as_u16();
        *statuses.entry(status).or_insert(0) += 1;
        if status == 429 {
            assert!(response.headers().contains_key("retry-after"));
        }
        last = Some(status);
        if index % 10 == 0 {
            assert_eq!(
                server.token_response(&neighbour).await.status(),
                200,
                "after {index} wrong secrets from the same address: {statuses:?}"
            );
        }
    }
    assert_eq!(last, Some(429), "{statuses:?}");
    assert!(statuses.get(&401).is_some_and(|n| *n <= 30), "{statuses:?}");
    // The noisy client's own correct secret still works too: only failures are throttled.
    assert_eq!(server.token_response(&noisy).await.status(), 200);
}

#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    // RFC 6749 §2.3.1: the client id and secret are form-urlencoded before Basic encoding.
    let raw = format!("{}:{}", credential.client_id, credential.client_secret);
    let header = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    let response = server
        .post_token(|post| {
            post.header("authorization", header).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &credential.client_id),
            ])
        })
        .await;
    assert_eq!(response.status(), 200);
    let response = server
        .post_token(|post| {
            post.header("authorization", "Basic !!!")
                .form(&[("grant_type", "client_credentials")])
        })
        .await;
    expect_error(response, 400, "invalid_request").await;
}

/// The status of a token request from `credential` carrying `X-Forwarded-For: forwarded`.
async fn forwarded_status(server: &TestServer, credential: &Credential, forwarded: &str) -> u16 {
    server
        .post_token(|post| {
            post.header("x-forwarded-for", forwarded).form(&[
                ("client_id", credential.client_id.as_str()),
                ("client_secret", credential.client_secret.as_str()),
                ("grant_type", "client_credentials"),
            ])
        })
        .await
        .status()
        .as_u16()
}

/// A server started with `env`, a credential, and wrong secrets for it and for a second one.
fn server_with_wrong_secrets(
    env: &[(&str, &str)],
) -> (TestServer, Credential, Credential, Credential) {
    let server = TestServer::start_with(env);
    let credential = server.create_credential(&[]);
    let wrong = credential.with_secret("bss_wrong");
    let other_wrong = server.create_credential(&[]).with_secret("bss_wrong");
    (server, credential, wrong, other_wrong)
}

#[tokio::test]
async fn forwarded_addresses_are_used_only_when_trusted() {
    let limits = [
        ("BRANDSTREAM_RATE_LIMITS__FAILURES_PER_MINUTE", "1"),
        ("BRANDSTREAM_RATE_LIMITS__FAILURES_BURST", "1"),
    ];

    let mut env = limits.to_vec();
    env.push(("BRANDSTREAM_TRUST_FORWARDED_FOR", "true"));
    let (server, credential, wrong, other_wrong) = server_with_wrong_secrets(&env);
    for (caller, forwarded, status) in [
        // The last entry is the one our proxy appended; earlier ones are the client's to forge.
        (&wrong, "203.0.113.9, 198.51.100.1", 401),
        // That address's failure budget is spent, for any client id ...
        (&other_wrong, "198.51.100.1", 429),
        // ... but not another address's.
        (&other_wrong, "198.51.100.1, 198.51.100.2", 401),
        // Correct secrets pass from anywhere.
        (&credential, "198.51.100.1", 200),
    ] {
        let answered = forwarded_status(&server, caller, forwarded).await;
        assert_eq!(answered, status, "trusted, from {forwarded}");
    }

    // Untrusted (the default): the header is ignored and the TCP peer is limited.
    let (server, credential, wrong, other_wrong) = server_with_wrong_secrets(&limits);
    for (caller, forwarded, status) in [
        (&wrong, "198.51.100.1", 401),
        (&other_wrong, "198.51.100.3", 429),
        (&credential, "198.51.100.2", 200),
    ] {
        let answered = forwarded_status(&server, caller, forwarded).await;
        assert_eq!(answered, status, "untrusted, from {forwarded}");
    }
}

#[tokio::test]
async fn oauth_endpoints_accept_only_post() {
    let server = TestServer::start();
    for path in ["/oauth/token", "/oauth/introspect", "/oauth/revoke"] {
        let response = server.http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["allow"], "POST");
        expect_error(response, 405, "invalid_request").await;
    }
}
