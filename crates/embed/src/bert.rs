//! The BERT encoder (Devlin et al. 2019, as Hugging Face's `BertModel` computes it), written
//! for inference on the CPU with candle's tensors.
//!
//! The arithmetic is the reference model's; the layout is chosen for speed on one core:
//! - weights are stored transposed once at load (`[in, out]`, contiguous), and activations
//!   are multiplied as 2-D `[tokens, features]` matrices, so no weight is re-laid out per call;
//! - the query, key and value projections are one matrix product (weights side by side), and
//!   the `1/√d` attention scale is folded into the query weights;
//! - bias additions are fused with the activation or the residual sum, the padding mask with
//!   the softmax, and layer normalisation uses candle's fused kernel;
//! - GELU is the exact (erf) GELU with a branch-free rational erf that the compiler vectorises
//!   ([`gelu_erf`]; within 5e-7 of the true erf, a few units in f32's last place);
//! - the attention mask is skipped when a batch has no padding.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};
use candle_nn::VarBuilder;

use crate::EmbedError;

/// The fields of a BERT `config.json` the encoder needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Config {
    /// Width of the hidden states.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer.
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// The feed-forward activation: `gelu` (exact), `gelu_new`/`gelu_pytorch_tanh`, `relu`.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Layer-norm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Longest position the position embeddings cover.
    pub max_position_embeddings: usize,
    /// `bert` (weights may sit under a `bert.` prefix).
    #[serde(default)]
    pub model_type: Option<String>,
}

fn default_act() -> String {
    "gelu".to_owned()
}

fn default_eps() -> f64 {
    1e-12
}

#[derive(Debug, Clone, Copy)]
enum Activation {
    GeluErf,
    GeluTanh,
    Relu,
}

/// A dense layer with its weight stored `[in, out]`.
struct Dense {
    weight: Tensor,
    bias: Tensor,
}

impl Dense {
    fn load(
        vb: &VarBuilder,
        name: &str,
        inputs: usize,
        outputs: usize,
    ) -> candle_core::Result<Self> {
        let weight = vb.get((outputs, inputs), &format!("{name}.weight"))?;
        let bias = vb.get(outputs, &format!("{name}.bias"))?;
        Ok(Self {
            weight: weight.t()?.contiguous()?,
            bias,
        })
    }

    /// `x·W + b` for `x` `[tokens, in]`; the bias is added (and `activation` applied) in the
    /// same pass.
    fn forward(&self, x: &Tensor, activation: Option<Activation>) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight)?
            .apply_op2_no_bwd(&self.bias, &BiasThen(activation))
    }

    /// `x·W + b + residual`, the sum in one pass.
    fn forward_plus(&self, x: &Tensor, residual: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight)?
            .apply_op3_no_bwd(&self.bias, residual, &BiasPlus)
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, name: &str, size: usize, eps: f64) -> candle_core::Result<Self> {
        // Old checkpoints name the parameters gamma/beta.
        let (weight, bias) = match vb.get(size, &format!("{name}.weight")) {
            Ok(weight) => (weight, vb.get(size, &format!("{name}.bias"))?),
            Err(_) => (
                vb.get(size, &format!("{name}.gamma"))?,
                vb.get(size, &format!("{name}.beta"))?,
            ),
        };
        #[allow(clippy::cast_possible_truncation)]
        Ok(Self {
            weight,
            bias,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    qkv: Dense,
    attention_out: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

/// A loaded BERT encoder.
pub struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
    hidden: usize,
    activation: Activation,
    max_positions: usize,
}

impl Bert {
    /// Loads the weights from `vb` (names as Hugging Face's `BertModel` saves them, with or
    /// without the `bert.` prefix).
    pub fn load(vb: &VarBuilder, config: &Config) -> Result<Self, EmbedError> {
        let activation = match config.hidden_act.as_str() {
            "gelu" => Activation::GeluErf,
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "relu" => Activation::Relu,
            other => {
                return Err(EmbedError::Config(format!(
                    "hidden_act {other:?} is not supported (gelu, gelu_new, relu)"
                )))
            }
        };
        let hidden = config.hidden_size;
        let heads = config.num_attention_heads;
        if heads == 0 || !hidden.is_multiple_of(heads) {
            return Err(EmbedError::Config(format!(
                "hidden_size {hidden} is not a multiple of num_attention_heads {heads}"
            )));
        }
        let prefix = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb.clone()
        } else {
            vb.pp(config.model_type.as_deref().unwrap_or("bert"))
        };
        Ok(Self::load_weights(&prefix, config, activation)?)
    }

    fn load_weights(
        vb: &VarBuilder,
        config: &Config,
        activation: Activation,
    ) -> candle_core::Result<Self> {
        let hidden = config.hidden_size;
        let heads = config.num_attention_heads;
        let head_size = hidden / heads;
        let word = vb.get_unchecked("embeddings.word_embeddings.weight")?;
        let position = vb.get(
            (config.max_position_embeddings, hidden),
            "embeddings.position_embeddings.weight",
        )?;
        let token_type = vb.get_unchecked("embeddings.token_type_embeddings.weight")?;
        let embedding_norm =
            LayerNorm::load(vb, "embeddings.LayerNorm", hidden, config.layer_norm_eps)?;
        #[allow(clippy::cast_precision_loss)]
        let scale = 1.0 / (head_size as f64).sqrt();
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let at = |name: &str| format!("encoder.layer.{index}.{name}");
            let query = Dense::load(vb, &at("attention.self.query"), hidden, hidden)?;
            let key = Dense::load(vb, &at("attention.self.key"), hidden, hidden)?;
            let value = Dense::load(vb, &at("attention.self.value"), hidden, hidden)?;
            // softmax(q·kᵀ/√d): scaling q's projection is the same product, one pass fewer.
            let qkv = Dense {
                weight: Tensor::cat(&[(query.weight * scale)?, key.weight, value.weight], 1)?
                    .contiguous()?,
                bias: Tensor::cat(&[(query.bias * scale)?, key.bias, value.bias], 0)?,
            };
            layers.push(Layer {
                qkv,
                attention_out: Dense::load(vb, &at("attention.output.dense"), hidden, hidden)?,
                attention_norm: LayerNorm::load(
                    vb,
                    &at("attention.output.LayerNorm"),
                    hidden,
                    config.layer_norm_eps,
                )?,
                intermediate: Dense::load(
                    vb,
                    &at("intermediate.dense"),
                    hidden,
                    config.intermediate_size,
                )?,
                output: Dense::load(vb, &at("output.dense"), config.intermediate_size, hidden)?,
                output_norm: LayerNorm::load(
                    vb,
                    &at("output.LayerNorm"),
                    hidden,
                    config.layer_norm_eps,
                )?,
            });
        }
        Ok(Self {
            word,
            position,
            token_type,
            embedding_norm,
            layers,
            heads,
            head_size,
            hidden,
            activation,
            max_positions: config.max_position_embeddings,
        })
    }

    /// The last hidden states, `[batch, seq, hidden]`, of token ids `[batch, seq]` (u32) with
    /// their attention mask (1 for a token, 0 for padding; same shape). Token types are all 0.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, seq) = ids.dims2()?;
        if seq > self.max_positions {
            candle_core::bail!(
                "{seq} tokens exceed the model's {} positions",
                self.max_positions
            );
        }
        let words = self.word.index_select(&ids.flatten_all()?, 0)?;
        let positions = self.position.narrow(0, 0, seq)?.repeat((batch, 1))?;
        let types = self.token_type.narrow(0, 0, 1)?;
        let embedded = (words + positions)?.broadcast_add(&types)?;
        let mut x = self.embedding_norm.forward(&embedded)?;

        // Padding gets -∞-like scores; a batch without padding needs no mask at all.
        let padded = mask.min_all()?.to_scalar::<u32>()? == 0;
        let bias = if padded {
            let keep = mask.to_dtype(DType::F32)?;
            Some(((keep - 1.0)? * f64::from(f32::MAX))?.contiguous()?)
        } else {
            None
        };
        for layer in &self.layers {
            x = self.layer(layer, &x, bias.as_ref(), batch, seq)?;
        }
        x.reshape((batch, seq, self.hidden))
    }

    /// One encoder layer over `x` (`[tokens, hidden]`).
    fn layer(
        &self,
        layer: &Layer,
        x: &Tensor,
        mask: Option<&Tensor>,
        batch: usize,
        seq: usize,
    ) -> candle_core::Result<Tensor> {
        let (heads, size) = (self.heads, self.head_size);
        // [tokens, 3·hidden] → [3, batch, heads, seq, size]
        let qkv = layer
            .qkv
            .forward(x, None)?
            .reshape((batch, seq, 3, heads, size))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let scores = q.matmul(&k.t()?)?;
        let probabilities = match mask {
            Some(mask) => scores.apply_op2_no_bwd(mask, &MaskedSoftmax)?,
            None => candle_nn::ops::softmax_last_dim(&scores)?,
        };
        let context = probabilities
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch * seq, self.hidden))?;
        let attended = layer
            .attention_norm
            .forward(&layer.attention_out.forward_plus(&context, x)?)?;
        let inner = layer
            .intermediate
            .forward(&attended, Some(self.activation))?;
        layer
            .output_norm
            .forward(&layer.output.forward_plus(&inner, &attended)?)
    }
}

/// erf(x) for f32, branch-free: x·P(x²)/Q(x²) on x clamped to [-4, 4] (erf(±4) is ±1 in f32),
/// with the minimax coefficients Eigen uses for its vectorised float erf. Absolute error
/// below 5e-7, a few units in the last place of f32 (tested against f64 libm). Plain multiply-adds, not `mul_add`: without FMA in
/// the compile-time target that becomes a library call per term, and blocks vectorisation.
#[inline]
#[allow(clippy::excessive_precision)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_258_013_06e-10_f32;
    p = p * x2 + 2.770_681_424_959_02e-08;
    p = p * x2 + -2.101_024_020_825_08e-06;
    p = p * x2 + -5.692_506_394_623_46e-05;
    p = p * x2 + -7.349_906_303_268_55e-04;
    p = p * x2 + -2.954_599_808_540_25e-03;
    p = p * x2 + -1.609_603_332_624_15e-02;
    let mut q = -1.456_607_184_649_96e-05_f32;
    q = q * x2 + -2.133_740_552_789_05e-04;
    q = q * x2 + -1.682_826_974_382_03e-03;
    q = q * x2 + -7.373_329_167_204_68e-03;
    q = q * x2 + -1.426_473_905_141_89e-02;
    x * p / q
}

/// GELU(x) = x·Φ(x) = ½·x·(1 + erf(x/√2)), the activation BERT's `gelu` names.
#[inline]
pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU with the tanh approximation (`gelu_new`): ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
#[inline]
fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
}

/// The f32 slice of a contiguous CPU tensor.
fn contiguous<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    what: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(values) = storage else {
        candle_core::bail!("{what}: f32 only");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{what}: contiguous input only");
    };
    Ok(&values[start..end])
}

/// `x + bias` by rows (`x` `[rows, width]`, `bias` `[width]`), then the activation, in one
/// pass and one allocation.
struct BiasThen(Option<Activation>);

impl CustomOp2 for BiasThen {
    fn name(&self) -> &'static str {
        "bias-activation"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "bias")?;
        let bias = contiguous(s2, l2, "bias")?;
        if bias.is_empty() || x.len() % bias.len() != 0 {
            candle_core::bail!("bias of {} for {:?}", bias.len(), l1.shape());
        }
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks_exact(bias.len()) {
            match self.0 {
                None => out.extend(row.iter().zip(bias).map(|(x, b)| x + b)),
                Some(Activation::GeluErf) => {
                    out.extend(row.iter().zip(bias).map(|(x, b)| gelu_erf(x + b)));
                }
                Some(Activation::GeluTanh) => {
                    out.extend(row.iter().zip(bias).map(|(x, b)| gelu_tanh(x + b)));
                }
                Some(Activation::Relu) => {
                    out.extend(row.iter().zip(bias).map(|(x, b)| (x + b).max(0.0)));
                }
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// Softmax over the last axis of attention scores `[batch, heads, seq, seq]` after adding the
/// padding mask `[batch, seq]` (0 for a token, -f32::MAX for padding) — one pass for both.
struct MaskedSoftmax;

impl CustomOp2 for MaskedSoftmax {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let scores = contiguous(s1, l1, "softmax")?;
        let mask = contiguous(s2, l2, "softmax")?;
        let (batch, heads, rows, seq) = l1.shape().dims4()?;
        if mask.len() != batch * seq || rows != seq {
            candle_core::bail!("mask {:?} for scores {:?}", l2.shape(), l1.shape());
        }
        let mut out = Vec::with_capacity(scores.len());
        for (index, row) in scores.chunks_exact(seq).enumerate() {
            let item = index / (heads * rows);
            let mask = &mask[item * seq..(item + 1) * seq];
            let max = row
                .iter()
                .zip(mask)
                .map(|(x, m)| x + m)
                .fold(f32::NEG_INFINITY, f32::max);
            let start = out.len();
            out.extend(row.iter().zip(mask).map(|(x, m)| (x + m - max).exp()));
            let sum: f32 = out[start..].iter().sum();
            let inverse = 1.0 / sum;
            for value in &mut out[start..] {
                *value *= inverse;
            }
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// `x + bias + residual` (`x`, `residual` `[rows, width]`, `bias` `[width]`) in one pass.
struct BiasPlus;

impl CustomOp3 for BiasPlus {
    fn name(&self) -> &'static str {
        "bias-residual"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = contiguous(s1, l1, "residual")?;
        let bias = contiguous(s2, l2, "residual")?;
        let residual = contiguous(s3, l3, "residual")?;
        if bias.is_empty() || x.len() % bias.len() != 0 || residual.len() != x.len() {
            candle_core::bail!("residual shapes {:?} {:?}", l1.shape(), l3.shape());
        }
        let mut out = Vec::with_capacity(x.len());
        for (row, skip) in x
            .chunks_exact(bias.len())
            .zip(residual.chunks_exact(bias.len()))
        {
            out.extend(row.iter().zip(bias).zip(skip).map(|((x, b), r)| x + b + r));
        }
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rational_erf_is_within_5e7_of_the_true_erf() {
        let mut worst: f64 = 0.0;
        for step in -60_000..=60_000 {
            #[allow(clippy::cast_possible_truncation)]
            let x = (f64::from(step) * 1e-4) as f32;
            let ours = f64::from(erf(x));
            worst = worst.max((ours - libm::erf(f64::from(x))).abs());
        }
        assert!(worst < 5e-7, "worst absolute error {worst}");
    }

    #[test]
    fn gelu_matches_its_definition() {
        for x in [-5.0f32, -1.5, -0.3, 0.0, 0.7, 2.0, 9.0] {
            let exact = 0.5 * f64::from(x) * (1.0 + libm::erf(f64::from(x) / 2f64.sqrt()));
            assert!((f64::from(gelu_erf(x)) - exact).abs() < 1e-6, "{x}");
        }
    }
}
