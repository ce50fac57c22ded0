//! Prints the heading structure the PDF extractor infers: `pdf_headings FILE`.
fn main() {
    let Some(file) = std::env::args().nth(1) else {
        eprintln!("usage: pdf_headings FILE");
        std::process::exit(2);
    };
    let bytes = std::fs::read(file).unwrap_or_default();
    match brandstream_ingest::extract::pdf::extract_pdf(&bytes) {
        Ok(document) => {
            for page in &document.pages {
                for block in &page.blocks {
                    if let brandstream_ingest::BlockKind::Heading(level) = block.kind {
                        println!(
                            "p{} {}{}",
                            page.number,
                            "  ".repeat(usize::from(level)),
                            block.text
                        );
                    }
                }
            }
        }
        Err(error) => eprintln!("{error}"),
    }
}
