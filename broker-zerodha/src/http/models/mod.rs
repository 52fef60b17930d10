//! Wire types of Kite Connect v3, lenient on input: missing fields default, nullable fields
//! are `Option`, numbers decode into `Decimal` whether sent as numbers or strings.
//!
//! Response shapes follow <https://kite.trade/docs/connect/v3/> and the samples in
//! `zerodha/kiteconnect-mocks`. Responses are `Wire<Thing>`; request forms are `<Call>Body`
//! (Kite takes them form-encoded). Enumerations stay `String` here; `crate::mapping` turns
//! them into domain types. The simulator serialises the same structs.

mod account;
mod market;
mod orders;
mod portfolio;
mod session;

pub use account::{
    WireAvailableFunds, WireFunds, WireFundsBySegment, WireProfile, WireProfileMeta,
    WireUtilisedFunds,
};
pub use market::{
    QuoteMap, WireDepth, WireDepthLevel, WireLtp, WireOhlc, WireOhlcQuote, WireQuote,
};
pub use orders::{
    ModifyOrderBody, PlaceOrderBody, WireAutosliceChild, WireAutosliceError,
    WireAutoslicePlacement, WireIcebergMeta, WireOrder, WireOrderId, WireOrderMeta,
};
pub use portfolio::{
    ConvertPositionBody, WireHolding, WireMtfHolding, WirePosition, WirePositions, WireTrade,
};
pub use session::WireSession;

use serde::{Deserialize, Serialize};

/// Decimals as Kite writes them: JSON numbers with their exact digits.
///
/// Written as the decimal's own digits (SDKs do arithmetic on these fields, so a string
/// would break them; only the simulator serialises responses). Read from the number's text
/// in the answer, never through `f64` (`96426.32999999999` stays `96426.32999999999`, where
/// an `f64` would give `96426.33`); a string holding a number and an exponent
/// (`1e2`) are read too, and `null` reads as zero, like a missing field. Digits beyond
/// `Decimal`'s 28 decimal places are rounded.
///
/// The number's text is captured with `serde_json`'s `RawValue`, so these fields decode from
/// `serde_json`'s own deserializer only (not from a `serde_json::Value` or through
/// `#[serde(flatten)]`), which is how every answer and postback is read.
pub(crate) mod number {
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::value::RawValue;

    /// Writes the decimal's digits as a JSON number.
    pub(crate) fn serialize<S: Serializer>(
        value: &Decimal,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(value.normalize().to_string())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }

    /// Reads a decimal from the JSON text of a number, a numeric string or `null`.
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Decimal, D::Error> {
        let raw = <Box<RawValue>>::deserialize(deserializer)?;
        parse(raw.get()).map_err(D::Error::custom)
    }

    /// The decimal a JSON value's text holds.
    pub(crate) fn parse(json: &str) -> Result<Decimal, String> {
        let text = json.trim();
        if text == "null" {
            return Ok(Decimal::ZERO);
        }
        let unquoted;
        let digits = if text.starts_with('"') {
            unquoted = serde_json::from_str::<String>(text)
                .map_err(|error| format!("not a number: {error}"))?;
            unquoted.trim()
        } else {
            text
        };
        let parsed = if digits.contains(['e', 'E']) {
            Decimal::from_scientific(digits)
        } else {
            Decimal::from_str(digits)
        };
        parsed.map_err(|error| format!("{digits:?} is not a decimal number: {error}"))
    }
}

/// The envelope of every JSON answer: `{"status":"success","data":…}`, or
/// `{"status":"error","message":…,"error_type":…,"data":null}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireEnvelope<T> {
    /// `success` or `error`.
    pub status: String,
    /// The payload; `None` when absent or `null`.
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub data: Option<T>,
    /// Kite's explanation of an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The exception class of an error, such as `TokenException`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> WireEnvelope<T> {
    /// A success envelope around `data`.
    pub fn success(data: T) -> Self {
        Self {
            status: "success".to_owned(),
            data: Some(data),
            message: None,
            error_type: None,
        }
    }

    /// Whether this is Kite's error envelope.
    pub fn is_error(&self) -> bool {
        self.status == "error" || self.error_type.is_some()
    }
}

/// Kite's error envelope, read without caring what `data` holds.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireError {
    /// `error`.
    #[serde(default)]
    pub status: String,
    /// Kite's explanation.
    #[serde(default)]
    pub message: String,
    /// The exception class, such as `TokenException`.
    #[serde(default)]
    pub error_type: Option<String>,
}

impl WireError {
    /// Whether the body was Kite's error envelope (rather than some other JSON).
    pub fn is_error(&self) -> bool {
        self.status == "error" || self.error_type.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn decimals_are_written_as_exact_json_numbers_and_read_from_numbers_or_strings() {
        let ltp = WireLtp {
            instrument_token: 408_065,
            last_price: Decimal::new(141_295_000, 5),
        };
        let json = serde_json::to_string(&ltp).unwrap();
        assert_eq!(json, r#"{"instrument_token":408065,"last_price":1412.95}"#);
        let from_string: WireLtp =
            serde_json::from_str(r#"{"instrument_token":1,"last_price":"1412.95"}"#).unwrap();
        assert_eq!(from_string.last_price, Decimal::new(141_295, 2));
    }

    #[test]
    fn an_envelope_without_data_or_with_null_data_has_none() {
        for body in [
            r#"{"status":"success"}"#,
            r#"{"status":"success","data":null}"#,
        ] {
            let envelope: WireEnvelope<WireOrderId> = serde_json::from_str(body).unwrap();
            assert!(envelope.data.is_none() && !envelope.is_error(), "{body}");
        }
        let error: WireEnvelope<WireOrderId> = serde_json::from_str(
            r#"{"status":"error","message":"m","error_type":"InputException","data":null}"#,
        )
        .unwrap();
        assert!(error.is_error());
    }
}
