//! Prose cut into sentences and list items: sentence ends that are not abbreviations, quotations
//! kept whole, and list markers ("1.", "a)", "•") recognised and stripped.

const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "no", "st", "dr", "mr", "mrs", "ms", "approx", "incl", "fig", "p",
    "pp", "ca", "cf",
];

/// Splits prose into sentences (or list items that end with punctuation), keeping quotations
/// whole and `1.` list markers with their item. Markers are stripped from the result.
pub(super) fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        split_line(line, &mut out);
    }
    out.into_iter()
        .map(|s| strip_marker(&s).to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn split_line(line: &str, out: &mut Vec<String>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut start = 0usize;
    let mut in_quote = false;
    let mut i = 0usize;
    while i < chars.len() {
        let (pos, c) = chars[i];
        match c {
            '"' => in_quote = !in_quote,
            '“' => in_quote = true,
            '”' => in_quote = false,
            '.' | '!' | '?' => {
                let mut j = i + 1;
                let mut closes = false;
                while j < chars.len() && matches!(chars[j].1, '"' | '”' | ')' | '’' | '\'') {
                    if matches!(chars[j].1, '"' | '”') {
                        closes = true;
                    }
                    j += 1;
                }
                let boundary =
                    j + 1 < chars.len() && chars[j].1 == ' ' && (!in_quote || closes) && {
                        let next = chars[j + 1].1;
                        next.is_uppercase()
                            || next.is_ascii_digit()
                            || matches!(next, '"' | '“' | '(' | '#' | '@' | '/')
                    };
                if boundary {
                    let so_far = line[start..pos].trim();
                    let last_word = so_far
                        .rsplit(' ')
                        .next()
                        .unwrap_or("")
                        .trim_start_matches(['(', '"'])
                        .to_lowercase();
                    let marker = so_far.len() <= 3 && so_far.chars().all(|c| c.is_alphanumeric());
                    let abbreviation = c == '.'
                        && (ABBREVIATIONS.contains(&last_word.as_str())
                            || (last_word.chars().count() == 1
                                && last_word.chars().all(char::is_alphabetic)));
                    if !marker && !abbreviation {
                        let end = chars[j].0;
                        let sentence = line[start..end].trim();
                        if !sentence.is_empty() {
                            out.push(sentence.to_owned());
                        }
                        start = end;
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    let rest = line[start..].trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
}

/// Drops a leading list marker ("1.", "2)", "-", "•", "a)").
pub(super) fn strip_marker(item: &str) -> &str {
    let item = item.trim();
    for bullet in ["• ", "- ", "* ", "– ", "· ", "▪ ", "— "] {
        if let Some(rest) = item.strip_prefix(bullet) {
            return rest.trim_start();
        }
    }
    let mut chars = item.char_indices();
    let mut digits = 0;
    for (index, c) in chars.by_ref() {
        if c.is_ascii_digit() && digits < 3 {
            digits += 1;
            continue;
        }
        if digits > 0 && matches!(c, '.' | ')') {
            let rest = &item[index + 1..];
            if rest.starts_with(' ') {
                return rest.trim_start();
            }
        }
        break;
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_keep_quotes_and_numbered_items() {
        let got = sentences(
            "Intro: read this. 1. First step here. 2. Second \"quoted. Still quoted.\" Done. See e.g. Acme. Last",
        );
        assert_eq!(
            got,
            [
                "Intro: read this.",
                "First step here.",
                "Second \"quoted. Still quoted.\"",
                "Done.",
                "See e.g. Acme.",
                "Last"
            ]
        );
    }
}
