//! Prints pdf-extract's raw text of one page (to study layout): `pdf_raw FILE PAGE`.
fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(page)) = (args.next(), args.next()) else {
        eprintln!("usage: pdf_raw FILE PAGE");
        std::process::exit(2);
    };
    let bytes = std::fs::read(file).unwrap_or_default();
    let page: usize = page.parse().unwrap_or(1);
    match pdf_extract::extract_text_from_mem_by_pages(&bytes) {
        Ok(pages) => println!("{:?}", pages.get(page - 1)),
        Err(error) => eprintln!("{error}"),
    }
}
