//! Glossary terms: rows of tables whose header row names languages or locales ("French",
//! "es-ES", "DE"), with the English (source) term and its translations; an empty or "do not
//! translate" cell means the term stays as it is.

use brandstream_domain::brand::NAME_MAX;

use super::passages::build_passages;
use super::tables::{is_empty_cell, tables_of, Table};
use super::words::{char_len, key, words};
use super::{GlossaryTerm, KnowledgeChunk};

const LANGUAGES: &[(&str, &str)] = &[
    ("english", "en-GB"),
    ("french", "fr-FR"),
    ("francais", "fr-FR"),
    ("français", "fr-FR"),
    ("german", "de-DE"),
    ("deutsch", "de-DE"),
    ("spanish", "es-ES"),
    ("espanol", "es-ES"),
    ("español", "es-ES"),
    ("italian", "it-IT"),
    ("italiano", "it-IT"),
    ("dutch", "nl-NL"),
    ("nederlands", "nl-NL"),
    ("flemish", "nl-BE"),
    ("portuguese", "pt-PT"),
    ("portugues", "pt-PT"),
    ("português", "pt-PT"),
    ("brazilian", "pt-BR"),
    ("japanese", "ja-JP"),
    ("chinese", "zh-CN"),
    ("mandarin", "zh-CN"),
    ("cantonese", "zh-HK"),
    ("korean", "ko-KR"),
    ("swedish", "sv-SE"),
    ("svenska", "sv-SE"),
    ("danish", "da-DK"),
    ("dansk", "da-DK"),
    ("norwegian", "nb-NO"),
    ("norsk", "nb-NO"),
    ("finnish", "fi-FI"),
    ("suomi", "fi-FI"),
    ("polish", "pl-PL"),
    ("polski", "pl-PL"),
    ("russian", "ru-RU"),
    ("turkish", "tr-TR"),
    ("arabic", "ar-SA"),
    ("czech", "cs-CZ"),
    ("greek", "el-GR"),
    ("hungarian", "hu-HU"),
    ("romanian", "ro-RO"),
    ("hebrew", "he-IL"),
    ("hindi", "hi-IN"),
    ("thai", "th-TH"),
    ("vietnamese", "vi-VN"),
    ("indonesian", "id-ID"),
    ("ukrainian", "uk-UA"),
    ("catalan", "ca-ES"),
    ("icelandic", "is-IS"),
    ("irish", "ga-IE"),
    ("welsh", "cy-GB"),
];

const CODES: &[(&str, &str)] = &[
    ("en", "en-GB"),
    ("fr", "fr-FR"),
    ("de", "de-DE"),
    ("es", "es-ES"),
    ("it", "it-IT"),
    ("nl", "nl-NL"),
    ("pt", "pt-PT"),
    ("ja", "ja-JP"),
    ("jp", "ja-JP"),
    ("zh", "zh-CN"),
    ("cn", "zh-CN"),
    ("ko", "ko-KR"),
    ("sv", "sv-SE"),
    ("se", "sv-SE"),
    ("da", "da-DK"),
    ("dk", "da-DK"),
    ("no", "nb-NO"),
    ("nb", "nb-NO"),
    ("fi", "fi-FI"),
    ("pl", "pl-PL"),
    ("ru", "ru-RU"),
    ("tr", "tr-TR"),
    ("ar", "ar-SA"),
    ("cs", "cs-CZ"),
    ("el", "el-GR"),
    ("hu", "hu-HU"),
    ("ro", "ro-RO"),
];

/// A locale tag such as "fr-FR" or "pt_br" inside a header cell.
fn locale_tag(cell: &str) -> Option<String> {
    for raw in cell.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        let mut parts = raw.split(['-', '_']);
        let (Some(lang), Some(region), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let lang_ok =
            (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_alphabetic());
        let region_ok = (region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()))
            || (region.len() == 3 && region.chars().all(|c| c.is_ascii_digit()));
        if lang_ok && region_ok {
            return Some(format!(
                "{}-{}",
                lang.to_ascii_lowercase(),
                region.to_ascii_uppercase()
            ));
        }
    }
    None
}

/// The locale a glossary header cell names, if any.
fn header_locale(cell: &str) -> Option<String> {
    if let Some(tag) = locale_tag(cell) {
        return Some(tag);
    }
    let ws = words(cell);
    if ws.len() == 1 {
        if let Some((_, locale)) = CODES.iter().find(|(code, _)| *code == ws[0]) {
            // Bare codes only when written as codes ("FR"), not as words ("no").
            if cell.trim().chars().all(|c| c.is_ascii_uppercase()) {
                return Some((*locale).to_owned());
            }
        }
    }
    ws.iter().find_map(|w| {
        LANGUAGES
            .iter()
            .find(|(name, _)| name == w)
            .map(|(_, locale)| (*locale).to_owned())
    })
}

fn is_english(locale: &str) -> bool {
    locale.starts_with("en-") || locale == "en"
}

fn no_translation(cell: &str) -> bool {
    let k = key(cell);
    is_empty_cell(cell)
        || matches!(
            k.as_str(),
            "do not translate"
                | "dont translate"
                | "not translated"
                | "untranslated"
                | "none"
                | "na"
                | "n a"
                | "same"
                | "no translation"
        )
}

/// Glossary terms from tables whose header row names languages or locales.
pub fn glossary_terms(chunks: &[KnowledgeChunk]) -> Vec<GlossaryTerm> {
    let mut out: Vec<GlossaryTerm> = Vec::new();
    for passage in build_passages(chunks) {
        for table in tables_of(&passage.text, passage.kinds.as_deref()) {
            add_glossary_table(&mut out, &table, &passage.chunk_ids);
        }
    }
    out
}

/// Adds the rows of a table whose header names languages or locales.
fn add_glossary_table(out: &mut Vec<GlossaryTerm>, table: &Table, chunk_ids: &[String]) {
    let locales: Vec<Option<String>> = table.header.iter().map(|h| header_locale(h)).collect();
    let translated: Vec<usize> = (0..locales.len())
        .filter(|i| locales[*i].as_deref().is_some_and(|l| !is_english(l)))
        .collect();
    if translated.is_empty() {
        return;
    }
    let columns = table.header.len();
    let source = (0..columns)
        .find(|i| locales[*i].as_deref().is_some_and(is_english))
        .or_else(|| {
            (0..columns).find(|i| {
                locales[*i].is_none() && {
                    let k = key(&table.header[*i]);
                    [
                        "term", "source", "word", "phrase", "english", "en", "original",
                    ]
                    .iter()
                    .any(|w| k.split(' ').any(|x| x == *w || x == format!("{w}s")))
                }
            })
        })
        .or_else(|| (0..columns).find(|i| locales[*i].is_none() && !table.header[*i].is_empty()));
    let Some(source) = source else { return };
    for row in &table.rows {
        let Some(term) = row.get(source).map(|t| t.trim()) else {
            continue;
        };
        if term.is_empty() || char_len(term) > NAME_MAX {
            continue;
        }
        let mut translations: Vec<(String, String)> = Vec::new();
        for column in &translated {
            let cell = row.get(*column).map_or("", |c| c.trim());
            if no_translation(cell) || char_len(cell) > NAME_MAX {
                continue;
            }
            if let Some(locale) = &locales[*column] {
                translations.push((cell.to_owned(), locale.clone()));
            }
        }
        let k = key(term);
        if let Some(existing) = out.iter_mut().find(|g| key(&g.term) == k) {
            for pair in translations {
                if !existing.translations.contains(&pair) {
                    existing.translations.push(pair);
                }
            }
            for id in chunk_ids {
                if !existing.chunk_ids.contains(id) {
                    existing.chunk_ids.push(id.clone());
                }
            }
        } else {
            out.push(GlossaryTerm {
                term: term.to_owned(),
                translations,
                chunk_ids: chunk_ids.to_vec(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use brandstream_domain::brand::{FieldType, GLOSSARY_SECTION};
    use serde_json::json;

    use super::*;
    use crate::fill::test_support::chunk;
    use crate::fill::{fill_fields, FieldTarget};

    #[test]
    fn a_spanish_glossary_table_gives_terms_and_do_not_translate() {
        let chunks = vec![chunk(
            "g1",
            &["Localisation"],
            "Use these terms in Spain. Term | Spanish (es-ES) | FR Gift card | tarjeta regalo | carte cadeau Acme Plus | do not translate | — Store pickup | recogida en tienda | retrait en magasin",
        )];
        let terms = glossary_terms(&chunks);
        assert_eq!(terms.len(), 3, "{terms:?}");
        assert_eq!(terms[0].term, "Gift card");
        assert_eq!(
            terms[0].translations,
            [
                ("tarjeta regalo".to_owned(), "es-ES".to_owned()),
                ("carte cadeau".to_owned(), "fr-FR".to_owned())
            ]
        );
        assert_eq!(terms[1].term, "Acme Plus");
        assert!(terms[1].translations.is_empty());
        assert_eq!(terms[2].chunk_ids, ["g1"]);

        let target = FieldTarget {
            id: "gift".into(),
            section: GLOSSARY_SECTION.into(),
            name: "gift card".into(),
            field_type: FieldType::Array,
            intent: None,
        };
        let filled = fill_fields(&[target], &chunks);
        assert_eq!(
            filled[0].value,
            json!([{"term": "tarjeta regalo", "locale": "es-ES"}, {"term": "carte cadeau", "locale": "fr-FR"}])
        );
    }
}
