//! The Rust SDK against a spawned server: every call, token caching and sharing, refresh on
//! expiry and after a `401`, and `429` backoff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brandstream_client::{Client, ClientBuilder, Error, NewField, NewKit, UploadOptions};
use common::*;
use serde_json::json;

fn client(server: &TestServer, credential: &Credential) -> Client {
    client_tuned(server, credential, |builder| builder)
}

/// A client for `credential` with the settings `tune` adds.
fn client_tuned(
    server: &TestServer,
    credential: &Credential,
    tune: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Client {
    tune(
        Client::builder()
            .base_url(&server.base)
            .credentials(&credential.client_id, &credential.client_secret),
    )
    .build()
    .unwrap()
}

#[tokio::test]
async fn every_call_works_with_one_token() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    let sdk = client(&server, &credential);

    // Brand Management.
    let kit = sdk.create_kit(&NewKit::named("SDK kit")).await.unwrap();
    assert_eq!(kit.name, "SDK kit");
    assert_eq!(kit.organization_id, credential.org_id);
    assert_eq!(sdk.kit(&kit.id).await.unwrap().id, kit.id);
    assert!(sdk
        .list_kits(1, 10)
        .await
        .unwrap()
        .data
        .iter()
        .any(|k| k.id == kit.id));
    let locked = sdk
        .update_kit(&kit.id, &json!({"description": "via the SDK"}))
        .await
        .unwrap();
    assert_eq!(locked.description.as_deref(), Some("via the SDK"));
    let sections = sdk.sections(&kit.id).await.unwrap();
    assert_eq!(sections.len(), 9);
    let context = sections.iter().find(|s| s.name == "Brand Context").unwrap();
    let fields = sdk.fields(&kit.id, &context.id).await.unwrap();
    assert!(fields.iter().any(|f| f.name == "Brand purpose"));
    let custom = sdk
        .create_field(
            &kit.id,
            &context.id,
            &NewField {
                name: "Mascot".into(),
                field_type: "text".into(),
                value: Some(json!("A heron")),
                deletable: Some(true),
                ..NewField::default()
            },
        )
        .await
        .unwrap();
    let updated = sdk
        .update_field(
            &kit.id,
            &context.id,
            &custom.id,
            &json!({"value": "A grey heron"}),
        )
        .await
        .unwrap();
    assert_eq!(updated.value, json!("A grey heron"));
    sdk.delete_field(&kit.id, &context.id, &custom.id)
        .await
        .unwrap();

    // Documents, streamed from disk with progress.
    if have_samples() {
        let seen = Arc::new(AtomicU64::new(0));
        let report = Arc::clone(&seen);
        let path = samples_dir().join("tidewater-outdoor-gear.md");
        let size = std::fs::metadata(&path).unwrap().len();
        let document = sdk
            .upload(
                &path,
                &UploadOptions {
                    kit_ids: vec![kit.id.clone()],
                    ..UploadOptions::default()
                },
                Some(Arc::new(move |sent, total| {
                    assert_eq!(total, size);
                    report.store(sent, Ordering::SeqCst);
                })),
            )
            .await
            .unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), size);
        assert_eq!(document.status, "pending");
        assert_eq!(document.size, size.to_string());
        assert_eq!(sdk.document(&document.id).await.unwrap().id, document.id);
        assert_eq!(
            sdk.list_documents(Some(&kit.id), 1, 10)
                .await
                .unwrap()
                .total_count,
            1
        );

        // Pipeline.
        let run = sdk.ingest(&kit.id, &[], true).await.unwrap();
        assert_eq!(run.status, "Queued");
        let mut states = Vec::new();
        let run = sdk
            .wait_for_run(&run.id, Duration::from_secs(60), |run| {
                states.push(run.status.clone())
            })
            .await
            .unwrap();
        assert_eq!(run.status, "Succeeded", "{run:?}");
        assert!(!states.is_empty());
        assert!(sdk.list_runs(Some(&kit.id), 10).await.unwrap().total_count >= 1);
        let hits = sdk
            .search("colour palette", Some(&kit.id), 5)
            .await
            .unwrap();
        assert!(!hits.data.is_empty());
        assert!(hits.data[0]
            .snippet
            .as_deref()
            .unwrap_or("")
            .contains("<mark>"));
        let run = sdk.enrich(&kit.id, Some(&context.id), None).await.unwrap();
        let cancelled = sdk.cancel_run(&run.id).await.unwrap();
        assert!(matches!(
            cancelled.status.as_str(),
            "Cancelled" | "Canceling" | "InProgress" | "Succeeded"
        ));
        sdk.wait_for_run(&run.id, Duration::from_secs(60), |_| {})
            .await
            .unwrap();
        sdk.delete_document(&document.id).await.unwrap();
    }
    sdk.delete_kit(&kit.id).await.unwrap();

    // Errors carry the status, the server's detail and the request id.
    match sdk.kit(&kit.id).await {
        Err(Error::Api {
            status,
            message,
            request_id,
            ..
        }) => {
            assert_eq!(status, 404);
            assert!(message.contains("not found"), "{message}");
            assert!(request_id.is_some());
        }
        other => panic!("expected a 404, got {other:?}"),
    }

    // Token service.
    let token = sdk.access_token().await.unwrap();
    assert!(sdk.introspect(&token).await.unwrap().active);
    assert!(sdk.jwks().await.unwrap()["keys"].as_array().is_some());

    // All of that with one token.
    assert_eq!(sdk.tokens_fetched(), 1);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let server = TestServer::start();
    let credential = server.create_credential(&[]);
    let sdk = client(&server, &credential);
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let sdk = sdk.clone();
            tokio::spawn(async move { sdk.list_kits(1, 5).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(sdk.tokens_fetched(), 1);
}

#[tokio::test]
async fn tokens_are_refreshed_when_due_and_after_a_revocation() {
    let server = TestServer::start();
    let credential = server.create_credential(&["--expires-in", "60"]);
    // Refresh after 2 % of the 60 s lifetime (≈ 1 s).
    let sdk = client_tuned(&server, &credential, |builder| builder.refresh_at(0.02));
    let first = sdk.access_token().await.unwrap();
    sdk.list_kits(1, 5).await.unwrap();
    assert_eq!(sdk.tokens_fetched(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    sdk.list_kits(1, 5).await.unwrap();
    assert_eq!(sdk.tokens_fetched(), 2);
    let second = sdk.access_token().await.unwrap();
    assert_ne!(first, second);

    // A revoked token gets a 401: the client refreshes once and the call succeeds.
    let patient = client(&server, &credential);
    let token = patient.access_token().await.unwrap();
    patient.revoke(&token).await.unwrap();
    patient.list_kits(1, 5).await.unwrap();
    assert_eq!(patient.tokens_fetched(), 2);

    // Wrong credentials: one clear error, no retry loop.
    let wrong = client(&server, &credential.with_secret("bss_wrong"));
    match wrong.list_kits(1, 5).await {
        Err(Error::Api { status, error, .. }) => {
            assert_eq!(status, 401);
            assert_eq!(error.as_deref(), Some("invalid_client"));
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
    // Nothing secret in the errors' text.
    let text = format!("{:?}", wrong.list_kits(1, 5).await.unwrap_err());
    assert!(!text.contains("bss_wrong") && !text.contains(&credential.client_secret));
}

#[tokio::test]
async fn too_many_requests_are_waited_out() {
    let server = TestServer::start_with(&[
        ("BRANDSTREAM_RATE_LIMITS__PER_CLIENT_PER_SECOND", "1"),
        ("BRANDSTREAM_RATE_LIMITS__PER_CLIENT_BURST", "1"),
    ]);
    let credential = server.create_credential(&[]);
    let first = client(&server, &credential);
    first.access_token().await.unwrap();
    // A second process with the same credential hits the per-client limit, waits, succeeds.
    let second = client_tuned(&server, &credential, |builder| {
        builder.retries(3, Duration::from_secs(3))
    });
    let started = Instant::now();
    second.access_token().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    // Without retries the 429 surfaces as an error.
    let impatient = client_tuned(&server, &credential, |builder| {
        builder.retries(0, Duration::from_secs(1))
    });
    assert_eq!(
        impatient.access_token().await.unwrap_err().status(),
        Some(429)
    );
}
