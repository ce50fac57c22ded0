//! OpenAPI schemas of the JSON the APIs hold as free-form values (`serde_json::Value` in the
//! handlers), so the published document says what is on the wire and clients generated from it
//! accept every answer. Referenced only through `#[schema(value_type = …)]`; never built.

#![allow(dead_code)]

use utoipa::ToSchema;

/// One step of a validation problem's location (FastAPI's `loc`): a key such as `"body"` or
/// `"name"`, or the index of an array item.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum LocationPart {
    /// A key or a request part (`body`, `path`, `query`).
    Key(String),
    /// An array index.
    Index(i64),
}

/// A subsection's value, by its type: `text` holds a string; `array` and `richArray` hold a
/// list of entries (in the glossary section, terms). An empty list is a value too.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum FieldValue {
    /// `text`.
    Text(String),
    /// `array`, `richArray`, glossary terms.
    Entries(Vec<FieldEntry>),
}

/// An entry of an `array` value (`name`), a `richArray` value (`name`, `tags`,
/// `restrictions`) or a glossary term (`term`, `locale`, `displayName`); each has an `id`,
/// made by the server when the client sends none.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FieldEntry {
    /// Entry id (at most 100 characters).
    id: String,
    /// `array`, `richArray`: the entry.
    name: Option<String>,
    /// `richArray`: at most 50 tags.
    tags: Option<Vec<String>>,
    /// `richArray`: how the entry may be used.
    restrictions: Option<String>,
    /// Glossary: the term.
    term: Option<String>,
    /// Glossary: a language tag such as `fr-FR`.
    locale: Option<String>,
    /// Glossary: how the term is displayed.
    display_name: Option<String>,
}

/// A source of a kit, document or subsection: `documentChunk`, `webpage` (subsections) or
/// `brandkit` (documents), with the id and the API path of what it points at.
#[derive(ToSchema)]
pub struct Reference {
    /// The referenced object's id.
    id: String,
    /// Its API path (or URL for a `webpage`).
    path: Option<String>,
    /// `documentChunk`, `webpage` or `brandkit`.
    #[serde(rename = "type")]
    kind: String,
}

/// A kit tag: a category and its values.
#[derive(ToSchema)]
pub struct KitTag {
    /// The category.
    category: String,
    /// Its values.
    values: Vec<String>,
}

/// One entry of the hosted DuplicateHTTPError `detail` list.
#[derive(ToSchema)]
pub struct DuplicateIssue {
    /// `Duplicate brand kit name`.
    detail: String,
    /// `["body", "name"]`.
    loc: Vec<LocationPart>,
    /// `Brand name already exists.`
    msg: String,
    /// `value_error.duplicate`.
    #[serde(rename = "type")]
    kind: String,
}

/// The body of a 400: `{"detail": "…"}`, or for a brand-kit name that is taken the hosted
/// DuplicateHTTPError shape `{"detail": [{"detail", "loc", "msg", "type"}]}`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum BadRequestBody {
    /// The message.
    Message(crate::error::HttpError),
    /// A duplicate name.
    Duplicate(DuplicateError),
}

/// `{"detail": [{"detail", "loc", "msg", "type"}]}`.
#[derive(ToSchema)]
pub struct DuplicateError {
    /// One entry.
    detail: Vec<DuplicateIssue>,
}
