//! Embedding throughput: `cargo run --release -p brandstream-embed --example embed_rate --
//! MODEL_DIR TEXT_FILE [BATCH]`. Embeds the paragraphs of TEXT_FILE (blank-line separated,
//! repeated to at least 256) in batches of BATCH (default 32) and prints texts/s and tokens/s.
//! Pin it to one core with `taskset -c 0` to read the single-core rate (bench/embed.sh does).

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(model), Some(file)) = (args.next(), args.next()) else {
        return Err("usage: embed_rate MODEL_DIR TEXT_FILE [BATCH]".into());
    };
    let batch: usize = args.next().map_or(Ok(32), |b| b.parse())?;
    let text = std::fs::read_to_string(file)?;
    let paragraphs: Vec<&str> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| p.len() > 20)
        .collect();
    if paragraphs.is_empty() {
        return Err("the text file has no paragraphs".into());
    }
    let texts: Vec<&str> = paragraphs
        .iter()
        .copied()
        .cycle()
        .take(256.max(paragraphs.len()))
        .collect();
    let embedder = brandstream_embed::Embedder::load(std::path::Path::new(&model))?;
    let tokens: usize = texts
        .iter()
        .map(|t| embedder.token_count(t))
        .sum::<Result<usize, _>>()?;
    // One warm-up batch, then the timed pass.
    embedder.embed(&texts[..batch.min(texts.len())])?;
    let started = Instant::now();
    embedder.embed_batched(&texts, batch)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} texts ({} tokens, batch {batch}) in {:.2} s: {:.1} texts/s, {:.0} tokens/s",
        texts.len(),
        tokens,
        seconds,
        texts.len() as f64 / seconds,
        tokens as f64 / seconds
    );
    Ok(())
}
