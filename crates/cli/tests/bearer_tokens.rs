//! Every malformed, forged or no-longer-valid bearer token gets a 401 with
//! `WWW-Authenticate: Bearer error="invalid_token"` from the Stream APIs, never a 500.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

/// A token signed by an attacker's own Ed25519 key, announced in the header.
fn self_signed(header_extra: Value, claims: &Value) -> String {
    let rng = ring::rand::SystemRandom::new();
    let document = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(document.as_ref()).unwrap();
    let mut header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "attacker"});
    for (key, value) in header_extra.as_object().unwrap() {
        header[key] = value.clone();
    }
    if header.get("jwk").is_some() {
        header["jwk"] =
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())});
    }
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    format!("{input}.{}", b64(pair.sign(input.as_bytes()).as_ref()))
}

#[tokio::test]
async fn forged_malformed_and_revoked_tokens_get_401() {
    let server = TestServer::start_with(&[(
        "BRANDSTREAM_AUDIENCES",
        "https://api.sitecorecloud.io,https://other.example",
    )]);
    let credential = server.create_credential(&[]);
    let token = server.token(&credential).await;
    let (header, claims) = jwt_parts(&token);
    let parts: Vec<&str> = token.split('.').collect();
    let url = server.url(&format!(
        "/api/brands/v1/organizations/{}/brandkits",
        credential.org_id
    ));

    // A valid token works, with the scheme in any case.
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let response = server
            .http
            .get(&url)
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }

    let mut elevated = claims.clone();
    elevated["scope"] = json!("ai.org:admin");
    elevated["org_id"] = json!("org_AAAAAAAAAAAAAAAA");
    let tampered = with_claims(&token, &elevated);

    let jwks = server.get_json("/.well-known/jwks.json").await;
    let hs256 = hs256_forgery(&token, jwks["keys"][0].to_string().as_bytes());

    // A token for the other configured audience is valid for introspection, not for the APIs.
    let other_audience: Value = server
        .token_form(&credential, &[("audience", "https://other.example")])
        .await
        .json()
        .await
        .unwrap();
    let other_audience = other_audience["access_token"].as_str().unwrap().to_owned();

    // A token from another Brandstream (other keys, other issuer).
    let stranger_server = TestServer::start();
    let stranger = stranger_server.create_credential(&[]);
    let foreign = stranger_server.token(&stranger).await;

    // A revoked token, and a token of a revoked credential.
    let revoked = server.token(&credential).await;
    // Used once first, so the verifier has it cached: revocation must still win.
    assert_eq!(server.get_bearer(&url, &revoked).await.status(), 200);
    server.revoke(&credential, &revoked).await;
    let doomed_credential = server.create_credential(&[]);
    let doomed = server.token(&doomed_credential).await;
    let doomed_url = server.url(&format!(
        "/api/brands/v1/organizations/{}/brandkits",
        doomed_credential.org_id
    ));
    assert_eq!(server.get_bearer(&doomed_url, &doomed).await.status(), 200);
    server.admin(&["credentials", "revoke", &doomed_credential.client_id]);

    let mut expired_claims = claims.clone();
    expired_claims["exp"] = json!(1_000_000_000);
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example/");

    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("empty bearer", Some("Bearer ".into())),
        ("basic scheme", Some(format!("Basic {}", b64(b"a:b")))),
        ("token without scheme", Some(token.clone())),
        ("garbage", Some("Bearer not-a-jwt".into())),
        (
            "two parts",
            Some(format!("Bearer {}.{}", parts[0], parts[1])),
        ),
        ("four parts", Some(format!("Bearer {token}.extra"))),
        (
            "bad base64",
            Some(format!("Bearer {}.{}.!!!", parts[0], parts[1])),
        ),
        (
            "header not json",
            Some(format!("Bearer {}.{}.{}", b64(b"nope"), parts[1], parts[2])),
        ),
        ("oversized", Some(format!("Bearer {}", "a".repeat(10_000)))),
        ("tampered payload", Some(format!("Bearer {tampered}"))),
        (
            "truncated signature",
            Some(format!("Bearer {}", &token[..token.len() - 10])),
        ),
        (
            "alg none",
            Some(format!(
                "Bearer {}",
                with_header(
                    &format!("{}.{}.", parts[0], parts[1]),
                    &json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]})
                )
            )),
        ),
        ("HS256 with the public key", Some(format!("Bearer {hs256}"))),
        (
            "unknown kid",
            Some(format!(
                "Bearer {}",
                with_header(
                    &token,
                    &json!({"alg": header["alg"], "typ": "at+jwt", "kid": "unknown"})
                )
            )),
        ),
        (
            "no kid",
            Some(format!(
                "Bearer {}",
                with_header(&token, &json!({"alg": header["alg"], "typ": "at+jwt"}))
            )),
        ),
        (
            "wrong typ",
            Some(format!(
                "Bearer {}",
                with_header(
                    &token,
                    &json!({"alg": header["alg"], "typ": "JWT", "kid": header["kid"]})
                )
            )),
        ),
        (
            "alg swapped to ES256",
            Some(format!(
                "Bearer {}",
                with_header(
                    &token,
                    &json!({"alg": "ES256", "typ": "at+jwt", "kid": header["kid"]})
                )
            )),
        ),
        (
            "crit header",
            Some(format!(
                "Bearer {}",
                with_header(
                    &token,
                    &json!({"alg": header["alg"], "typ": "at+jwt", "kid": header["kid"], "crit": ["exp"]})
                )
            )),
        ),
        (
            "embedded jwk",
            Some(format!(
                "Bearer {}",
                self_signed(json!({"jwk": {}}), &claims)
            )),
        ),
        (
            "jku header",
            Some(format!(
                "Bearer {}",
                self_signed(json!({"jku": "http://127.0.0.1:9/jwks.json"}), &claims)
            )),
        ),
        (
            "x5u header",
            Some(format!(
                "Bearer {}",
                self_signed(json!({"x5u": "http://127.0.0.1:9/cert.pem"}), &claims)
            )),
        ),
        (
            "attacker kid equal to ours",
            Some(format!(
                "Bearer {}",
                self_signed(json!({"kid": header["kid"]}), &claims)
            )),
        ),
        (
            "self-signed expired",
            Some(format!(
                "Bearer {}",
                self_signed(json!({}), &expired_claims)
            )),
        ),
        (
            "self-signed wrong issuer",
            Some(format!("Bearer {}", self_signed(json!({}), &wrong_iss))),
        ),
        ("other audience", Some(format!("Bearer {other_audience}"))),
        ("other server", Some(format!("Bearer {foreign}"))),
        ("revoked token", Some(format!("Bearer {revoked}"))),
        ("non-ascii", Some("Bearer tökén".into())),
    ];
    assert!(cases.len() >= 20);
    for (name, authorization) in &cases {
        let mut request = server.http.get(&url);
        if let Some(value) = authorization {
            request = request.header("authorization", value.as_bytes());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{name}");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        assert!(
            challenge
                .as_deref()
                .is_some_and(|c| c.starts_with("Bearer") && c.contains("invalid_token")),
            "{name}: {challenge:?}"
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].is_string(), "{name}: {body}");
    }

    // Two Authorization headers.
    let response = server
        .http
        .get(&url)
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // The revoked credential's token is rejected within a few seconds.
    let rejected = eventually(std::time::Duration::from_secs(5), || async {
        let url = server.url(&format!(
            "/api/brands/v1/organizations/{}/brandkits",
            doomed_credential.org_id
        ));
        server.get_bearer(&url, &doomed).await.status() == 401
    })
    .await;
    assert!(rejected, "a revoked credential's token kept working");
}
