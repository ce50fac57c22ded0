//! Text as full-text search compares it, the same for every store backend.
//!
//! Documents arrive with text in many Unicode spellings of the same word: typeset ligatures
//! (`ﬁ`, `ﬂ`, `ﬀ`, `ﬃ`, `ﬄ`), full-width Latin letters, soft hyphens left by justification,
//! invisible direction marks. Search engines index one spelling: the **search form** of a text
//! is its Unicode compatibility normalisation (NFKC, [UAX #15]) without invisible format
//! characters, with every CJK ideograph and kana standing as a word of its own (Chinese and
//! Japanese write no spaces between words, so a search for a word must be a search for its
//! characters in sequence: the unigram indexing of CJK analysers). Stored text keeps its
//! original spelling; only the index and the queries use the search form.
//!
//! [`snippet`] highlights the matches of a query in the *original* text, comparing words by
//! their search form, folded (lowercase, accents off) and stemmed (Snowball English, close to
//! the Porter stemmer both indexes use), so what is shown is what the document says.
//!
//! [UAX #15]: https://unicode.org/reports/tr15/

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Whether `c` is written without spaces between words: Han ideographs (with `々`, `〆`, `〇`),
/// hiragana and katakana (with the prolonged sound mark `ー`). Hangul is not: Korean separates
/// words with spaces.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3005..=0x3007
        | 0x3040..=0x309F
        | 0x30A0..=0x30FF
        | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0xFF66..=0xFF9F
        | 0x20000..=0x2FA1F)
}

/// Invisible format characters that never separate or make words: the soft hyphen, zero-width
/// space and joiners, the word joiner, the byte-order mark and the bidirectional controls
/// (Unicode general category Cf, as search engines drop them).
pub fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFEFF)
}

/// The search form of `text`: NFKC, invisible format characters removed, each CJK character
/// surrounded by spaces. Case and accents are left to the index's tokenizer. Applied twice it
/// gives the same words (only the spacing around CJK characters grows).
///
/// ```
/// use brandstream_domain::text::search_form;
/// assert_eq!(search_form("e\u{FB03}cient"), "efficient");
/// assert_eq!(search_form("リスク中立"), " リ  ス  ク  中  立 ");
/// ```
pub fn search_form(text: &str) -> String {
    // Most text is already in its search form (ASCII always is): a quick check is several
    // times cheaper than normalising.
    if text.is_ascii()
        || (!text.chars().any(|c| is_invisible(c) || is_cjk(c))
            && unicode_normalization::is_nfkc_quick(text.chars())
                == unicode_normalization::IsNormalized::Yes)
    {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars().filter(|c| !is_invisible(*c)).nfkc() {
        if is_cjk(c) {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

/// A word folded for comparison: its search form, lowercase, without combining marks (so
/// `Café` and `cafe` compare equal, as `remove_diacritics` and `unaccent` make them).
pub fn fold(word: &str) -> String {
    search_form(word)
        .nfd()
        .filter(|c| !is_combining_mark(*c) && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .nfc()
        .collect()
}

/// The words of `text` with their byte ranges: maximal runs of letters and digits, except that
/// every CJK character is a word of its own. This is how both indexes split text.
pub fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    for (index, c) in text.char_indices() {
        // Invisible characters continue a word, as the index (which removes them) sees it.
        let letter = c.is_alphanumeric() || is_combining_mark(c) || is_invisible(c);
        if is_cjk(c) {
            if let Some(begin) = start.take() {
                out.push((begin, index));
            }
            out.push((index, index + c.len_utf8()));
        } else if letter {
            start.get_or_insert(index);
        } else if let Some(begin) = start.take() {
            out.push((begin, index));
        }
    }
    if let Some(begin) = start {
        out.push((begin, text.len()));
    }
    out
}

/// The comparison key of one word: folded and stemmed.
fn key(stemmer: &rust_stemmers::Stemmer, word: &str) -> String {
    stemmer.stem(&fold(word)).into_owned()
}

/// Highlights `terms` in `text` for a search result: about `width` words around the densest
/// stretch of matches, each match wrapped in `<mark>…</mark>`, with `…` where words are left
/// out before or after. A term of several words (a phrase, such as the characters of a CJK
/// word) matches only where its words follow each other. Without a match, the start of the
/// text. The text between the marks is the original text, byte for byte.
pub fn snippet(text: &str, terms: &[String], width: usize) -> String {
    let stemmer = rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
    let spans = words(text);
    let keys: Vec<String> = spans
        .iter()
        .map(|(start, end)| key(&stemmer, &text[*start..*end]))
        .collect();
    let phrases: Vec<Vec<String>> = terms
        .iter()
        .map(|term| {
            let form = search_form(term);
            words(&form)
                .into_iter()
                .map(|(start, end)| key(&stemmer, &form[start..end]))
                .filter(|key| !key.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|phrase| !phrase.is_empty())
        .collect();
    let mut marked = vec![false; spans.len()];
    for phrase in &phrases {
        if phrase.len() > keys.len() {
            continue;
        }
        for start in 0..=keys.len() - phrase.len() {
            if keys[start..start + phrase.len()] == phrase[..] {
                marked[start..start + phrase.len()].fill(true);
            }
        }
    }
    if spans.is_empty() {
        return text.chars().take(width.max(1) * 8).collect();
    }
    let width = width.clamp(1, spans.len());
    // The window of `width` words holding the most marked words (the first such window).
    let mut best = (0usize, 0usize);
    let mut count = marked[..width].iter().filter(|m| **m).count();
    best.1 = count;
    for start in 1..=spans.len() - width {
        count += usize::from(marked[start + width - 1]);
        count -= usize::from(marked[start - 1]);
        if count > best.1 {
            best = (start, count);
        }
    }
    // Centre the window on its matches, so the words around them show on both sides.
    let mut first = best.0;
    let inside: Vec<usize> = (first..first + width).filter(|i| marked[*i]).collect();
    if let (Some(low), Some(high)) = (inside.first(), inside.last()) {
        let centred = ((low + high) / 2)
            .saturating_sub(width / 2)
            .min(spans.len() - width);
        if centred <= *low && centred + width > *high {
            first = centred;
        }
    }
    let last = first + width - 1;
    let mut out = String::new();
    if first > 0 {
        out.push('…');
    }
    let mut cursor = spans[first].0;
    for index in first..=last {
        let (start, end) = spans[index];
        out.push_str(&text[cursor..start]);
        if marked[index] {
            out.push_str("<mark>");
            out.push_str(&text[start..end]);
            out.push_str("</mark>");
        } else {
            out.push_str(&text[start..end]);
        }
        cursor = end;
    }
    if last + 1 < spans.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ligatures_and_compatibility_forms_become_letters() {
        for (raw, form) in [
            ("e\u{FB03}cient", "efficient"),
            ("speci\u{FB01}c", "specific"),
            ("\u{FB00}ort \u{FB02}ow \u{FB04}e", "ffort flow ffle"),
            ("ＡＢＣ１２３", "ABC123"),
            ("co\u{00AD}operate", "cooperate"),
            ("\u{200F}שלום\u{200E}", "שלום"),
        ] {
            assert_eq!(search_form(raw), form, "{raw:?}");
        }
    }

    #[test]
    fn cjk_characters_are_words_of_their_own() {
        let form = search_form("マーケットモデルとA4サイズ");
        let found: Vec<&str> = words(&form).iter().map(|(s, e)| &form[*s..*e]).collect();
        assert_eq!(
            found,
            [
                "マ", "ー", "ケ", "ッ", "ト", "モ", "デ", "ル", "と", "A4", "サ", "イ", "ズ"
            ]
        );
        assert_eq!(
            search_form(&form).split_whitespace().count(),
            13,
            "idempotent"
        );
        // Half-width katakana become full-width first.
        assert_eq!(
            search_form("ｶﾀｶﾅ").split_whitespace().collect::<String>(),
            "カタカナ"
        );
    }

    #[test]
    fn folding_ignores_case_accents_and_ligatures() {
        assert_eq!(fold("Café"), "cafe");
        assert_eq!(fold("E\u{FB03}CIENT"), "efficient");
        assert_eq!(fold("Масштаб"), "масштаб");
    }

    #[test]
    fn snippets_mark_matches_in_the_original_text() {
        let text = "The e\u{FB03}cient tracer records hot loops. Later, efficiency matters.";
        let shown = snippet(text, &["efficient".into()], 24);
        assert!(shown.contains("<mark>e\u{FB03}cient</mark>"), "{shown}");
        assert!(shown.contains("<mark>efficiency</mark>"), "{shown}");
        let cjk = "金利のモデルとしてマーケットモデルを用いる";
        let shown = snippet(cjk, &[search_form("マーケットモデル")], 24);
        assert!(shown.contains("<mark>マ</mark><mark>ー</mark>"), "{shown}");
        let plain = shown.replace("<mark>", "").replace("</mark>", "");
        assert!(cjk.contains(plain.trim_matches('…')), "{shown}");
    }

    #[test]
    fn snippets_window_on_the_matches_with_ellipses() {
        let text = format!("{} logo rules {}", "filler ".repeat(40), "tail ".repeat(40));
        let shown = snippet(&text, &["logo".into()], 10);
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert!(shown.contains("<mark>logo</mark>"), "{shown}");
        assert_eq!(snippet("short text", &["absent".into()], 24), "short text");
        assert_eq!(snippet("", &["x".into()], 24), "");
    }
}
