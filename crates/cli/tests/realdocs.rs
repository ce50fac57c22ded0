//! Real-world documents (`../shared/realdocs`: files from the public test suites of PDF and
//! office tools, many attached to bug reports) ingested through the public API. For every file
//! of `manifest.json`: the expected outcome holds (`processed`, or a clean failure: a 4xx at
//! upload or a `failed` document with a message), every `probes.present` phrase is found by the
//! knowledge search (`GET …/chunks?search=`, plain queries finding ligature text), nothing of
//! `probes.absent` is indexed, and `probes.count` phrases are indexed exactly once. The server
//! stays healthy throughout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use brandstream_domain::text::fold;
use common::*;
use serde_json::{json, Value};

fn realdocs_dir() -> PathBuf {
    samples_dir().join("../realdocs")
}

/// Text compared as search compares it: NFKC, case and accents folded, whitespace collapsed.
fn comparable(text: &str) -> String {
    text.split_whitespace()
        .map(fold)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every chunk of a document, in order.
async fn all_chunks(api: &Api<'_>, document: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let url = api.docs(
            2,
            &format!("/chunks?documentId={document}&pageSize=100&pageNumber={page}"),
        );
        let response = api.get(&url).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        let data = body["data"].as_array().unwrap().clone();
        if data.is_empty() {
            break;
        }
        out.extend(data);
    }
    out
}

#[tokio::test]
async fn real_world_documents_meet_their_manifest() {
    let Ok(manifest) = std::fs::read(realdocs_dir().join("manifest.json")) else {
        // CI has the shared folder: there, a missing one is a failure, not a skip.
        assert!(
            std::env::var_os("BRANDSTREAM_REQUIRE_SHARED").is_none(),
            "../shared/realdocs not found and BRANDSTREAM_REQUIRE_SHARED is set"
        );
        eprintln!("skipped: ../shared/realdocs not found");
        return;
    };
    let manifest: Value = serde_json::from_slice(&manifest).unwrap();
    let server = TestServer::start();
    let (api, kit) = Api::with_kit(&server, "Real documents").await;

    // Upload everything; a clean refusal is a 4xx with a detail.
    let mut uploaded: Vec<(&Value, String)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for file in manifest["files"].as_array().unwrap() {
        let name = file["name"].as_str().unwrap();
        let bytes = std::fs::read(realdocs_dir().join(name)).unwrap();
        let response = api
            .upload_bytes(
                bytes,
                name,
                json!({"type": "reference", "title": name, "tags": [],
                       "references": [{"type": "brandkit", "id": kit}]}),
            )
            .await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        match (status, file["expect_status"].as_str().unwrap()) {
            (201, _) => uploaded.push((file, body["id"].as_str().unwrap().to_owned())),
            (400..=499, "failed") => assert!(body["detail"].is_string(), "{name}: {body}"),
            _ => problems.push(format!("{name}: upload answered {status}: {body}")),
        }
    }

    let run = api
        .start_pipeline("BrandIngestionPipeline", json!({"brand_kit_id": kit}))
        .await;
    let run = api
        .wait_run(run["id"].as_str().unwrap(), Duration::from_secs(600))
        .await;
    assert!(
        matches!(run["status"].as_str(), Some("Succeeded")),
        "the run ends Succeeded while some documents fail: {run}"
    );

    for (file, id) in &uploaded {
        let name = file["name"].as_str().unwrap();
        let document: Value = api.document(id).await;
        let expected = file["expect_status"].as_str().unwrap();
        let status = document["status"].as_str().unwrap_or_default();
        if status != expected {
            problems.push(format!(
                "{name}: {status} ({}), expected {expected}",
                document["message"]
            ));
            continue;
        }
        if expected == "failed" {
            if document["message"].as_str().unwrap_or_default().is_empty() {
                problems.push(format!("{name}: failed without a message"));
            }
            continue;
        }
        if let Some(pages) = file["reference"]["pages"].as_i64() {
            if name.ends_with(".pdf") && document["numberOfPages"].as_i64() != Some(pages) {
                problems.push(format!(
                    "{name}: {} pages, the reference has {pages}",
                    document["numberOfPages"]
                ));
            }
        }
        let chunks = all_chunks(&api, id).await;
        let texts: Vec<String> = chunks
            .iter()
            .map(|chunk| comparable(chunk["text"].as_str().unwrap()))
            .collect();
        for probe in file["probes"]["present"].as_array().into_iter().flatten() {
            let probe = probe.as_str().unwrap();
            let url = api.docs(
                2,
                &format!(
                    "/chunks?search={}&documentId={id}&pageSize=10",
                    form_urlencoded::byte_serialize(probe.as_bytes()).collect::<String>()
                ),
            );
            let page: Value = api.get_value(&url).await;
            let needle = comparable(probe);
            // Found in the text, or in the headings the chunk sits under (a heading is
            // indexed with every chunk below it).
            let found = page["data"].as_array().unwrap().iter().any(|chunk| {
                let headings: Vec<&str> = chunk["headings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let text = format!(
                    "{}\n{}",
                    headings.join("\n"),
                    chunk["text"].as_str().unwrap()
                );
                comparable(&text).contains(&needle)
                    && chunk["snippet"]
                        .as_str()
                        .is_some_and(|snippet| snippet.contains("<mark>"))
            });
            if !found {
                problems.push(format!("{name}: search for {probe:?} does not find it"));
            }
        }
        for absent in file["probes"]["absent"].as_array().into_iter().flatten() {
            let needle = comparable(absent.as_str().unwrap());
            if texts.iter().any(|text| text.contains(&needle)) {
                problems.push(format!("{name}: {needle:?} is indexed"));
            }
        }
        for once in file["probes"]["count"].as_array().into_iter().flatten() {
            let needle = comparable(once.as_str().unwrap());
            let count: usize = texts.iter().map(|text| text.matches(&needle).count()).sum();
            if count != 1 {
                problems.push(format!("{name}: {needle:?} indexed {count} times"));
            }
        }
    }
    // The server is still healthy.
    let health = server.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
