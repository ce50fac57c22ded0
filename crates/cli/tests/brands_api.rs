//! Black-box tests of the Brand Management API: kits, sections, subsections, their rules and
//! their error shapes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};

const SECTION_NAMES: [&str; 9] = [
    "Global Goals",
    "Brand Context",
    "Tone of Voice",
    "Dos and Dont's",
    "Visual Guidelines",
    "Image Style",
    "Grammar Guidelines",
    "Checklist",
    "Glossary and Localization",
];

#[tokio::test]
async fn a_new_kit_has_the_documented_shape_and_the_catalogue() {
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let response = api
        .post(
            &api.brands(1, "/brandkits"),
            json!({"name": "Acme EU kit", "brandName": "Acme", "description": "EU market", "industry": "retail",
                   "companyName": "Acme Europe Ltd.", "logo": "https://example.com/logo.png"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let kit: Value = response.json().await.unwrap();
    let keys: Vec<&str> = kit
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "organizationId",
        "id",
        "name",
        "description",
        "brandName",
        "companyName",
        "logo",
        "status",
        "parentId",
        "parentType",
        "industry",
        "tags",
        "references",
        "locked",
        "createdOn",
        "createdBy",
        "updatedOn",
        "updatedBy",
        "deletedAt",
    ] {
        assert!(keys.contains(&key), "missing {key}: {kit}");
    }
    assert_eq!(kit["organizationId"], api.org.as_str());
    assert_eq!(kit["status"], "draft");
    assert_eq!(kit["tags"], json!([]));
    assert_eq!(kit["locked"], false);
    assert!(kit["createdBy"].as_str().unwrap().ends_with("@clients"));
    assert!(kit["createdOn"].as_str().unwrap().ends_with('Z'));
    assert!(uuid_like(kit["id"].as_str().unwrap()));

    let id = kit["id"].as_str().unwrap();
    let response = api.get(&api.brands(1, &format!("/brandkits/{id}"))).await;
    assert_eq!(response.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(response.json::<Value>().await.unwrap(), kit);

    let sections = api.sections(id).await;
    let names: Vec<&str> = sections
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, SECTION_NAMES);
    for (index, section) in sections.iter().enumerate() {
        assert_eq!(section["order"], index as i64 + 1);
        assert_eq!(section["deletable"], false);
        let fields: Vec<Value> = api
            .get_value(&api.fields_url(id, section["id"].as_str().unwrap()))
            .await;
        for field in &fields {
            assert_eq!(field["aiEditable"], true);
            assert_eq!(field["deletable"], false);
            assert!(field["intent"].as_str().unwrap().len() > 10);
            let empty = match field["type"].as_str().unwrap() {
                "text" => json!(""),
                "array" | "richArray" => json!([]),
                other => panic!("unknown type {other}"),
            };
            assert_eq!(field["value"], empty);
        }
        let expected = match section["name"].as_str().unwrap() {
            "Brand Context" => 12,
            "Global Goals" | "Visual Guidelines" => 4,
            "Tone of Voice" | "Image Style" => 2,
            "Glossary and Localization" => 0,
            _ => 1,
        };
        assert_eq!(fields.len(), expected, "{}", section["name"]);
    }
    let context = api.section(id, "Brand Context").await;
    let fields: Vec<Value> = api
        .get_value(&api.fields_url(id, context["id"].as_str().unwrap()))
        .await;
    assert_eq!(fields[0]["name"], "Brand purpose");
    assert_eq!(fields[10]["name"], "Brand concept");
    assert_eq!(fields[10]["type"], "array");
    let tone = api.section(id, "Tone of Voice").await;
    let fields: Vec<Value> = api
        .get_value(&api.fields_url(id, tone["id"].as_str().unwrap()))
        .await;
    assert_eq!(fields[1]["type"], "richArray");
}

fn uuid_like(value: &str) -> bool {
    value.len() == 36 && value.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn listing_pages_filters_and_sorts() {
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let mut ids = Vec::new();
    for index in 0..7 {
        let kit = api.create_kit(&format!("Kit {index}")).await;
        ids.push(kit["id"].as_str().unwrap().to_owned());
    }
    api.patch(
        &api.brands(1, &format!("/brandkits/{}", ids[2])),
        json!({"description": "Findable coffee roaster", "status": "published"}),
    )
    .await;
    let list = |query: &'static str| {
        let api = &api;
        async move {
            let response = api
                .get(&format!("{}{query}", api.brands(1, "/brandkits")))
                .await;
            assert_eq!(response.status(), 200, "{query}");
            response.json::<Value>().await.unwrap()
        }
    };
    let page = list("").await;
    assert_eq!(page["totalCount"], 7);
    assert_eq!(page["pageSize"], 50);
    assert_eq!(page["pageNumber"], 1);
    assert_eq!(page["data"][0]["name"], "Kit 6", "newest first by default");

    let page = list("?pageSize=3&pageNumber=3").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["totalCount"], 7);
    let page = list("?pageSize=3&pageNumber=4").await;
    assert!(page["data"].as_array().unwrap().is_empty());
    let page = list("?sortType=asc&pageSize=1").await;
    assert_eq!(page["data"][0]["name"], "Kit 0");
    let page = list("?sortBy=updatedOn&sortType=desc&pageSize=1").await;
    assert_eq!(page["data"][0]["id"], ids[2].as_str());
    let page = list("?search=COFFEE").await;
    assert_eq!(page["totalCount"], 1);
    let page = list("?search=kit%201").await;
    assert_eq!(page["totalCount"], 1);
    let page = list("?search=%25").await;
    assert_eq!(
        page["totalCount"], 0,
        "LIKE wildcards are matched literally"
    );
    let page = list("?status=published").await;
    assert_eq!(page["totalCount"], 1);
    let query = format!("?brandkitIds={}&brandkitIds={}", ids[0], ids[1]);
    let response = api
        .get(&format!("{}{query}", api.brands(1, "/brandkits")))
        .await;
    assert_eq!(response.json::<Value>().await.unwrap()["totalCount"], 2);

    for (query, field) in [
        ("?pageSize=0", "pageSize"),
        ("?pageSize=101", "pageSize"),
        ("?pageNumber=0", "pageNumber"),
        ("?pageNumber=x", "pageNumber"),
        ("?sortBy=name", "sortBy"),
        ("?sortType=up", "sortType"),
        ("?status=archived", "status"),
        ("?includeDeleted=maybe", "includeDeleted"),
        ("?brandkitIds=nope", "brandkitIds"),
    ] {
        let response = api
            .get(&format!("{}{query}", api.brands(1, "/brandkits")))
            .await;
        expect_422(response, &["query", field]).await;
    }
}

#[tokio::test]
async fn partial_updates_preconditions_soft_delete_and_duplicates() {
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let kit = api.create_kit("Original").await;
    let id = kit["id"].as_str().unwrap();
    let url = api.brands(1, &format!("/brandkits/{id}"));

    let response = api.patch(&url, json!({"description": "New description", "tags": [{"category": "market", "values": ["EU"]}]})).await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["name"], "Original", "keys not sent must not change");
    assert_eq!(updated["description"], "New description");
    assert_eq!(updated["tags"][0]["values"], json!(["EU"]));
    assert_ne!(updated["updatedOn"], kit["updatedOn"]);

    // If-Match: a stale ETag is refused, the current one accepted.
    let stale = api
        .patch_if_match(&url, "\"stale-1\"", json!({"name": "Lost update"}))
        .await;
    expect_detail(stale, 412).await;
    let fresh = api
        .patch_if_match(&url, &etag, json!({"name": "Renamed"}))
        .await;
    assert_eq!(fresh.status(), 200);
    // null clears an optional field.
    let cleared: Value = api
        .patch(&url, json!({"description": null}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["description"], Value::Null);
    assert_eq!(cleared["name"], "Renamed");

    for (body, loc) in [
        (json!({"status": "archived"}), &["body", "status"]),
        (json!({"tags": "x"}), &["body", "tags"]),
    ] {
        expect_422(api.patch(&url, body).await, loc).await;
    }

    // Duplicate names in one organisation, case-insensitively.
    api.create_kit("Second").await;
    let response = api
        .post(&api.brands(1, "/brandkits"), json!({"name": "renamed"}))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"][0]["type"], "value_error.duplicate");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "name"]));
    assert_eq!(
        api.patch(&url, json!({"name": "Second"})).await.status(),
        400
    );

    // Soft delete.
    assert_eq!(api.delete(&url).await.status(), 204);
    expect_detail(api.get(&url).await, 404).await;
    let deleted: Value = api.get_value(&format!("{url}?includeDeleted=true")).await;
    assert!(deleted["deletedAt"].is_string());
    let list: Value = api.get_value(&api.brands(1, "/brandkits")).await;
    assert_eq!(list["totalCount"], 1);
    let list: Value = api
        .get_value(&format!(
            "{}?includeDeleted=true",
            api.brands(1, "/brandkits")
        ))
        .await;
    assert_eq!(list["totalCount"], 2);
    assert_eq!(api.delete(&url).await.status(), 404);
    // The name of a deleted kit is free again.
    assert_eq!(
        api.post(&api.brands(1, "/brandkits"), json!({"name": "Renamed"}))
            .await
            .status(),
        201
    );

    let missing = api.brands(1, "/brandkits/00000000-0000-4000-8000-000000000000");
    expect_detail(api.get(&missing).await, 404).await;
    expect_422(
        api.get(&api.brands(1, "/brandkits/not-a-uuid")).await,
        &["path", "brandkitId"],
    )
    .await;
}

#[tokio::test]
async fn a_locked_kit_refuses_every_write_below_it() {
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let kit = api.create_kit("Locked").await;
    let id = kit["id"].as_str().unwrap();
    let url = api.brands(1, &format!("/brandkits/{id}"));
    let context = api.section(id, "Brand Context").await;
    let section_id = context["id"].as_str().unwrap();
    let fields_url = api.fields_url(id, section_id);
    let fields: Vec<Value> = api.get_value(&fields_url).await;
    let field_url = format!("{fields_url}/{}", fields[0]["id"].as_str().unwrap());

    let locked: Value = api
        .patch(&url, json!({"locked": true}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(locked["locked"], true);
    let attempts = [
        api.patch(&url, json!({"name": "Changed"})).await,
        api.delete(&url).await,
        api.post(
            &api.brands(1, &format!("/brandkits/{id}/sections")),
            json!({"name": "Custom"}),
        )
        .await,
        api.patch(
            &api.brands(1, &format!("/brandkits/{id}/sections/{section_id}")),
            json!({"order": 5}),
        )
        .await,
        api.post(&fields_url, json!({"name": "Brand values", "type": "text"}))
            .await,
        api.patch(&field_url, json!({"value": "Changed"})).await,
        api.delete(&field_url).await,
    ];
    for response in attempts {
        assert_eq!(expect_detail(response, 409).await, "Brand Kit is locked");
    }
    // Reads still work, and unlocking is allowed.
    assert_eq!(api.get(&field_url).await.status(), 200);
    let unlocked: Value = api
        .patch(&url, json!({"locked": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(unlocked["locked"], false);
    assert_eq!(
        api.patch(&field_url, json!({"value": "Now it works"}))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn sections_can_be_added_changed_and_deleted_unless_predefined() {
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let kit = api.create_kit("Sections").await;
    let id = kit["id"].as_str().unwrap();
    let sections_url = api.brands(1, &format!("/brandkits/{id}/sections"));

    let response = api
        .post(
            &sections_url,
            json!({"name": "Campaigns", "properties": {"owner": "marketing"}}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let custom: Value = response.json().await.unwrap();
    assert_eq!(custom["order"], 10);
    assert_eq!(custom["deletable"], true);
    let custom_url = format!("{sections_url}/{}", custom["id"].as_str().unwrap());
    let renamed: Value = api
        .patch(&custom_url, json!({"name": "Seasonal campaigns"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["name"], "Seasonal campaigns");
    assert_eq!(renamed["properties"], json!({"owner": "marketing"}));
    assert_eq!(api.get(&custom_url).await.status(), 200);

    let only: Vec<Value> = api
        .get_value(&format!(
            "{sections_url}?sectionIds={}",
            custom["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(only.len(), 1);

    let predefined = api.section(id, "Global Goals").await;
    let predefined_url = format!("{sections_url}/{}", predefined["id"].as_str().unwrap());
    expect_detail(api.delete(&predefined_url).await, 400).await;
    expect_detail(
        api.patch(&predefined_url, json!({"name": "Other"})).await,
        400,
    )
    .await;
    assert_eq!(
        api.patch(&predefined_url, json!({"order": 1}))
            .await
            .status(),
        200
    );

    assert_eq!(api.delete(&custom_url).await.status(), 204);
    expect_detail(api.get(&custom_url).await, 404).await;
    assert_eq!(api.sections(id).await.len(), 9);
    let with_deleted: Vec<Value> = api
        .get_value(&format!("{sections_url}?includeDeleted=true"))
        .await;
    assert_eq!(with_deleted.len(), 10);

    for (body, loc) in [
        (json!({"order": 2}), &["body", "name"]),
        (
            json!({"name": "x", "properties": [1]}),
            &["body", "properties"],
        ),
    ] {
        expect_422(api.post(&sections_url, body).await, loc).await;
    }
}

#[tokio::test]
async fn subsections_validate_values_and_keep_ids() {
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let kit = api.create_kit("Fields").await;
    let id = kit["id"].as_str().unwrap();
    let context = api.section(id, "Brand Context").await;
    let fields_url = api.fields_url(id, context["id"].as_str().unwrap());

    // A custom text subsection, as in the reference example.
    let response = api
        .post(
            &fields_url,
            json!({"name": "Brand values", "type": "text", "order": 13, "value": "Integrity, craft, optimism.",
                   "intent": "The values the brand stands for.", "aiEditable": false, "deletable": true}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let custom: Value = response.json().await.unwrap();
    for key in [
        "id",
        "name",
        "type",
        "order",
        "value",
        "intent",
        "references",
        "deletable",
        "verified",
        "aiEditable",
        "createdOn",
        "createdBy",
        "updatedOn",
        "updatedBy",
        "properties",
    ] {
        assert!(custom.get(key).is_some(), "missing {key}");
    }
    let custom_url = format!("{fields_url}/{}", custom["id"].as_str().unwrap());

    // Partial update: only what is sent changes.
    let response = api.patch(&custom_url, json!({"verified": true})).await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["value"], "Integrity, craft, optimism.");
    assert_eq!(patched["verified"], true);
    assert_eq!(patched["aiEditable"], false);
    let stale = api
        .patch_if_match(&custom_url, "\"x-1\"", json!({"value": "x"}))
        .await;
    assert_eq!(stale.status(), 412);
    let ok = api
        .patch_if_match(&custom_url, &etag, json!({"value": "Kept"}))
        .await;
    assert_eq!(ok.status(), 200);

    // Array values get ids; existing ids are kept.
    let fields: Vec<Value> = api.get_value(&fields_url).await;
    let concept = fields
        .iter()
        .find(|f| f["name"] == "Brand concept")
        .unwrap();
    let concept_url = format!("{fields_url}/{}", concept["id"].as_str().unwrap());
    let first: Value = api
        .patch(
            &concept_url,
            json!({"value": [{"name": "Craft"}, {"name": "Care"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let craft_id = first["value"][0]["id"].as_str().unwrap().to_owned();
    assert!(uuid_like(&craft_id));
    let second: Value = api
        .patch(
            &concept_url,
            json!({"value": [{"name": "Craft, renamed", "id": craft_id}, {"name": "New"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["value"][0]["id"], craft_id.as_str());
    assert_ne!(second["value"][1]["id"], first["value"][1]["id"]);

    // Wrong shapes are 422s located inside the value.
    for (body, loc) in [
        (json!({"value": "not a list"}), vec!["body", "value"]),
        (json!({"value": ["bare"]}), vec!["body", "value", "0"]),
        (
            json!({"value": [{"title": "x"}]}),
            vec!["body", "value", "0", "name"],
        ),
    ] {
        expect_422(api.patch(&concept_url, body).await, &loc).await;
    }
    expect_422(
        api.patch(&custom_url, json!({"value": 5})).await,
        &["body", "value"],
    )
    .await;
    for (body, loc) in [
        (json!({"name": "x", "type": "table"}), vec!["body", "type"]),
        (json!({"type": "text"}), vec!["body", "name"]),
        (
            json!({"name": "x", "type": "text", "references": [{"id": "c1", "path": "/doc 1", "type": "documentChunk"}]}),
            vec!["body", "references", "0", "path"],
        ),
    ] {
        expect_422(api.post(&fields_url, body).await, &loc).await;
    }
    let long = "x".repeat(100_001);
    expect_422(
        api.patch(&custom_url, json!({"value": long})).await,
        &["body", "value"],
    )
    .await;

    // Rich arrays.
    let tone = api.section(id, "Tone of Voice").await;
    let tone_fields: Vec<Value> = api
        .get_value(&api.fields_url(id, tone["id"].as_str().unwrap()))
        .await;
    let scenarios_url = format!(
        "{}/{}",
        api.fields_url(id, tone["id"].as_str().unwrap()),
        tone_fields[1]["id"].as_str().unwrap()
    );
    let rich: Value = api
        .patch(&scenarios_url, json!({"value": [{"name": "Write headlines in sentence case", "tags": ["Marketing"], "restrictions": "Max 60 characters"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rich["value"][0]["tags"], json!(["Marketing"]));
    expect_422(
        api.patch(
            &scenarios_url,
            json!({"value": [{"name": "x", "tags": "Marketing"}]}),
        )
        .await,
        &["body", "value", "0", "tags"],
    )
    .await;

    // Deleting: custom yes, predefined no.
    expect_detail(api.delete(&concept_url).await, 400).await;
    expect_detail(
        api.patch(&concept_url, json!({"name": "Renamed"})).await,
        400,
    )
    .await;
    assert_eq!(api.delete(&custom_url).await.status(), 204);
    expect_detail(api.get(&custom_url).await, 404).await;
}

#[tokio::test]
async fn glossary_terms_and_the_paginated_v3_list() {
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let kit = api.create_kit("Glossary").await;
    let id = kit["id"].as_str().unwrap();
    let glossary = api.section(id, "Glossary and Localization").await;
    assert_eq!(glossary["properties"]["sourceLanguage"], "en-US");
    let section_id = glossary["id"].as_str().unwrap();
    let fields_url = api.fields_url(id, section_id);

    let term: Value = api
        .post(&fields_url, json!({"name": "product", "type": "array", "value": [{"term": "produit", "locale": "fr-FR"}, {"term": "producto", "locale": "es-ES", "displayName": "Spanish (Spain)"}]}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(term["value"][0]["term"], "produit");
    assert!(term["value"][1]["id"].is_string());
    let keep: Value = api
        .post(
            &fields_url,
            json!({"name": "CompanyName", "type": "array", "value": []}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        keep["value"],
        json!([]),
        "an empty array means do not translate"
    );
    expect_422(
        api.post(
            &fields_url,
            json!({"name": "x", "type": "array", "value": [{"term": "x"}]}),
        )
        .await,
        &["body", "value", "0", "locale"],
    )
    .await;

    for index in 0..3 {
        api.post(
            &fields_url,
            json!({"name": format!("term {index}"), "type": "array", "value": []}),
        )
        .await;
    }
    let v3 = api.brands(3, &format!("/brandkits/{id}/sections/{section_id}/fields"));
    let page: Value = api
        .get_value(&format!("{v3}?pageSize=2&pageNumber=2"))
        .await;
    assert_eq!(page["totalCount"], 5);
    assert_eq!(page["pageSize"], 2);
    assert_eq!(page["pageNumber"], 2);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    expect_422(
        api.get(&format!("{v3}?pageSize=500")).await,
        &["query", "pageSize"],
    )
    .await;
}

#[tokio::test]
async fn scopes_organisations_and_hosted_prefixes() {
    let server = TestServer::start();
    let admin = Api::new(&server, &["--scope", "ai.org:admin"]).await;
    let reader = Api::new(&server, &["--scope", "ai.org.brd:r"]).await;
    let docs_only = Api::new(&server, &["--scope", "ai.org.docs:r"]).await;
    let kit = admin.create_kit("Scoped").await;
    let id = kit["id"].as_str().unwrap();

    assert_eq!(
        reader
            .get(&reader.brands(1, &format!("/brandkits/{id}")))
            .await
            .status(),
        200
    );
    let response = reader
        .post(&reader.brands(1, "/brandkits"), json!({"name": "Nope"}))
        .await;
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.status(), 403);
    assert!(
        challenge.contains("insufficient_scope") && challenge.contains("ai.org.brd:w"),
        "{challenge}"
    );
    let response = docs_only.get(&docs_only.brands(1, "/brandkits")).await;
    assert_eq!(response.status(), 403);
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("ai.org.brd:r"));

    // Another organisation's token never sees this organisation's kits.
    let other = server.admin_json(&["orgs", "create", "--name", "Other", "--json"]);
    let stranger_credential = server.create_credential_in(other["id"].as_str().unwrap(), &[]);
    let stranger = Api {
        server: &server,
        token: server.token(&stranger_credential).await,
        org: admin.org.clone(),
    };
    expect_detail(stranger.get(&stranger.brands(1, "/brandkits")).await, 403).await;
    expect_detail(
        stranger
            .get(&stranger.brands(1, &format!("/brandkits/{id}")))
            .await,
        403,
    )
    .await;
    let own = Api {
        org: stranger_credential.org_id.clone(),
        ..stranger
    };
    let page: Value = own.get_value(&own.brands(1, "/brandkits")).await;
    assert_eq!(page["totalCount"], 0);
    expect_detail(
        own.get(&own.brands(1, &format!("/brandkits/{id}"))).await,
        404,
    )
    .await;

    // The hosted path prefixes serve the same API.
    for prefix in ["/stream/ai-brands-api", "/ai/ai-brands-api"] {
        let url = server.url(&format!(
            "{prefix}/api/brands/v1/organizations/{}/brandkits/{id}",
            admin.org
        ));
        assert_eq!(admin.get(&url).await.status(), 200, "{prefix}");
    }
}

#[tokio::test]
async fn bodies_are_bounded_and_must_be_json() {
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let url = api.brands(1, "/brandkits");
    let huge = json!({"name": "x", "description": "d".repeat(1_100_000)});
    let response = api.post(&url, huge).await;
    assert_eq!(response.status(), 413);
    let response = api.post_raw(&url, "application/json", "{\"name\": ").await;
    expect_422(response, &["body"]).await;
    let response = api.post_raw(&url, "text/plain", "{\"name\": \"x\"}").await;
    expect_422(response, &["body"]).await;
    for (body, loc) in [
        (json!({"name": "n".repeat(201)}), &["body", "name"]),
        (json!({"name": "   "}), &["body", "name"]),
        (json!({"name": 5}), &["body", "name"]),
        (
            json!({"name": "ok", "logo": "u".repeat(3000)}),
            &["body", "logo"],
        ),
    ] {
        expect_422(api.post(&url, body).await, loc).await;
    }
}

/// Replaces ids, times and the caller's identity so a body can be compared with a snapshot.
fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let volatile = matches!(
                    key.as_str(),
                    "id" | "organizationId" | "createdOn" | "updatedOn" | "createdBy" | "updatedBy"
                );
                if volatile && item.is_string() {
                    *item = Value::from(format!("<{key}>"));
                } else {
                    redact(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[tokio::test]
async fn a_new_kit_matches_its_snapshot() {
    const SNAPSHOT: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/new_brand_kit.json"
    );
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let kit = api.create_kit("Snapshot kit").await;
    let id = kit["id"].as_str().unwrap();
    let mut sections = Vec::new();
    for section in api.sections(id).await {
        let fields: Value = api
            .get_value(&api.fields_url(id, section["id"].as_str().unwrap()))
            .await;
        sections.push(json!({"section": section, "fields": fields}));
    }
    let mut everything = json!({"kit": kit, "sections": sections});
    redact(&mut everything);
    assert_snapshot(SNAPSHOT, &everything, "a new kit's body");
}

/// Random subsection values over HTTP: every one is either stored (200) or refused with a
/// located 422 — never a 500 — and what was stored reads back unchanged.
#[test]
fn random_subsection_values_are_stored_or_refused_with_422() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = TestServer::start();
    let (api_token, org, targets) = runtime.block_on(async {
        let api = Api::new(&server, &[]).await;
        let kit = api.create_kit("Random values").await;
        let id = kit["id"].as_str().unwrap().to_owned();
        let mut targets = Vec::new();
        for section_name in [
            "Brand Context",
            "Tone of Voice",
            "Glossary and Localization",
        ] {
            let section = api.section(&id, section_name).await;
            let url = api.fields_url(&id, section["id"].as_str().unwrap());
            if section_name == "Glossary and Localization" {
                let term: Value = api
                    .post(&url, json!({"name": "term", "type": "array"}))
                    .await
                    .json()
                    .await
                    .unwrap();
                targets.push(format!("{url}/{}", term["id"].as_str().unwrap()));
            } else {
                let fields: Vec<Value> = api.get_value(&url).await;
                for field in fields.iter().filter(|f| {
                    f["name"] == "Brand purpose"
                        || f["name"] == "Brand concept"
                        || f["name"] == "Tone scenarios"
                }) {
                    targets.push(format!("{url}/{}", field["id"].as_str().unwrap()));
                }
            }
        }
        (api.token.clone(), api.org.clone(), targets)
    });
    assert_eq!(targets.len(), 4);
    let api = Api {
        server: &server,
        token: api_token,
        org,
    };

    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    let values = leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(
                "(name|tags|id|term|locale|restrictions|displayName|x)",
                inner,
                0..5
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    });
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&(values, 0..targets.len()), |(value, target)| {
            let url = &targets[target];
            let (status, body) = runtime.block_on(async {
                let response = api.patch(url, json!({"value": value})).await;
                let status = response.status().as_u16();
                (status, response.json::<Value>().await.unwrap())
            });
            prop_assert!(
                status == 200 || status == 422,
                "status {} for {}: {}",
                status,
                value,
                body
            );
            if status == 422 {
                prop_assert_eq!(&body["detail"][0]["loc"][0], "body");
            } else {
                let read: Value = runtime.block_on(async { api.get_value(url).await });
                prop_assert_eq!(&read["value"], &body["value"]);
            }
            Ok(())
        })
        .unwrap();
}

/// A NUL character can be stored by neither backend the same way (PostgreSQL refuses it), so
/// every way of sending one gets a 4xx, never a 500: JSON bodies, path ids, query filters and
/// the upload's create_request.
#[tokio::test]
async fn nul_characters_are_refused_with_a_client_error() {
    let server = TestServer::start();
    let api = Api::new(&server, &[]).await;
    let response = api
        .post(&api.brands(1, "/brandkits"), json!({"name": "a\u{0}b"}))
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"][0]["type"], "string_nul", "{body}");
    for url in [
        api.brands(1, "/brandkits/%00"),
        api.brands(1, "/brandkits?name=%00"),
        api.docs(2, "/documents?search=a%00b"),
        api.docs(2, "/documents/x%00/chunks?q=a"),
    ] {
        let response = api.get(&url).await;
        assert_eq!(response.status(), 400, "{url}");
        let body: Value = response.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("NUL"), "{body}");
    }
    let response = api
        .upload_markdown("a.md", json!({"title": "x\u{0}y"}))
        .await;
    assert_eq!(response.status(), 422);
    // A field value with NUL is refused too, and the kit is still readable.
    let kit = api.create_kit("Nul kit").await;
    let response = api
        .get(&api.brands(1, &format!("/brandkits/{}", kit["id"].as_str().unwrap())))
        .await;
    assert_eq!(response.status(), 200);
}
