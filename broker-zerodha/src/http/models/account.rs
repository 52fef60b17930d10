//! The account: profile and funds (Kite's margins).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::number;

/// `GET /user/profile`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireProfile {
    /// The Kite user id.
    #[serde(default)]
    pub user_id: String,
    /// `individual`, ...
    #[serde(default)]
    pub user_type: Option<String>,
    /// The account's e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// The account holder's name.
    #[serde(default)]
    pub user_name: String,
    /// The account holder's short name.
    #[serde(default)]
    pub user_shortname: String,
    /// `ZERODHA`.
    #[serde(default)]
    pub broker: Option<String>,
    /// Exchanges enabled (may include segments such as `MF`).
    #[serde(default)]
    pub exchanges: Vec<String>,
    /// Products enabled.
    #[serde(default)]
    pub products: Vec<String>,
    /// Order types enabled.
    #[serde(default)]
    pub order_types: Vec<String>,
    /// The avatar's URL, when there is one.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// Account details Kite adds (`demat_consent`).
    #[serde(default)]
    pub meta: WireProfileMeta,
}

/// The `meta` of [`WireProfile`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireProfileMeta {
    /// `empty`, `consent` or `physical`.
    #[serde(default)]
    pub demat_consent: Option<String>,
}

/// The funds of one segment: Kite's margins (`GET /user/margins/{segment}`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireFunds {
    /// Whether the segment is enabled.
    #[serde(default)]
    pub enabled: bool,
    /// Net cash balance available for trading.
    #[serde(default, with = "number")]
    pub net: Decimal,
    /// What is available.
    #[serde(default)]
    pub available: WireAvailableFunds,
    /// What is used.
    #[serde(default)]
    pub utilised: WireUtilisedFunds,
}

/// The `available` block of [`WireFunds`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireAvailableFunds {
    /// Additional margin given by the broker.
    #[serde(default, with = "number")]
    pub adhoc_margin: Decimal,
    /// Raw cash balance.
    #[serde(default, with = "number")]
    pub cash: Decimal,
    /// Opening balance of the day.
    #[serde(default, with = "number")]
    pub opening_balance: Decimal,
    /// Current balance.
    #[serde(default, with = "number")]
    pub live_balance: Decimal,
    /// Margin from pledged collateral.
    #[serde(default, with = "number")]
    pub collateral: Decimal,
    /// Cash paid in during the day.
    #[serde(default, with = "number")]
    pub intraday_payin: Decimal,
}

/// The `utilised` block of [`WireFunds`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireUtilisedFunds {
    /// Total margin used.
    #[serde(default, with = "number")]
    pub debits: Decimal,
    /// Exposure margin blocked.
    #[serde(default, with = "number")]
    pub exposure: Decimal,
    /// Booked intraday profit and loss.
    #[serde(default, with = "number")]
    pub m2m_realised: Decimal,
    /// Unbooked intraday profit and loss.
    #[serde(default, with = "number")]
    pub m2m_unrealised: Decimal,
    /// Option premium paid.
    #[serde(default, with = "number")]
    pub option_premium: Decimal,
    /// Funds paid out or withdrawn.
    #[serde(default, with = "number")]
    pub payout: Decimal,
    /// SPAN margin blocked.
    #[serde(default, with = "number")]
    pub span: Decimal,
    /// Value of holdings sold during the day.
    #[serde(default, with = "number")]
    pub holding_sales: Decimal,
    /// Utilised portion of the maximum turnover.
    #[serde(default, with = "number")]
    pub turnover: Decimal,
    /// Liquid collateral used.
    #[serde(default, with = "number")]
    pub liquid_collateral: Decimal,
    /// Stock collateral used.
    #[serde(default, with = "number")]
    pub stock_collateral: Decimal,
    /// Margin blocked for delivery.
    #[serde(default, with = "number")]
    pub delivery: Decimal,
}

/// `GET /user/margins`: the funds of both segments.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[non_exhaustive]
pub struct WireFundsBySegment {
    /// The equity segment.
    #[serde(default)]
    pub equity: Option<WireFunds>,
    /// The commodity segment.
    #[serde(default)]
    pub commodity: Option<WireFunds>,
}
