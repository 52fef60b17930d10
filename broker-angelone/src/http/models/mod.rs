//! SmartAPI wire types: strict for what we send, lenient for what we read.
//!
//! Request bodies (`<Call>Body`) hold typed values and serialize every value as a string, as
//! SmartAPI documents them. Response types (`Wire<Thing>`) accept numbers as numbers or
//! strings, booleans as `true` or `"false"`, and `null`, `"null"` or `""` for nothing, and
//! write what SmartAPI writes (prices of orders and quotes as JSON numbers, order quantities
//! as strings). The simulator (feature `sim`) reads and writes the same types.
//!
//! Decimal values never pass through `f64`: the text of a JSON number is parsed straight into
//! a [`Decimal`] (through serde_json's `RawValue`, in this crate only), so
//! `96426.32999999999` stays `96426.32999999999`, and a decimal is written as the JSON number
//! of its own digits.
//!
//! Reference: <https://smartapi.angelbroking.com/docs> (Orders, User, Portfolio, Market Data).

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Error as _;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

/// Defines a SmartAPI enum: its wire spelling, `as_str`, `FromStr` and serde as that text.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value as SmartAPI spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::http::models::UnknownWireValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let text = text.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str().eq_ignore_ascii_case(text))
                    .ok_or_else(|| $crate::http::models::UnknownWireValue {
                        field: stringify!($name),
                        value: text.to_owned(),
                    })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = $crate::http::models::lenient_string(deserializer)?;
                text.parse().map_err(|_| {
                    serde::de::Error::custom(concat!("not a known ", stringify!($name)))
                })
            }
        }
    };
}

mod account;
mod market;
mod orders;
mod portfolio;
mod session;

pub use account::{WireFunds, WireProfile};
pub use market::{
    CandleDataBody, LtpBody, QuoteBody, QuoteMode, SearchScripBody, WireCandle, WireDepth,
    WireDepthLevel, WireLtp, WireQuote, WireQuotes, WireScrip,
};
pub use orders::{
    CancelOrderBody, ModifyOrderBody, PlaceOrderBody, WireDuration, WireOrder, WireOrderAck,
    WireOrderType, WireProduct, WireSide, WireVariety,
};
pub use portfolio::{
    ConvertPositionBody, WireAllHoldings, WireHolding, WireHoldingTotals, WirePosition, WireTrade,
};
pub use session::{LoginBody, LogoutBody, RefreshBody, WireSession};

/// A SmartAPI value this crate does not know (from text given to `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {field} value {value:?}")]
pub struct UnknownWireValue {
    /// Which kind of value.
    pub field: &'static str,
    /// The text given.
    pub value: String,
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

/// The envelope around every JSON answer, in either of its two shapes:
/// backend `{"status", "message", "errorcode", "data"}` or gateway
/// `{"success", "message", "errorCode", "data"}`. `data` stays the answer's own text (borrowed
/// from it), so that its numbers are read by the types they go into, never as `f64`.
#[derive(Debug, Deserialize)]
pub(crate) struct RawEnvelope<'a> {
    #[serde(default, deserialize_with = "bool_opt")]
    status: Option<bool>,
    #[serde(default, deserialize_with = "bool_opt")]
    success: Option<bool>,
    #[serde(default, deserialize_with = "lenient_string")]
    message: String,
    #[serde(default, deserialize_with = "string_opt")]
    errorcode: Option<String>,
    #[serde(rename = "errorCode", default, deserialize_with = "string_opt")]
    error_code: Option<String>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

/// What an envelope said.
#[derive(Debug)]
pub(crate) enum Envelope<'a> {
    /// Success, with the text of `data` unless it was `null`, `"null"` or `""`.
    Success(Option<&'a RawValue>),
    /// Failure, with the broker's code (when it gave one) and message.
    Failure {
        code: Option<String>,
        message: String,
    },
}

impl PartialEq for Envelope<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Envelope::Success(mine), Envelope::Success(theirs)) => {
                mine.map(RawValue::get) == theirs.map(RawValue::get)
            }
            (
                Envelope::Failure { code, message },
                Envelope::Failure {
                    code: other_code,
                    message: other_message,
                },
            ) => code == other_code && message == other_message,
            _ => false,
        }
    }
}

impl<'a> From<RawEnvelope<'a>> for Envelope<'a> {
    fn from(raw: RawEnvelope<'a>) -> Self {
        let succeeded = raw.status.or(raw.success).unwrap_or(false);
        let code = raw.errorcode.or(raw.error_code);
        if succeeded && code.is_none() {
            Envelope::Success(raw.data.filter(|data| !json_is_absent(data.get())))
        } else {
            Envelope::Failure {
                code,
                message: raw.message,
            }
        }
    }
}

/// Whether a JSON text is `null`, or a string spelling "no value".
fn json_is_absent(text: &str) -> bool {
    let text = text.trim();
    text == "null"
        || (text.starts_with('"')
            && serde_json::from_str::<std::borrow::Cow<'_, str>>(text)
                .is_ok_and(|inner| is_absent(&inner)))
}

// ---------------------------------------------------------------------------------------------
// Lenient reading
// ---------------------------------------------------------------------------------------------
//
// SmartAPI writes numbers sometimes as JSON numbers and sometimes as strings (`"801.05"`,
// `"1"`), booleans as `true` or `"false"`, and absent values as `null`, `"null"` or `""`.
// These deserializers accept every one of those spellings, so a new quirk in one answer does
// not break decoding of the whole answer. Their errors never quote the value: answers carry
// personal data.

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
        // Only whole numbers and text reach here: decimals are read by `decimal_opt`.
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
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    Ok(scalar_text(deserializer)?.unwrap_or_default())
}

/// Text; `null`, `"null"` and `""` become `None`.
pub(crate) fn string_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(scalar_text(deserializer)?.filter(|text| !is_absent(text)))
}

/// A decimal from `801.05` or `"801.05"` (also `1e3`), read from the JSON text itself, never
/// through `f64`; absent spellings become `None`.
pub(crate) fn decimal_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Decimal>, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    decimal_from_json(raw.get()).map_err(|()| de::Error::custom("not a decimal number"))
}

/// The decimal a JSON text holds: a number's own digits, or a string's; `None` for `null`
/// and the absent spellings.
fn decimal_from_json(text: &str) -> Result<Option<Decimal>, ()> {
    let text = text.trim();
    let inner = if text.starts_with('"') {
        serde_json::from_str::<std::borrow::Cow<'_, str>>(text).map_err(|_| ())?
    } else if text == "null" {
        return Ok(None);
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        std::borrow::Cow::Borrowed(text)
    } else {
        return Err(());
    };
    if is_absent(&inner) {
        return Ok(None);
    }
    let inner = inner.trim();
    Decimal::from_str(inner)
        .or_else(|_| Decimal::from_scientific(inner))
        .map(Some)
        .map_err(|_| ())
}

/// A decimal where absent means zero (SmartAPI's fund and position figures).
pub(crate) fn decimal<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    Ok(decimal_opt(deserializer)?.unwrap_or_default())
}

/// A whole number from `5` or `"5"`; absent spellings become `None`.
pub(crate) fn i64_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    match scalar_text(deserializer)? {
        Some(text) if !is_absent(&text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom("not a whole number")),
        _ => Ok(None),
    }
}

/// A whole number where absent means zero.
pub(crate) fn i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    Ok(i64_opt(deserializer)?.unwrap_or_default())
}

/// A quantity from `5` or `"5"`; absent means zero.
pub(crate) fn quantity<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    u32::try_from(i64(deserializer)?).map_err(|_| de::Error::custom("quantity out of range"))
}

/// An optional quantity from `5` or `"5"`.
pub(crate) fn quantity_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    i64_opt(deserializer)?
        .map(|value| u32::try_from(value).map_err(|_| de::Error::custom("quantity out of range")))
        .transpose()
}

/// A list, `null` read as empty.
pub(crate) fn list_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A boolean from `true`, `"true"`, `"false"`, `"False"`; absent spellings become `None`.
pub(crate) fn bool_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
    match scalar_text(deserializer)? {
        Some(text) if !is_absent(&text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(de::Error::custom("not a boolean")),
        },
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Strict writing
// ---------------------------------------------------------------------------------------------

/// Serializes any displayable value as a JSON string.
pub(crate) fn as_text<T: fmt::Display, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Serializes an optional displayable value as a JSON string.
pub(crate) fn as_text_opt<T: fmt::Display, S: Serializer>(
    value: &Option<T>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => serializer.collect_str(value),
        None => serializer.serialize_none(),
    }
}

/// Serializes an optional text, `None` as `""` (SmartAPI never writes `null` for a missing
/// text in its order rows).
pub(crate) fn as_text_or_empty<S: Serializer>(
    value: &Option<String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.as_deref().unwrap_or_default())
}

/// Serializes a decimal as a JSON number of its own digits (never through `f64`).
pub(crate) fn as_number<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    RawValue::from_string(value.to_string())
        .map_err(S::Error::custom)?
        .serialize(serializer)
}

/// Serializes an optional decimal as a JSON number, `None` as `null`.
pub(crate) fn as_number_opt<S: Serializer>(
    value: &Option<Decimal>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(value) => as_number(value, serializer),
        None => serializer.serialize_none(),
    }
}

/// Serializes a secret as a plain JSON string: only request bodies sent to the broker do this.
pub(crate) fn expose<S: Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn envelope(json: &str) -> Envelope<'_> {
        serde_json::from_str::<RawEnvelope<'_>>(json)
            .unwrap()
            .into()
    }

    #[test]
    fn backend_and_gateway_failures_both_yield_their_code() {
        assert_eq!(
            envelope(
                r#"{"status":false,"message":"Invalid totp","errorcode":"AB1050","data":null}"#
            ),
            Envelope::Failure {
                code: Some("AB1050".into()),
                message: "Invalid totp".into()
            }
        );
        assert_eq!(
            envelope(
                r#"{"success":false,"message":"Invalid Token","errorCode":"AG8001","data":""}"#
            ),
            Envelope::Failure {
                code: Some("AG8001".into()),
                message: "Invalid Token".into()
            }
        );
        assert_eq!(
            envelope(r#"{"status":"false","message":"x","errorcode":"AB2001","data":"null"}"#),
            Envelope::Failure {
                code: Some("AB2001".into()),
                message: "x".into()
            }
        );
    }

    #[test]
    fn success_data_spelled_as_nothing_is_none() {
        for data in ["null", r#""null""#, r#""""#] {
            let json =
                format!(r#"{{"status":true,"message":"SUCCESS","errorcode":"","data":{data}}}"#);
            assert_eq!(envelope(&json), Envelope::Success(None), "{json}");
        }
        let text = r#"{"status":"true","message":"SUCCESS","errorcode":"","data":{"a":1}}"#;
        let Envelope::Success(Some(data)) = envelope(text) else {
            panic!("a success with data");
        };
        assert_eq!(data.get(), r#"{"a":1}"#);
    }

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
    fn decimals_keep_every_digit_of_the_json_number() {
        // Past 17 significant digits an f64 cannot hold a price: 96426.329999999999999 and
        // 96426.33 are the same f64, so through f64 the digits would be lost.
        let through_f64: f64 = "96426.329999999999999".parse().unwrap();
        assert_eq!(through_f64.to_string(), "96426.33");
        let probe = probe(r#"{"price": 96426.329999999999999, "quantity": 1}"#);
        assert_eq!(probe.price, Some(dec!(96426.329999999999999)));
        assert_eq!(
            serde_json::from_str::<Probe>(r#"{"price": 96426.32999999999}"#)
                .unwrap()
                .price,
            Some(dec!(96426.32999999999))
        );
        assert_eq!(
            serde_json::from_str::<Probe>(r#"{"price": "96426.32999999999"}"#)
                .unwrap()
                .price,
            Some(dec!(96426.32999999999))
        );
        assert_eq!(
            serde_json::from_str::<Probe>(r#"{"price": 1.5e3}"#)
                .unwrap()
                .price,
            Some(dec!(1500))
        );
        for bad in [
            r#"{"price": true}"#,
            r#"{"price": [1]}"#,
            r#"{"price": {"a": 1}}"#,
        ] {
            assert!(serde_json::from_str::<Probe>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decimals_are_written_as_json_numbers_of_their_own_digits() {
        #[derive(Serialize)]
        struct Out {
            #[serde(serialize_with = "as_number")]
            price: Decimal,
            #[serde(serialize_with = "as_number_opt")]
            trigger: Option<Decimal>,
        }
        let text = serde_json::to_string(&Out {
            price: dec!(96426.32999999999),
            trigger: None,
        })
        .unwrap();
        assert_eq!(text, r#"{"price":96426.32999999999,"trigger":null}"#);
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
    fn a_bad_value_is_an_error_that_does_not_quote_it() {
        for json in [
            r#"{"price": "12abc9"}"#,
            r#"{"quantity": "12abc9"}"#,
            r#"{"status": "12abc9"}"#,
        ] {
            let error = serde_json::from_str::<Probe>(json).err().unwrap();
            assert!(!error.to_string().contains("12abc9"), "{error}");
        }
    }

    #[test]
    fn wire_enums_parse_case_insensitively_and_decode_errors_do_not_quote_the_value() {
        assert_eq!("stoploss_limit".parse(), Ok(WireOrderType::StoplossLimit));
        let error = "ICEBERG".parse::<WireVariety>().unwrap_err();
        assert!(error.to_string().contains("ICEBERG"));
        let error = serde_json::from_str::<WireVariety>(r#""ICEBERG""#).unwrap_err();
        assert!(!error.to_string().contains("ICEBERG"), "{error}");
    }
}
