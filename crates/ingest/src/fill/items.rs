//! A passage's text as items: one per sentence or list item, table row (with its header) or
//! colour of an unseparated colour table. Array values are built from items.

use super::passages::typed_lines;
use super::sentences::{sentences, strip_marker};
use super::tables::{line_tables, parse_table, Table};
use super::words::{char_len, is_hex_code, starts_upper};
use crate::BlockKind;

/// Fewest words of an introduction to a list (a line ending in a colon) kept as an entry.
const LEAD_IN_WORDS: usize = 9;

/// Headers that name a colour-table column rather than a colour.
const COLOUR_HEADER_WORDS: &[&str] = &[
    "use", "usage", "role", "name", "colour", "color", "hex", "rgb", "cmyk", "pantone", "code",
    "notes", "note", "swatch",
];

/// One unit of content found in a passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    /// A sentence or list item.
    Line(String),
    /// A table row with its header.
    Row {
        header: Vec<String>,
        cells: Vec<String>,
    },
}

/// Items of prose. `whole_line`: the text is one block (a list item or a paragraph), kept as
/// one item unless it is long; otherwise it is cut into sentences.
fn prose_items(text: &str, whole_line: bool) -> Vec<Item> {
    let hexes = text.split_whitespace().filter(|w| is_hex_code(w)).count();
    if hexes >= 2 {
        return colour_rows(text);
    }
    let pieces = if whole_line && char_len(text) <= 400 {
        vec![strip_marker(text).to_owned()]
    } else {
        sentences(text)
    };
    pieces
        .into_iter()
        // "Use them as follows:" introduces items; it is not one. A longer introduction
        // ("The brand rests on four pillars, one for each season:") says something of its own.
        .filter_map(|piece| match piece.strip_suffix(':') {
            None => Some(piece),
            Some(lead) if lead.split_whitespace().count() >= LEAD_IN_WORDS => {
                Some(lead.trim_end().to_owned())
            }
            Some(_) => None,
        })
        .map(Item::Line)
        .collect()
}

fn table_items(table: Table) -> Vec<Item> {
    let mut out: Vec<Item> = sentences(&table.prefix)
        .into_iter()
        .map(Item::Line)
        .collect();
    out.extend(table.rows.into_iter().map(|cells| Item::Row {
        header: table.header.clone(),
        cells,
    }));
    out.extend(sentences(&table.suffix).into_iter().map(Item::Line));
    out
}

/// The items of a passage's text; `kinds`: its lines' block kinds, where the chunks recorded
/// them (then rows are table-row blocks and a lone line is never re-read as a table).
pub(super) fn items_of(text: &str, kinds: Option<&[BlockKind]>) -> Vec<Item> {
    let lines = typed_lines(text, kinds);
    if lines.len() <= 1 {
        // Text without line breaks (older chunks): recover what can be recovered.
        if kinds.is_none() {
            if let Some(table) = parse_table(text) {
                return table_items(table);
            }
        }
        let whole = lines
            .first()
            .is_some_and(|(_, kind)| *kind == Some(BlockKind::ListItem));
        return prose_items(text, whole);
    }
    let mut out = Vec::new();
    let mut position = 0;
    for (start, end, table) in line_tables(&lines) {
        for (line, _) in &lines[position..start] {
            out.extend(prose_items(line, true));
        }
        out.extend(table_items(table));
        position = end;
    }
    for (line, _) in &lines[position..] {
        out.extend(prose_items(line, true));
    }
    out
}

/// Cuts unseparated colour-table text ("Roast Green #1B4D3E 27, 77, 62 Primary … Crema
/// #F3E6D0 …") into one line per colour: each starts at the capitalised name before a code.
fn colour_rows(text: &str) -> Vec<Item> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut starts = Vec::new();
    for (index, word) in words.iter().enumerate() {
        if !is_hex_code(word) {
            continue;
        }
        let mut start = index;
        while start > 0 && index - start < 4 {
            let previous = words[start - 1];
            let bare = previous.trim_matches(|c: char| !c.is_alphanumeric());
            let header_word = COLOUR_HEADER_WORDS.contains(&bare.to_lowercase().as_str());
            let all_caps = bare.len() >= 2 && bare.chars().all(|c| c.is_uppercase());
            if !starts_upper(previous)
                || header_word
                || all_caps
                || previous.ends_with(['.', ':', ','])
            {
                break;
            }
            start -= 1;
        }
        if starts.last().is_none_or(|last| *last < start) {
            starts.push(start);
        }
    }
    let mut out: Vec<Item> = match starts.first() {
        Some(first) => sentences(&words[..*first].join(" "))
            .into_iter()
            .map(Item::Line)
            .collect(),
        None => Vec::new(),
    };
    for (n, start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(words.len());
        let segment = words[*start..end].join(" ");
        if n + 1 == starts.len() {
            // The last colour may be followed by prose.
            let sentences = sentences(&segment);
            let mut iter = sentences.into_iter();
            if let Some(first) = iter.next() {
                out.push(Item::Line(first));
            }
            out.extend(iter.map(Item::Line));
        } else {
            out.push(Item::Line(segment));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::fill::test_support::{chunk, names, value_of};
    use crate::fill::{fill_fields, glossary_terms, FieldTarget};

    #[test]
    fn blocks_on_lines_keep_items_rows_and_repeated_headers_apart() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk("p1", &["Guide", "Voice rules"], "Follow these everywhere:\nDo | Avoid\nWrite like you talk | Corporate filler words\nLead with the benefit | Passive voice"),
            // The chunker repeats the end of the previous chunk; a new page repeats the header.
            chunk("p2", &["Guide", "Voice rules"], "Lead with the benefit | Passive voice\nDo | Avoid\nUse numbers | Vague claims such as \"best ever\""),
            chunk("g1", &["Guide", "Words in other markets"], "EN | FR | DE | IT\nGift card | carte cadeau | Gutschein | —\nAcme Plus | do not translate | - |"),
        ];
        let filled = fill_fields(&targets, &chunks);
        let dos = value_of(&filled, "Dos and Dont's/Dos and dont's").unwrap();
        assert_eq!(
            names(dos),
            [
                "Do: Write like you talk",
                "Avoid: Corporate filler words",
                "Do: Lead with the benefit",
                "Avoid: Passive voice",
                "Do: Use numbers",
                "Avoid: Vague claims such as \"best ever\""
            ]
        );
        let terms = glossary_terms(&chunks);
        assert_eq!(terms.len(), 2, "{terms:?}");
        assert_eq!(
            terms[0].translations,
            [
                ("carte cadeau".to_owned(), "fr-FR".to_owned()),
                ("Gutschein".to_owned(), "de-DE".to_owned())
            ]
        );
        assert!(terms[1].translations.is_empty());
    }
}
