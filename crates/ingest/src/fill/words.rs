//! Words as the filler compares them: lower-cased, stemmed and stripped of stop words, with a
//! fuzzy similarity (prefixes, common stems, synonym groups) between headings and subsection
//! names; plus the small character-level helpers (lengths, capping, HEX codes, capitals) the
//! other modules share.

use std::collections::HashSet;

use super::lexicon::{GENERIC, GROUPS, STOP};

/// Lower-cases, drops apostrophes, and splits on anything that is not a letter or digit.
pub(super) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if matches!(c, '\'' | '’' | '‘' | '`') {
            continue;
        }
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Exact comparison key: words joined by single spaces.
pub(super) fn key(text: &str) -> String {
    words(text).join(" ")
}

/// A crude English stem: plurals off, US colour spelling folded.
fn stem(word: &str) -> String {
    let mut w = word.to_owned();
    let len = w.chars().count();
    if len > 4 && w.ends_with("ies") {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if len >= 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        w.pop();
    }
    match w.as_str() {
        "color" => "colour".into(),
        "colouring" | "coloring" => "colour".into(),
        "capitalization" => "capitalisation".into(),
        _ => w,
    }
}

/// Stemmed words minus stop words.
pub(super) fn tokens(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .filter(|w| !STOP.contains(&w.as_str()))
        .map(|w| stem(&w))
        .filter(|w| !STOP.contains(&w.as_str()))
        .collect()
}

/// Stemmed words minus stop words and generic words.
pub(super) fn content_tokens(text: &str) -> Vec<String> {
    tokens(text)
        .into_iter()
        .filter(|w| !GENERIC.contains(&w.as_str()))
        .collect()
}

pub(super) fn group_of(token: &str) -> Option<&'static str> {
    GROUPS
        .iter()
        .find(|(_, members)| members.iter().any(|m| token_match_plain(m, token) >= 0.85))
        .map(|(name, _)| *name)
}

/// Word similarity without synonyms: equal, one a prefix of the other, or a long common stem.
pub(super) fn token_match_plain(a: &str, b: &str) -> f32 {
    if a == b {
        return 1.0;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.chars().count() >= 4 && long.starts_with(short) {
        return 0.9;
    }
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    if common >= 6 {
        return 0.85;
    }
    0.0
}

pub(super) fn token_match(a: &str, b: &str) -> f32 {
    let plain = token_match_plain(a, b);
    if plain > 0.0 {
        return plain;
    }
    match (group_of(a), group_of(b)) {
        (Some(x), Some(y)) if x == y => 0.7,
        _ => 0.0,
    }
}

/// How well a heading's tokens cover a target's tokens (0..1).
pub(super) fn similarity(heading: &[String], target: &[String]) -> f32 {
    if heading.is_empty() || target.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    for t in target {
        total += heading
            .iter()
            .map(|h| token_match(h, t))
            .fold(0.0f32, f32::max);
    }
    let used = heading
        .iter()
        .filter(|h| target.iter().any(|t| token_match(h, t) > 0.0))
        .count();
    let coverage = used as f32 / heading.len() as f32;
    (total / target.len() as f32) * (0.6 + 0.4 * coverage)
}

pub(super) fn same_set(a: &[String], b: &[String]) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let a: HashSet<&String> = a.iter().collect();
    let b: HashSet<&String> = b.iter().collect();
    a == b
}

pub(super) fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// At most `limit` characters, cut at a sentence end or else a space when possible.
pub(super) fn cap_text(text: &str, limit: usize) -> String {
    if char_len(text) <= limit {
        return text.to_owned();
    }
    let cut = text
        .char_indices()
        .nth(limit)
        .map_or(text.len(), |(index, _)| index);
    let window = &text[..cut];
    let sentence = [". ", "! ", "? ", ".\n", "!\n", "?\n"]
        .iter()
        .filter_map(|end| window.rfind(end))
        .max()
        .filter(|index| *index > cut / 2)
        .map(|index| index + 1);
    let end = sentence
        .or_else(|| window.rfind(char::is_whitespace))
        .unwrap_or(cut);
    text[..end].trim_end().to_owned()
}

pub(super) fn is_hex_code(word: &str) -> bool {
    let trimmed = word.trim_end_matches(|c: char| !c.is_alphanumeric());
    let Some(digits) = trimmed.strip_prefix('#') else {
        return false;
    };
    matches!(digits.len(), 3 | 6) && digits.chars().all(|c| c.is_ascii_hexdigit())
}

pub(super) fn starts_upper_or_digit(word: &str) -> bool {
    word.chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

pub(super) fn starts_upper(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}
