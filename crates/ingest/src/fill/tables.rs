//! Tables in chunk text. Rows on lines of their own (cells joined by ` | `) are read line by
//! line, skipping a header repeated on a new page; text that lost its line breaks has its rows
//! joined by spaces, and the table is recovered from the number of separators and the shape of
//! the header row. Where the chunks recorded their layout, rows are the table-row blocks.

use crate::BlockKind;

use super::lexicon::MINOR;
use super::passages::{is_row, typed_lines};
use super::words::{char_len, starts_upper, starts_upper_or_digit};

/// A table recovered from chunk text, where cells are joined by " | " and rows by " ".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Table {
    pub(super) prefix: String,
    pub(super) header: Vec<String>,
    pub(super) rows: Vec<Vec<String>>,
    pub(super) suffix: String,
}

/// Whether `words` reads as one cell in sentence case or Title Case.
fn cell_shaped(words: &[&str]) -> bool {
    let rest = &words[1..];
    let sentence = rest.iter().all(|w| !starts_upper(w));
    let title = rest.iter().all(|w| {
        starts_upper_or_digit(w)
            || MINOR.contains(&w.to_lowercase().as_str())
            || !w.chars().next().is_some_and(char::is_alphabetic)
    });
    sentence || title
}

/// Splits "last cell of a row" + " " + "first cell of the next" into the two. A split point
/// is a capitalised word or a number that starts a cell in sentence case or Title Case; among
/// several, the one that gives both cells a length closest to the other cells of their rows
/// (`before` and `after`, mean word counts) wins, else the earliest. `None` when no split point
/// exists (the previous row's last cell was then empty).
fn split_merged(
    segment: &str,
    before: Option<f32>,
    after: Option<f32>,
) -> Option<(String, String)> {
    let words: Vec<&str> = segment.split_whitespace().collect();
    // A short token after a number is its unit or suffix ("2965 C", "30 mm"), not a new cell.
    let candidates: Vec<usize> = (1..words.len())
        .filter(|i| starts_upper_or_digit(words[*i]))
        .filter(|i| {
            !(char_len(words[*i]) <= 2
                && words[*i - 1]
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_digit()))
        })
        .collect();
    let valid: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|i| cell_shaped(&words[*i..]))
        .collect();
    let cost = |i: usize| {
        let end = before.map_or(0.0, |mean| (i as f32 - mean).abs());
        let start = after.map_or(0.0, |mean| ((words.len() - i) as f32 - mean).abs());
        end + start
    };
    let chosen = if before.is_some() || after.is_some() {
        valid
            .iter()
            .copied()
            .min_by(|a, b| cost(*a).total_cmp(&cost(*b)).then(a.cmp(b)))
    } else {
        valid.first().copied()
    }
    .or_else(|| candidates.last().copied())?;
    Some((words[..chosen].join(" "), words[chosen..].join(" ")))
}

/// Mean word count of the given cells, if any.
fn mean_words(cells: &[&str]) -> Option<f32> {
    if cells.is_empty() {
        return None;
    }
    let total: usize = cells.iter().map(|c| c.split_whitespace().count()).sum();
    Some(total as f32 / cells.len() as f32)
}

/// Splits the last cell of a table from prose that follows it.
fn split_trailing(segment: &str) -> (String, String) {
    let words: Vec<&str> = segment.split_whitespace().collect();
    for i in 1..words.len() {
        let first = words[i].chars().next().unwrap_or('a');
        let candidate = first.is_uppercase()
            || first.is_ascii_digit()
            || !(first.is_alphanumeric() || matches!(first, '(' | '"' | '\'' | '“' | ','));
        if !candidate {
            continue;
        }
        let tail = &words[i..];
        let last = tail.last().map_or("", |w| *w);
        if tail.len() >= 4 && last.ends_with(['.', '!', '?']) {
            return (words[..i].join(" "), tail.join(" "));
        }
    }
    (segment.trim().to_owned(), String::new())
}

/// Splits the first table segment into prose before the table and the header's first cell.
/// The flag says whether that first cell is empty (a column with no header, e.g. swatches).
fn split_leading(segment: &str) -> (String, String, bool) {
    let segment = segment.trim();
    if segment.is_empty() {
        return (String::new(), String::new(), true);
    }
    if segment.ends_with(['.', '!', '?', ':']) {
        return (segment.to_owned(), String::new(), true);
    }
    let boundary = [". ", "! ", "? ", ": "]
        .iter()
        .filter_map(|end| segment.rfind(end).map(|index| index + 1))
        .max();
    if let Some(index) = boundary {
        let cell = segment[index..].trim();
        if cell.split_whitespace().count() <= 6 {
            return (segment[..index].trim().to_owned(), cell.to_owned(), false);
        }
    }
    let words: Vec<&str> = segment.split_whitespace().collect();
    if words.len() <= 6 {
        return (String::new(), segment.to_owned(), false);
    }
    let start = (words.len() - 4..words.len())
        .find(|i| starts_upper_or_digit(words[*i]))
        .unwrap_or(words.len() - 1);
    (words[..start].join(" "), words[start..].join(" "), false)
}

fn header_like(cell: &str) -> bool {
    let cell = cell.trim();
    !cell.is_empty()
        && cell.split_whitespace().count() <= 6
        && char_len(cell) <= 60
        && !cell.ends_with(['.', '!', '?', ';'])
        && !cell.contains('#')
        && cell.chars().any(char::is_alphabetic)
}

/// Recovers a pipe table from chunk text. Rows are joined by a space, so the last cell of a
/// row and the first of the next share a segment: the column count is the smallest one that
/// fits the number of separators, splits every shared segment plausibly and gives a header row
/// of short labels. A table whose first column is empty (colour swatches) has no shared
/// segments; there the largest column count with a plausible header wins.
pub(super) fn parse_table(text: &str) -> Option<Table> {
    let segments: Vec<&str> = text.split('|').map(str::trim).collect();
    let pipes = segments.len().checked_sub(1)?;
    if pipes < 2 {
        return None;
    }
    let counts: Vec<usize> = (2..=12usize)
        .filter(|columns| pipes % (columns - 1) == 0 && pipes / (columns - 1) >= 2)
        .collect();
    let (_, _, first_empty) = split_leading(segments[0]);
    let merged = counts
        .iter()
        .find_map(|columns| build_table(&segments, *columns, false, first_empty));
    if merged.is_some() || !first_empty {
        return merged;
    }
    counts
        .iter()
        .rev()
        .find_map(|columns| build_table(&segments, *columns, true, first_empty))
}

/// Builds a table of `columns` columns. `empty_first`: the first column is empty in every row,
/// so no segment is shared. `strict`: every shared segment must split.
fn build_table(
    segments: &[&str],
    columns: usize,
    empty_first: bool,
    strict: bool,
) -> Option<Table> {
    let step = columns - 1;
    let (prefix, first, first_empty) = split_leading(segments[0]);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut current = vec![first];
    let last = segments.len() - 1;
    let mut suffix = String::new();
    for (index, segment) in segments.iter().enumerate().skip(1) {
        if index == last {
            let (cell, rest) = split_trailing(segment);
            current.push(cell);
            rows.push(std::mem::take(&mut current));
            suffix = rest;
        } else if index % step == 0 {
            let (end, start) = if empty_first {
                ((*segment).to_owned(), String::new())
            } else {
                let before = mean_words(&segments[index + 1 - step..index]);
                let after = mean_words(&segments[index + 1..(index + step).min(last)]);
                match split_merged(segment, before, after) {
                    Some(split) => split,
                    None if strict => return None,
                    None => (String::new(), (*segment).to_owned()),
                }
            };
            current.push(end);
            rows.push(std::mem::replace(&mut current, vec![start]));
        } else {
            current.push((*segment).to_owned());
        }
    }
    let header = rows.first()?.clone();
    let plausible = header
        .iter()
        .enumerate()
        .all(|(i, cell)| (i == 0 && first_empty && cell.is_empty()) || header_like(cell));
    if !plausible || rows.len() < 2 || rows.iter().any(|row| row.len() != columns) {
        return None;
    }
    Some(Table {
        prefix,
        header,
        rows: rows[1..].to_vec(),
        suffix,
    })
}

/// Whether a line is (probably) one table row: cells joined by " | ".
pub(super) fn is_row_line(line: &str) -> bool {
    line.contains(" | ") || (line.starts_with("| ") && line.len() > 2)
}

fn row_cells(line: &str) -> Vec<String> {
    line.split('|').map(|cell| cell.trim().to_owned()).collect()
}

/// Tables whose rows are lines of their own (two or more consecutive rows: table-row blocks,
/// or lines that look like rows where the layout is unknown); the first row is the header
/// when all its cells are short labels. Returns (first line, end line, table) for each, so
/// callers can walk the prose around them.
pub(super) fn line_tables(lines: &[(&str, Option<BlockKind>)]) -> Vec<(usize, usize, Table)> {
    let mut out = Vec::new();
    let mut index = 0;
    let row_at = |index: usize| {
        lines
            .get(index)
            .is_some_and(|(line, kind)| is_row(line, *kind))
    };
    while index < lines.len() {
        if !row_at(index) {
            index += 1;
            continue;
        }
        let start = index;
        while row_at(index) {
            index += 1;
        }
        if index - start < 2 {
            continue;
        }
        let first = row_cells(lines[start].0);
        let header_row = first
            .iter()
            .enumerate()
            .all(|(i, cell)| (i == 0 && cell.is_empty()) || header_like(cell))
            && first.iter().any(|cell| !cell.is_empty());
        let (header, body_start) = if header_row {
            (first, start + 1)
        } else {
            (Vec::new(), start)
        };
        let rows: Vec<Vec<String>> = lines[body_start..index]
            .iter()
            .map(|(line, _)| {
                let mut cells = row_cells(line);
                // Empty trailing cells may have been trimmed away.
                while cells.len() < header.len() {
                    cells.push(String::new());
                }
                cells
            })
            // A header repeated on a new page is not a row.
            .filter(|cells| header.is_empty() || *cells != header)
            .collect();
        out.push((
            start,
            index,
            Table {
                prefix: String::new(),
                header,
                rows,
                suffix: String::new(),
            },
        ));
    }
    out
}

/// The tables in a passage (`kinds`: its lines' block kinds, where known): rows on lines of
/// their own, or, for text that lost its line breaks, one table recovered from the joined rows.
pub(super) fn tables_of(text: &str, kinds: Option<&[BlockKind]>) -> Vec<Table> {
    let lines = typed_lines(text, kinds);
    if lines.len() > 1 || kinds.is_some() {
        return line_tables(&lines).into_iter().map(|(_, _, t)| t).collect();
    }
    parse_table(text).into_iter().collect()
}

pub(super) fn is_empty_cell(cell: &str) -> bool {
    matches!(cell.trim(), "" | "-" | "—" | "–" | "n/a" | "N/A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipe_tables_are_recovered_from_joined_rows() {
        let table = parse_table(
            "Our shades are below. Shade | HEX | CMYK | Pantone Ocean Night | #102030 | 90, 60, 0, 70 | 2965 C Coral Pink | #FF7F7F | 0, 50, 40, 0 | 1775 C",
        )
        .unwrap();
        assert_eq!(table.prefix, "Our shades are below.");
        assert_eq!(table.header, ["Shade", "HEX", "CMYK", "Pantone"]);
        assert_eq!(
            table.rows,
            [
                ["Ocean Night", "#102030", "90, 60, 0, 70", "2965 C"],
                ["Coral Pink", "#FF7F7F", "0, 50, 40, 0", "1775 C"]
            ]
        );
        assert!(parse_table("Title tags like \"Name | Brand\" work.").is_none());
    }
}
