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
    assert_snapshot(SNAPSHOT, &document, "the OpenAPI document");

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
    let response = server.get("/api/docs").await;
    assert_eq!(response.status(), 200);
    let csp = header_text(&response, "content-security-policy");
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
        let response = server.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            header_text(&response, "content-type").starts_with(kind),
            "{path}"
        );
        assert!(response.bytes().await.unwrap().len() > 100, "{path}");
    }
    let starter = server.get_text("/api/docs/docs.js").await;
    assert!(starter.contains("/api/docs/openapi.json"));
    let _: Value = server.get_json("/api/docs/openapi.json").await;
}
