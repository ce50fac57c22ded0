//! The sections and subsections every new brand kit starts with, in order, with the type of
//! each subsection and the intent that tells people and the ingestion engine what belongs in
//! it. Names are the hosted service's (case-sensitive), so scripts that look them up by name
//! keep working. This table is the one place the catalogue is defined.

use super::FieldType::{self, Array, RichArray, Text};

/// A predefined subsection.
#[derive(Debug, Clone, Copy)]
pub struct SubsectionTemplate {
    /// Its name.
    pub name: &'static str,
    /// Its value type.
    pub field_type: FieldType,
    /// What belongs in it.
    pub intent: &'static str,
}

/// A predefined section.
#[derive(Debug, Clone, Copy)]
pub struct SectionTemplate {
    /// Its name.
    pub name: &'static str,
    /// Its position (1-based).
    pub order: i64,
    /// Its predefined subsections, in order.
    pub subsections: &'static [SubsectionTemplate],
}

const fn field(
    name: &'static str,
    field_type: FieldType,
    intent: &'static str,
) -> SubsectionTemplate {
    SubsectionTemplate {
        name,
        field_type,
        intent,
    }
}

/// Name of the section whose subsections are glossary terms.
pub const GLOSSARY_SECTION: &str = "Glossary and Localization";

/// The catalogue, in section order.
pub const CATALOGUE: &[SectionTemplate] = &[
    SectionTemplate {
        name: "Global Goals",
        order: 1,
        subsections: &[
            field("Digital mandatories", Text, "The non-negotiable rules every digital touchpoint of the brand must follow."),
            field("SEO best practices", Text, "How the brand writes for search: keywords, titles, headings and metadata conventions."),
            field("Accessibility", Text, "The accessibility standards and practices the brand commits to in content and design."),
            field("Diversity", Text, "How the brand represents people and cultures inclusively in words and imagery."),
        ],
    },
    SectionTemplate {
        name: "Brand Context",
        order: 2,
        subsections: &[
            field("Brand purpose", Text, "The core reason the brand exists beyond making money."),
            field("Brand history", Text, "Where the brand comes from: founding story, milestones and heritage."),
            field("Brand ambition", Text, "What the brand wants to achieve in the years ahead."),
            field("Brand consumer", Text, "Who the brand serves: audiences, their needs and motivations."),
            field("Brand benefits", Text, "The functional and emotional benefits the brand delivers to its consumers."),
            field("Brand context", Text, "The market, category and competitive situation the brand operates in."),
            field("Digital life", Text, "How the brand behaves on digital channels and social media."),
            field("Brand content idea", Text, "The central creative idea that unites the brand's content."),
            field("Brand essence", Text, "The brand's character condensed into a few words."),
            field("Talent guidance", Text, "Guidance for people who speak for or appear on behalf of the brand."),
            field("Brand concept", Array, "The key concepts and pillars the brand is built on, one per entry."),
            field("Brand beliefs and benefits", Text, "What the brand believes in and how those beliefs benefit its consumers."),
        ],
    },
    SectionTemplate {
        name: "Tone of Voice",
        order: 3,
        subsections: &[
            field("Tone of voice", Text, "How the brand sounds: personality, register and style of its language."),
            field("Tone scenarios", RichArray, "How the tone adapts to specific situations, with the situation as tags and any constraint as restrictions."),
        ],
    },
    SectionTemplate {
        name: "Dos and Dont's",
        order: 4,
        subsections: &[field("Dos and dont's", Array, "Concrete rules for tone, language, style and terminology: what to do and what to avoid.")],
    },
    SectionTemplate {
        name: "Visual Guidelines",
        order: 5,
        subsections: &[
            field("Visual guidance", Text, "The overall visual identity: layout, typography and composition principles."),
            field("Logo guidelines", Array, "Rules for using the logo: clear space, sizes, variants and misuse to avoid."),
            field("Pack structure", Text, "How packaging is organised: hierarchy of information and mandatory elements."),
            field("Colour palettes", Array, "The brand colours with their names and codes (HEX, RGB, CMYK, Pantone)."),
        ],
    },
    SectionTemplate {
        name: "Image Style",
        order: 6,
        subsections: &[
            field("Image style", Text, "The look of the brand's photography and illustration: subjects, light, mood and treatment."),
            field("Image style scenarios", RichArray, "How imagery adapts to specific uses, with the use as tags and any constraint as restrictions."),
        ],
    },
    SectionTemplate {
        name: "Grammar Guidelines",
        order: 7,
        subsections: &[field("Grammar guidelines values", Array, "Grammar, spelling, punctuation and formatting conventions, one rule per entry.")],
    },
    SectionTemplate {
        name: "Checklist",
        order: 8,
        subsections: &[field("Checklist values", Array, "Checks every piece of content must pass before publication, one per entry.")],
    },
    SectionTemplate { name: GLOSSARY_SECTION, order: 9, subsections: &[] },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_sections_in_order_with_unique_names() {
        assert_eq!(CATALOGUE.len(), 9);
        for (index, section) in CATALOGUE.iter().enumerate() {
            assert_eq!(section.order, index as i64 + 1);
            let mut names: Vec<&str> = section.subsections.iter().map(|s| s.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), section.subsections.len(), "{}", section.name);
            for subsection in section.subsections {
                assert!(subsection.intent.ends_with('.'), "{}", subsection.name);
            }
        }
        assert_eq!(CATALOGUE[0].subsections[0].name, "Digital mandatories");
        assert_eq!(CATALOGUE[1].subsections[0].name, "Brand purpose");
    }
}
