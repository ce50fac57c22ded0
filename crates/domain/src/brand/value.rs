//! Validation of subsection values against their type.
//!
//! `text` is a string; `array` is `[{"name", "id"}]`; `richArray` is
//! `[{"name", "tags", "restrictions", "id"}]`; in the glossary section an `array` holds terms
//! `[{"term", "locale", "displayName"?, "id"}]` (an empty array means "do not translate").
//! Validation returns the value as stored: unknown keys dropped, and a fresh id for every entry
//! that came without one (existing ids are kept). Errors carry the location inside the value,
//! so the API can answer a FastAPI-style 422.

use serde_json::{Map, Value};

use super::{FieldType, ENTRIES_MAX, NAME_MAX, TEXT_MAX};

/// One problem with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// Path inside the value (array indexes and keys).
    pub loc: Vec<Value>,
    /// Human-readable message.
    pub msg: String,
    /// Machine-readable type, in pydantic's vocabulary.
    pub kind: &'static str,
}

/// Longest entry id a client may supply.
const ID_MAX: usize = 100;
/// Most tags on a rich entry.
const TAGS_MAX: usize = 50;

struct Checker {
    errors: Vec<ValueError>,
}

impl Checker {
    fn fail(&mut self, loc: Vec<Value>, msg: impl Into<String>, kind: &'static str) {
        if self.errors.len() < 50 {
            self.errors.push(ValueError {
                loc,
                msg: msg.into(),
                kind,
            });
        }
    }

    fn string(
        &mut self,
        loc: Vec<Value>,
        value: Option<&Value>,
        required: bool,
        max: usize,
    ) -> Option<String> {
        match value {
            None | Some(Value::Null) if !required => None,
            None => {
                self.fail(loc, "Field required", "missing");
                None
            }
            Some(Value::String(text)) if text.chars().count() > max => {
                self.fail(
                    loc,
                    format!("String should have at most {max} characters"),
                    "string_too_long",
                );
                None
            }
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                self.fail(loc, "Input should be a valid string", "string_type");
                None
            }
        }
    }
}

fn at(base: &[Value], key: impl Into<Value>) -> Vec<Value> {
    let mut loc = base.to_vec();
    loc.push(key.into());
    loc
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Validates `value` for a subsection of `field_type` (`glossary`: in the glossary section).
/// `null` becomes the type's empty value.
pub fn validate_value(
    field_type: FieldType,
    glossary: bool,
    value: &Value,
) -> Result<Value, Vec<ValueError>> {
    let mut checker = Checker { errors: Vec::new() };
    let normalized = match (field_type, value) {
        (_, Value::Null) => field_type.empty_value(),
        (FieldType::Text, _) => match checker.string(Vec::new(), Some(value), true, TEXT_MAX) {
            Some(text) => Value::String(text),
            None => Value::Null,
        },
        (_, Value::Array(entries)) if entries.len() > ENTRIES_MAX => {
            checker.fail(
                Vec::new(),
                format!("List should have at most {ENTRIES_MAX} items"),
                "too_long",
            );
            Value::Null
        }
        (_, Value::Array(entries)) => Value::Array(
            entries
                .iter()
                .enumerate()
                .filter_map(|(index, entry)| {
                    entry_value(&mut checker, field_type, glossary, index, entry)
                })
                .collect(),
        ),
        (_, _) => {
            checker.fail(Vec::new(), "Input should be a valid list", "list_type");
            Value::Null
        }
    };
    if checker.errors.is_empty() {
        Ok(normalized)
    } else {
        Err(checker.errors)
    }
}

fn entry_value(
    checker: &mut Checker,
    field_type: FieldType,
    glossary: bool,
    index: usize,
    entry: &Value,
) -> Option<Value> {
    let base = vec![Value::from(index)];
    let Value::Object(object) = entry else {
        checker.fail(
            base,
            "Input should be a valid dictionary or object",
            "dict_type",
        );
        return None;
    };
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            out.insert(key.to_owned(), Value::String(value));
        }
    };
    if glossary && field_type == FieldType::Array {
        put(
            "term",
            checker.string(at(&base, "term"), object.get("term"), true, NAME_MAX),
        );
        let locale = checker.string(at(&base, "locale"), object.get("locale"), true, 35);
        if let Some(locale) = &locale {
            let valid = locale.len() >= 2
                && locale
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                checker.fail(
                    at(&base, "locale"),
                    "Input should be a language tag such as fr-FR",
                    "value_error",
                );
            }
        }
        put("locale", locale);
        let display = checker.string(
            at(&base, "displayName"),
            object.get("displayName"),
            false,
            NAME_MAX,
        );
        out.insert(
            "displayName".into(),
            display.map_or(Value::Null, Value::String),
        );
    } else {
        put(
            "name",
            checker.string(at(&base, "name"), object.get("name"), true, TEXT_MAX),
        );
        if field_type == FieldType::RichArray {
            let tags = match object.get("tags") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(tags)) if tags.len() > TAGS_MAX => {
                    checker.fail(
                        at(&base, "tags"),
                        format!("List should have at most {TAGS_MAX} items"),
                        "too_long",
                    );
                    Vec::new()
                }
                Some(Value::Array(tags)) => tags
                    .iter()
                    .enumerate()
                    .filter_map(|(i, tag)| {
                        checker.string(at(&at(&base, "tags"), i), Some(tag), true, NAME_MAX)
                    })
                    .map(Value::String)
                    .collect(),
                Some(_) => {
                    checker.fail(
                        at(&base, "tags"),
                        "Input should be a valid list",
                        "list_type",
                    );
                    Vec::new()
                }
            };
            out.insert("tags".into(), Value::Array(tags));
            let restrictions = checker.string(
                at(&base, "restrictions"),
                object.get("restrictions"),
                false,
                TEXT_MAX,
            );
            out.insert(
                "restrictions".into(),
                restrictions.map_or(Value::Null, Value::String),
            );
        }
    }
    let id = match object.get("id") {
        None | Some(Value::Null) => new_id(),
        Some(Value::String(id)) if !id.is_empty() && id.len() <= ID_MAX => id.clone(),
        Some(_) => {
            checker.fail(
                at(&base, "id"),
                format!("Input should be a string of 1 to {ID_MAX} characters"),
                "string_type",
            );
            String::new()
        }
    };
    out.insert("id".into(), Value::String(id));
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn shapes_by_type() {
        assert_eq!(
            validate_value(FieldType::Text, false, &json!("hi")).unwrap(),
            json!("hi")
        );
        assert_eq!(
            validate_value(FieldType::Text, false, &Value::Null).unwrap(),
            json!("")
        );
        let errors = validate_value(FieldType::Text, false, &json!(["x"])).unwrap_err();
        assert_eq!(errors[0].kind, "string_type");

        let array = validate_value(
            FieldType::Array,
            false,
            &json!([{"name": "a"}, {"name": "b", "id": "keep"}]),
        )
        .unwrap();
        assert_eq!(array[1]["id"], "keep");
        assert_eq!(array[0]["id"].as_str().unwrap().len(), 36);

        let errors = validate_value(
            FieldType::Array,
            false,
            &json!(["bare string", {"nam": "typo"}]),
        )
        .unwrap_err();
        assert_eq!(errors[0].loc, vec![json!(0)]);
        assert_eq!(errors[1].loc, vec![json!(1), json!("name")]);
        assert_eq!(errors[1].kind, "missing");

        let rich = validate_value(
            FieldType::RichArray,
            false,
            &json!([{"name": "n", "tags": ["Marketing"]}]),
        )
        .unwrap();
        assert_eq!(rich[0]["tags"], json!(["Marketing"]));
        assert_eq!(rich[0]["restrictions"], Value::Null);

        let terms = validate_value(
            FieldType::Array,
            true,
            &json!([{"term": "produit", "locale": "fr-FR"}]),
        )
        .unwrap();
        assert_eq!(terms[0]["term"], "produit");
        assert!(validate_value(FieldType::Array, true, &json!([]))
            .unwrap()
            .as_array()
            .unwrap()
            .is_empty());
        assert!(validate_value(
            FieldType::Array,
            true,
            &json!([{"term": "x", "locale": "not a tag"}])
        )
        .is_err());
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".{0,20}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::hash_map(
                    "(name|tags|id|term|locale|restrictions|x)",
                    inner,
                    0..5
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_value_validates_or_reports_errors_with_locations(value in arbitrary_json(), kind in 0usize..3, glossary in any::<bool>()) {
            let field_type = FieldType::ALL[kind];
            match validate_value(field_type, glossary, &value) {
                Ok(normalized) => {
                    // What validates, validates again unchanged (ids are now present).
                    prop_assert_eq!(validate_value(field_type, glossary, &normalized).unwrap(), normalized);
                }
                Err(errors) => prop_assert!(!errors.is_empty()),
            }
        }
    }
}
