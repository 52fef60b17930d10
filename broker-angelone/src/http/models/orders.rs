//! Orders: the values SmartAPI names orders by, place / modify / cancel bodies, their
//! acknowledgement and the order book's rows.

use broker_core::Exchange;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{
    as_number, as_text, as_text_opt, as_text_or_empty, decimal, decimal_opt, lenient_string,
    quantity, quantity_opt, string_opt,
};

wire_enum! {
    /// `variety`: the order's session and form.
    WireVariety {
        /// An ordinary order.
        Normal => "NORMAL",
        /// A stop-loss order.
        Stoploss => "STOPLOSS",
        /// An after-market order.
        Amo => "AMO",
        /// A bracket order.
        Robo => "ROBO",
    }
}

wire_enum! {
    /// `ordertype`.
    WireOrderType {
        /// At market.
        Market => "MARKET",
        /// At a limit price.
        Limit => "LIMIT",
        /// A stop-loss limit order.
        StoplossLimit => "STOPLOSS_LIMIT",
        /// A stop-loss market order.
        StoplossMarket => "STOPLOSS_MARKET",
    }
}

wire_enum! {
    /// `producttype`.
    WireProduct {
        /// Delivery (cash and carry).
        Delivery => "DELIVERY",
        /// Derivatives carried forward.
        Carryforward => "CARRYFORWARD",
        /// Margin trading facility.
        Margin => "MARGIN",
        /// Intraday.
        Intraday => "INTRADAY",
        /// Bracket order product.
        Bo => "BO",
    }
}

wire_enum! {
    /// `duration`.
    WireDuration {
        /// For the day.
        Day => "DAY",
        /// Immediate or cancel.
        Ioc => "IOC",
    }
}

wire_enum! {
    /// `transactiontype`.
    WireSide {
        /// Buy.
        Buy => "BUY",
        /// Sell.
        Sell => "SELL",
    }
}

/// `placeOrder` body. Every value goes out as a JSON string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceOrderBody {
    /// NORMAL, STOPLOSS, AMO or ROBO.
    pub variety: WireVariety,
    /// The trading symbol (`SBIN-EQ`).
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// The instrument's symbol token (`3045`).
    #[serde(deserialize_with = "lenient_string")]
    pub symboltoken: String,
    /// BUY or SELL.
    pub transactiontype: WireSide,
    /// The exchange segment.
    pub exchange: Exchange,
    /// The order type.
    pub ordertype: WireOrderType,
    /// The product.
    pub producttype: WireProduct,
    /// DAY or IOC.
    pub duration: WireDuration,
    /// The limit price, `"0"` for market orders.
    #[serde(serialize_with = "as_text", deserialize_with = "decimal")]
    pub price: Decimal,
    /// Bracket orders' target distance, `"0"` otherwise.
    #[serde(serialize_with = "as_text", deserialize_with = "decimal", default)]
    pub squareoff: Decimal,
    /// Bracket orders' stop-loss distance, `"0"` otherwise.
    #[serde(serialize_with = "as_text", deserialize_with = "decimal", default)]
    pub stoploss: Decimal,
    /// The quantity.
    #[serde(serialize_with = "as_text", deserialize_with = "quantity")]
    pub quantity: u32,
    /// The trigger price of stop-loss orders.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_text_opt",
        deserialize_with = "decimal_opt"
    )]
    pub triggerprice: Option<Decimal>,
    /// The quantity shown to the market.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_text_opt",
        deserialize_with = "quantity_opt"
    )]
    pub disclosedquantity: Option<u32>,
    /// A tag of at most 20 characters.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "string_opt"
    )]
    pub ordertag: Option<String>,
}

/// `modifyOrder` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModifyOrderBody {
    /// The order's variety.
    pub variety: WireVariety,
    /// The broker's order id.
    #[serde(deserialize_with = "lenient_string")]
    pub orderid: String,
    /// The new order type.
    pub ordertype: WireOrderType,
    /// The product.
    pub producttype: WireProduct,
    /// DAY or IOC.
    pub duration: WireDuration,
    /// The new limit price, `"0"` for market orders.
    #[serde(serialize_with = "as_text", deserialize_with = "decimal")]
    pub price: Decimal,
    /// The new quantity.
    #[serde(serialize_with = "as_text", deserialize_with = "quantity")]
    pub quantity: u32,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// The instrument's symbol token.
    #[serde(deserialize_with = "lenient_string")]
    pub symboltoken: String,
    /// The exchange segment.
    pub exchange: Exchange,
    /// The new trigger price of stop-loss orders.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "as_text_opt",
        deserialize_with = "decimal_opt"
    )]
    pub triggerprice: Option<Decimal>,
}

/// `cancelOrder` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelOrderBody {
    /// The order's variety.
    pub variety: WireVariety,
    /// The broker's order id.
    #[serde(deserialize_with = "lenient_string")]
    pub orderid: String,
}

/// `data` of place, modify and cancel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireOrderAck {
    /// The script traded (place only).
    #[serde(default, deserialize_with = "string_opt")]
    pub script: Option<String>,
    /// The broker's order id.
    #[serde(deserialize_with = "lenient_string")]
    pub orderid: String,
    /// The order's unique id (the order-details call takes it).
    #[serde(default, deserialize_with = "string_opt")]
    pub uniqueorderid: Option<String>,
}

/// One order of the order book (also the `data` of order details), with every field SmartAPI
/// sends. Read leniently; written as SmartAPI writes it: prices as JSON numbers
/// (`"price": 161.7`), quantities as strings (`"quantity": "1"`), nothing as `""`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WireOrder {
    /// The variety.
    #[serde(deserialize_with = "lenient_string")]
    pub variety: String,
    /// The order type.
    #[serde(deserialize_with = "lenient_string")]
    pub ordertype: String,
    /// The product.
    #[serde(deserialize_with = "lenient_string")]
    pub producttype: String,
    /// DAY or IOC.
    #[serde(default, deserialize_with = "lenient_string")]
    pub duration: String,
    /// The limit price.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub price: Decimal,
    /// The trigger price.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub triggerprice: Decimal,
    /// The ordered quantity.
    #[serde(deserialize_with = "quantity", serialize_with = "as_text")]
    pub quantity: u32,
    /// The disclosed quantity.
    #[serde(default, deserialize_with = "quantity", serialize_with = "as_text")]
    pub disclosedquantity: u32,
    /// Bracket orders' target distance.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub squareoff: Decimal,
    /// Bracket orders' stop-loss distance.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub stoploss: Decimal,
    /// Bracket orders' trailing stop-loss.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub trailingstoploss: Decimal,
    /// The trading symbol.
    #[serde(deserialize_with = "lenient_string")]
    pub tradingsymbol: String,
    /// BUY or SELL.
    #[serde(deserialize_with = "lenient_string")]
    pub transactiontype: String,
    /// The exchange segment.
    #[serde(deserialize_with = "lenient_string")]
    pub exchange: String,
    /// The instrument's symbol token.
    #[serde(default, deserialize_with = "lenient_string")]
    pub symboltoken: String,
    /// The tag it was placed with.
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub ordertag: Option<String>,
    /// The instrument type (`OPTIDX`, `FUTSTK`, ...; empty for equities).
    #[serde(default, deserialize_with = "lenient_string")]
    pub instrumenttype: String,
    /// The strike price of options, `-1` otherwise.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub strikeprice: Decimal,
    /// `CE` or `PE` for options, empty otherwise.
    #[serde(default, deserialize_with = "lenient_string")]
    pub optiontype: String,
    /// The expiry of derivatives (`25FEB2021`), empty otherwise.
    #[serde(default, deserialize_with = "lenient_string")]
    pub expirydate: String,
    /// The instrument's lot size.
    #[serde(default, deserialize_with = "quantity", serialize_with = "as_text")]
    pub lotsize: u32,
    /// The quantity cancelled.
    #[serde(default, deserialize_with = "quantity", serialize_with = "as_text")]
    pub cancelsize: u32,
    /// Average fill price.
    #[serde(default, deserialize_with = "decimal", serialize_with = "as_number")]
    pub averageprice: Decimal,
    /// Quantity filled.
    #[serde(default, deserialize_with = "quantity", serialize_with = "as_text")]
    pub filledshares: u32,
    /// Quantity not filled.
    #[serde(default, deserialize_with = "quantity", serialize_with = "as_text")]
    pub unfilledshares: u32,
    /// The broker's order id.
    #[serde(deserialize_with = "lenient_string")]
    pub orderid: String,
    /// Why the order was rejected or cancelled.
    #[serde(default, deserialize_with = "lenient_string")]
    pub text: String,
    /// Status text (`open`, `complete`, `rejected`, `trigger pending`, ...).
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: String,
    /// Same as `status` in most answers.
    #[serde(default, deserialize_with = "lenient_string")]
    pub orderstatus: String,
    /// Last update time (`28-Nov-2026 09:15:02`, IST).
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub updatetime: Option<String>,
    /// When the exchange received the order (same format).
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub exchtime: Option<String>,
    /// When the exchange last updated the order (same format).
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub exchorderupdatetime: Option<String>,
    /// The last fill's id.
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub fillid: Option<String>,
    /// The last fill's time of day.
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub filltime: Option<String>,
    /// The parent order of a bracket order's leg.
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub parentorderid: Option<String>,
    /// The order's unique id.
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub uniqueorderid: Option<String>,
    /// The exchange's order id, once known.
    #[serde(
        default,
        deserialize_with = "string_opt",
        serialize_with = "as_text_or_empty"
    )]
    pub exchangeorderid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::models::{Envelope, RawEnvelope};
    use rust_decimal_macros::dec;

    #[test]
    fn place_order_body_sends_every_value_as_a_string() {
        let body = PlaceOrderBody {
            variety: WireVariety::Stoploss,
            tradingsymbol: "SBIN-EQ".into(),
            symboltoken: "3045".into(),
            transactiontype: WireSide::Buy,
            exchange: Exchange::Nse,
            ordertype: WireOrderType::StoplossLimit,
            producttype: WireProduct::Intraday,
            duration: WireDuration::Day,
            price: dec!(801.05),
            squareoff: Decimal::ZERO,
            stoploss: Decimal::ZERO,
            quantity: 10,
            triggerprice: Some(dec!(800)),
            disclosedquantity: None,
            ordertag: Some("run42".into()),
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "variety": "STOPLOSS", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045",
                "transactiontype": "BUY", "exchange": "NSE", "ordertype": "STOPLOSS_LIMIT",
                "producttype": "INTRADAY", "duration": "DAY", "price": "801.05",
                "squareoff": "0", "stoploss": "0", "quantity": "10", "triggerprice": "800",
                "ordertag": "run42"
            })
        );
        let back: PlaceOrderBody = serde_json::from_value(json).unwrap();
        assert_eq!(back, body);
    }

    #[test]
    fn order_book_rows_accept_numbers_or_strings() {
        let text = include_str!("../../../test_data/order_book.json");
        let raw: RawEnvelope = serde_json::from_str(text).unwrap();
        let Envelope::Success(Some(data)) = Envelope::from(raw) else {
            panic!("fixture should be a success");
        };
        let orders: Vec<WireOrder> = serde_json::from_str(data.get()).unwrap();
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].price, dec!(194));
        assert_eq!(orders[0].quantity, 1);
        assert_eq!(orders[1].text, "Adapter is Logged Off");
        assert_eq!(orders[0].lotsize, 1);
        assert_eq!(orders[0].strikeprice, dec!(-1));
        assert_eq!(orders[0].exchtime.as_deref(), Some("20-Oct-2020 13:10:59"));
        assert_eq!(orders[0].fillid, None);
    }

    #[test]
    fn order_rows_are_written_with_numeric_prices_and_text_quantities_as_smartapi_writes_them() {
        let order = WireOrder {
            orderid: "201020000000080".into(),
            price: dec!(161.7),
            quantity: 1,
            strikeprice: dec!(-1),
            lotsize: 1,
            ..WireOrder::default()
        };
        let json = serde_json::to_value(&order).unwrap();
        assert_eq!(json["price"], serde_json::json!(161.7));
        assert_eq!(json["quantity"], serde_json::json!("1"));
        assert_eq!(json["strikeprice"], serde_json::json!(-1));
        assert_eq!(json["lotsize"], serde_json::json!("1"));
        assert_eq!(json["fillid"], serde_json::json!(""));
        assert_eq!(json["exchangeorderid"], serde_json::json!(""));
        for field in [
            "squareoff",
            "stoploss",
            "trailingstoploss",
            "instrumenttype",
            "strikeprice",
            "optiontype",
            "expirydate",
            "lotsize",
            "cancelsize",
            "exchtime",
            "exchorderupdatetime",
            "fillid",
            "filltime",
            "parentorderid",
        ] {
            assert!(json.get(field).is_some(), "{field}");
        }
        let back: WireOrder = serde_json::from_value(json).unwrap();
        assert_eq!(
            back,
            WireOrder {
                fillid: None,
                ..order
            }
        );
    }
}
