//! Black-box tests of the Pipeline API and the ingestion engine behind it: both pipelines end
//! to end on the sample brand books (with the quality figures printed), knowledge search,
//! cancellation, runs that survive restarts and crashes, and subsections ingestion must not
//! touch.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const BRANDS: [&str; 2] = ["northwind-coffee-roasters", "tidewater-outdoor-gear"];
const FORMATS: [&str; 4] = ["pdf", "docx", "html", "md"];

fn collapse(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// All the text of a subsection value.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Array(items) => items
            .iter()
            .map(value_text)
            .collect::<Vec<_>>()
            .join(" \n "),
        Value::Object(map) => map
            .iter()
            .filter(|(key, _)| key.as_str() != "id")
            .map(|(_, v)| value_text(v))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

struct Score {
    facts: (usize, usize),
    search: (usize, usize),
    missed: Vec<String>,
    /// The run's closing message.
    message: String,
    /// The kit the file was ingested into.
    kit: String,
    /// The brand's expected.json.
    expected: Value,
    /// The ingested document.
    document: String,
}

/// How many of the brand's search probes find their passage in the top five chunks of `kit`
/// with `search_type`: `(hits, probes, misses)`.
async fn probe_hits(
    api: &Api<'_>,
    kit: &str,
    expected: &Value,
    search_type: &str,
) -> (usize, usize, Vec<String>) {
    let probes = expected["search"].as_array().unwrap();
    let mut hits = 0;
    let mut missed = Vec::new();
    for probe in probes {
        let query = probe["query"].as_str().unwrap();
        let url = api.docs(
            2,
            &format!(
                "/chunks?search={}&referenceId={kit}&pageSize=5&searchType={search_type}",
                form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
            ),
        );
        let response = api.get(&url).await;
        assert_eq!(response.status(), 200, "{search_type} search {query:?}");
        let page: Value = response.json().await.unwrap();
        let needle = collapse(probe["expect"].as_str().unwrap());
        if page["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|chunk| collapse(chunk["text"].as_str().unwrap()).contains(&needle))
        {
            hits += 1;
        } else {
            missed.push(format!("{search_type} search {query:?}"));
        }
    }
    (hits, probes.len(), missed)
}

/// Ingests one file into a fresh kit and scores facts and search against expected.json.
async fn score(api: &Api<'_>, brand: &str, format: &str) -> Score {
    let expected: Value = serde_json::from_slice(
        &std::fs::read(samples_dir().join(format!("{brand}.expected.json"))).unwrap(),
    )
    .unwrap();
    let kit = api.create_kit_id(&format!("{brand} {format}")).await;
    let document = api.upload_sample(&format!("{brand}.{format}"), &kit).await;
    let run = api
        .run_to_end(
            "BrandIngestionPipeline",
            json!({"brand_kit_id": kit, "populateSections": true,
                   "documentIdsList": document["id"]}),
        )
        .await;
    assert_eq!(run["status"], "Succeeded", "{run}");
    let fields = api.all_fields(&kit).await;
    let mut missed = Vec::new();
    let facts = expected["facts"].as_array().unwrap();
    let mut found = 0;
    for fact in facts {
        let text = fields
            .iter()
            .filter(|(section, field)| {
                *section == fact["section"].as_str().unwrap()
                    && field["name"]
                        .as_str()
                        .unwrap()
                        .eq_ignore_ascii_case(fact["subsection"].as_str().unwrap())
            })
            .map(|(_, field)| collapse(&value_text(&field["value"])))
            .collect::<Vec<_>>()
            .join(" ");
        let ok = fact["must_contain"]
            .as_array()
            .unwrap()
            .iter()
            .all(|needle| text.contains(&collapse(needle.as_str().unwrap())));
        if ok {
            found += 1;
        } else {
            missed.push(format!("fact {} / {}", fact["section"], fact["subsection"]));
        }
    }
    let (hits, probes, misses) = probe_hits(api, &kit, &expected, "fulltext").await;
    missed.extend(misses);
    // Every filled subsection cites the chunks it came from, and they resolve.
    for (_, field) in &fields {
        if value_text(&field["value"]).trim().is_empty() {
            continue;
        }
        let references = field["references"].as_array().unwrap();
        assert!(!references.is_empty(), "no references on {}", field["name"]);
        assert_eq!(references[0]["type"], "documentChunk");
    }
    Score {
        facts: (found, facts.len()),
        search: (hits, probes),
        missed,
        message: run["message"].as_str().unwrap_or_default().to_owned(),
        kit,
        expected,
        document: document["id"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn ingestion_fills_the_kit_and_finds_passages_in_every_format() {
    let Some(server) = TestServer::start_if_samples() else {
        return;
    };
    let api = Api::new(&server, &[]).await;
    let mut failures = Vec::new();
    eprintln!(
        "{:<28} {:<5} {:>12} {:>12}",
        "brand", "fmt", "facts", "search top5"
    );
    for brand in BRANDS {
        for format in FORMATS {
            let score = score(&api, brand, format).await;
            let facts = score.facts.0 as f64 / score.facts.1 as f64;
            let search = score.search.0 as f64 / score.search.1 as f64;
            eprintln!(
                "{brand:<28} {format:<5} {:>4}/{:<2} {:>4.0}% {:>4}/{:<2} {:>4.0}%",
                score.facts.0,
                score.facts.1,
                facts * 100.0,
                score.search.0,
                score.search.1,
                search * 100.0
            );
            for miss in &score.missed {
                eprintln!("    missed {miss}");
            }
            if facts < 0.9 || search < 0.9 {
                failures.push(format!("{brand}.{format}"));
            }
        }
    }
    assert!(failures.is_empty(), "below 90 %: {failures:?}");
}

/// With an embedding model configured, `/readyz` says the semantic features are on and brand
/// ingestion fills by meaning: the two brands written like real brand books (paraphrased
/// headings) get most of their facts placed; without one, `/readyz` says how to turn it on.
#[tokio::test]
async fn filling_by_meaning_with_a_model_and_readiness_says_which() {
    if !have_samples() {
        return;
    }
    let plain = TestServer::start();
    let ready = plain.get_json("/readyz").await;
    assert_eq!(ready["semantic"]["status"], "off", "{ready}");
    assert!(
        ready["semantic"]["enable"]
            .as_str()
            .unwrap()
            .contains("brandstream models import"),
        "{ready}"
    );
    drop(plain);

    let Some(model) = test_model_dir("filling by meaning") else {
        return;
    };
    let model = model.to_string_lossy().into_owned();
    let server = TestServer::start_with(&[("BRANDSTREAM_EMBEDDING__MODEL_DIR", &model)]);
    let ready = server.get_json("/readyz").await;
    assert_eq!(ready["semantic"]["status"], "on", "{ready}");
    assert!(server.logs().contains("semantic features on"));
    let api = Api::new(&server, &[]).await;
    // Floors: the figures measured when filling by meaning arrived (the ingest crate's
    // fill_quality test holds the per-format table).
    for (brand, floor) in [
        ("fennick-valley-rail", 0.8),
        ("thistlebrook-libraries", 0.8),
    ] {
        let score = score(&api, brand, "md").await;
        let facts = score.facts.0 as f64 / score.facts.1 as f64;
        eprintln!(
            "{brand}.md by meaning: {}/{} facts",
            score.facts.0, score.facts.1
        );
        assert!(score.message.contains("by meaning"), "{}", score.message);
        assert!(
            facts >= floor,
            "{brand}: {facts:.2} < {floor}: {:?}",
            score.missed
        );
    }
}

const ALL_BRANDS: [&str; 4] = [
    "northwind-coffee-roasters",
    "tidewater-outdoor-gear",
    "fennick-valley-rail",
    "thistlebrook-libraries",
];
/// The brands written like real brand books, whose questions share few words with the
/// passage that answers them.
const PARAPHRASED: [&str; 2] = ["fennick-valley-rail", "thistlebrook-libraries"];
const SEARCH_TYPES: [&str; 3] = ["fulltext", "vector", "hybrid"];

/// With a model, every run ends with the embedding stage, and the samples' search probes are
/// answered in the top five by full text, vector and hybrid search (the table is printed).
/// Floors: the figures measured when hybrid search arrived (91 % of all probes; the target is
/// 97 %), and a clear lead over full text on the paraphrased brands (83 % against 58 %).
/// The documents list ranks by meaning too.
#[tokio::test]
async fn hybrid_search_finds_passages_whose_words_differ_from_the_question() {
    let Some(model) = samples_and_model("semantic search") else {
        return;
    };
    let model = model.to_string_lossy().into_owned();
    let server = TestServer::start_with(&[("BRANDSTREAM_EMBEDDING__MODEL_DIR", &model)]);
    let api = Api::new(&server, &[]).await;
    // [all brands, paraphrased brands] × search type: (hits, probes)
    let mut totals = [[(0, 0); 3]; 2];
    let mut thistlebrook = Vec::new();
    eprintln!(
        "{:<28} {:<5} {:>10} {:>10} {:>10}",
        "brand", "fmt", "fulltext", "vector", "hybrid"
    );
    for brand in ALL_BRANDS {
        for format in FORMATS {
            let score = score(&api, brand, format).await;
            assert!(score.message.contains("embedded"), "{}", score.message);
            if brand == "thistlebrook-libraries" {
                thistlebrook.push(score.document.clone());
            }
            let mut row = format!("{brand:<28} {format:<5}");
            for (index, search_type) in SEARCH_TYPES.iter().enumerate() {
                let (hits, probes, misses) =
                    probe_hits(&api, &score.kit, &score.expected, search_type).await;
                row.push_str(&format!(" {:>7}/{:<2}", hits, probes));
                for group in [0, 1] {
                    if group == 0 || PARAPHRASED.contains(&brand) {
                        totals[group][index].0 += hits;
                        totals[group][index].1 += probes;
                    }
                }
                if search_type == &"hybrid" {
                    for miss in misses {
                        row.push_str(&format!("\n    missed {miss}"));
                    }
                }
            }
            eprintln!("{row}");
        }
    }
    let rate = |(hits, probes): (usize, usize)| hits as f64 / probes as f64;
    for (group, name) in [(0, "all probes"), (1, "paraphrased brands")] {
        eprintln!(
            "hit@5 over {name}: fulltext {:.1} %, vector {:.1} %, hybrid {:.1} %",
            rate(totals[group][0]) * 100.0,
            rate(totals[group][1]) * 100.0,
            rate(totals[group][2]) * 100.0
        );
    }
    assert!(rate(totals[0][2]) >= 0.9, "hybrid hit@5 {:?}", totals[0][2]);
    assert!(
        rate(totals[1][2]) >= rate(totals[1][0]) + 0.2,
        "hybrid {:?} vs fulltext {:?} on the paraphrased brands",
        totals[1][2],
        totals[1][0]
    );

    // The documents list by meaning: the Thistlebrook book answers a question about fines
    // before the other brands' books.
    let url = api.docs(
        2,
        "/documents?search=stopped%20charging%20for%20late%20books&searchType=semantic&pageSize=3",
    );
    let page: Value = api.get_value(&url).await;
    let first = page["data"][0]["id"].as_str().unwrap_or_default();
    assert!(thistlebrook.iter().any(|id| id == first), "{page}");
    assert_eq!(page["data"].as_array().unwrap().len(), 3, "{page}");
}

/// The embedding stage's queue is the data: chunks ingested while no model was installed are
/// embedded once the server restarts with one, without a new run, and vector search then finds
/// them; before that, vector search is refused with the command that installs a model.
#[tokio::test]
async fn chunks_ingested_without_a_model_are_embedded_once_one_is_installed() {
    let Some(model) = samples_and_model("the embedding stage catching up") else {
        return;
    };
    let plain = TestServer::start();
    let (api, kit) = Api::with_kit(&plain, "Catch-up").await;
    let document = api
        .upload_sample("northwind-coffee-roasters.md", &kit)
        .await;
    let run = api
        .run_to_end(
            "BrandIngestionPipeline",
            json!({"brand_kit_id": kit, "documentIdsList": document["id"]}),
        )
        .await;
    assert_eq!(run["status"], "Succeeded", "{run}");
    assert!(
        !run["message"].as_str().unwrap().contains("embedded"),
        "{run}"
    );
    let search = format!("/chunks?search=roast%20date&referenceId={kit}&searchType=vector");
    let refused = api.get(&api.docs(2, &search)).await;
    assert_eq!(refused.status(), 400);
    let dir = plain.stop_keep_dir();

    // The issuer is the new address: a new credential of the same (default) organisation.
    let model = model.to_string_lossy().into_owned();
    let server = TestServer::start_in(dir, &[("BRANDSTREAM_EMBEDDING__MODEL_DIR", &model)]);
    let api = Api::new(&server, &[]).await;
    let url = api.docs(2, &search);
    let found = eventually(Duration::from_secs(60), || async {
        let page: Value = api.get(&url).await.json().await.unwrap_or_default();
        page["data"].as_array().is_some_and(|hits| !hits.is_empty())
    })
    .await;
    let last = api.get(&url).await.text().await.unwrap();
    assert!(found, "no chunk was embedded after the restart: {last}");
    let page: Value = api.get_value(&url).await;
    let score = page["data"][0]["score"].as_f64().unwrap();
    assert!(score > 0.0 && score <= 1.0, "a cosine similarity: {page}");
}

#[tokio::test]
async fn the_sample_kit_in_four_formats_ingests_quickly_and_documents_are_processed() {
    let Some(server) = TestServer::start_if_samples() else {
        return;
    };
    let (api, kit) = Api::with_kit(&server, "Northwind all formats").await;
    let mut ids = Vec::new();
    for format in FORMATS {
        let document = api
            .upload_sample(&format!("northwind-coffee-roasters.{format}"), &kit)
            .await;
        ids.push(document["id"].as_str().unwrap().to_owned());
    }
    let started = Instant::now();
    // documentIdsList omitted: every unprocessed document of the kit.
    let run = api
        .start_pipeline("BrandIngestionPipeline", json!({"brand_kit_id": kit}))
        .await;
    assert_eq!(run["status"], "Queued");
    assert_eq!(run["pipelineId"], "BrandIngestionPipeline");
    assert_eq!(run["parameters"]["brand_kit_id"], kit.as_str());
    assert_eq!(run["parameters"]["org_id"], api.org.as_str());
    for key in [
        "id",
        "runStart",
        "runEnd",
        "durationInMs",
        "message",
        "createdOn",
        "createdBy",
        "updatedOn",
        "updatedBy",
    ] {
        assert!(run.get(key).is_some(), "{key} missing in {run}");
    }
    let run = api
        .wait_run(run["id"].as_str().unwrap(), Duration::from_secs(60))
        .await;
    eprintln!(
        "four formats ingested and filled in {:?}",
        started.elapsed()
    );
    assert_eq!(run["status"], "Succeeded", "{run}");
    assert!(run["runEnd"].is_string() && run["durationInMs"].as_i64().unwrap() >= 0);
    assert_eq!(run["progress"]["documentsDone"], 4);
    for id in &ids {
        let document: Value = api.document(id).await;
        assert_eq!(document["status"], "processed", "{document}");
        assert_eq!(document["chunked"], true);
        assert_eq!(document["summarized"], true);
        assert!(document["summary"].as_str().unwrap().len() > 40);
        assert!(document["numberOfPages"].as_i64().unwrap() >= 1);
        if document["fileType"] == "application/pdf" {
            assert_eq!(document["numberOfPages"], 9);
        }
    }
    // A chunk fetched by id carries its provenance.
    let page: Value = api
        .get_value(&api.docs(
            2,
            &format!("/chunks?search=roast%20green&referenceId={kit}"),
        ))
        .await;
    let top = &page["data"][0];
    assert!(top["snippet"].as_str().unwrap().contains("<mark>"), "{top}");
    assert!(top["score"].as_f64().unwrap() > 0.0);
    let chunk_url = api.docs(2, &format!("/chunks/{}", top["id"].as_str().unwrap()));
    let chunk: Value = api.get_value(&chunk_url).await;
    assert_eq!(chunk["id"], top["id"]);
    assert!(ids.contains(&chunk["documentId"].as_str().unwrap().to_owned()));
    assert!(chunk["page"].as_i64().unwrap() >= 1);
    // Runs are listed and filtered.
    let list: Value = api
        .get_value(&api.pipeline(&format!("/runs?brand_kit_id={kit}&status=Succeeded")))
        .await;
    assert_eq!(list["totalCount"], 1);
    // Nothing left to ingest is still a valid run that re-fills the sections.
    let run = api
        .start_pipeline("BrandIngestionPipeline", json!({"brand_kit_id": kit}))
        .await;
    assert_eq!(run["parameters"]["documentIdsList"], "");
}

#[tokio::test]
async fn enrichment_respects_scope_locks_and_people_edits() {
    let Some(server) = TestServer::start_if_samples() else {
        return;
    };
    let (api, kit) = Api::with_kit(&server, "Tidewater").await;
    // Enrichment needs knowledge first.
    let response = api
        .post(
            &api.pipeline("/EnrichSectionsPipeline"),
            json!({"parameters": {"brand_kit_id": kit}}),
        )
        .await;
    assert!(expect_detail(response, 400)
        .await
        .starts_with("Invalid request"));
    let document = api.upload_sample("tidewater-outdoor-gear.md", &kit).await;
    let run = api.run_to_end(
            "BrandIngestionPipeline",
            json!({"brand_kit_id": kit, "populateSections": false, "documentIdsList": document["id"]}),
        ).await;
    assert_eq!(run["status"], "Succeeded");
    // populateSections false: knowledge indexed, nothing filled.
    assert!(api
        .all_fields(&kit)
        .await
        .iter()
        .all(|(_, field)| value_text(&field["value"]).is_empty()));

    // A person owns "Brand purpose": not AI-editable, with their value.
    let context = api.section(&kit, "Brand Context").await;
    let context_id = context["id"].as_str().unwrap();
    let fields: Vec<Value> = api.get_value(&api.fields_url(&kit, context_id)).await;
    let purpose = fields
        .iter()
        .find(|f| f["name"] == "Brand purpose")
        .unwrap();
    let purpose_url = format!(
        "{}/{}",
        api.fields_url(&kit, context_id),
        purpose["id"].as_str().unwrap()
    );
    let response = api
        .patch(
            &purpose_url,
            json!({"value": "Written by a person.", "aiEditable": false}),
        )
        .await;
    assert_eq!(response.status(), 200);

    // Enrich only the Visual Guidelines section.
    let visual = api.section(&kit, "Visual Guidelines").await;
    let visual_id = visual["id"].as_str().unwrap().to_owned();
    let run = api
        .run_to_end(
            "EnrichSectionsPipeline",
            json!({"brand_kit_id": kit, "sectionId": visual_id}),
        )
        .await;
    assert_eq!(run["status"], "Succeeded", "{run}");
    for (section, field) in api.all_fields(&kit).await {
        let text = value_text(&field["value"]);
        if section == "Visual Guidelines" && field["name"] == "Colour palettes" {
            assert!(text.contains('#'), "palette not filled: {field}");
        } else if section != "Visual Guidelines" && field["name"] != "Brand purpose" {
            assert!(
                text.is_empty(),
                "{section}/{} filled outside the scope",
                field["name"]
            );
        }
    }

    // Enrich everything: the person's value stays.
    let run = api
        .start_pipeline("EnrichSectionsPipeline", json!({"brand_kit_id": kit}))
        .await;
    api.wait_run(run["id"].as_str().unwrap(), Duration::from_secs(60))
        .await;
    let purpose: Value = api.get_value(&purpose_url).await;
    assert_eq!(purpose["value"], "Written by a person.");
    let filled = api
        .all_fields(&kit)
        .await
        .iter()
        .filter(|(_, field)| !value_text(&field["value"]).is_empty())
        .count();
    assert!(filled > 15, "only {filled} subsections filled");

    // A locked kit is left alone entirely.
    let locked_kit = api.create_kit_id("Locked").await;
    let document = api
        .upload_sample("tidewater-outdoor-gear.md", &locked_kit)
        .await;
    let response = api
        .patch(
            &api.brands(1, &format!("/brandkits/{locked_kit}")),
            json!({"locked": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let run = api
        .run_to_end(
            "BrandIngestionPipeline",
            json!({"brand_kit_id": locked_kit, "documentIdsList": document["id"]}),
        )
        .await;
    assert_eq!(run["status"], "Succeeded");
    assert!(run["message"].as_str().unwrap().contains("locked"), "{run}");
    assert!(api
        .all_fields(&locked_kit)
        .await
        .iter()
        .all(|(_, field)| value_text(&field["value"]).is_empty()));

    // Deleting the document removes its chunks and the references to them.
    let response = api
        .delete(&api.docs(1, &format!("/documents/{}", document_id(&api, &kit).await)))
        .await;
    assert_eq!(response.status(), 204);
    let page: Value = api
        .get_value(&api.docs(2, &format!("/chunks?search=colour&referenceId={kit}")))
        .await;
    assert_eq!(page["totalCount"], 0, "{page}");
    for (_, field) in api.all_fields(&kit).await {
        assert!(
            field["references"].as_array().unwrap().is_empty(),
            "references left on {}",
            field["name"]
        );
    }
}

async fn document_id(api: &Api<'_>, kit: &str) -> String {
    let page: Value = api
        .get_value(&api.docs(2, &format!("/documents?referenceId={kit}")))
        .await;
    page["data"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn runs_are_validated_and_scoped() {
    let server = TestServer::start();
    let (api, kit) = Api::with_kit(&server, "Scoped").await;
    let url = api.pipeline("/BrandIngestionPipeline");
    expect_422(api.post(&url, json!({})).await, &["body", "parameters"]).await;
    expect_422(
        api.post(&url, json!({"parameters": {}})).await,
        &["body", "parameters", "brand_kit_id"],
    )
    .await;
    expect_422(
        api.post(&url, json!({"parameters": {"brand_kit_id": "nope"}}))
            .await,
        &["body", "parameters", "brand_kit_id"],
    )
    .await;
    expect_422(
        api.post(
            &url,
            json!({"parameters": {"brand_kit_id": kit, "documentIdsList": "x,y"}}),
        )
        .await,
        &["body", "parameters", "documentIdsList"],
    )
    .await;
    let response = api
        .post(
            &url,
            json!({"parameters": {"brand_kit_id": "8f9a2a53-5a0e-4c3e-9d63-7f2b8d1c0a11"}}),
        )
        .await;
    assert_eq!(response.status(), 404);
    let response = api
        .post(&url, json!({"parameters": {"brand_kit_id": kit, "documentIdsList": "8f9a2a53-5a0e-4c3e-9d63-7f2b8d1c0a11"}}))
        .await;
    assert!(expect_detail(response, 400).await.contains("not found"));
    let response = api
        .post(&url, json!({"parameters": {"brand_kit_id": kit}}))
        .await;
    assert!(expect_detail(response, 400).await.contains("no documents"));
    let response = api
        .get(&api.pipeline("/runs/8f9a2a53-5a0e-4c3e-9d63-7f2b8d1c0a11"))
        .await;
    assert_eq!(expect_detail(response, 404).await, "Run not found");

    // Reading runs needs brd:r; starting them needs brd:w.
    let reader = Api::new(&server, &["--scope", "ai.org.brd:r"]).await;
    let response = reader
        .post(
            &reader.pipeline("/BrandIngestionPipeline"),
            json!({"parameters": {"brand_kit_id": kit}}),
        )
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(reader.get(&reader.pipeline("/runs")).await.status(), 200);
    let docs_only = Api::new(&server, &["--scope", "ai.org.docs:r"]).await;
    assert_eq!(
        docs_only.get(&docs_only.pipeline("/runs")).await.status(),
        403
    );
    // The hosted prefixes answer.
    let hosted = "/stream/ai-pipeline-api/api/data/v1/organizations/{org}/pipeline/runs";
    assert_eq!(api.org_get_status(hosted).await, 200);
}

#[tokio::test]
async fn a_partial_run_says_which_documents_failed() {
    let server = TestServer::start();
    let (api, kit) = Api::with_kit(&server, "Partial").await;
    let upload = |bytes: &'static [u8], name: &'static str| {
        let api = &api;
        let kit = kit.clone();
        async move {
            let response = api
                .upload_bytes(
                    bytes.to_vec(),
                    name,
                    json!({"type": "brand guidelines", "references": [{"type": "brandkit", "id": kit}]}),
                )
                .await;
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let good = upload(
        b"# Acme\n\n## Tone of voice\n\nWarm and plain.\n",
        "good.md",
    )
    .await;
    // A PDF by its signature whose body no reader can parse.
    let broken = upload(
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ntruncated",
        "broken.pdf",
    )
    .await;

    // One of two failed: the hosted status stays Succeeded, the outcome is in numbers.
    let run = api
        .run_to_end(
            "BrandIngestionPipeline",
            json!({"brand_kit_id": kit, "documentIdsList": format!("{good},{broken}")}),
        )
        .await;
    assert_eq!(run["status"], "Succeeded", "{run}");
    let progress = &run["progress"];
    assert_eq!(progress["stage"], "done");
    assert_eq!(progress["documentsTotal"], 2);
    assert_eq!(progress["documentsSucceeded"], 1, "{progress}");
    assert_eq!(progress["documentsFailed"], 1);
    let failed = progress["failedDocuments"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], broken.as_str());
    assert!(!failed[0]["reason"].as_str().unwrap().is_empty());
    assert!(run["message"]
        .as_str()
        .unwrap()
        .contains("1 document(s) failed"));

    // All failed: Failed, with the same numbers.
    let run = api
        .run_to_end(
            "BrandIngestionPipeline",
            json!({"brand_kit_id": kit, "documentIdsList": broken, "populateSections": false}),
        )
        .await;
    assert_eq!(run["status"], "Failed", "{run}");
    assert_eq!(run["progress"]["documentsSucceeded"], 0);
    assert_eq!(run["progress"]["documentsFailed"], 1);
}

#[tokio::test]
async fn a_markdown_file_with_only_headings_is_read_as_markdown() {
    let server = TestServer::start();
    let (api, kit) = Api::with_kit(&server, "Headings only").await;
    // Headings and paragraphs only: from the bytes alone this could be plain text; the name
    // and the declared type say Markdown.
    let book = "# Acme\n\n## Typography\n\nHeadlines are set in Inter Bold.\n\n## Tone of voice\n\nWarm and plain.\n";
    let response = api
        .upload_bytes(
            book.as_bytes().to_vec(),
            "acme.md",
            json!({"type": "brand guidelines", "fileType": "text/markdown",
                   "references": [{"type": "brandkit", "id": kit}]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["fileType"], "text/markdown");
    let run = api
        .run_to_end("BrandIngestionPipeline", json!({"brand_kit_id": kit}))
        .await;
    assert_eq!(run["status"], "Succeeded", "{run}");
    let page: Value = api
        .get_value(&api.docs(2, &format!("/chunks?search=Inter&referenceId={kit}")))
        .await;
    let chunk = &page["data"][0];
    assert_eq!(chunk["heading"], "Typography", "{page}");
    assert!(!chunk["text"].as_str().unwrap().contains("# "), "{chunk}");
}

#[tokio::test]
async fn queued_runs_cancel_and_resume_after_a_restart() {
    if !have_samples() {
        return;
    }
    // No workers: runs stay queued.
    // A fixed issuer, so tokens stay valid across the restart (the port changes).
    let issuer = ("BRANDSTREAM_ISSUER", "http://brandstream.test/");
    let server = TestServer::start_with(&[("BRANDSTREAM_PIPELINE__WORKERS", "0"), issuer]);
    let (api, kit) = Api::with_kit(&server, "Queue").await;
    let document = api
        .upload_sample("northwind-coffee-roasters.md", &kit)
        .await;
    let parameters = json!({"brand_kit_id": kit, "documentIdsList": document["id"]});
    let cancelled = api
        .start_pipeline("BrandIngestionPipeline", parameters.clone())
        .await;
    let kept = api
        .start_pipeline("BrandIngestionPipeline", parameters)
        .await;
    let response = api
        .post(
            &api.pipeline(&format!(
                "/runs/{}/cancel",
                cancelled["id"].as_str().unwrap()
            )),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "Cancelled");
    let token = api.token.clone();
    let org = api.org.clone();
    let dir = server.stop_keep_dir();

    // Restarted with workers: the queued run is picked up and completes.
    let server = TestServer::start_in(dir, &[issuer]);
    let api = Api {
        server: &server,
        token,
        org,
    };
    let run = api
        .wait_run(kept["id"].as_str().unwrap(), Duration::from_secs(60))
        .await;
    assert_eq!(run["status"], "Succeeded", "{run}");
    let run: Value = api
        .get_value(&api.pipeline(&format!("/runs/{}", cancelled["id"].as_str().unwrap())))
        .await;
    assert_eq!(run["status"], "Cancelled");
}

/// Uploads `copies` of the 100-page sample for `kit` and starts their ingestion (without
/// filling); returns the run id and the documents once a worker runs it and reports reading.
async fn start_long_run(api: &Api<'_>, kit: &str, copies: usize) -> (String, Vec<String>) {
    let mut ids = Vec::new();
    for _ in 0..copies {
        let document = api.upload_sample("big-100-pages.pdf", kit).await;
        ids.push(document["id"].as_str().unwrap().to_owned());
    }
    let run_id = api
        .start_ingestion(json!({"brand_kit_id": kit, "populateSections": false}))
        .await;
    assert!(
        api.run_becomes(&run_id, |run| {
            run["status"] == "InProgress"
                && run["progress"]["stage"] == "reading"
                && run["progress"]["documentsTotal"] == copies
        })
        .await
    );
    (run_id, ids)
}

/// Embedded mode: one server per data dir (a second is refused), so a restart resumes the
/// runs a crash left running at once, not when their lease would have ended (PostgreSQL
/// nodes keep the lease: another node may still be working on them).
#[tokio::test]
async fn an_embedded_restart_resumes_crashed_runs_at_once() {
    if postgres_backend().is_some() || !have_samples() {
        return; // an embedded-database behaviour; the samples make a run long enough
    }
    // A lease far longer than the test may take: only the start-up release can explain a
    // quick resume.
    let env = [
        ("BRANDSTREAM_PIPELINE__LEASE_SECONDS", "600"),
        ("BRANDSTREAM_ISSUER", "http://brandstream.test/"),
    ];
    let server = TestServer::start_with(&env);

    // A second server on the same data dir is refused, naming the first.
    let second = std::process::Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(server.data_dir())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another brandstream server") && stderr.contains("--data-dir"),
        "{stderr}"
    );

    let (api, kit) = Api::with_kit(&server, "Resume").await;
    let (run_id, _) = start_long_run(&api, &kit, 4).await;
    let (token, org) = (api.token.clone(), api.org.clone());
    let dir = server.kill_keep_dir();

    let server = TestServer::start_in(dir, &env);
    assert!(
        server.logs().contains("resuming pipeline runs"),
        "{}",
        server.logs()
    );
    let api = Api::with_token(&server, token, org);
    let run = api.wait_run(&run_id, Duration::from_secs(90)).await;
    assert_eq!(run["status"], "Succeeded", "{run}");
}

#[tokio::test]
async fn a_run_interrupted_by_a_crash_or_a_stop_is_finished_after_restart() {
    if !have_samples() {
        return;
    }
    let env = [
        ("BRANDSTREAM_PIPELINE__LEASE_SECONDS", "2"),
        ("BRANDSTREAM_ISSUER", "http://brandstream.test/"),
    ];
    let server = TestServer::start_with(&env);
    let (api, kit) = Api::with_kit(&server, "Crash").await;
    // Wait until it is running and reports its progress, then kill the server without warning.
    let (run_id, ids) = start_long_run(&api, &kit, 6).await;
    let (token, org) = (api.token.clone(), api.org.clone());
    let dir = server.kill_keep_dir();

    // After the lease expires, the restarted server resumes and finishes the run.
    let server = TestServer::start_in(dir, &env);
    let api = Api::with_token(&server, token, org);
    let run = api.wait_run(&run_id, Duration::from_secs(120)).await;
    assert_eq!(run["status"], "Succeeded", "{run}");
    for id in &ids {
        let document: Value = api.document(id).await;
        assert_eq!(document["status"], "processed");
        assert_eq!(document["numberOfPages"], 100);
    }

    // Cancel a running run: Canceling, then Cancelled.
    let parameters =
        json!({"brand_kit_id": kit, "populateSections": false, "documentIdsList": ids.join(",")});
    let run_id = api.start_ingestion(parameters).await;
    assert!(
        api.run_becomes(&run_id, |run| run["status"] == "InProgress")
            .await
    );
    let response = api
        .post(&api.pipeline(&format!("/runs/{run_id}/cancel")), json!({}))
        .await;
    let body: Value = response.json().await.unwrap();
    assert!(
        matches!(body["status"].as_str(), Some("Canceling" | "Cancelled")),
        "{body}"
    );
    let run = api.wait_run(&run_id, Duration::from_secs(60)).await;
    assert_eq!(run["status"], "Cancelled", "{run}");
}
