//! Strict parsing of OAuth request parameters.
//!
//! RFC 6749 §3.2 requires that parameters are not repeated; the form parser rejects repeats,
//! invalid percent-encoding and invalid UTF-8 instead of guessing. JSON bodies (Auth0 accepts
//! them) must be a flat object of strings, again without repeated keys.

use std::collections::HashMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::Deserializer;

/// Why parameters could not be parsed. The text is returned as `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// A parameter appears twice.
    #[error("the parameter '{0}' is repeated")]
    Repeated(String),
    /// Bad `%` escape.
    #[error("the request body has an invalid percent-encoding")]
    Encoding,
    /// Not UTF-8.
    #[error("the request body is not valid UTF-8")]
    Utf8,
    /// JSON that is not a flat object of strings.
    #[error("the JSON body must be an object of string values")]
    Json,
}

/// Parameters by name.
pub type Params = HashMap<String, String>;

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
pub fn decode_component(input: &[u8]) -> Result<String, ParamError> {
    let mut out = Vec::with_capacity(input.len());
    let mut index = 0;
    while index < input.len() {
        match input[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let high = input
                    .get(index + 1)
                    .copied()
                    .and_then(hex)
                    .ok_or(ParamError::Encoding)?;
                let low = input
                    .get(index + 2)
                    .copied()
                    .and_then(hex)
                    .ok_or(ParamError::Encoding)?;
                out.push(high << 4 | low);
                index += 2;
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8(out).map_err(|_| ParamError::Utf8)
}

/// Parses a form body or query string.
pub fn parse_form(input: &[u8]) -> Result<Params, ParamError> {
    let mut params = Params::new();
    for pair in input
        .split(|byte| *byte == b'&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let name = decode_component(name)?;
        let value = decode_component(value)?;
        if params.contains_key(&name) {
            return Err(ParamError::Repeated(name.chars().take(64).collect()));
        }
        params.insert(name, value);
    }
    Ok(params)
}

struct FlatObject;

impl<'de> Visitor<'de> for FlatObject {
    type Value = Result<Params, ParamError>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object of strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut params = Params::new();
        while let Some(name) = map.next_key::<String>()? {
            let value: serde_json::Value = map.next_value()?;
            let value = match value {
                serde_json::Value::String(text) => text,
                _ => return Ok(Err(ParamError::Json)),
            };
            if params.contains_key(&name) {
                return Ok(Err(ParamError::Repeated(name.chars().take(64).collect())));
            }
            params.insert(name, value);
        }
        Ok(Ok(params))
    }
}

/// Parses a JSON body.
pub fn parse_json(input: &[u8]) -> Result<Params, ParamError> {
    let mut deserializer = serde_json::Deserializer::from_slice(input);
    let parsed = deserializer
        .deserialize_map(FlatObject)
        .map_err(|_: serde_json::Error| ParamError::Json)?;
    deserializer.end().map_err(|_| ParamError::Json)?;
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documented_request_parses() {
        let body = b"client_id=abc&client_secret=bss_x%2By&grant_type=client_credentials&audience=https%3A%2F%2Fapi.sitecorecloud.io";
        let params = parse_form(body).unwrap();
        assert_eq!(params["client_secret"], "bss_x+y");
        assert_eq!(params["audience"], "https://api.sitecorecloud.io");
    }

    #[test]
    fn repeats_and_bad_escapes_are_rejected() {
        assert_eq!(
            parse_form(b"a=1&a=2"),
            Err(ParamError::Repeated("a".into()))
        );
        assert_eq!(parse_form(b"a=%zz"), Err(ParamError::Encoding));
        assert_eq!(parse_form(b"a=%4"), Err(ParamError::Encoding));
        assert_eq!(parse_form(b"a=%ff"), Err(ParamError::Utf8));
        assert_eq!(parse_form(b"a=x+y&&b=").unwrap()["a"], "x y");
    }

    #[test]
    fn json_must_be_flat_strings_without_repeats() {
        assert_eq!(parse_json(br#"{"a":"1","b":"2"}"#).unwrap()["b"], "2");
        assert_eq!(
            parse_json(br#"{"a":"1","a":"2"}"#),
            Err(ParamError::Repeated("a".into()))
        );
        assert_eq!(parse_json(br#"{"a":1}"#), Err(ParamError::Json));
        assert_eq!(parse_json(br#"["a"]"#), Err(ParamError::Json));
        assert_eq!(parse_json(br#"{"a":"1"} x"#), Err(ParamError::Json));
    }

    fn encode(text: &str) -> String {
        form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    proptest! {
        #[test]
        fn never_panics(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse_form(&input);
            let _ = parse_json(&input);
        }

        #[test]
        fn roundtrips_encoded_pairs(pairs in proptest::collection::hash_map("\\PC{1,16}", "\\PC{0,32}", 0..8)) {
            let body = pairs
                .iter()
                .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
                .collect::<Vec<_>>()
                .join("&");
            let parsed = parse_form(body.as_bytes()).unwrap();
            prop_assert_eq!(parsed, pairs);
        }
    }
}
