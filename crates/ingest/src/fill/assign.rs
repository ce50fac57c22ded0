//! The heading cascade: which subsection, if any, each passage is given to. A heading that
//! names a subsection decides; a passage whose own heading names nothing inherits from a heading
//! left dangling before it, continues its previous sibling's subsection or falls back to the
//! nearest ancestor that names something; otherwise the content score decides, if convincing.

use std::collections::{HashMap, HashSet};

use super::passages::Passage;
use super::scoring::{content_like, HeadingMatch, Matcher};
use super::words::key;

/// Score a passage needs to be given to a field on content alone.
const FALLBACK_MIN: f32 = 1.3;
/// Score a section-level passage needs to be given to one of the section's fields.
const SECTION_MIN: f32 = 1.0;

/// How a passage was attributed.
#[derive(Debug, Clone)]
pub(super) struct Assignment {
    pub(super) target: usize,
    pub(super) passage: usize,
    /// Headings between the matched heading and the passage (sub-topics, or content a PDF
    /// mistook for a heading), outermost first.
    pub(super) sub: Vec<String>,
    /// Whether a heading on the passage's path names the target itself (not merely its
    /// section, a neighbour or the content): such an attribution is kept as it is.
    pub(super) decisive: bool,
}

pub(super) struct Attribution {
    pub(super) assignments: Vec<Assignment>,
}

pub(super) fn attribute(matcher: &Matcher<'_>, passages: &[Passage]) -> Attribution {
    let all: Vec<usize> = (0..matcher.targets.len()).collect();
    // Heading names that appear twice in a row in some path of a document ("Brand Context" >
    // "Brand context"): there, a path with the name once is the section, not the subsection.
    let mut doubles: HashSet<(String, String)> = HashSet::new();
    for p in passages {
        for pair in p.headings.windows(2) {
            if key(&pair[0]) == key(&pair[1]) {
                doubles.insert((p.doc.clone(), key(&pair[0])));
            }
        }
    }
    let mut assignments = Vec::new();
    // Per document: the previous passage's target, depth and parent path; a dangling heading.
    // (target, depth, parent path, whether a heading named the target)
    let mut previous: HashMap<String, (Option<usize>, usize, Vec<String>, bool)> = HashMap::new();
    let mut pending: HashMap<String, String> = HashMap::new();

    // Resolves what a heading at `index` of a path names into one target (or none).
    // `true` with the target when the heading names it directly.
    let resolve =
        |p: &Passage, path: &[String], index: usize, m: &HeadingMatch| -> Option<(usize, bool)> {
            let text = &p.text;
            if !m.targets.is_empty() {
                let chosen = if m.targets.len() == 1 {
                    m.targets[0]
                } else {
                    let in_path: Vec<usize> = m
                        .targets
                        .iter()
                        .copied()
                        .filter(|t| {
                            path.iter()
                                .any(|h| key(h) == matcher.targets[*t].section_key)
                        })
                        .collect();
                    let among = if in_path.is_empty() {
                        &m.targets
                    } else {
                        &in_path
                    };
                    matcher.best(path, text, among).map(|(t, _)| t)?
                };
                let section = &matcher.targets[chosen].section_key;
                let heading_key = key(&path[index]);
                let is_double_here = index > 0 && key(&path[index - 1]) == heading_key
                    || path.get(index + 1).is_some_and(|h| key(h) == heading_key);
                // A heading naming both a section and its same-named subsection ("Brand Context"
                // and "Brand context"): where the document nests one in the other, a path with the
                // name once is the section; elsewhere only the exact spelling can tell them apart.
                let ambiguous = m.sections.contains(section);
                let spelled_as_section = {
                    let heading = path[index].trim();
                    let target = matcher.targets[chosen].target;
                    heading == target.section.trim() && heading != target.name.trim()
                };
                let section_level = ambiguous
                    && if doubles.contains(&(p.doc.clone(), heading_key)) {
                        !is_double_here
                    } else {
                        spelled_as_section
                    };
                if !section_level {
                    return Some((chosen, true));
                }
                let among = matcher.targets_in_section(section);
                return matcher
                    .best(&path[index + 1..], text, &among)
                    .filter(|(_, score)| *score >= SECTION_MIN)
                    .map(|(t, _)| (t, false));
            }
            let mut among: Vec<usize> = Vec::new();
            for section in &m.sections {
                among.extend(matcher.targets_in_section(section));
            }
            match among.len() {
                0 => None,
                1 => Some((among[0], false)),
                _ => matcher
                    .best(&path[index + 1..], text, &among)
                    .filter(|(_, score)| *score >= SECTION_MIN)
                    .map(|(t, _)| (t, false)),
            }
        };

    for (index, p) in passages.iter().enumerate() {
        let path = &p.headings;
        let depth = path.len().saturating_sub(1);
        let parent: Vec<String> = path[..depth].to_vec();
        let matches: Vec<HeadingMatch> = path.iter().map(|h| matcher.match_heading(h)).collect();
        let innermost_matched = matches.last().is_some_and(|m| !m.is_empty());
        let mut decision: Option<(usize, Vec<String>, bool)> = None;
        if innermost_matched {
            pending.remove(&p.doc);
            decision =
                resolve(p, path, depth, &matches[depth]).map(|(t, named)| (t, Vec::new(), named));
        } else {
            let sub: Vec<String> = path.last().cloned().into_iter().collect();
            // 1. A heading left dangling at the end of the previous passage.
            if let Some(heading) = pending.remove(&p.doc) {
                let m = matcher.match_heading(&heading);
                let mut extended = parent.clone();
                extended.push(heading.clone());
                let at = extended.len() - 1;
                if let Some((t, named)) = resolve(p, &extended, at, &m) {
                    decision = Some((t, sub.clone(), named));
                }
            }
            // 2. Continuation of the previous passage at the same depth under the same parent.
            if decision.is_none() && !path.is_empty() {
                if let Some((Some(t), prev_depth, prev_parent, prev_named)) = previous.get(&p.doc) {
                    if *prev_depth == depth && *prev_parent == parent {
                        // Judge on the passage's own heading and text: its ancestors are
                        // shared with the previous passage and say nothing new.
                        let own_path = &path[depth..];
                        let own = matcher.score(own_path, &p.text, *t);
                        let other = matcher.best(own_path, &p.text, &all);
                        let chosen = match other {
                            Some((b, s)) if b != *t && s >= FALLBACK_MIN && s >= own + 0.6 => b,
                            _ => *t,
                        };
                        // A sibling continuing a named subsection is as good as named.
                        decision = Some((chosen, sub.clone(), *prev_named && chosen == *t));
                    }
                }
            }
            // 3. The nearest ancestor heading that names something.
            if decision.is_none() {
                if let Some(at) = (0..path.len()).rev().find(|i| !matches[*i].is_empty()) {
                    decision = resolve(p, path, at, &matches[at])
                        .map(|(t, named)| (t, path[at + 1..].to_vec(), named));
                    if decision.is_none() {
                        // A section with nothing for this passage: leave it.
                        previous.insert(p.doc.clone(), (None, depth, parent, false));
                        if let Some(d) = &p.dangling {
                            pending.insert(p.doc.clone(), d.clone());
                        }
                        continue;
                    }
                }
            }
            // 4. Content alone.
            if decision.is_none() && !p.text.is_empty() {
                decision = matcher
                    .best(path, &p.text, &all)
                    .filter(|(_, score)| *score >= FALLBACK_MIN)
                    .map(|(t, _)| (t, sub.clone(), false));
            }
        }
        previous.insert(
            p.doc.clone(),
            (
                decision.as_ref().map(|(t, _, _)| *t),
                depth,
                parent,
                decision.as_ref().is_some_and(|(_, _, named)| *named),
            ),
        );
        if let Some(d) = &p.dangling {
            pending.insert(p.doc.clone(), d.clone());
        }
        if let Some((target, sub, decisive)) = decision {
            if !p.text.is_empty() || sub.iter().any(|h| content_like(h)) {
                assignments.push(Assignment {
                    target,
                    passage: index,
                    sub,
                    decisive,
                });
            }
        }
    }
    Attribution { assignments }
}

#[cfg(test)]
mod tests {
    use crate::fill::test_support::{chunk, names, value_of};
    use crate::fill::{fill_fields, FieldTarget};

    #[test]
    fn a_heading_left_dangling_by_a_pdf_is_recovered() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk(
                "a",
                &["Checklist"],
                "Every image has alt text. Links are tested. Grammar Guidelines",
            ),
            chunk(
                "b",
                &["Checklist", "Commas and caps"],
                "Use the Oxford comma. Write headings in sentence case.",
            ),
        ];
        let filled = fill_fields(&targets, &chunks);
        let checklist = value_of(&filled, "Checklist/Checklist values").unwrap();
        assert_eq!(
            names(checklist),
            ["Every image has alt text.", "Links are tested."]
        );
        let grammar = value_of(&filled, "Grammar Guidelines/Grammar guidelines values").unwrap();
        assert!(names(grammar).contains(&"Use the Oxford comma.".to_owned()));
    }

    #[test]
    fn a_chapter_title_left_at_the_foot_of_a_page_moves_on() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk(
                "a",
                &["Talent guidance"],
                "We cast real people.\nTone of Voice",
            ),
            chunk(
                "b",
                &["Talent guidance", "Tone scenarios"],
                "Intro.\nWhen we are late: say sorry first; never blame the weather.",
            ),
        ];
        let filled = fill_fields(&targets, &chunks);
        let talent = value_of(&filled, "Brand Context/Talent guidance").unwrap();
        assert_eq!(talent, "We cast real people.");
        let scenarios = value_of(&filled, "Tone of Voice/Tone scenarios").unwrap();
        assert_eq!(scenarios[0]["tags"][0], "When we are late");
        assert_eq!(scenarios[0]["restrictions"], "never blame the weather");
    }

    #[test]
    fn a_heading_without_text_heads_the_siblings_after_it() {
        // A book whose headings are all at one level: the situations follow "Tone scenarios"
        // as its siblings, not as its children.
        let targets = FieldTarget::catalogue();
        let chunks = vec![
            chunk("a", &["Guide", "Tone scenarios"], "Tone scenarios"),
            chunk(
                "b",
                &["Guide", "When we are late"],
                "Say sorry once; never blame the weather.",
            ),
            chunk(
                "c",
                &["Guide", "When it snows"],
                "Say which lines run; never guess.",
            ),
        ];
        let filled = fill_fields(&targets, &chunks);
        let scenarios = value_of(&filled, "Tone of Voice/Tone scenarios").unwrap();
        let tags: Vec<&str> = scenarios
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["tags"][0].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["When we are late", "When it snows"]);
    }

    #[test]
    fn unrelated_text_fills_nothing() {
        let targets = FieldTarget::catalogue();
        let chunks = vec![chunk(
            "x",
            &["Appendix"],
            "Printed on recycled paper. Contact the studio for source files.",
        )];
        assert!(fill_fields(&targets, &chunks).is_empty());
    }
}
