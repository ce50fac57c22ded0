//! Brand kits: the section and subsection catalogue every new kit starts with, the kit
//! status and subsection types, and validation of subsection values against their type.

pub mod catalogue;
pub mod value;

use serde::{Deserialize, Serialize};

pub use catalogue::{SectionTemplate, SubsectionTemplate, CATALOGUE, GLOSSARY_SECTION};
pub use value::{validate_value, ValueError};

/// Longest kit, section or subsection name, in characters.
pub const NAME_MAX: usize = 200;
/// Longest free-text value (descriptions, intents, text subsections), in characters.
pub const TEXT_MAX: usize = 100_000;
/// Most entries in an array subsection value.
pub const ENTRIES_MAX: usize = 1_000;

/// A brand kit's life-cycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KitStatus {
    /// Being edited (new kits start here).
    Draft,
    /// A pipeline is working on it.
    Inprocess,
    /// Ready for use.
    Published,
    /// The last pipeline failed.
    Failed,
}

impl KitStatus {
    /// Every status.
    pub const ALL: [KitStatus; 4] = [
        KitStatus::Draft,
        KitStatus::Inprocess,
        KitStatus::Published,
        KitStatus::Failed,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KitStatus::Draft => "draft",
            KitStatus::Inprocess => "inprocess",
            KitStatus::Published => "published",
            KitStatus::Failed => "failed",
        }
    }

    /// Parses a wire name (case-insensitive: the hosted docs show `Draft` too).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(value))
    }
}

/// The type of a subsection's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// A string.
    #[serde(rename = "text")]
    Text,
    /// `[{"name", "id"}]` (glossary terms: `[{"term", "locale", "displayName", "id"}]`).
    #[serde(rename = "array")]
    Array,
    /// `[{"name", "tags", "restrictions", "id"}]`.
    #[serde(rename = "richArray")]
    RichArray,
}

impl FieldType {
    /// Every type.
    pub const ALL: [FieldType; 3] = [FieldType::Text, FieldType::Array, FieldType::RichArray];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Array => "array",
            FieldType::RichArray => "richArray",
        }
    }

    /// Parses a wire name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    /// The empty value of this type.
    pub fn empty_value(self) -> serde_json::Value {
        match self {
            FieldType::Text => serde_json::Value::String(String::new()),
            FieldType::Array | FieldType::RichArray => serde_json::Value::Array(Vec::new()),
        }
    }
}
