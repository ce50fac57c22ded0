//! Black-box tests of the credential and key life cycle: secret rotation, revocation,
//! introspection, JWKS and metadata, key rotation, third-party verification, restarts,
//! shutdown, audit, configuration layers, and that secrets never reach logs or disk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn secret_rotation_keeps_both_secrets_until_retired() {
    let server = TestServer::start();
    let first = server.create_credential(&[]);
    let rotated = server.admin_json(&["credentials", "rotate-secret", &first.client_id, "--json"]);
    let second = first.with_secret(rotated["client_secret"].as_str().unwrap());
    assert_ne!(first.client_secret, second.client_secret);
    assert_eq!(server.token_response(&first).await.status(), 200);
    assert_eq!(server.token_response(&second).await.status(), 200);

    // A third rotation retires the oldest of the two active secrets.
    let rotated = server.admin_json(&["credentials", "rotate-secret", &first.client_id, "--json"]);
    let third = first.with_secret(rotated["client_secret"].as_str().unwrap());
    // A new secret works at once; the retired one stops within about a second.
    assert_eq!(server.token_response(&third).await.status(), 200);
    assert!(token_status_becomes(&server, &first, 401).await);
    assert_eq!(server.token_response(&second).await.status(), 200);

    // Retiring leaves only the newest.
    assert!(server
        .admin(&["credentials", "retire-secret", &first.client_id])
        .status
        .success());
    assert!(token_status_becomes(&server, &second, 401).await);
    assert_eq!(server.token_response(&third).await.status(), 200);
    assert!(!server
        .admin(&["credentials", "retire-secret", &first.client_id])
        .status
        .success());

    let listed = server.admin_json(&["credentials", "list", "--org", &first.org_id, "--json"]);
    let entry = &listed.as_array().unwrap()[0];
    assert_eq!(entry["active_secrets"].as_array().unwrap().len(), 1);
    assert!(entry["last_used_at"].is_string() || entry["last_used_at"].is_null());
    assert!(!listed.to_string().contains(&third.client_secret));
}

#[tokio::test]
async fn revoking_a_credential_ends_its_secrets_and_tokens() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    let observer = server.create_credential(&[]);
    let token = server.token(&credential).await;
    assert_eq!(server.introspect(&observer, &token).await["active"], true);

    let output = server.admin(&["credentials", "revoke", &credential.client_id]);
    assert!(output.status.success());
    assert!(
        token_status_becomes(&server, &credential, 401).await,
        "a revoked credential still obtained tokens after 5 s"
    );
    let inactive = eventually(Duration::from_secs(5), || async {
        server.introspect(&observer, &token).await["active"] == false
    })
    .await;
    assert!(
        inactive,
        "a revoked credential's token stayed active for more than 5 s"
    );
    let listed = server.admin_json(&["credentials", "list", "--org", &credential.org_id, "--json"]);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["status"] == "revoked"));
}

#[tokio::test]
async fn token_revocation_and_introspection() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    let token = server.token(&credential).await;

    let described = server.introspect(&credential, &token).await;
    assert_eq!(described["active"], true);
    assert_eq!(described["client_id"], credential.client_id.as_str());
    assert_eq!(described["scope"], ALL_SCOPES);
    assert_eq!(described["token_type"], "Bearer");
    assert_eq!(described["org_id"], credential.org_id.as_str());
    assert!(described["exp"].as_i64().unwrap() > described["iat"].as_i64().unwrap());

    // Another organisation's credential learns nothing.
    let other_org = server.admin_json(&["orgs", "create", "--name", "Other", "--json"]);
    let stranger = server.create_credential_in(other_org["id"].as_str().unwrap(), &[]);
    assert_eq!(
        server.introspect(&stranger, &token).await,
        json!({"active": false})
    );
    // Nor does it revoke the token.
    let response = server.revoke(&stranger, &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(server.introspect(&credential, &token).await["active"], true);

    // Garbage is inactive, and introspection needs client authentication and a token.
    assert_eq!(
        server.introspect(&credential, "not.a.token").await["active"],
        false
    );
    let response = server
        .post_form("/oauth/introspect", &[("token", &token)])
        .await;
    assert_eq!(response.status(), 401);
    let response = server.post_as("/oauth/introspect", &credential, &[]).await;
    assert_eq!(response.status(), 400);

    // A colleague credential without ai.org:admin may not revoke another client's token
    // (RFC 7009 §2.1); one granted ai.org:admin may.
    let colleague = server.create_credential(&["--scope", "ai.org.brd:r"]);
    let response = server.revoke(&colleague, &token).await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client", "{body}");
    assert_eq!(server.introspect(&credential, &token).await["active"], true);
    let administrator = server.create_credential(&["--scope", "ai.org:admin"]);
    let second = server.token(&credential).await;
    assert_eq!(server.revoke(&administrator, &second).await.status(), 200);
    assert_eq!(
        server.introspect(&credential, &second).await["active"],
        false
    );
    // A client may always revoke its own token, whatever its scopes.
    let own = server.token(&colleague).await;
    assert_eq!(server.revoke(&colleague, &own).await.status(), 200);
    assert_eq!(server.introspect(&credential, &own).await["active"], false);

    // RFC 7009 revocation by the owner.
    let response = server
        .post_as(
            "/oauth/revoke",
            &credential,
            &[("token", &token), ("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(
        server.introspect(&credential, &token).await["active"],
        false
    );
    // Revoking an unknown token is not an error.
    let response = server.revoke(&credential, "junk").await;
    assert_eq!(response.status(), 200);
    // Other tokens of the credential are unaffected.
    let fresh = server.token(&credential).await;
    assert_eq!(server.introspect(&credential, &fresh).await["active"], true);
}

/// The server judges its own tokens on its own clock (RFC 7662 §2.2): once `exp` has passed
/// a token is inactive and no longer opens the API — no clock-skew leeway. Takes a minute:
/// the shortest lifetime a credential may have is 60 s.
#[tokio::test]
async fn an_expired_token_is_inactive_the_moment_it_expires() {
    let server = TestServer::start();
    let observer = server.create_credential(&[]);
    let short = server.create_credential(&["--expires-in", "60"]);
    let token = server.token(&short).await;
    let described = server.introspect(&observer, &token).await;
    assert_eq!(described["active"], true, "{described}");
    let exp = described["exp"].as_i64().unwrap();
    // Wait until just past `exp` (the clock of this machine is the server's).
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        if now > exp {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let described = server.introspect(&observer, &token).await;
    assert_eq!(described, serde_json::json!({"active": false}));
    let url = server.url(&format!(
        "/api/brands/v1/organizations/{}/brandkits",
        server.default_org()
    ));
    let api = server.get_bearer(&url, &token).await;
    assert_eq!(api.status(), 401);
}

#[tokio::test]
async fn forged_and_tampered_tokens_are_rejected() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    let token = server.token(&credential).await;
    let (header, claims) = jwt_parts(&token);
    let parts: Vec<&str> = token.split('.').collect();

    let mut elevated = claims.clone();
    elevated["org_id"] = json!("org_AAAAAAAAAAAAAAAA");
    let tampered = with_claims(&token, &elevated);

    let none_header = json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]});
    let unsigned = format!("{}.{}.", b64(none_header.to_string().as_bytes()), parts[1]);

    // HS256 "signed" with the public JWKS as the key: the classic algorithm confusion.
    let jwks = server.get_json("/.well-known/jwks.json").await;
    let hs = hs256_forgery(&token, jwks.to_string().as_bytes());

    let wrong_typ = with_header(
        &token,
        &json!({"alg": header["alg"], "typ": "JWT", "kid": header["kid"]}),
    );
    let unknown_kid = with_header(
        &token,
        &json!({"alg": header["alg"], "typ": "at+jwt", "kid": "nope"}),
    );
    let with_crit = with_header(
        &token,
        &json!({"alg": header["alg"], "typ": "at+jwt", "kid": header["kid"], "jku": "http://127.0.0.1:1/keys", "crit": ["jku"]}),
    );

    for (name, forged) in [
        ("tampered claims", tampered),
        ("alg none", unsigned),
        ("HS256 confusion", hs),
        ("wrong typ", wrong_typ),
        ("unknown kid", unknown_kid),
        ("crit header", with_crit),
        ("oversized", "a".repeat(9000)),
    ] {
        assert_eq!(
            server.introspect(&credential, &forged).await["active"],
            false,
            "{name} accepted"
        );
    }
    assert_eq!(server.introspect(&credential, &token).await["active"], true);
}

#[tokio::test]
async fn discovery_documents_and_jwks() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    let (header, _) = jwt_parts(&server.token(&credential).await);

    let response = server.get("/.well-known/jwks.json").await;
    assert_eq!(response.status(), 200);
    let cache = header_text(&response, "cache-control");
    assert!(
        cache.starts_with("public") && cache.contains("max-age="),
        "{cache}"
    );
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    // The active key and the next one, published before it signs.
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().any(|key| key["kid"] == header["kid"]));
    for key in keys {
        assert_eq!(key["kty"], "RSA");
        assert_eq!(key["use"], "sig");
        assert!(
            key.get("d").is_none() && key.get("p").is_none(),
            "private material published"
        );
    }

    let issuer = format!("{}/", server.base);
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let metadata = server.get_json(path).await;
        assert_eq!(metadata["issuer"], issuer.as_str());
        assert_eq!(metadata["token_endpoint"], format!("{issuer}oauth/token"));
        assert_eq!(
            metadata["jwks_uri"],
            format!("{issuer}.well-known/jwks.json")
        );
        assert_eq!(
            metadata["introspection_endpoint"],
            format!("{issuer}oauth/introspect")
        );
        assert_eq!(
            metadata["revocation_endpoint"],
            format!("{issuer}oauth/revoke")
        );
        assert_eq!(
            metadata["grant_types_supported"],
            json!(["client_credentials"])
        );
        assert_eq!(
            metadata["token_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post"])
        );
        assert_eq!(metadata["scopes_supported"].as_array().unwrap().len(), 5);
        assert_eq!(
            metadata["access_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
    }
}

async fn verify_with_jsonwebtoken(server: &TestServer, token: &str) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(server.get_json("/.well-known/jwks.json").await).unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[format!("{}/", server.base)]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("third-party verification")
        .claims
}

#[tokio::test]
async fn tokens_verify_with_a_third_party_library_for_every_algorithm() {
    for alg in ["RS256", "ES256", "EdDSA"] {
        let server = TestServer::start_with(&[("BRANDSTREAM_SIGNING_ALG", alg)]);
        let credential = server.create_credential(&[]);
        let token = server.token(&credential).await;
        assert_eq!(jwt_parts(&token).0["alg"], alg);
        let claims = verify_with_jsonwebtoken(&server, &token).await;
        assert_eq!(claims["client_id"], credential.client_id.as_str());
        let metadata = server.get_json("/.well-known/openid-configuration").await;
        assert_eq!(
            metadata["access_token_signing_alg_values_supported"],
            json!([alg])
        );
    }
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    let old_token = server.token(&credential).await;
    let old_kid = jwt_parts(&old_token).0["kid"].as_str().unwrap().to_owned();
    let before = server.admin_json(&["keys", "list", "--json"]);
    let next_kid = find_by(&before, "state", "next")["kid"].clone();

    let output = server.admin(&["keys", "rotate"]);
    assert_success(&output);

    // The server picks the rotation up within seconds: new tokens use the key that was
    // published as "next" before it signed anything.
    let mut new_token = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut rotated = false;
    while std::time::Instant::now() < deadline {
        new_token = server.token(&credential).await;
        if jwt_parts(&new_token).0["kid"] != old_kid.as_str() {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(rotated, "the server kept signing with the retired key");
    assert_eq!(jwt_parts(&new_token).0["kid"], next_kid);

    let jwks = server.get_json("/.well-known/jwks.json").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()),
        "retired key left the JWKS too early"
    );
    assert_eq!(kids.len(), 3, "retired, active and the new next key");
    assert_eq!(
        server.introspect(&credential, &old_token).await["active"],
        true
    );
    verify_with_jsonwebtoken(&server, &old_token).await;
    verify_with_jsonwebtoken(&server, &new_token).await;

    let keys = server.admin_json(&["keys", "list", "--json"]);
    let states: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.iter().filter(|s| **s == "active").count(), 1);
    assert_eq!(states.iter().filter(|s| **s == "retired").count(), 1);
}

#[tokio::test]
async fn restart_keeps_credentials_and_keys_and_shutdown_is_clean() {
    // A fixed issuer: with port 0 the default issuer (from the listen address) would change.
    let issuer = [("BRANDSTREAM_ISSUER", "http://brandstream.test")];
    let server = TestServer::start_with(&issuer);
    let credential = server.create_credential(&[]);
    let token = server.token(&credential).await;
    let key_file = std::fs::read_to_string(server.data_dir().join("master.key")).unwrap();
    let dir = server.stop_keep_dir();

    let mut server = TestServer::start_in(dir, &issuer);
    assert_eq!(
        std::fs::read_to_string(server.data_dir().join("master.key")).unwrap(),
        key_file
    );
    assert_eq!(server.introspect(&credential, &token).await["active"], true);
    assert_eq!(server.token_response(&credential).await.status(), 200);
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    assert!(server.logs().contains("stopped"));
}

#[tokio::test]
async fn operations_endpoints() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    server.token(&credential).await;
    assert_eq!(server.get_json("/healthz").await["status"], "ok");
    let backend = if postgres_backend().is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    assert_eq!(server.get_json("/readyz").await["database"], backend);
    let metrics = server.get_text("/metrics").await;
    assert!(
        metrics.contains("brandstream_tokens_issued_total"),
        "{metrics}"
    );
    assert!(metrics.contains("brandstream_http_requests_total"));
    let response = server.get("/no/such/path").await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"detail": "Not Found"})
    );
    assert!(server
        .logs()
        .contains(&format!("default organisation {}", credential.org_id)));
    // One access-log line per request, naming the matched route.
    let logs = server.logs();
    assert!(
        logs.lines()
            .any(|line| line.contains("path=/oauth/token") && line.contains("status=200")),
        "no access log for the token request"
    );
}

#[tokio::test]
async fn audit_trail_records_events_without_secrets() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    let token = server.token(&credential).await;
    let wrong = credential.with_secret(&format!("{}x", credential.client_secret));
    assert_eq!(server.token_response(&wrong).await.status(), 401);
    server.admin(&["credentials", "rotate-secret", &credential.client_id]);
    server.admin(&["credentials", "revoke", &credential.client_id]);

    let found = eventually(Duration::from_secs(5), || async {
        let events = server.admin_json(&["audit", "--json", "--limit", "100"]);
        let kinds: Vec<String> = events
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        [
            "credential.created",
            "token.issued",
            "auth.failed",
            "credential.secret_rotated",
            "credential.revoked",
        ]
        .iter()
        .all(|kind| kinds.iter().any(|k| k == kind))
    })
    .await;
    assert!(found, "audit events missing");
    let events = server.admin_json(&["audit", "--json", "--org", &credential.org_id]);
    let issued = find_by(&events, "kind", "token.issued");
    assert_eq!(issued["client_id"], credential.client_id.as_str());
    assert_eq!(issued["source_address"], "127.0.0.1");
    assert_eq!(issued["detail"]["audience"], AUDIENCE);
    assert_eq!(issued["detail"]["scope"], ALL_SCOPES);
    let text = server.admin(&["audit"]).stdout;
    let everything = format!("{events}{}", String::from_utf8_lossy(&text));
    assert!(!everything.contains(&credential.client_secret));
    assert!(!everything.contains(&token));
}

#[tokio::test]
async fn secrets_never_reach_logs_or_disk_in_clear() {
    let server = TestServer::start_with(&[("BRANDSTREAM_LOG_LEVEL", "debug")]);
    let credential = server.create_credential(&[]);
    let token = server.token(&credential).await;
    server.introspect(&credential, &token).await;
    // The secret sent in places it must not be: the query string, Basic, a wrong client.
    let grant = [("grant_type", "client_credentials")];
    let in_query = format!("/oauth/token?client_secret={}", credential.client_secret);
    for request in [
        server.http.post(server.url(&in_query)).form(&grant),
        server
            .http
            .post(server.url("/oauth/token"))
            .basic_auth("x", Some(&credential.client_secret))
            .form(&grant),
        server
            .http
            .get(server.url("/healthz"))
            .header("authorization", format!("Bearer {token}")),
    ] {
        let _ = request.send().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let master_key = std::fs::read_to_string(server.data_dir().join("master.key")).unwrap();

    let logs = server.logs();
    assert!(logs.contains("listening on"), "logs were not captured");
    for (name, secret) in [
        ("client secret", credential.client_secret.as_str()),
        ("token", token.as_str()),
        ("master key", master_key.trim()),
    ] {
        assert!(!logs.contains(secret), "the {name} appears in the logs");
    }
    // Nothing in the data dir but the master key file holds a secret in clear.
    let mut pending = vec![server.data_dir().to_path_buf()];
    let mut files = Vec::new();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    for path in files {
        if path.file_name().unwrap() == "master.key" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(&credential.client_secret),
            "client secret in {}",
            path.display()
        );
        assert!(
            !text.contains(master_key.trim()),
            "master key in {}",
            path.display()
        );
        assert!(!text.contains(&token), "token in {}", path.display());
    }
    // On PostgreSQL, the same for a dump of the whole database.
    if postgres_backend().is_some() {
        let url = std::fs::read_to_string(server.data_dir().join("test-database-url")).unwrap();
        let dump = std::process::Command::new("pg_dump")
            .args(["--data-only", &url])
            .output()
            .expect("pg_dump");
        assert!(dump.status.success());
        let text = String::from_utf8_lossy(&dump.stdout);
        assert!(
            text.contains(&credential.client_id),
            "the dump has the data"
        );
        assert!(!text.contains(&credential.client_secret));
        assert!(!text.contains(master_key.trim()));
        assert!(!text.contains(&token));
    }
}

#[tokio::test]
async fn the_master_key_can_be_rotated_without_breaking_credentials_or_keys() {
    use base64::Engine;
    let issuer = ("BRANDSTREAM_ISSUER", "http://brandstream.test");
    let old_key = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
    let new_key = base64::engine::general_purpose::STANDARD.encode([2u8; 32]);
    let server = TestServer::start_with(&[issuer, ("BRANDSTREAM_MASTER_KEY", &old_key)]);
    let credential = server.create_credential(&[]);
    server.token(&credential).await;
    let kids = server.get_json("/.well-known/jwks.json").await;
    let dir = server.stop_keep_dir();

    // The new key alone cannot decrypt the keyring made under the old one.
    let output = std::process::Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(database_args(dir.path()))
        .env("BRANDSTREAM_MASTER_KEY", &new_key)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be decrypted"));

    // Step 1: every node runs with the new key and the old one as previous; credentials work
    // (each secret is re-hashed under the new key on first use); the keys are re-encrypted.
    let rotating = [
        issuer,
        ("BRANDSTREAM_MASTER_KEY", &new_key),
        ("BRANDSTREAM_MASTER_KEY_PREVIOUS", &old_key),
    ];
    let server = TestServer::start_in(dir, &rotating);
    assert_eq!(server.token_response(&credential).await.status(), 200);
    let output = server.admin(&["keys", "rewrap"]);
    assert_success(&output);
    assert!(String::from_utf8_lossy(&output.stdout).contains("re-encrypted 2 signing key(s)"));
    let dir = server.stop_keep_dir();

    // Step 2: the previous key is dropped; everything still works with the new key alone.
    let server = TestServer::start_in(dir, &[issuer, ("BRANDSTREAM_MASTER_KEY", &new_key)]);
    assert_eq!(server.token_response(&credential).await.status(), 200);
    assert_eq!(server.get_json("/.well-known/jwks.json").await, kids);
    assert!(!server.logs().contains(&old_key) && !server.logs().contains(&new_key));
}

#[tokio::test]
async fn configuration_layers_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("brandstream.toml");
    std::fs::write(
        &config,
        "audiences = [\"https://from-file.example\"]\nsigning_alg = \"ES256\"\nlisten = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    // File < environment < flags: the file's listen address (port 1) loses to the flag,
    // its audiences lose to the environment, its algorithm stays.
    let server = TestServer::start_in(
        data,
        &[
            ("BRANDSTREAM_CONFIG", config.to_str().unwrap()),
            (
                "BRANDSTREAM_AUDIENCES",
                "https://from-env.example, https://second.example",
            ),
            ("BRANDSTREAM_LISTEN", "127.0.0.1:2"),
        ],
    );
    let metadata = server.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        metadata["audiences_supported"],
        json!(["https://from-env.example", "https://second.example"])
    );
    assert_eq!(
        metadata["access_token_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let credential = server.create_credential(&[]);
    let body: Value = server
        .token_form(&credential, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwt_parts(body["access_token"].as_str().unwrap()).1["aud"],
        "https://from-env.example"
    );
    // The documented audience is not accepted when the configuration replaced it.
    assert_eq!(server.token_response(&credential).await.status(), 403);

    // A broken configuration stops start-up with a clear message.
    let output = std::process::Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("BRANDSTREAM_SIGNING_ALG", "HS256")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("signing_alg"));
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let server = TestServer::start_with(&[("BRANDSTREAM_LOG_FORMAT", "json")]);
    let credential = server.create_credential(&[]);
    server.token(&credential).await;
    let logs = server.logs();
    let mut lines = 0;
    for line in logs.lines().filter(|line| !line.trim().is_empty()) {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            entry["level"].is_string() && entry["timestamp"].is_string(),
            "{line}"
        );
        lines += 1;
    }
    assert!(lines >= 3, "{logs}");
    assert!(logs.contains("\"org_id\""));
}

/// Admin commands never create a data dir: run where there is none they refuse, naming the
/// directory and how to point them at the right one, and leave nothing behind; `admin init`
/// creates one explicitly, after which they work.
#[test]
fn admin_commands_refuse_a_missing_data_dir_instead_of_creating_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("elsewhere");
    let admin = |args: &[&str]| {
        std::process::Command::new(binary())
            .arg("admin")
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env_remove("BRANDSTREAM_CONFIG")
            .env_remove("BRANDSTREAM_DATA_DIR")
            .env_remove("BRANDSTREAM_DATABASE_URL")
            .env_remove("BRANDSTREAM_MASTER_KEY")
            .output()
            .unwrap()
    };
    for args in [
        &[
            "credentials",
            "create",
            "--org",
            "org_unknown",
            "--label",
            "ci",
        ][..],
        &["orgs", "list"][..],
    ] {
        let output = admin(args);
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&data.display().to_string()), "{stderr}");
        for hint in [
            "--data-dir",
            "BRANDSTREAM_DATA_DIR",
            "brandstream admin init",
        ] {
            assert!(stderr.contains(hint), "{hint}: {stderr}");
        }
        assert!(!data.exists(), "{args:?} created {}", data.display());
    }
    let init = admin(&["init"]);
    assert_success(&init);
    assert!(data.join("brandstream.db").is_file() && data.join("master.key").is_file());
    let listed = admin(&["orgs", "list", "--json"]);
    assert_success(&listed);
    let orgs: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        orgs.as_array().unwrap().len(),
        1,
        "the default organisation: {orgs}"
    );
}
