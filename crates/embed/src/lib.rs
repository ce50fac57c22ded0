//! Sentence embeddings, in-process and offline: a BERT sentence-transformer run with candle on
//! the CPU.
//!
//! A model is a directory holding `config.json` (the BERT configuration), `tokenizer.json`
//! and `model.safetensors` — what sentence-transformers publishes for `all-MiniLM-L6-v2`
//! (Apache-2.0, 384 dimensions, the default) and `bge-small-en-v1.5` (MIT). An embedding is
//! computed as sentence-transformers computes it for these models: the text tokenised by the
//! model's own tokenizer (truncated at [`MAX_TOKENS`]), one float32 forward pass, the mean of
//! the last hidden states over the text's tokens (`[CLS]` and `[SEP]` included, padding
//! excluded), then L2 normalisation — so the cosine of two embeddings is their dot product.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Longest input, in tokens (sentence-transformers' `max_seq_length` for all-MiniLM-L6-v2);
/// longer texts are truncated.
pub const MAX_TOKENS: usize = 256;

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
    model: BertModel,
    tokenizer: Tokenizer,
    dimensions: usize,
    device: Device,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, EmbedError> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|error| EmbedError::File {
        path: path.display().to_string(),
        reason: error.to_string(),
    })
}

impl Embedder {
    /// Loads the model in `dir` (`config.json`, `tokenizer.json`, `model.safetensors`).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let config: Config = serde_json::from_slice(&read(dir, "config.json")?)
            .map_err(|error| EmbedError::Config(error.to_string()))?;
        let mut tokenizer = Tokenizer::from_bytes(read(dir, "tokenizer.json")?)
            .map_err(|error| EmbedError::Tokenizer(error.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
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
        let model = BertModel::load(vb, &config)?;
        Ok(Self {
            model,
            tokenizer,
            dimensions: config.hidden_size,
            device,
        })
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
        let token_types = ids.zeros_like()?;
        let hidden = self.model.forward(&ids, &token_types, Some(&mask))?;
        // Mean over the text's tokens: padding has mask 0.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        let unit = mean.broadcast_div(&norms)?;
        Ok(unit.to_vec2::<f32>()?)
    }
}

impl Embedder {
    /// The embeddings of any number of `texts`, in order, computed `batch` at a time. Texts
    /// are grouped by length first (as sentence-transformers' `encode` does), so a batch pads
    /// its texts to a similar length instead of to the longest of all: the result is the same,
    /// the work several times less on mixed lengths.
    pub fn embed_batched(&self, texts: &[&str], batch: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut lengths = Vec::with_capacity(texts.len());
        for (index, text) in texts.iter().enumerate() {
            lengths.push((self.token_count(text)?, index));
        }
        lengths.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = vec![Vec::new(); texts.len()];
        for group in lengths.chunks(batch.max(1)) {
            let group_texts: Vec<&str> = group.iter().map(|&(_, index)| texts[index]).collect();
            for (vector, &(_, index)) in self.embed(&group_texts)?.into_iter().zip(group) {
                out[index] = vector;
            }
        }
        Ok(out)
    }
}

/// The cosine similarity of two unit vectors: their dot product.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
