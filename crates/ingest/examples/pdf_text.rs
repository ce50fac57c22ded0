//! Prints the text the PDF extractor keeps, one block per line and pages separated by form
//! feeds, and the time it took on standard error: `pdf_text FILE` (used by `bench/pdf.sh`).
//! With `--raw`, the laid-out page text before structure is inferred (headers and footers in).
fn main() {
    if std::env::args().nth(1).as_deref() == Some("--raw") {
        let file = std::env::args().nth(2).unwrap_or_default();
        let bytes = std::fs::read(&file).unwrap_or_default();
        let started = std::time::Instant::now();
        match brandstream_ingest::extract::pdf::page_texts(&bytes) {
            Ok(pages) => {
                println!("{}", pages.join("\n\u{c}"));
                let seconds = started.elapsed().as_secs_f64();
                eprintln!("pages {} seconds {seconds:.4}", pages.len());
            }
            Err(error) => {
                eprintln!("error: {error}");
                std::process::exit(1);
            }
        }
        return;
    }
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: pdf_text FILE");
        std::process::exit(2);
    };
    let bytes = std::fs::read(&file).unwrap_or_default();
    let started = std::time::Instant::now();
    let result = brandstream_ingest::extract::pdf::extract_pdf(&bytes);
    let elapsed = started.elapsed();
    match result {
        Ok(document) => {
            let pages: Vec<String> = document
                .pages
                .iter()
                .map(|page| {
                    page.blocks
                        .iter()
                        .map(|block| block.text.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .collect();
            println!("{}", pages.join("\n\u{c}"));
            eprintln!(
                "pages {} seconds {:.4}",
                document.pages.len(),
                elapsed.as_secs_f64()
            );
        }
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    }
}
