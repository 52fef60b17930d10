//! What Kite refuses outright (HTTP 400 `InputException`, nothing placed), for placements
//! and modifications.
//!
//! Messages follow Kite's own patterns: "Missing or empty field `x`" for a required field,
//! "Invalid `x`." for a bad value, and Kite's sentences where they are known (market
//! protection, freeze quantity, tick size, closed market, modification count).

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::market::TICK;
use super::responses::KiteError;
use crate::http::models::{ModifyOrderBody, PlaceOrderBody, WireOrder};

pub(super) const EXCHANGES: [&str; 7] = ["NSE", "BSE", "NFO", "CDS", "BFO", "MCX", "BCD"];
pub(super) const PRODUCTS: [&str; 4] = ["CNC", "NRML", "MIS", "MTF"];
pub(super) const ORDER_TYPES: [&str; 4] = ["MARKET", "LIMIT", "SL", "SL-M"];
const VARIETIES: [&str; 5] = ["regular", "amo", "co", "iceberg", "auction"];
const VALIDITIES: [&str; 3] = ["DAY", "IOC", "TTL"];
const MAX_TAG_LEN: usize = 20;
/// Kite's range of iceberg legs.
const ICEBERG_LEGS: std::ops::RangeInclusive<u8> = 2..=50;
/// Kite allows 25 modifications of one order.
pub(super) const MAX_MODIFICATIONS: u32 = 25;

/// What the market says about the (known) instrument of an order.
pub(super) struct Listing {
    /// The most one order may be (none when the exchange sets no limit).
    pub(super) freeze_quantity: Option<u32>,
    /// Whether the market is in session now.
    pub(super) in_session: bool,
}

fn require(value: &str, field: &str, allowed: &[&str]) -> Result<(), KiteError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(KiteError::input(format!("Invalid `{field}`.")))
    }
}

pub(super) fn missing(field: &str) -> KiteError {
    KiteError::input(format!("Missing or empty field `{field}`"))
}

fn positive(value: Option<Decimal>) -> bool {
    value.is_some_and(|value| value > Decimal::ZERO)
}

fn whole_ticks(value: Option<Decimal>) -> bool {
    value.is_none_or(|value| (value % TICK).is_zero())
}

/// The price, trigger and protection rules of a (placed or modified) order.
fn check_prices(
    side: &str,
    order_type: &str,
    price: Option<Decimal>,
    trigger_price: Option<Decimal>,
    market_protection: Option<i32>,
) -> Result<(), KiteError> {
    require(order_type, "order_type", &ORDER_TYPES)?;
    if matches!(order_type, "LIMIT" | "SL") && !positive(price) {
        return Err(KiteError::input("Price should be greater than zero."));
    }
    let stop = matches!(order_type, "SL" | "SL-M");
    if stop && !positive(trigger_price) {
        return Err(KiteError::input(
            "Trigger price should be greater than zero.",
        ));
    }
    if matches!(order_type, "MARKET" | "SL-M")
        && !market_protection.is_some_and(|percent| percent == -1 || (1..=100).contains(&percent))
    {
        return Err(KiteError::input(
            "Market orders without market protection are not allowed via API. Set `market_protection`.",
        ));
    }
    let priced = matches!(order_type, "LIMIT" | "SL");
    if !whole_ticks(price.filter(|_| priced)) || !whole_ticks(trigger_price.filter(|_| stop)) {
        return Err(KiteError::input(format!(
            "Tick size for this script is {TICK}. Kindly enter price in the multiple of tick size for this script."
        )));
    }
    if let (true, Some(price), Some(trigger)) = (order_type == "SL", price, trigger_price) {
        let wrong_side = if side == "BUY" {
            trigger > price
        } else {
            trigger < price
        };
        if wrong_side {
            return Err(KiteError::input(
                "Invalid `trigger_price`. A stoploss buy order triggers at or below its price, a sell at or above it.",
            ));
        }
    }
    Ok(())
}

/// The leg size Kite expects: the quantity over the legs, rounded up (lots are 1 here).
pub(super) fn iceberg_leg_quantity(quantity: u32, legs: u8) -> u32 {
    quantity.div_ceil(u32::from(legs.max(1)))
}

/// Checks a placement on `variety`; `autoslice` when Kite is asked to slice it.
pub(super) fn check_placement(
    body: &PlaceOrderBody,
    variety: &str,
    listing: &Listing,
    autoslice: bool,
) -> Result<(), KiteError> {
    require(variety, "variety", &VARIETIES)?;
    for (value, field) in [
        (&body.exchange, "exchange"),
        (&body.tradingsymbol, "tradingsymbol"),
        (&body.transaction_type, "transaction_type"),
        (&body.order_type, "order_type"),
        (&body.product, "product"),
    ] {
        if value.is_empty() {
            return Err(missing(field));
        }
    }
    require(&body.exchange, "exchange", &EXCHANGES)?;
    require(&body.transaction_type, "transaction_type", &["BUY", "SELL"])?;
    require(&body.product, "product", &PRODUCTS)?;
    let validity = body.validity.as_deref().unwrap_or("DAY");
    require(validity, "validity", &VALIDITIES)?;
    if validity == "TTL" && body.validity_ttl.unwrap_or(0) == 0 {
        return Err(missing("validity_ttl"));
    }
    if body.quantity == 0 {
        return Err(KiteError::input("Quantity should be greater than zero."));
    }
    if body
        .tag
        .as_deref()
        .is_some_and(|tag| tag.len() > MAX_TAG_LEN)
    {
        return Err(KiteError::input(
            "Tag length should not exceed 20 characters.",
        ));
    }
    check_prices(
        &body.transaction_type,
        &body.order_type,
        body.price,
        body.trigger_price,
        body.market_protection,
    )?;
    if body
        .disclosed_quantity
        .is_some_and(|disclosed| disclosed > body.quantity)
    {
        return Err(KiteError::input("Invalid `disclosed_quantity`."));
    }
    match variety {
        "co" => check_cover(body)?,
        "iceberg" => check_iceberg(body)?,
        "auction" => check_auction(body)?,
        _ => {}
    }
    let slice = if variety == "iceberg" {
        body.iceberg_quantity.unwrap_or(body.quantity)
    } else {
        body.quantity
    };
    if let Some(freeze) = listing.freeze_quantity
        && slice > freeze
        && !autoslice
    {
        return Err(KiteError::input(format!(
            "The order quantity {slice} ({slice} lots) is higher than the maximum quantity of {freeze} ({freeze} lots) allowed by the exchanges. Please reduce the order quantity or use iceberg orders."
        )));
    }
    if variety != "amo" && !listing.in_session {
        return Err(KiteError::input(
            "Markets are closed right now. Use GTT for placing long standing orders instead.",
        ));
    }
    Ok(())
}

/// Cover orders: intraday only, market or limit entry, and a stop-loss trigger.
fn check_cover(body: &PlaceOrderBody) -> Result<(), KiteError> {
    if body.product != "MIS" {
        return Err(KiteError::input(
            "Invalid `product`. Cover orders are intraday (MIS) only.",
        ));
    }
    require(&body.order_type, "order_type", &["MARKET", "LIMIT"])?;
    if !positive(body.trigger_price) {
        return Err(KiteError::input(
            "Invalid trigger price entered. Cover orders need the stoploss `trigger_price`.",
        ));
    }
    if !whole_ticks(body.trigger_price) {
        return Err(KiteError::input(format!(
            "Tick size for this script is {TICK}. Kindly enter price in the multiple of tick size for this script."
        )));
    }
    Ok(())
}

/// Iceberg orders: 2 to 50 legs of the quantity over the legs.
fn check_iceberg(body: &PlaceOrderBody) -> Result<(), KiteError> {
    let legs = body.iceberg_legs.ok_or_else(|| missing("iceberg_legs"))?;
    if !ICEBERG_LEGS.contains(&legs) || u32::from(legs) > body.quantity {
        return Err(KiteError::input("Invalid `iceberg_legs`."));
    }
    let leg_quantity = body
        .iceberg_quantity
        .ok_or_else(|| missing("iceberg_quantity"))?;
    if leg_quantity != iceberg_leg_quantity(body.quantity, legs) {
        return Err(KiteError::input("Invalid `iceberg_quantity`."));
    }
    Ok(())
}

/// Auction orders: the auction's number.
fn check_auction(body: &PlaceOrderBody) -> Result<(), KiteError> {
    let number = body
        .auction_number
        .as_deref()
        .filter(|number| !number.is_empty())
        .ok_or_else(|| missing("auction_number"))?;
    if !number.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(KiteError::input("Invalid `auction_number`."));
    }
    Ok(())
}

/// Checks a modification of `current` (on the `variety` path, its `modifications`-th
/// change so far) and returns the order as it would stand.
pub(super) fn check_modification(
    current: &WireOrder,
    variety: &str,
    change: &ModifyOrderBody,
    modifications: u32,
) -> Result<WireOrder, KiteError> {
    if variety != current.variety {
        return Err(KiteError::input("Invalid `variety`."));
    }
    if modifications >= MAX_MODIFICATIONS {
        return Err(KiteError::input(
            "Maximum allowed order modifications exceeded.",
        ));
    }
    let quantity = change.quantity.unwrap_or(current.quantity);
    if quantity == 0 || quantity <= current.filled_quantity {
        return Err(KiteError::input("Invalid `quantity`."));
    }
    let validity = change.validity.clone().unwrap_or(current.validity.clone());
    require(&validity, "validity", &VALIDITIES)?;
    let order_type = change
        .order_type
        .clone()
        .unwrap_or(current.order_type.clone());
    let at_market = matches!(order_type.as_str(), "MARKET" | "SL-M");
    let price = change.price.or(Some(current.price)).filter(|_| !at_market);
    let trigger_price = change
        .trigger_price
        .or(Some(current.trigger_price))
        .filter(|_| matches!(order_type.as_str(), "SL" | "SL-M"));
    let protection = change.market_protection.or_else(|| {
        current
            .market_protection
            .to_i32()
            .filter(|percent| *percent != 0)
    });
    check_prices(
        &current.transaction_type,
        &order_type,
        price,
        trigger_price,
        protection,
    )?;
    Ok(WireOrder {
        order_type,
        quantity,
        pending_quantity: quantity - current.filled_quantity,
        price: price.unwrap_or_default(),
        trigger_price: trigger_price.unwrap_or_default(),
        validity,
        disclosed_quantity: change
            .disclosed_quantity
            .unwrap_or(current.disclosed_quantity),
        market_protection: protection.map(Decimal::from).unwrap_or_default(),
        modified: Some(true),
        ..current.clone()
    })
}
