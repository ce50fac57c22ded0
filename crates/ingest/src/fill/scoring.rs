//! How well a passage fits a subsection: what a heading names (a subsection or a section,
//! exactly or by content words), and a content score that weighs heading similarity, section
//! similarity, topic cues in the text and the words of the subsection's intent.

use std::collections::HashSet;

use brandstream_domain::brand::GLOSSARY_SECTION;

use super::lexicon::{CLAUSE_OPENERS, CUES};
use super::sentences::{sentences, strip_marker};
use super::words::{
    content_tokens, group_of, is_hex_code, key, same_set, similarity, token_match_plain, tokens,
};
use super::FieldTarget;

// The content score ([`Matcher::score`]) is a weighted sum; the thresholds that decide on it
// are in `assign`.

/// Weight of the best similarity between a heading on the path and the subsection's name.
const HEADING_WEIGHT: f32 = 2.5;
/// Weight of the best similarity between a heading on the path and the subsection's section.
const SECTION_WEIGHT: f32 = 0.7;
/// Weight of the topic vocabulary in the text ([`cue_score`], 0..1).
const CUE_WEIGHT: f32 = 1.5;
/// Weight of the share of the subsection's intent words found in the text.
const INTENT_WEIGHT: f32 = 0.8;
/// Factor by which each heading further out counts less than the one inside it (for the
/// similarity to the subsection's name).
const ANCESTOR_DECAY: f32 = 0.6;

/// A field target with its name, section and intent read once.
pub(super) struct Target<'a> {
    pub(super) target: &'a FieldTarget,
    key: String,
    pub(super) tokens: Vec<String>,
    pub(super) section_key: String,
    section_tokens: Vec<String>,
    intent_tokens: Vec<String>,
    pub(super) groups: Vec<&'static str>,
}

/// What a heading names.
#[derive(Debug, Default)]
pub(super) struct HeadingMatch {
    pub(super) targets: Vec<usize>,
    pub(super) sections: Vec<String>,
}

impl HeadingMatch {
    pub(super) fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.sections.is_empty()
    }
}

/// The field targets, ready to be matched against headings and scored against passages.
pub(super) struct Matcher<'a> {
    pub(super) targets: Vec<Target<'a>>,
}

impl<'a> Matcher<'a> {
    pub(super) fn new(targets: &'a [FieldTarget]) -> Self {
        let targets = targets
            .iter()
            .map(|target| {
                let tokens = content_tokens(&target.name);
                let mut groups: Vec<&'static str> =
                    tokens.iter().filter_map(|t| group_of(t)).collect();
                if groups.is_empty() {
                    if let Some(intent) = &target.intent {
                        groups = content_tokens(intent)
                            .iter()
                            .filter_map(|t| group_of(t))
                            .collect();
                    }
                }
                groups.sort_unstable();
                groups.dedup();
                Target {
                    target,
                    key: key(&target.name),
                    tokens,
                    section_key: key(&target.section),
                    section_tokens: content_tokens(&target.section),
                    intent_tokens: target
                        .intent
                        .as_deref()
                        .map(content_tokens)
                        .unwrap_or_default(),
                    groups,
                }
            })
            .collect();
        Self { targets }
    }

    pub(super) fn sections(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in &self.targets {
            if !out.iter().any(|(k, _)| *k == t.section_key) {
                out.push((t.section_key.clone(), t.target.section.clone()));
            }
        }
        let glossary = key(GLOSSARY_SECTION);
        if !out.iter().any(|(k, _)| *k == glossary) {
            out.push((glossary, GLOSSARY_SECTION.to_owned()));
        }
        out
    }

    /// The targets and sections a heading names, exactly or else by content words.
    pub(super) fn match_heading(&self, heading: &str) -> HeadingMatch {
        let k = key(heading);
        let sections = self.sections();
        let mut exact = HeadingMatch {
            targets: (0..self.targets.len())
                .filter(|i| self.targets[*i].key == k)
                .collect(),
            sections: sections
                .iter()
                .filter(|(sk, _)| *sk == k)
                .map(|(sk, _)| sk.clone())
                .collect(),
        };
        if !exact.is_empty() {
            return exact;
        }
        let tokens = content_tokens(heading);
        exact.targets = (0..self.targets.len())
            .filter(|i| same_set(&self.targets[*i].tokens, &tokens))
            .collect();
        exact.sections = sections
            .iter()
            .filter(|(sk, _)| same_set(&content_tokens(sk), &tokens))
            .map(|(sk, _)| sk.clone())
            .collect();
        exact
    }

    pub(super) fn targets_in_section(&self, section_key: &str) -> Vec<usize> {
        (0..self.targets.len())
            .filter(|i| self.targets[*i].section_key == section_key)
            .collect()
    }

    /// Content score of a passage (with the given heading path) for a target.
    pub(super) fn score(&self, headings: &[String], text: &str, t: usize) -> f32 {
        let target = &self.targets[t];
        let mut heading_score = 0.0f32;
        let mut weight = 1.0f32;
        let mut section_score = 0.0f32;
        // A heading that is really content (a table row promoted by a PDF) counts as text.
        let mut text = text.to_owned();
        for heading in headings.iter().filter(|h| content_like(h)) {
            text.push(' ');
            text.push_str(heading);
        }
        let text = text.as_str();
        for heading in headings.iter().rev().filter(|h| !content_like(h)) {
            let tokens = content_tokens(heading);
            heading_score = heading_score.max(weight * similarity(&tokens, &target.tokens));
            section_score = section_score.max(similarity(&tokens, &target.section_tokens));
            weight *= ANCESTOR_DECAY;
        }
        let lower = text.to_lowercase();
        let cue = cue_score(&lower, text, headings, &target.groups);
        let intent = if target.intent_tokens.is_empty() {
            0.0
        } else {
            let text_tokens: HashSet<String> = tokens(text).into_iter().collect();
            let hits = target
                .intent_tokens
                .iter()
                .filter(|t| {
                    text_tokens.contains(*t)
                        || text_tokens.iter().any(|w| token_match_plain(w, t) >= 0.85)
                })
                .count();
            hits as f32 / target.intent_tokens.len() as f32
        };
        HEADING_WEIGHT * heading_score
            + SECTION_WEIGHT * section_score
            + CUE_WEIGHT * cue
            + INTENT_WEIGHT * intent
    }

    pub(super) fn best(
        &self,
        headings: &[String],
        text: &str,
        among: &[usize],
    ) -> Option<(usize, f32)> {
        among
            .iter()
            .map(|t| (*t, self.score(headings, text, *t)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }
}

/// How a sentence stating a conviction opens (compared by [`key`]).
const CONVICTION_OPENERS: &[&str] = &[
    "we believe",
    "and we believe",
    "we hold that",
    "we stand for",
    "we are convinced",
];
/// Fewest sentences opening with a conviction that make a statement of beliefs.
const MIN_CONVICTIONS: usize = 2;

/// How strongly body text (and sub-headings) speak of the given topics (0..1).
pub(super) fn cue_score(lower: &str, text: &str, headings: &[String], groups: &[&str]) -> f32 {
    let mut hits = 0.0f32;
    for group in groups {
        if let Some((_, cues)) = CUES.iter().find(|(name, _)| name == group) {
            hits += cues.iter().filter(|cue| lower.contains(*cue)).count() as f32;
        }
        match *group {
            "colour" => {
                let codes = text.split_whitespace().filter(|w| is_hex_code(w)).count();
                hits += (2.0 * codes as f32).min(4.0);
            }
            "dodont" => {
                let rules = sentences(text)
                    .iter()
                    .filter(|s| {
                        let k = key(s);
                        ["do ", "dont ", "do not ", "avoid ", "never ", "always "]
                            .iter()
                            .any(|p| k.starts_with(p))
                    })
                    .count();
                hits += (rules as f32).min(4.0);
            }
            "scenario" => {
                let situational = headings.iter().any(|h| {
                    // "4. When the weather turns": the chapter number is not the heading's
                    // first word.
                    let k = key(strip_marker(h));
                    // A customer's question is a situation too ("Can I have it cheaper?").
                    ["when ", "if ", "during ", "after ", "before ", "for "]
                        .iter()
                        .any(|p| k.starts_with(p))
                        || h.trim_end().ends_with('?')
                });
                if situational {
                    hits += 2.0;
                }
            }
            "belief" => {
                if statement_pairs(text) {
                    hits += 2.0;
                }
                // Convictions stated one sentence after another ("We believe … And we
                // believe …"): a manifesto's beliefs, however its chapter is called.
                let convictions = sentences(text)
                    .iter()
                    .filter(|s| {
                        let k = key(s);
                        CONVICTION_OPENERS.iter().any(|p| k.starts_with(p))
                    })
                    .count();
                if convictions >= MIN_CONVICTIONS {
                    hits += (convictions as f32).min(4.0);
                }
            }
            // A list of yes/no questions is a list of checks ("Is the price shown …?").
            "checklist" => {
                let questions = text
                    .lines()
                    .filter(|line| strip_marker(line.trim()).ends_with('?'))
                    .count();
                if questions >= MIN_QUESTIONS {
                    hits += (questions as f32).min(4.0);
                }
            }
            // Sizes in pixels or millimetres, one per placement ("88 px wide", "| 22 mm |"):
            // a table or list of minimum sizes, whatever its labels say.
            "logo" => {
                let sizes = lengths(text);
                if sizes >= MIN_SIZES {
                    hits += (sizes as f32).min(4.0);
                }
            }
            // Years tell of the past, except a deadline ("by 2030"), which tells of plans.
            "history" => {
                let (past, _) = years(text);
                hits += (past as f32 / 2.0).min(2.0);
            }
            "ambition" => {
                let (_, deadlines) = years(text);
                hits += (deadlines as f32).min(2.0);
            }
            _ => {}
        }
    }
    (hits / 4.0).min(1.0)
}

/// Whether a table's column title opens a clause ("We believe that", "So the rider gets")
/// rather than naming a column.
pub(super) fn opens_clause(label: &str) -> bool {
    let first = label.split_whitespace().next().unwrap_or_default();
    CLAUSE_OPENERS
        .iter()
        .any(|word| first.eq_ignore_ascii_case(word))
}

/// Whether `text` holds a two-column table both of whose column titles open clauses: one
/// statement and what follows from it ("We swear by | So the rider gets"), the shape of a
/// list of beliefs with their benefits.
fn statement_pairs(text: &str) -> bool {
    let cells =
        |line: &str| -> Vec<String> { line.split(" | ").map(|c| c.trim().to_owned()).collect() };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines.windows(3).any(|rows| {
        let head = cells(rows[0]);
        head.len() == 2
            && head.iter().all(|cell| opens_clause(cell))
            && cells(rows[1]).len() == 2
            && cells(rows[2]).len() == 2
    })
}

/// Question lines from which on a text is a list of checks (one or two are rhetorical).
const MIN_QUESTIONS: usize = 3;

/// Lengths in a text from which on they are a table of sizes (a grid or a touch target
/// gives one or two).
const MIN_SIZES: usize = 3;

/// Lengths in screen or print units in `text`: a number followed by `px` or `mm`, apart
/// ("88 px") or joined ("88px").
fn lengths(text: &str) -> usize {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '|')
        .filter(|w| !w.is_empty())
        .collect();
    let number = |w: &str| {
        let w = w.trim_start_matches(['(', '≥', '<', '>']);
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
            && w.starts_with(|c: char| c.is_ascii_digit())
    };
    let unit = |w: &str| {
        let w = w.trim_end_matches(|c: char| c.is_ascii_punctuation());
        w.eq_ignore_ascii_case("px") || w.eq_ignore_ascii_case("mm")
    };
    words
        .iter()
        .enumerate()
        .filter(|(index, word)| {
            let bare = word.trim_end_matches(|c: char| c.is_ascii_punctuation());
            let joined = bare
                .strip_suffix("px")
                .or_else(|| bare.strip_suffix("mm"))
                .is_some_and(number);
            joined || (number(word) && words.get(index + 1).is_some_and(|next| unit(next)))
        })
        .count()
}

/// Four-digit years (19xx, 20xx) in `text`: (others, deadlines — those right after "by").
fn years(text: &str) -> (usize, usize) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut past = 0;
    let mut deadlines = 0;
    for (index, word) in words.iter().enumerate() {
        let digits = word.trim_matches(|c: char| !c.is_ascii_digit());
        if digits.len() != 4
            || !(digits.starts_with("19") || digits.starts_with("20"))
            || !word.starts_with(|c: char| c.is_ascii_digit())
        {
            continue;
        }
        let after_by = index > 0 && words[index - 1].eq_ignore_ascii_case("by");
        if after_by {
            deadlines += 1;
        } else {
            past += 1;
        }
    }
    (past, deadlines)
}

/// Whether a heading is really content (a table row or a sentence a PDF promoted).
pub(super) fn content_like(heading: &str) -> bool {
    // A chapter number ("3.", "10)") is numbering, not content.
    let heading = strip_marker(heading);
    heading
        .chars()
        .any(|c| c.is_ascii_digit() || c == '#' || c == '|')
        || heading.split_whitespace().count() > 9
        || heading.ends_with(['.', ';', ','])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_of_sizes_in_pixels_or_millimetres_speaks_of_the_logo() {
        let table = "Where it goes | No smaller than | Leave clear around it\n\
                     Labels | 20 mm wide | One leg\nWeb | 88px wide | One leg\n\
                     Cap | 14 mm across | A 2 mm ring";
        assert_eq!(lengths(table), 4);
        assert!(cue_score(&table.to_lowercase(), table, &[], &["logo"]) >= 1.0);
        // A grid or a touch target gives a length or two: no cue.
        let grid = "Layouts sit on an 8 px baseline with a 4 mm gutter.";
        assert_eq!(lengths(grid), 2);
        assert!(cue_score(&grid.to_lowercase(), grid, &[], &["logo"]) < 0.01);
        assert_eq!(lengths("Touch targets are at least 44 by 44 px."), 1);
        assert_eq!(lengths("1.4 mm, (12mm) and 2,000 px; 5 cm, 9 pt"), 3);
    }

    #[test]
    fn convictions_stated_in_turn_speak_of_beliefs() {
        let manifesto = "We believe a ferry is a street. We believe nobody should wait \
            in the rain, so every pier has a shelter. And we believe in timetables.";
        let once = "We believe in ferries, and ferries run every hour.";
        let score = |text: &str| cue_score(&text.to_lowercase(), text, &[], &["belief"]);
        assert!(score(manifesto) >= 1.0, "{}", score(manifesto));
        assert!(score(once) <= 0.5, "{}", score(once));
    }

    #[test]
    fn statement_tables_speak_of_beliefs_and_questions_head_situations() {
        let beliefs = "We swear by | So the rider gets\nRepair | Spares\nSteel | Strength";
        assert!(statement_pairs(beliefs));
        assert!(cue_score(&beliefs.to_lowercase(), beliefs, &[], &["belief"]) >= 0.5);
        // Column names are not statements.
        assert!(!statement_pairs(
            "Word | Use\nRepair | Spares\nSteel | Strength"
        ));
        let heading = ["Voice".to_owned(), "3. Can I have it cheaper?".to_owned()];
        assert!(cue_score("", "", &heading, &["scenario"]) >= 0.5);
        let numbered = ["4. When the weather turns".to_owned()];
        assert!(cue_score("", "", &numbered, &["scenario"]) >= 0.5);
    }

    #[test]
    fn yes_no_questions_are_checks() {
        let checks = "Before it goes out:\n1. Is the price shown?\n2. Are the times checked?\n\
                      - Does every photo have consent?";
        assert!(cue_score(&checks.to_lowercase(), checks, &[], &["checklist"]) >= 0.75);
        let rhetorical = "Why do we swim? Because it is fun.\nWho is it for?";
        assert!(cue_score(&rhetorical.to_lowercase(), rhetorical, &[], &["checklist"]) < 0.01);
    }
}
