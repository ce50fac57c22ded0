//! The value built for each field type from the passages given to it: `text` condenses them
//! (with sub-topic headings as labels), `array` has one entry per item, `richArray` one entry
//! per scenario or rule with the situation as tags and any constraint as restrictions.

use std::collections::HashSet;

use brandstream_domain::brand::{ENTRIES_MAX, NAME_MAX};
use serde_json::{json, Value};

use super::items::{items_of, Item};
use super::passages::Passage;
use super::scoring::content_like;
use super::sentences::sentences;
use super::tables::is_empty_cell;
use super::words::{cap_text, char_len, content_tokens, key, token_match};
use crate::BlockKind;

/// Longest `text` value produced, in characters.
const TEXT_CAP: usize = 4_000;
/// Longest array entry name produced, in characters.
const ENTRY_CAP: usize = 2_000;
/// Most tags on a rich entry.
const TAGS_CAP: usize = 50;

fn is_polarity(cell: &str) -> bool {
    let k = key(cell);
    matches!(
        k.as_str(),
        "do" | "dos"
            | "dont"
            | "donts"
            | "do not"
            | "avoid"
            | "never"
            | "always"
            | "yes"
            | "no"
            | "right"
            | "wrong"
            | "correct"
            | "incorrect"
            | "instead of"
            | "say"
            | "dont say"
            | "we say"
            | "we dont say"
            | "use"
            | "dont use"
            | "prefer"
    )
}

/// Array entry names for one item.
fn entry_names(item: &Item) -> Vec<String> {
    match item {
        Item::Line(line) => vec![line.clone()],
        Item::Row { header, cells } => {
            let labelled = !header.is_empty()
                && header.len() == cells.len()
                && header
                    .iter()
                    .filter(|h| !h.is_empty())
                    .all(|h| is_polarity(h));
            if labelled {
                header
                    .iter()
                    .zip(cells)
                    .filter(|(_, cell)| !is_empty_cell(cell))
                    .map(|(h, cell)| {
                        if h.is_empty() {
                            cell.clone()
                        } else {
                            format!("{h}: {cell}")
                        }
                    })
                    .collect()
            } else {
                let joined = cells
                    .iter()
                    .filter(|cell| !is_empty_cell(cell))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" | ");
                vec![joined]
            }
        }
    }
}

const CONSTRAINT_STARTS: &[&str] = &[
    "never",
    "avoid",
    "dont",
    "do not",
    "must not",
    "no",
    "not",
    "without",
    "only",
    "cannot",
    "may not",
    "should not",
    "shouldnt",
];

/// Sentences or clauses that state a constraint.
fn constraints(text: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for sentence in sentences(text) {
        let k = key(&sentence);
        if CONSTRAINT_STARTS
            .iter()
            .any(|start| k == *start || k.starts_with(&format!("{start} ")))
        {
            out.push(sentence);
            continue;
        }
        for clause in sentence.split([',', ';']) {
            let clause = clause.trim();
            let k = key(clause);
            let hit = ["never", "avoid", "dont", "do not", "must not"]
                .iter()
                .any(|start| k.starts_with(&format!("{start} ")));
            if hit {
                out.push(clause.trim_end_matches(['.', '!']).to_owned());
            }
        }
    }
    out.join(" ")
}

/// "Label: rest" with a short label.
fn label_split(line: &str) -> Option<(String, String)> {
    let (label, rest) = line.split_once(": ")?;
    let label = label.trim();
    let words = label.split_whitespace().count();
    if (1..=6).contains(&words)
        && !label.contains(['.', '"', '“'])
        && !rest.trim().is_empty()
        && char_len(label) <= NAME_MAX
    {
        Some((label.to_owned(), rest.trim().to_owned()))
    } else {
        None
    }
}

fn cap_tag(tag: &str) -> String {
    cap_text(tag.trim(), NAME_MAX)
}

/// The passage's text with content-like sub-headings put back in front, and its lines' block
/// kinds where known.
fn body(passage: &Passage, sub: &[String]) -> (String, Option<Vec<BlockKind>>) {
    let mut out = String::new();
    let mut kinds = Vec::new();
    // `sub` ends the passage's heading path: levels count from the path's start.
    let first_level = passage.headings.len().saturating_sub(sub.len()) + 1;
    for (index, heading) in sub.iter().enumerate() {
        if content_like(heading) {
            out.push_str(heading);
            out.push('\n');
            let level = u8::try_from(first_level + index).unwrap_or(u8::MAX).min(9);
            kinds.push(BlockKind::Heading(level));
        }
    }
    out.push_str(&passage.text);
    let kinds = passage.kinds.as_ref().map(|own| {
        kinds.extend(own);
        kinds
    });
    (out.trim().to_owned(), kinds)
}

fn label_of(sub: &[String]) -> Option<String> {
    sub.iter().rev().find(|h| !content_like(h)).cloned()
}

pub(super) fn text_value(parts: &[(&Passage, &[String])]) -> Option<Value> {
    let mut out = String::new();
    for (passage, sub) in parts {
        let mut piece = String::new();
        if let Some(label) = label_of(sub) {
            piece.push_str(&label);
            piece.push('\n');
        }
        // Bullet glyphs a PDF left in are noise in prose; numbering ("1.") is kept.
        for line in body(passage, sub).0.lines() {
            let line = line.trim();
            let line = ["• ", "▪ ", "· ", "◦ "]
                .iter()
                .find_map(|bullet| line.strip_prefix(bullet))
                .unwrap_or(line);
            piece.push_str(line);
            piece.push('\n');
        }
        let piece = piece.trim();
        if piece.is_empty() || out.contains(piece) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(piece);
        if char_len(&out) >= TEXT_CAP {
            break;
        }
    }
    let out = cap_text(&out, TEXT_CAP);
    (!out.trim().is_empty()).then_some(Value::String(out))
}

fn push_entry(entries: &mut Vec<Value>, seen: &mut HashSet<String>, entry: Value, name: &str) {
    let k = key(name);
    if k.is_empty() || entries.len() >= ENTRIES_MAX || !seen.insert(k) {
        return;
    }
    entries.push(entry);
}

pub(super) fn array_value(
    parts: &[(&Passage, &[String])],
    target_tokens: &[String],
) -> Option<Value> {
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    for (passage, sub) in parts {
        let (text, kinds) = body(passage, sub);
        let items = items_of(&text, kinds.as_deref());
        let label = label_of(sub).filter(|label| {
            // A label that only repeats the field's topic ("Do / Don't") adds nothing.
            let tokens = content_tokens(label);
            !tokens
                .iter()
                .all(|t| target_tokens.iter().any(|x| token_match(t, x) > 0.0))
        });
        let single = items.len() == 1;
        for item in &items {
            for name in entry_names(item) {
                let name = match (&label, single) {
                    (Some(label), true) => format!("{label}: {name}"),
                    _ => name,
                };
                let name = cap_text(&name, ENTRY_CAP);
                push_entry(&mut entries, &mut seen, json!({ "name": name }), &name);
            }
        }
    }
    (!entries.is_empty()).then_some(Value::Array(entries))
}

fn restriction_column(header: &str) -> bool {
    let k = key(header);
    [
        "avoid",
        "dont",
        "do not",
        "never",
        "restriction",
        "constraint",
        "not",
        "we are not",
        "instead of",
        "dont say",
    ]
    .iter()
    .any(|w| k == *w || k.starts_with(&format!("{w} ")) || k.ends_with(&format!(" {w}")))
}

pub(super) fn rich_value(parts: &[(&Passage, &[String])]) -> Option<Value> {
    let mut entries = Vec::new();
    let mut seen = HashSet::new();
    let any_labelled = parts.iter().any(|(_, sub)| label_of(sub).is_some());
    for (passage, sub) in parts {
        let (mut text, kinds) = body(passage, sub);
        let mut label = label_of(sub);
        // Among situations named by their headings, one whose heading is a long sentence
        // ("A session is cancelled because we are short of lifeguards") is named by it too,
        // rather than read as lines of which none has a label of its own.
        if label.is_none() && any_labelled {
            if let Some(heading) = sub.last().filter(|h| !h.contains('|')) {
                label = Some(heading.clone());
                text = passage.text.trim().to_owned();
            }
        }
        if let Some(label) = label {
            let name = cap_text(&text, ENTRY_CAP);
            if name.is_empty() {
                continue;
            }
            let entry = json!({
                "name": name,
                "tags": [cap_tag(&label)],
                "restrictions": constraints(&name),
            });
            push_entry(&mut entries, &mut seen, entry, &name);
            continue;
        }
        let items = items_of(&text, kinds.as_deref());
        // Where some items name their situation, the others are introductions.
        let some_labelled = items.iter().any(|item| match item {
            Item::Row { .. } => true,
            Item::Line(line) => label_split(line).is_some(),
        });
        for item in items {
            let (name, tags, restrictions) = match &item {
                Item::Row { header, cells } => {
                    let situation = cells.first().cloned().unwrap_or_default();
                    let mut name_parts = Vec::new();
                    let mut limits = Vec::new();
                    for (h, cell) in header.iter().zip(cells).skip(1) {
                        if is_empty_cell(cell) {
                            continue;
                        }
                        if restriction_column(h) {
                            limits.push(cell.clone());
                        } else {
                            name_parts.push(cell.clone());
                        }
                    }
                    let name = name_parts.join(" | ");
                    let mut restrictions = limits.join(" ");
                    if restrictions.is_empty() {
                        restrictions = constraints(&name);
                    }
                    let tags: Vec<String> = if situation.is_empty() {
                        Vec::new()
                    } else {
                        vec![cap_tag(&situation)]
                    };
                    (name, tags, restrictions)
                }
                Item::Line(line) => match label_split(line) {
                    Some((label, rest)) => {
                        let restrictions = constraints(&rest);
                        (rest, vec![cap_tag(&label)], restrictions)
                    }
                    None if any_labelled || some_labelled => continue,
                    None => (line.clone(), Vec::new(), constraints(line)),
                },
            };
            let name = cap_text(&name, ENTRY_CAP);
            if name.is_empty() {
                continue;
            }
            let tags: Vec<String> = tags.into_iter().take(TAGS_CAP).collect();
            let entry = json!({ "name": name, "tags": tags, "restrictions": restrictions });
            push_entry(&mut entries, &mut seen, entry, &name);
        }
    }
    (!entries.is_empty()).then_some(Value::Array(entries))
}

#[cfg(test)]
mod tests {
    use crate::fill::test_support::{chunk, names, value_of};
    use crate::fill::{fill_fields, FieldTarget};

    #[test]
    fn a_colour_table_under_our_colours_fills_the_palette() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk("c1", &["Acme Style Book", "Look and feel", "Our colours"], "Two shades carry the identity. Shade | HEX | Pantone Ocean Night | #102030 | 2965 C Coral Pink | #FF7F7F | 1775 C"),
            chunk("c2", &["Acme Style Book", "Look and feel", "Type"], "Set headlines in Acme Grotesk and body copy in Acme Text; keep a generous layout grid with wide margins."),
        ];
        let filled = fill_fields(&targets, &chunks);
        let palette = value_of(&filled, "Visual Guidelines/Colour palettes").unwrap();
        let all = names(palette).join(" ");
        assert!(all.contains("Ocean Night | #102030 | 2965 C"), "{all}");
        assert!(all.contains("Coral Pink | #FF7F7F"), "{all}");
        let visual = value_of(&filled, "Visual Guidelines/Visual guidance").unwrap();
        assert!(visual.as_str().unwrap().contains("Acme Grotesk"));
        let palette_ids = &filled
            .iter()
            .find(|f| f.field_id == "Visual Guidelines/Colour palettes")
            .unwrap()
            .chunk_ids;
        assert_eq!(palette_ids, &["c1"]);

        // The same with one block per line, as the chunker writes it.
        let lines = vec![chunk(
            "l1",
            &["Our colours"],
            "Two shades carry the identity.\nShade | HEX | Pantone\nOcean Night | #102030 | 2965 C\nCoral Pink | #FF7F7F | 1775 C",
        )];
        let filled = fill_fields(&targets, &lines);
        let palette = value_of(&filled, "Visual Guidelines/Colour palettes").unwrap();
        assert_eq!(
            names(palette),
            [
                "Two shades carry the identity.",
                "Ocean Night | #102030 | 2965 C",
                "Coral Pink | #FF7F7F | 1775 C"
            ]
        );
    }

    #[test]
    fn do_and_dont_rules_under_writing_rules_fill_dos_and_donts() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![chunk(
            "w1",
            &["Writing rules"],
            "Do keep sentences short. Do address the reader as you. Don't use jargon without a gloss. Avoid exclamation marks in headlines. Never promise delivery dates we cannot keep.",
        )];
        let filled = fill_fields(&targets, &chunks);
        let dos = value_of(&filled, "Dos and Dont's/Dos and dont's").unwrap();
        let got = names(dos);
        assert_eq!(got.len(), 5, "{got:?}");
        assert!(got.contains(&"Don't use jargon without a gloss.".to_owned()));
        // The chunk went to one field only.
        assert_eq!(filled.len(), 1, "{filled:?}");
    }

    #[test]
    fn situations_become_tags_and_constraints_restrictions() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk("t1", &["Voice", "Voice in practice"], "How we adapt."),
            chunk(
                "t2",
                &["Voice", "Voice in practice", "If a delivery is late"],
                "Say sorry first and give a new date. Never blame the courier.",
            ),
            chunk(
                "t3",
                &["Voice", "Voice in practice", "If someone praises us"],
                "Thank them by name and share the credit with the team.",
            ),
            chunk(
                "t4",
                &[
                    "Voice",
                    "Voice in practice",
                    "If a session is cancelled because we are short of lifeguards",
                ],
                "Own it and say when it runs again.",
            ),
        ];
        let filled = fill_fields(&targets, &chunks);
        let scenarios = value_of(&filled, "Tone of Voice/Tone scenarios").unwrap();
        let entries = scenarios.as_array().unwrap();
        assert_eq!(entries.len(), 3, "{scenarios}");
        // A situation whose heading is a long sentence is named by it too.
        assert_eq!(
            entries[2]["tags"][0],
            "If a session is cancelled because we are short of lifeguards"
        );
        assert_eq!(entries[2]["name"], "Own it and say when it runs again.");
        assert_eq!(entries[0]["tags"][0], "If a delivery is late");
        assert_eq!(entries[0]["restrictions"], "Never blame the courier.");
        assert_eq!(entries[1]["restrictions"], "");
    }
}
