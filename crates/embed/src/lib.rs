//! Sentence embeddings, in-process and offline: a BERT sentence-transformer run with candle on
//! the CPU.
//!
//! A model is a directory holding `config.json` (the BERT configuration), `tokenizer.json`
//! and `model.safetensors` — what sentence-transformers publishes for `all-MiniLM-L6-v2`
//! (Apache-2.0, 384 dimensions, the default) and `bge-small-en-v1.5` (MIT). An embedding is
//! computed as sentence-transformers computes it for these models: the text tokenised by the
//! model's own tokenizer (truncated at the model's `max_seq_length`, [`MAX_TOKENS`] unless
//! `sentence_bert_config.json` says otherwise), one float32 forward pass, pooling as the
//! model's `1_Pooling/config.json` asks — the mean of the last hidden states over the text's
//! tokens (`[CLS]` and `[SEP]` included, padding excluded; the default, all-MiniLM-L6-v2) or
//! the `[CLS]` token's state (bge-small-en-v1.5) — then L2 normalisation, so the cosine of two
//! embeddings is their dot product.

use std::path::Path;

mod bert;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

pub use bert::{erf, gelu_erf};
use bert::{Bert, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Longest input, in tokens, when the model does not say (sentence-transformers'
/// `max_seq_length` for all-MiniLM-L6-v2); longer texts are truncated.
pub const MAX_TOKENS: usize = 256;
/// The most a model's `sentence_bert_config.json` may ask for (BERT's position embeddings).
const MAX_TOKENS_CAP: usize = 512;

/// How the token states become one sentence vector (sentence-transformers' `Pooling` module,
/// read from the model's `1_Pooling/config.json`; mean when the file is absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean over the text's tokens (`pooling_mode_mean_tokens`).
    Mean,
    /// The first token's state, `[CLS]` (`pooling_mode_cls_token`).
    Cls,
}

/// The optional sentence-transformers files a model directory may hold, beside the three
/// required ones: the pooling mode and the maximum sequence length.
pub const OPTIONAL_FILES: [&str; 2] = ["1_Pooling/config.json", "sentence_bert_config.json"];

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model file is missing or unreadable.
    #[error("model file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The model's configuration is not a BERT configuration this crate runs.
    #[error("model configuration: {0}")]
    Config(String),
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The forward pass failed.
    #[error("model: {0}")]
    Model(#[from] candle_core::Error),
}

/// A loaded sentence-embedding model. Immutable; share it behind an `Arc` across threads.
pub struct Embedder {
    model: Bert,
    tokenizer: Tokenizer,
    dimensions: usize,
    pooling: Pooling,
    device: Device,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, EmbedError> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|error| EmbedError::File {
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

/// Reads an optional JSON file of the model directory (`None` when absent).
fn read_optional(dir: &Path, name: &str) -> Result<Option<serde_json::Value>, EmbedError> {
    if !dir.join(name).is_file() {
        return Ok(None);
    }
    serde_json::from_slice(&read(dir, name)?)
        .map(Some)
        .map_err(|error| EmbedError::Config(format!("{name}: {error}")))
}

/// The pooling mode of `1_Pooling/config.json` (mean when absent). Modes this crate does not
/// compute (max, weighted mean, last token, or several at once) are refused.
fn pooling(config: Option<&serde_json::Value>) -> Result<Pooling, EmbedError> {
    let Some(config) = config else {
        return Ok(Pooling::Mean);
    };
    let on = |key: &str| config.get(key).and_then(serde_json::Value::as_bool) == Some(true);
    let modes: Vec<&str> = [
        "pooling_mode_cls_token",
        "pooling_mode_mean_tokens",
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens",
        "pooling_mode_lasttoken",
    ]
    .into_iter()
    .filter(|key| on(key))
    .collect();
    match modes.as_slice() {
        ["pooling_mode_cls_token"] => Ok(Pooling::Cls),
        ["pooling_mode_mean_tokens"] | [] => Ok(Pooling::Mean),
        other => Err(EmbedError::Config(format!(
            "1_Pooling/config.json asks for {}; only mean or CLS pooling is supported",
            other.join(" + ")
        ))),
    }
}

impl Embedder {
    /// Loads the model in `dir` (`config.json`, `tokenizer.json`, `model.safetensors`, and the
    /// [`OPTIONAL_FILES`] when present).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let config: Config = serde_json::from_slice(&read(dir, "config.json")?)
            .map_err(|error| EmbedError::Config(error.to_string()))?;
        let pooling = pooling(read_optional(dir, OPTIONAL_FILES[0])?.as_ref())?;
        let max_tokens = read_optional(dir, OPTIONAL_FILES[1])?
            .and_then(|config| config.get("max_seq_length")?.as_u64())
            .map_or(MAX_TOKENS, |length| {
                usize::try_from(length)
                    .map_or(MAX_TOKENS_CAP, |length| length.clamp(1, MAX_TOKENS_CAP))
            });
        let mut tokenizer = Tokenizer::from_bytes(read(dir, "tokenizer.json")?)
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        let device = Device::Cpu;
        let weights = read(dir, "model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)?;
        let model = Bert::load(&vb, &config)?;
        Ok(Self {
            model,
            tokenizer,
            dimensions: config.hidden_size,
            pooling,
            device,
        })
    }

    /// How this model pools token states into a sentence vector.
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Length of an embedding (384 for all-MiniLM-L6-v2).
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// How many tokens the model reads of `text` (special tokens included, after truncation).
    pub fn token_count(&self, text: &str) -> Result<usize, EmbedError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        Ok(encoding.get_ids().len())
    }

    /// The embeddings of `texts`, in order, each [`dimensions`](Self::dimensions) long and of
    /// unit length. The texts go through the model together (one padded batch); callers
    /// choose the batch size.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (rows, width), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, width), &self.device)?;
        let hidden = self.model.forward(&ids, &mask)?;
        let pooled = match self.pooling {
            // The first token is [CLS] (padding is on the right).
            Pooling::Cls => hidden.narrow(1, 0, 1)?.squeeze(1)?,
            // Mean over the text's tokens: padding has mask 0.
            Pooling::Mean => {
                let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
                let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
                let counts = mask.sum(1)?;
                summed.broadcast_div(&counts)?
            }
        };
        let norms = pooled.sqr()?.sum_keepdim(1)?.sqrt()?;
        let unit = pooled.broadcast_div(&norms)?;
        Ok(unit.to_vec2::<f32>()?)
    }
}

/// Most padded tokens (texts × longest text) one forward pass computes. A pass's activations
/// grow with its tokens; past a few hundred they no longer stay in the core's caches and every
/// element-wise step waits for memory. Measured with `embed_rate` on one core (256 texts of a
/// brand book, 14,484 tokens), texts/s at batch 8 / 32: unbounded 83 / 51, 128 tokens 87 / 85,
/// 256 tokens 89 / 92, 512 tokens 86 / 91, 1,024 tokens 83 / 82.
const FORWARD_TOKENS: usize = 256;

impl Embedder {
    /// The embeddings of any number of `texts`, in order, computed `batch` at a time. Texts
    /// are grouped by length first (as sentence-transformers' `encode` does), so a batch pads
    /// its texts to a similar length instead of to the longest of all: the result is the same,
    /// the work several times less on mixed lengths. A batch is computed in forward passes of
    /// at most [`FORWARD_TOKENS`] padded tokens (same vectors, less memory traffic).
    pub fn embed_batched(&self, texts: &[&str], batch: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut lengths = Vec::with_capacity(texts.len());
        for (index, text) in texts.iter().enumerate() {
            lengths.push((self.token_count(text)?, index));
        }
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = vec![Vec::new(); texts.len()];
        for group in lengths.chunks(batch.max(1)) {
            // Forward passes of at most FORWARD_TOKENS padded tokens (a longer text alone).
            let mut start = 0;
            while start < group.len() {
                let longest = group[start].0.max(1);
                let fits = (FORWARD_TOKENS / longest).clamp(1, group.len() - start);
                let pass = &group[start..start + fits];
                let pass_texts: Vec<&str> = pass.iter().map(|&(_, index)| texts[index]).collect();
                for (vector, &(_, index)) in self.embed(&pass_texts)?.into_iter().zip(pass) {
                    out[index] = vector;
                }
                start += fits;
            }
        }
        Ok(out)
    }
}

/// The cosine similarity of two unit vectors: their dot product.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
