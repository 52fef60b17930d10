//! Lenient decoding of SmartAPI values.
//!
//! SmartAPI writes numbers sometimes as JSON numbers and sometimes as strings (`"801.05"`,
//! `"1"`), booleans as `true` or `"false"`, and absent values as `null`, `"null"` or `""`.
//! These deserializers accept every one of those spellings, so a new quirk in one response
//! does not break decoding of the whole answer.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};

/// Whether a string spells "no value".
pub(crate) fn is_absent(text: &str) -> bool {
    let text = text.trim();
    text.is_empty() || text.eq_ignore_ascii_case("null")
}

/// A scalar as text: strings as they are, numbers and booleans printed, `null` as `None`.
struct ScalarText;

impl<'de> Visitor<'de> for ScalarText {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number, a boolean or null")
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Some(value.to_owned()))
    }
    fn visit_string<E: de::Error>(self, value: String) -> Result<Self::Value, E> {
        Ok(Some(value))
    }
    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }
    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }
    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        // Decimal's own parsing of the shortest round-trip text keeps 801.05 as 801.05.
        Ok(Some(value.to_string()))
    }
    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Some(value.to_string()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
        inner.deserialize_any(self)
    }
}

fn scalar_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_any(ScalarText)
}

/// Text; `null` becomes the empty string.
pub(crate) fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(scalar_text(deserializer)?.unwrap_or_default())
}

/// Text; `null`, `"null"` and `""` become `None`.
pub(crate) fn string_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(scalar_text(deserializer)?.filter(|text| !is_absent(text)))
}

/// A value parsed from a number or a string; absent spellings become `None`.
fn parsed_opt<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    match scalar_text(deserializer)? {
        Some(text) if !is_absent(&text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|error| de::Error::custom(format!("{text:?}: {error}"))),
        _ => Ok(None),
    }
}

/// A decimal from `801.05` or `"801.05"`; absent spellings become `None`.
pub(crate) fn decimal_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Decimal>, D::Error> {
    match scalar_text(deserializer)? {
        Some(text) if !is_absent(&text) => {
            let text = text.trim();
            Decimal::from_str(text)
                .or_else(|_| Decimal::from_scientific(text))
                .map(Some)
                .map_err(|error| de::Error::custom(format!("{text:?}: {error}")))
        }
        _ => Ok(None),
    }
}

/// A decimal where absent means zero (SmartAPI's fund and position figures).
pub(crate) fn decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    Ok(decimal_opt(deserializer)?.unwrap_or_default())
}

/// A whole number from `5` or `"5"`; absent spellings become `None`.
pub(crate) fn i64_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    parsed_opt(deserializer)
}

/// A whole number where absent means zero.
pub(crate) fn i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Ok(i64_opt(deserializer)?.unwrap_or_default())
}

/// A boolean from `true`, `"true"`, `"false"`, `"False"`; absent spellings become `None`.
pub(crate) fn bool_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    match scalar_text(deserializer)? {
        Some(text) if !is_absent(&text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            other => Err(de::Error::custom(format!("{other:?} is not a boolean"))),
        },
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "decimal_opt")]
        price: Option<Decimal>,
        #[serde(default, deserialize_with = "i64")]
        quantity: i64,
        #[serde(default, deserialize_with = "bool_opt")]
        status: Option<bool>,
        #[serde(default, deserialize_with = "string_opt")]
        text: Option<String>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn numbers_are_read_from_numbers_and_strings_alike() {
        let from_numbers = probe(r#"{"price": 801.05, "quantity": 5}"#);
        let from_strings = probe(r#"{"price": "801.05", "quantity": "5"}"#);
        assert_eq!(from_numbers.price, Some(dec!(801.05)));
        assert_eq!(from_strings.price, Some(dec!(801.05)));
        assert_eq!(from_numbers.quantity, 5);
        assert_eq!(from_strings.quantity, 5);
    }

    #[test]
    fn every_spelling_of_nothing_is_none() {
        for json in [
            r#"{"price": null, "status": null, "text": null}"#,
            r#"{"price": "", "status": "", "text": ""}"#,
            r#"{"price": "null", "status": "null", "text": "null"}"#,
            r#"{}"#,
        ] {
            let probe = probe(json);
            assert_eq!(probe.price, None, "{json}");
            assert_eq!(probe.status, None, "{json}");
            assert_eq!(probe.text, None, "{json}");
        }
    }

    #[test]
    fn booleans_are_read_from_strings_in_any_case() {
        assert_eq!(probe(r#"{"status": "false"}"#).status, Some(false));
        assert_eq!(probe(r#"{"status": "True"}"#).status, Some(true));
        assert_eq!(probe(r#"{"status": true}"#).status, Some(true));
        assert!(serde_json::from_str::<Probe>(r#"{"status": "maybe"}"#).is_err());
    }

    #[test]
    fn garbage_in_a_number_is_an_error_naming_the_value() {
        let error = serde_json::from_str::<Probe>(r#"{"price": "12abc"}"#)
            .err()
            .unwrap();
        assert!(error.to_string().contains("12abc"), "{error}");
    }
}
