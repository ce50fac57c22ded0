//! The API reference: the OpenAPI document (pinned by a snapshot) and the vendored Swagger UI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::Value;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots/openapi.json");

#[tokio::test]
async fn the_openapi_document_matches_its_snapshot() {
    let server = TestServer::start();
    let document = server.get_json("/api/docs/openapi.json").await;
    let pretty = serde_json::to_string_pretty(&document).unwrap() + "\n";
    if std::env::var_os("BRANDSTREAM_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &pretty).unwrap();
    }
    let expected = std::fs::read_to_string(SNAPSHOT)
        .expect("snapshot missing: run with BRANDSTREAM_UPDATE_SNAPSHOTS=1 and review the file");
    assert!(
        expected == pretty,
        "the OpenAPI document changed; review and update with BRANDSTREAM_UPDATE_SNAPSHOTS=1"
    );

    // Every Brand Management route and the token endpoint are documented, with bearer security.
    let paths = document["paths"].as_object().unwrap();
    let methods =
        |path: &str| -> Vec<String> { paths[path].as_object().unwrap().keys().cloned().collect() };
    let v1 = "/api/brands/v1/organizations/{organizationId}/brandkits";
    assert_eq!(methods(v1), ["get", "post"]);
    assert_eq!(
        methods(&format!("{v1}/{{brandkitId}}")),
        ["delete", "get", "patch"]
    );
    assert_eq!(
        methods(&format!("{v1}/{{brandkitId}}/sections")),
        ["get", "post"]
    );
    assert_eq!(
        methods(&format!("{v1}/{{brandkitId}}/sections/{{sectionId}}")),
        ["delete", "get", "patch"]
    );
    let v2 = "/api/brands/v2/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields";
    assert_eq!(methods(v2), ["get", "post"]);
    assert_eq!(
        methods(&format!("{v2}/{{fieldId}}")),
        ["delete", "get", "patch"]
    );
    assert!(paths.contains_key("/api/brands/v3/organizations/{organizationId}/brandkits/{brandkitId}/sections/{sectionId}/fields"));
    assert!(paths.contains_key("/oauth/token"));
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );

    // Every reference resolves: a dangling `$ref` breaks every generated client.
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(refs.len() > 50, "{} references", refs.len());
    for reference in refs {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {reference}"));
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{reference} is not defined"
        );
    }
}

/// Every `$ref` target in `value`.
fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", Value::String(target)) => refs.push(target.clone()),
                    _ => collect_refs(item, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

#[tokio::test]
async fn the_reference_page_loads_nothing_from_the_internet() {
    let server = TestServer::start();
    let response = server
        .http
        .get(server.url("/api/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = response.text().await.unwrap();
    for line in html
        .lines()
        .filter(|line| line.contains("src=") || line.contains("href="))
    {
        assert!(!line.contains("://"), "external resource: {line}");
    }
    for (path, kind) in [
        ("/api/docs/swagger-ui-bundle.js", "text/javascript"),
        ("/api/docs/swagger-ui.css", "text/css"),
        ("/api/docs/docs.js", "text/javascript"),
    ] {
        let response = server.http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind),
            "{path}"
        );
        assert!(response.bytes().await.unwrap().len() > 100, "{path}");
    }
    let starter = server
        .http
        .get(server.url("/api/docs/docs.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(starter.contains("/api/docs/openapi.json"));
    let _: Value = server.get_json("/api/docs/openapi.json").await;
}
