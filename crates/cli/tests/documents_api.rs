//! Black-box tests of the Document Management API: uploads in every format and both forms,
//! type and size rejections, the malformed samples, listing, search, update, download and
//! deletion, and who may do what.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DOCUMENT_KEYS: [&str; 22] = [
    "organizationId",
    "id",
    "status",
    "chunked",
    "summarized",
    "url",
    "fileId",
    "type",
    "fileType",
    "size",
    "numberOfPages",
    "pageRangeFrom",
    "pageRangeTo",
    "title",
    "summary",
    "tags",
    "references",
    "createdOn",
    "createdBy",
    "updatedOn",
    "updatedBy",
    "recordType",
];

/// Serves `body` with `content_type` to every connection on a loopback port, for the URL form.
async fn serve_file(body: Vec<u8>, content_type: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    format!("http://{address}")
}

async fn upload_url_form(api: &Api<'_>, create_request: Value) -> reqwest::Response {
    api.request(reqwest::Method::POST, &api.docs(2, "/documents"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("create_request", &create_request.to_string())
                .finish(),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_format_uploads_with_the_documented_shape() {
    let Some(server) = TestServer::start_if_samples() else {
        return;
    };
    let api = Api::new(&server, &[]).await;
    let kit = api.create_kit("Northwind").await;
    let kit_id = kit["id"].as_str().unwrap();
    for (file, mime) in [
        ("northwind-coffee-roasters.pdf", "application/pdf"),
        (
            "northwind-coffee-roasters.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("northwind-coffee-roasters.html", "text/html"),
        ("northwind-coffee-roasters.md", "text/markdown"),
    ] {
        let document = api.upload_sample(file, kit_id).await;
        for key in DOCUMENT_KEYS {
            assert!(document.get(key).is_some(), "{key} missing in {document}");
        }
        assert_eq!(document["status"], "pending");
        assert_eq!(document["fileType"], mime);
        assert_eq!(document["chunked"], false);
        assert_eq!(document["organizationId"], api.org.as_str());
        let size = std::fs::metadata(samples_dir().join(file)).unwrap().len();
        assert_eq!(document["size"], size.to_string());
        assert_eq!(document["references"][0]["id"], kit_id);
        assert_eq!(document["references"][0]["type"], "brandkit");
        // The original comes back byte for byte.
        let id = document["id"].as_str().unwrap();
        let response = api
            .get(&api.docs(2, &format!("/documents/{id}/file")))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], mime);
        let bytes = response.bytes().await.unwrap();
        assert_eq!(
            bytes.as_ref(),
            std::fs::read(samples_dir().join(file)).unwrap().as_slice()
        );
    }
    // Plain text, with the documented create_request example (setMetadata, empty url).
    let response = api
        .upload_bytes(
            b"Our brand voice is warm and direct.\n".to_vec(),
            "voice.txt",
            json!({"url": "", "setMetadata": true, "type": "brand guidelines", "title": "Voice",
                   "tags": [], "references": [{"type": "brandkit", "id": kit_id,
                   "path": format!("/api/brands/v1/organizations/{}/brandkits/{kit_id}/references", api.org)}]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["fileType"], "text/plain");
}

#[tokio::test]
async fn the_url_form_fetches_within_limits_and_refuses_internal_addresses() {
    if !have_samples() {
        return;
    }
    let markdown = std::fs::read(samples_dir().join("tidewater-outdoor-gear.md")).unwrap();
    let origin = serve_file(markdown.clone(), "text/markdown").await;

    // Default configuration: loopback is refused (SSRF protection).
    let guarded = TestServer::start();
    let api = Api::new(&guarded, &[]).await;
    let response = upload_url_form(
        &api,
        json!({"url": format!("{origin}/guide.md"), "tags": []}),
    )
    .await;
    let detail = expect_detail(response, 400).await;
    assert!(detail.contains("loopback"), "{detail}");
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/x",
        "file:///etc/passwd",
    ] {
        let response = upload_url_form(&api, json!({"url": url})).await;
        assert_eq!(response.status(), 400, "{url}");
    }

    // Allowed by configuration: fetched, typed from the bytes, stored.
    let open = TestServer::start_with(&[("BRANDSTREAM_DOCUMENTS__ALLOW_PRIVATE_URLS", "true")]);
    let api = Api::new(&open, &[]).await;
    let response = upload_url_form(
        &api,
        json!({"url": format!("{origin}/tidewater.md"), "fileType": "text/markdown", "tags": [], "type": "brand guidelines"}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["fileType"], "text/markdown");
    assert_eq!(document["size"], markdown.len().to_string());
    assert_eq!(document["url"], format!("{origin}/tidewater.md"));
    // The multipart URL form works too.
    let form = reqwest::multipart::Form::new().text(
        "create_request",
        json!({"url": format!("{origin}/again.md")}).to_string(),
    );
    let response = api.post_documents(form).await;
    assert_eq!(response.status(), 201);

    // A fetch larger than the limit is refused.
    let small = TestServer::start_with(&[
        ("BRANDSTREAM_DOCUMENTS__ALLOW_PRIVATE_URLS", "true"),
        ("BRANDSTREAM_DOCUMENTS__MAX_FILE_BYTES", "1000"),
    ]);
    let api = Api::new(&small, &[]).await;
    let response = upload_url_form(&api, json!({"url": format!("{origin}/big.md")})).await;
    let detail = expect_detail(response, 400).await;
    assert!(detail.contains("limit"), "{detail}");
}

#[tokio::test]
async fn types_come_from_the_bytes_and_contradictions_are_refused() {
    let server = TestServer::start_with(&[("BRANDSTREAM_DOCUMENTS__MAX_FILE_BYTES", "100000")]);
    let api = Api::new(&server, &[]).await;
    // A text file named .pdf.
    let response = api
        .upload_bytes(b"just some text\n".to_vec(), "guide.pdf", json!({}))
        .await;
    let detail = expect_detail(response, 400).await;
    assert!(detail.starts_with("Invalid file type"), "{detail}");
    assert!(
        detail.contains("text/plain") && detail.contains("application/pdf"),
        "{detail}"
    );
    // A declared fileType that contradicts the content.
    let response = api
        .upload_markdown("guide.md", json!({"fileType": "application/pdf"}))
        .await;
    assert!(expect_detail(response, 400)
        .await
        .starts_with("Invalid file type"));
    // An image is not a supported type.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    let response = api.upload_bytes(png, "logo.png", json!({})).await;
    assert!(expect_detail(response, 400)
        .await
        .starts_with("Invalid file type"));
    // Empty.
    let response = api.upload_bytes(Vec::new(), "empty.md", json!({})).await;
    assert!(expect_detail(response, 400).await.contains("empty"));
    // Over the size limit.
    let response = api
        .upload_bytes(vec![b'a'; 200_000], "big.txt", json!({}))
        .await;
    assert_eq!(response.status(), 413);
    // create_request is required and must be JSON.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("a.txt"),
    );
    let response = api.post_documents(form).await;
    expect_422(response, &["body", "create_request"]).await;
    let response = api
        .upload_bytes(b"hello".to_vec(), "a.txt", json!("not an object"))
        .await;
    expect_422(response, &["body", "create_request"]).await;
    // A reference to a kit that does not exist.
    let response = api
        .upload_for_kit(
            b"hello".to_vec(),
            "a.txt",
            "8f9a2a53-5a0e-4c3e-9d63-7f2b8d1c0a11",
        )
        .await;
    assert_eq!(response.status(), 404);
    // The server is still fine.
    assert_eq!(server.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn listing_filters_updates_and_deletes() {
    let server = TestServer::start();
    let (api, kit_a) = Api::with_kit(&server, "A").await;
    let kit_b = api.create_kit_id("B").await;
    let mut ids = Vec::new();
    for (index, kit) in [&kit_a, &kit_a, &kit_b].iter().enumerate() {
        let response = api
            .upload_bytes(
                format!("# Guide {index}\n\nSome text about the brand number {index}.\n")
                    .into_bytes(),
                &format!("guide-{index}.md"),
                json!({"title": format!("Guide {index}"), "tags": [format!("tag{index}"), "common"],
                       "references": [{"type": "brandkit", "id": kit}]}),
            )
            .await;
        assert_eq!(response.status(), 201);
        ids.push(
            response.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let list = |query: &str| api.docs(2, &format!("/documents{query}"));
    let page: Value = api.get_value(&list("")).await;
    assert_eq!(page["totalCount"], 3);
    assert_eq!(page["pageSize"], 50);
    assert_eq!(page["pageNumber"], 1);
    let page: Value = api
        .get_value(&list(&format!(
            "?referenceType=brandkit&referenceId={kit_a}"
        )))
        .await;
    assert_eq!(page["totalCount"], 2);
    let page: Value = api.get_value(&list("?search=guide%202")).await;
    assert_eq!(page["totalCount"], 1);
    assert_eq!(page["data"][0]["id"], ids[2].as_str());
    let page: Value = api.get_value(&list("?tags=tag1")).await;
    assert_eq!(page["totalCount"], 1);
    let page: Value = api.get_value(&list("?pageSize=2&pageNumber=2")).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let page: Value = api
        .get_value(&list("?status=pending&fileType=text/markdown"))
        .await;
    assert_eq!(page["totalCount"], 3);
    // Without an embedding model the semantic kinds are refused with the command that turns
    // them on (the vector and hybrid searches themselves are in pipeline_api).
    let detail = expect_detail(api.get(&list("?searchType=vector")).await, 400).await;
    assert!(detail.contains("need an embedding model"), "{detail}");
    assert!(detail.contains("brandstream models import"), "{detail}");
    expect_422(
        api.get(&list("?searchType=magic")).await,
        &["query", "searchType"],
    )
    .await;
    // The chunks endpoint reads searchType too: fulltext is served, an unknown value is a
    // validation error, the semantic kinds are refused without a model (not silently answered
    // by full text).
    let chunks = |suffix: &str| api.docs(2, &format!("/chunks?search=x{suffix}"));
    assert_eq!(api.get(&chunks("&searchType=fulltext")).await.status(), 200);
    for kind in ["vector", "hybrid", "semantic"] {
        let detail =
            expect_detail(api.get(&chunks(&format!("&searchType={kind}"))).await, 400).await;
        assert!(detail.contains("brandstream models import"), "{detail}");
    }
    expect_422(
        api.get(&chunks("&searchType=magic")).await,
        &["query", "searchType"],
    )
    .await;
    expect_422(api.get(&list("?pageSize=0")).await, &["query", "pageSize"]).await;
    expect_422(api.get(&list("?status=nope")).await, &["query", "status"]).await;

    // Update.
    let one = api.docs(2, &format!("/documents/{}", ids[0]));
    let response = api
        .patch(&one, json!({"title": "Renamed", "tags": ["x"]}))
        .await;
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["title"], "Renamed");
    assert_eq!(document["tags"], json!(["x"]));
    expect_422(
        api.patch(&one, json!({"status": "bogus"})).await,
        &["body", "status"],
    )
    .await;

    // Delete (v1), then it is gone, except with includeDeleted.
    let response = api
        .delete(&api.docs(1, &format!("/documents/{}", ids[0])))
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        expect_detail(api.get(&one).await, 404).await,
        "Document not found"
    );
    let response = api
        .delete(&api.docs(1, &format!("/documents/{}", ids[0])))
        .await;
    assert_eq!(expect_detail(response, 404).await, "Document not found");
    let page: Value = api.get_value(&list("")).await;
    assert_eq!(page["totalCount"], 2);
    let page: Value = api.get_value(&list("?includeDeleted=true")).await;
    assert_eq!(page["totalCount"], 3);
    let response = api
        .get(&api.docs(2, &format!("/documents/{}/file", ids[0])))
        .await;
    assert_eq!(response.status(), 404);
    // The blob is gone from disk.
    let blobs = server.data_dir().join("blobs").join(&api.org).join(&ids[0]);
    assert!(!blobs.join("original").exists());
    // The hosted path prefixes answer too.
    let hosted = "/stream/ai-documents-api/api/documents/v2/organizations/{org}/documents";
    assert_eq!(api.org_get_status(hosted).await, 200);
}

#[tokio::test]
async fn scopes_and_organisations_are_enforced() {
    let server = TestServer::start();
    let reader = Api::new(&server, &["--scope", "ai.org.docs:r"]).await;
    let response = reader
        .upload_bytes(b"hello".to_vec(), "a.txt", json!({}))
        .await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        reader.get(&reader.docs(2, "/documents")).await.status(),
        200
    );
    let brands_only = Api::new(&server, &["--scope", "ai.org.brd:r"]).await;
    for path in ["/documents", "/chunks?search=x"] {
        let response = brands_only.get(&brands_only.docs(2, path)).await;
        assert_eq!(response.status(), 403, "{path}");
    }
    let other = server.admin_json(&["orgs", "create", "--name", "Other", "--json"]);
    let outsider = server.create_credential_in(other["id"].as_str().unwrap(), &[]);
    let token = server.token(&outsider).await;
    let response = server
        .http
        .get(reader.docs(2, "/documents"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = server
        .http
        .get(reader.docs(2, "/documents"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn malformed_samples_fail_cleanly_and_the_server_stays_up() {
    let Some(server) = TestServer::start_if_samples() else {
        return;
    };
    let (api, kit) = Api::with_kit(&server, "Bad").await;
    // Refused at upload: not a PDF, empty.
    for file in ["bad/not-a-pdf.pdf", "bad/empty.pdf"] {
        let bytes = std::fs::read(samples_dir().join(file)).unwrap();
        let response = api.upload_bytes(bytes, "x.pdf", json!({})).await;
        assert_eq!(response.status(), 400, "{file}");
    }
    // Accepted (they are what they claim), then failed by ingestion with a clear reason.
    let mut documents = Vec::new();
    for file in [
        "bad/truncated.pdf",
        "bad/encrypted.pdf",
        "bad/image-only.pdf",
        "bad/zip-bomb.docx",
    ] {
        let document = api.upload_sample(file, &kit).await;
        documents.push((file, document["id"].as_str().unwrap().to_owned()));
    }
    let good = api.upload_sample("tidewater-outdoor-gear.md", &kit).await;
    let run = api
        .run_to_end("BrandIngestionPipeline", json!({"brand_kit_id": kit}))
        .await;
    // One good document: the run succeeds, and its message lists each failure.
    assert_eq!(run["status"], "Succeeded", "{run}");
    let message = run["message"].as_str().unwrap();
    for (file, id) in &documents {
        assert!(message.contains(id.as_str()), "{file} not in {message}");
        let document: Value = api.document(id).await;
        assert_eq!(document["status"], "failed", "{file}: {document}");
        assert_eq!(document["chunked"], false);
        let reason = document["message"].as_str().unwrap().to_lowercase();
        let expected = match *file {
            "bad/encrypted.pdf" => "encrypted",
            "bad/image-only.pdf" => "no text",
            "bad/zip-bomb.docx" => "inflates",
            _ => "",
        };
        assert!(
            !reason.is_empty() && reason.contains(expected),
            "{file}: {reason}"
        );
    }
    let good: Value = api
        .get_value(&api.docs(2, &format!("/documents/{}", good["id"].as_str().unwrap())))
        .await;
    assert_eq!(good["status"], "processed");
    assert_eq!(server.get("/healthz").await.status(), 200);
    // The zip bomb never inflated inside the server.
    let peak = server.peak_rss_kib().unwrap();
    assert!(peak < 300 * 1024, "peak RSS {peak} KiB");
}

/// With `--blob-url s3://…` files live in S3-compatible storage (a real one: `.ci/run` starts
/// moto on loopback and sets `TEST_S3_ENDPOINT` / `TEST_S3_BUCKET`), not in the data dir.
#[tokio::test]
async fn documents_can_live_in_s3_compatible_storage() {
    let Some((endpoint, bucket)) = s3_test_target() else {
        return;
    };
    let prefix = format!("s3://{bucket}/server-test-{}", std::process::id());
    let client_env = s3_client_env(&endpoint);
    let mut env = vec![("BRANDSTREAM_BLOB_URL", prefix.as_str())];
    env.extend(client_env.iter().map(|(key, value)| (*key, value.as_str())));
    let server = TestServer::start_with(&env);
    let (api, kit) = Api::with_kit(&server, "S3 kit").await;
    let text = b"# Colour palettes\n\nRoast Green is #1B4D3E. Use it for headlines.\n".to_vec();
    let response = api.upload_for_kit(text.clone(), "palette.md", &kit).await;
    assert_eq!(response.status(), 201);
    let document: Value = response.json().await.unwrap();
    let id = document["id"].as_str().unwrap().to_owned();
    assert!(
        !server.data_dir().join("blobs").exists(),
        "nothing stored locally"
    );
    let bytes = api
        .get(&api.docs(2, &format!("/documents/{id}/file")))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), text.as_slice());
    // The object is in the bucket under the prefix (read with the same credentials).
    for (key, value) in client_env {
        std::env::set_var(key, value);
    }
    let bucket_view = brandstream_store::Blobs::open_url(&prefix).unwrap();
    let key = format!("{}/{id}/original", api.org);
    assert_eq!(
        bucket_view.get(&key).await.unwrap().as_ref(),
        text.as_slice()
    );
    // Ingestion reads it from there.
    let run = api
        .run_to_end("BrandIngestionPipeline", json!({"brand_kit_id": kit}))
        .await;
    assert_eq!(run["status"], "Succeeded", "{run}");
    // Deleting removes the object.
    assert_eq!(
        api.delete(&api.docs(1, &format!("/documents/{id}")))
            .await
            .status(),
        204
    );
    assert!(bucket_view.get(&key).await.is_err(), "the object is gone");
}

/// The texts of a document's chunks, searched for `query`.
async fn found_texts(api: &Api<'_>, document: &str, query: &str) -> Vec<String> {
    let url = api.docs(
        2,
        &format!(
            "/chunks?search={}&documentId={document}",
            form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
        ),
    );
    let page: Value = api.get_value(&url).await;
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|chunk| chunk["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_textual_file_is_read_in_the_charset_its_content_type_declares() {
    // Short Baltic text in windows-1257: detection alone would read `ū` as `ű`.
    let text = "Ačiū labai už kavą";
    let (bytes, _, _) = encoding_rs::WINDOWS_1257.encode(text);
    let bytes = bytes.into_owned();
    let origin = serve_file(bytes.clone(), "text/plain; charset=windows-1257").await;
    let server = TestServer::start_with(&[("BRANDSTREAM_DOCUMENTS__ALLOW_PRIVATE_URLS", "true")]);
    let (api, kit) = Api::with_kit(&server, "Charsets").await;
    let references = json!([{"type": "brandkit", "id": kit}]);

    // A multipart file part with a charset parameter.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone())
                .file_name("thanks.txt")
                .mime_str("text/plain; charset=windows-1257")
                .unwrap(),
        )
        .text(
            "create_request",
            json!({"tags": [], "references": references}).to_string(),
        );
    let response = api.post_documents(form).await;
    assert_eq!(response.status(), 201);
    let uploaded: Value = response.json().await.unwrap();
    // A fetched response with a charset parameter.
    let response = upload_url_form(
        &api,
        json!({"url": format!("{origin}/thanks.txt"), "tags": [], "references": references}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let fetched: Value = response.json().await.unwrap();
    // The same bytes with nothing declared: detection decides.
    let undeclared = api
        .upload_bytes(
            bytes,
            "guess.txt",
            json!({"tags": [], "references": references}),
        )
        .await;
    assert_eq!(undeclared.status(), 201);
    let undeclared: Value = undeclared.json().await.unwrap();

    let run = api
        .run_to_end("BrandIngestionPipeline", json!({"brand_kit_id": kit}))
        .await;
    assert_eq!(run["status"], "Succeeded", "{run}");
    for document in [&uploaded, &fetched] {
        let id = document["id"].as_str().unwrap();
        assert_eq!(
            found_texts(&api, id, "Ačiū").await,
            vec![text.to_owned()],
            "{document}"
        );
    }
    let id = undeclared["id"].as_str().unwrap();
    let guessed = found_texts(&api, id, "labai").await;
    assert_eq!(guessed.len(), 1);
    assert_ne!(
        guessed[0], text,
        "without a declared charset the guess differs, so this test shows the declaration is used"
    );
}
