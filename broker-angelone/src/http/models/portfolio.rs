//! The portfolio: trades, positions (and their conversion) and holdings.

use broker_core::Exchange;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{
    WireProduct, WireSide, as_number, as_number_opt, as_text, as_text_or_empty, decimal,
    decimal_opt, i64, i64_opt, lenient_string, list_or_null, quantity, string_opt,
};

/// One fill of the trade book; SmartAPI writes every value as a string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireTrade {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient_string")]
    pub exchange: String,
    /// The product.
    #[serde(deserialize_with = "lenient_string")]
    pub producttype: String,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// BUY or SELL.
    #[serde(deserialize_with = "lenient_string")]
    pub transactiontype: String,
    /// The instrument type (empty for equities).
    #[serde(default, deserialize_with = "lenient_string")]
    pub instrumenttype: String,
    /// The fill's value (price times quantity).
    #[serde(default, deserialize_with = "decimal")]
    pub tradevalue: Decimal,
    /// Fill price.
    #[serde(deserialize_with = "decimal")]
    pub fillprice: Decimal,
    /// Fill quantity.
    #[serde(deserialize_with = "quantity", serialize_with = "as_text")]
    pub fillsize: u32,
    /// The order that filled.
    #[serde(deserialize_with = "lenient_string")]
    pub orderid: String,
    /// The fill's id.
    #[serde(deserialize_with = "lenient_string")]
    pub fillid: String,
    /// Fill time of day (`09:15:02`, IST).
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub filltime: Option<String>,
}

/// One net position; SmartAPI writes every value as a string.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WirePosition {
    /// The exchange segment.
    #[serde(deserialize_with = "lenient_string")]
    pub exchange: String,
    /// The instrument's symbol token.
    #[serde(default, deserialize_with = "lenient_string")]
    pub symboltoken: String,
    /// The product.
    #[serde(deserialize_with = "lenient_string")]
    pub producttype: String,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// Quantity bought.
    #[serde(default, deserialize_with = "i64", serialize_with = "as_text")]
    pub buyqty: i64,
    /// Quantity sold.
    #[serde(default, deserialize_with = "i64", serialize_with = "as_text")]
    pub sellqty: i64,
    /// Value bought.
    #[serde(default, deserialize_with = "decimal")]
    pub buyamount: Decimal,
    /// Value sold.
    #[serde(default, deserialize_with = "decimal")]
    pub sellamount: Decimal,
    /// Net quantity.
    #[serde(default, deserialize_with = "i64", serialize_with = "as_text")]
    pub netqty: i64,
    /// Average buy price.
    #[serde(default, deserialize_with = "decimal")]
    pub buyavgprice: Decimal,
    /// Average sell price.
    #[serde(default, deserialize_with = "decimal")]
    pub sellavgprice: Decimal,
    /// Average price of the net quantity.
    #[serde(default, deserialize_with = "decimal")]
    pub avgnetprice: Decimal,
    /// The instrument's lot size.
    #[serde(default, deserialize_with = "quantity", serialize_with = "as_text")]
    pub lotsize: u32,
    /// Last traded price (live answers; not in the documented sample).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt"
    )]
    pub ltp: Option<Decimal>,
    /// Profit and loss (live answers; not in the documented sample).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "decimal_opt"
    )]
    pub pnl: Option<Decimal>,
}

/// One holding (`getHolding`, and each of `getAllHolding`'s). Amounts are JSON numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireHolding {
    /// The trading symbol.
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// The exchange segment.
    #[serde(deserialize_with = "lenient_string")]
    pub exchange: String,
    /// The ISIN.
    #[serde(default, deserialize_with = "string_opt")]
    pub isin: Option<String>,
    /// Quantity bought on the last trading days and not yet delivered (T+1).
    #[serde(default, deserialize_with = "i64")]
    pub t1quantity: i64,
    /// Quantity delivered to the demat account.
    #[serde(default, deserialize_with = "i64")]
    pub realisedquantity: i64,
    /// Quantity held. SmartAPI does not define whether it includes `t1quantity`: read
    /// through [`WireHolding::held`].
    #[serde(default, deserialize_with = "i64")]
    pub quantity: i64,
    /// Quantity authorised for sale (eDIS).
    #[serde(default, deserialize_with = "i64")]
    pub authorisedquantity: i64,
    /// The product (`DELIVERY`).
    #[serde(default, deserialize_with = "lenient_string")]
    pub product: String,
    /// Quantity pledged as collateral.
    #[serde(default, deserialize_with = "i64_opt")]
    pub collateralquantity: Option<i64>,
    /// The kind of collateral.
    #[serde(default, deserialize_with = "string_opt")]
    pub collateraltype: Option<String>,
    /// The collateral haircut.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub haircut: Decimal,
    /// Average buy price.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub averageprice: Decimal,
    /// Last traded price.
    #[serde(
        default,
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub ltp: Option<Decimal>,
    /// The instrument's symbol token.
    #[serde(default, deserialize_with = "lenient_string")]
    pub symboltoken: String,
    /// Previous close.
    #[serde(
        default,
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub close: Option<Decimal>,
    /// Unrealised profit and loss.
    #[serde(
        default,
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub profitandloss: Option<Decimal>,
    /// Unrealised profit and loss, in percent.
    #[serde(
        default,
        deserialize_with = "decimal_opt",
        serialize_with = "as_number_opt"
    )]
    pub pnlpercentage: Option<Decimal>,
}

impl WireHolding {
    /// The quantity held, T+1 included, whichever way the answer counts it: the larger of
    /// `quantity` and `realisedquantity + t1quantity`, so that neither reading double-counts
    /// or drops the shares bought on the last trading days.
    pub fn held(&self) -> i64 {
        self.quantity
            .max(self.realisedquantity.saturating_add(self.t1quantity))
    }
}

/// `data` of `getAllHolding`: every holding and their totals.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireAllHoldings {
    /// The holdings (`null` when there are none).
    #[serde(default, deserialize_with = "list_or_null")]
    pub holdings: Vec<WireHolding>,
    /// Their totals.
    #[serde(default)]
    pub totalholding: WireHoldingTotals,
}

/// `totalholding` of `getAllHolding`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireHoldingTotals {
    /// Current value of every holding.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub totalholdingvalue: Decimal,
    /// What they cost.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub totalinvvalue: Decimal,
    /// Unrealised profit and loss.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub totalprofitandloss: Decimal,
    /// Unrealised profit and loss, in percent.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub totalpnlpercentage: Decimal,
}

/// `convertPosition` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertPositionBody {
    /// The exchange segment.
    pub exchange: Exchange,
    /// The product the position has now.
    pub oldproducttype: WireProduct,
    /// The product to convert it to.
    pub newproducttype: WireProduct,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// The instrument's symbol token (SmartAPI's documented body carries it).
    #[serde(default, deserialize_with = "lenient_string")]
    pub symboltoken: String,
    /// BUY or SELL side of the position.
    pub transactiontype: WireSide,
    /// The quantity to convert.
    #[serde(serialize_with = "as_text", deserialize_with = "quantity")]
    pub quantity: u32,
    /// `DAY` (today's position) or `DELIVERY` (carried).
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub conversion_type: String,
}
