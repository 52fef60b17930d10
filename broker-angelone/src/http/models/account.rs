//! The account: profile and funds.

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use super::{decimal, lenient_string, string_opt};

/// `data` of `getProfile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireProfile {
    /// The client code.
    #[serde(deserialize_with = "lenient_string")]
    pub clientcode: String,
    /// The account holder's name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: String,
    /// The e-mail address.
    #[serde(default, deserialize_with = "string_opt")]
    pub email: Option<String>,
    /// The mobile number.
    #[serde(default, deserialize_with = "lenient_string")]
    pub mobileno: String,
    /// Segments enabled for the account: live answers name them in lower case
    /// (`["nse_cm", "nse_fo", "bse_cm", "mcx_fo"]`), the docs' samples as exchanges
    /// (`"[NSE, BSE, NFO]"`).
    #[serde(default, deserialize_with = "string_list")]
    pub exchanges: Vec<String>,
    /// Products enabled for the account (`["MARGIN", "MIS", "NRML", "CNC", "CO", "BO"]`).
    #[serde(default, deserialize_with = "string_list")]
    pub products: Vec<String>,
    /// The last login time.
    #[serde(default, deserialize_with = "lenient_string")]
    pub lastlogintime: String,
    /// The broker.
    #[serde(default, deserialize_with = "lenient_string")]
    pub broker: String,
}

/// A list of strings, also accepting `null` and SmartAPI's occasional `"[NSE, BSE]"` text.
fn string_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
        Nothing(()),
    }
    Ok(match ListOrText::deserialize(deserializer)? {
        ListOrText::List(list) => list,
        ListOrText::Text(text) => text
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|item| item.trim().trim_matches('"').to_owned())
            .filter(|item| !item.is_empty())
            .collect(),
        ListOrText::Nothing(()) => Vec::new(),
    })
}

/// `data` of `getRMS`: funds and margins, every amount SmartAPI sends (as strings).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireFunds {
    /// Margin available for new orders.
    #[serde(default, deserialize_with = "decimal")]
    pub net: Decimal,
    /// Cash available.
    #[serde(default, deserialize_with = "decimal")]
    pub availablecash: Decimal,
    /// Funds added today.
    #[serde(default, deserialize_with = "decimal")]
    pub availableintradaypayin: Decimal,
    /// Limit margin available.
    #[serde(default, deserialize_with = "decimal")]
    pub availablelimitmargin: Decimal,
    /// Collateral value.
    #[serde(default, deserialize_with = "decimal")]
    pub collateral: Decimal,
    /// Unrealised mark-to-market.
    #[serde(default, deserialize_with = "decimal")]
    pub m2munrealized: Decimal,
    /// Realised mark-to-market.
    #[serde(default, deserialize_with = "decimal")]
    pub m2mrealized: Decimal,
    /// Margin used.
    #[serde(default, deserialize_with = "decimal")]
    pub utiliseddebits: Decimal,
    /// SPAN margin used.
    #[serde(default, deserialize_with = "decimal")]
    pub utilisedspan: Decimal,
    /// Option premium paid.
    #[serde(default, deserialize_with = "decimal")]
    pub utilisedoptionpremium: Decimal,
    /// Value of holdings sold.
    #[serde(default, deserialize_with = "decimal")]
    pub utilisedholdingsales: Decimal,
    /// Exposure margin used.
    #[serde(default, deserialize_with = "decimal")]
    pub utilisedexposure: Decimal,
    /// Turnover used.
    #[serde(default, deserialize_with = "decimal")]
    pub utilisedturnover: Decimal,
    /// Payout used.
    #[serde(default, deserialize_with = "decimal")]
    pub utilisedpayout: Decimal,
}
