//! Embedding throughput: `cargo run --release -p brandstream-embed --example embed_rate --
//! MODEL_DIR TEXT_FILE [BATCH] [--save-texts FILE] [--save-vectors FILE]`. Embeds the
//! paragraphs of TEXT_FILE (blank-line separated, repeated to at least 256) in batches of BATCH
//! (default 32) and prints texts/s and tokens/s. Pin it to one core with `taskset -c 0` to read
//! the single-core rate (bench/embed.sh does).
//!
//! `--save-texts FILE` writes the texts it embeds, in order, one per line, so that another
//! implementation can embed exactly the same list; `--save-vectors FILE` writes the embeddings
//! of the timed pass, one text per line, as space-separated numbers (both written after the
//! timed pass).

use std::io::Write;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    const USAGE: &str =
        "usage: embed_rate MODEL_DIR TEXT_FILE [BATCH] [--save-texts FILE] [--save-vectors FILE]";
    let mut positional = Vec::new();
    let (mut save_texts, mut save_vectors) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--save-texts" => save_texts = Some(args.next().ok_or(USAGE)?),
            "--save-vectors" => save_vectors = Some(args.next().ok_or(USAGE)?),
            _ => positional.push(arg),
        }
    }
    let [model, file, rest @ ..] = positional.as_slice() else {
        return Err(USAGE.into());
    };
    let batch: usize = match rest {
        [] => 32,
        [batch] => batch.parse()?,
        _ => return Err(USAGE.into()),
    };
    let text = std::fs::read_to_string(file)?;
    // A paragraph's line breaks become single spaces: the BERT tokenizer splits on any
    // whitespace and drops it, so the tokens (and the embedding) are unchanged, and each text
    // fits on one line of the --save-texts file.
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| p.len() > 20)
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    if paragraphs.is_empty() {
        return Err("the text file has no paragraphs".into());
    }
    let texts: Vec<&str> = paragraphs
        .iter()
        .map(String::as_str)
        .cycle()
        .take(256.max(paragraphs.len()))
        .collect();
    let embedder = brandstream_embed::Embedder::load(std::path::Path::new(model))?;
    let tokens: usize = texts
        .iter()
        .map(|t| embedder.token_count(t))
        .sum::<Result<usize, _>>()?;
    // One warm-up batch, then the timed pass.
    embedder.embed(&texts[..batch.min(texts.len())])?;
    let started = Instant::now();
    let vectors = embedder.embed_batched(&texts, batch)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} texts ({} tokens, batch {batch}) in {:.2} s: {:.1} texts/s, {:.0} tokens/s",
        texts.len(),
        tokens,
        seconds,
        texts.len() as f64 / seconds,
        tokens as f64 / seconds
    );
    if let Some(path) = save_texts {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for text in &texts {
            writeln!(out, "{text}")?;
        }
        out.flush()?;
    }
    if let Some(path) = save_vectors {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for vector in &vectors {
            let line: Vec<String> = vector.iter().map(f32::to_string).collect();
            writeln!(out, "{}", line.join(" "))?;
        }
        out.flush()?;
    }
    Ok(())
}
