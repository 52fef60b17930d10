//! What is wrong with a request that was refused before anything was sent.

use rust_decimal::Decimal;

use crate::policy::PolicyRule;
use crate::{BrokerKind, Exchange, MarketProtection, OrderType, Side, Validity, Variety};

/// The fewest legs an iceberg order can have (one leg would be a plain order).
pub const MIN_ICEBERG_LEGS: u8 = 2;
/// The most legs an iceberg order can have (Kite's limit; Kite is the only broker here with
/// iceberg orders).
pub const MAX_ICEBERG_LEGS: u8 = 50;

/// A request refused before it left: each variant names one rule and the values that broke it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A field the request cannot go without was not set.
    #[error("{field} is required")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },

    /// The instrument is not in the broker's instrument master, so it has no broker token.
    #[error("{exchange}:{trading_symbol} is not in {broker}'s instrument master")]
    UnknownInstrument {
        /// The broker whose master was searched.
        broker: BrokerKind,
        /// The exchange.
        exchange: Exchange,
        /// The trading symbol asked for.
        trading_symbol: String,
    },

    /// The quantity was zero.
    #[error("quantity must be greater than zero")]
    ZeroQuantity,

    /// A limit or stop-limit order without a limit price.
    #[error("a {order_type} order needs a limit price")]
    PriceRequired {
        /// The order type.
        order_type: OrderType,
    },

    /// A limit price on a market or stop-market order.
    #[error("a {order_type} order takes no limit price")]
    PriceNotAllowed {
        /// The order type.
        order_type: OrderType,
    },

    /// A stop order without a trigger price.
    #[error("a {order_type} order needs a trigger price")]
    TriggerPriceRequired {
        /// The order type.
        order_type: OrderType,
    },

    /// A trigger price on an order that has no trigger.
    #[error("a {order_type} order takes no trigger price")]
    TriggerPriceNotAllowed {
        /// The order type.
        order_type: OrderType,
    },

    /// A price that is zero or negative.
    #[error("{field} must be greater than zero, got {value}")]
    NonPositivePrice {
        /// Which price.
        field: &'static str,
        /// The value given.
        value: Decimal,
    },

    /// A tick size that is zero or negative.
    #[error("tick size must be greater than zero, got {tick_size}")]
    InvalidTickSize {
        /// The value given.
        tick_size: Decimal,
    },

    /// A price that is not a whole number of ticks.
    #[error("{field} {value} is not a multiple of the tick size {tick_size}")]
    NotTickMultiple {
        /// Which price.
        field: &'static str,
        /// The value given.
        value: Decimal,
        /// The instrument's tick size.
        tick_size: Decimal,
    },

    /// A stop-limit trigger on the wrong side of its limit price: a buy must trigger at or
    /// below its limit, a sell at or above it.
    #[error(
        "a {side:?} stop-limit order's trigger price {trigger_price} must be {} its limit price {price}",
        if matches!(side, Side::Buy) { "at or below" } else { "at or above" }
    )]
    TriggerOnWrongSide {
        /// The order's side.
        side: Side,
        /// The trigger price given.
        trigger_price: Decimal,
        /// The limit price given.
        price: Decimal,
    },

    /// A quantity that is not a whole number of the instrument's lots.
    #[error("quantity {quantity} is not a multiple of the lot size {lot_size}")]
    NotLotMultiple {
        /// The quantity given.
        quantity: u32,
        /// The instrument's lot size.
        lot_size: u32,
    },

    /// A disclosed quantity larger than the order.
    #[error("disclosed quantity {disclosed} exceeds the order quantity {quantity}")]
    DisclosedQuantityTooLarge {
        /// The disclosed quantity given.
        disclosed: u32,
        /// The order quantity.
        quantity: u32,
    },

    /// A TTL validity of zero minutes.
    #[error("a TTL validity needs at least 1 minute")]
    ZeroTtl,

    /// A market-protection percentage outside 1 to 100.
    #[error("market protection must be between 1 and 100 percent, got {percent}")]
    MarketProtectionOutOfRange {
        /// The percentage given.
        percent: u8,
    },

    /// Market protection on an order that does not execute at market.
    #[error("market protection applies only to market and stop-market orders, not {order_type}")]
    MarketProtectionNotAllowed {
        /// The order type.
        order_type: OrderType,
    },

    /// An algorithm id that is empty or only white space.
    #[error("algo id must not be empty when given")]
    EmptyAlgoId,

    /// A tag longer than the brokers accept.
    #[error("tag is {length} characters long; at most {max} are allowed")]
    TagTooLong {
        /// The tag's length.
        length: usize,
        /// The limit.
        max: usize,
    },

    /// A tag with characters other than ASCII letters and digits.
    #[error("tag {tag:?} may contain only ASCII letters and digits")]
    TagNotAlphanumeric {
        /// The tag given.
        tag: String,
    },

    /// An order id that this broker never issues (wrong characters or length): refused before
    /// it could reach a URL path or a request body.
    #[error("{id:?} is not a {broker} order id; nothing was sent")]
    MalformedOrderId {
        /// The broker.
        broker: BrokerKind,
        /// The id given (shortened when long).
        id: String,
    },

    /// A field that belongs to another variety (iceberg legs on a non-iceberg order, an
    /// auction number on a non-auction order).
    #[error("{field} applies only to {applies_to:?} orders, not to {variety:?} orders")]
    NotForVariety {
        /// The field given.
        field: &'static str,
        /// The variety it belongs to.
        applies_to: Variety,
        /// The request's variety.
        variety: Variety,
    },

    /// An iceberg order with too few or too many legs, or more legs than units.
    #[error(
        "an iceberg order of quantity {quantity} needs {MIN_ICEBERG_LEGS} to {MAX_ICEBERG_LEGS} legs and no more legs than units, got {legs}"
    )]
    IcebergLegsOutOfRange {
        /// The legs given.
        legs: u8,
        /// The order's quantity.
        quantity: u32,
    },

    /// An auction number that is not a number.
    #[error("auction number {value:?} must be 1 to 10 ASCII digits")]
    InvalidAuctionNumber {
        /// The value given.
        value: String,
    },

    /// The request broke a rule of the broker's pre-trade policy.
    #[error("pre-trade policy for {broker}: rule {rule} refused the order: {detail}")]
    Policy {
        /// The broker whose policy applied.
        broker: BrokerKind,
        /// The rule that refused it.
        rule: PolicyRule,
        /// What the rule saw.
        detail: String,
    },
}

impl ValidationError {
    /// The longest part of a refused order id that an error keeps.
    const MAX_QUOTED_ID: usize = 40;

    /// An order id this broker never issues, keeping at most 40 characters of it (the id can
    /// come from anywhere; an error should not carry a megabyte of it).
    pub fn malformed_order_id(broker: BrokerKind, id: &str) -> Self {
        Self::MalformedOrderId {
            broker,
            id: id.chars().take(Self::MAX_QUOTED_ID).collect(),
        }
    }
}

// The rules below are shared by order requests, modifications and the instrument check.

pub(crate) fn check_quantity(quantity: u32, disclosed: Option<u32>) -> Result<(), ValidationError> {
    if quantity == 0 {
        return Err(ValidationError::ZeroQuantity);
    }
    match disclosed {
        Some(disclosed) if disclosed > quantity => {
            Err(ValidationError::DisclosedQuantityTooLarge {
                disclosed,
                quantity,
            })
        }
        _ => Ok(()),
    }
}

/// The price rules shared by requests and modifications. `side` is known for new orders only.
pub(crate) fn check_prices(
    order_type: OrderType,
    side: Option<Side>,
    price: Option<Decimal>,
    trigger_price: Option<Decimal>,
    tick_size: Option<Decimal>,
) -> Result<(), ValidationError> {
    match (order_type.needs_price(), price) {
        (true, None) => return Err(ValidationError::PriceRequired { order_type }),
        (false, Some(_)) => return Err(ValidationError::PriceNotAllowed { order_type }),
        _ => {}
    }
    match (order_type.needs_trigger(), trigger_price) {
        (true, None) => return Err(ValidationError::TriggerPriceRequired { order_type }),
        (false, Some(_)) => return Err(ValidationError::TriggerPriceNotAllowed { order_type }),
        _ => {}
    }
    if let Some(tick_size) = tick_size
        && tick_size <= Decimal::ZERO
    {
        return Err(ValidationError::InvalidTickSize { tick_size });
    }
    for (field, value) in [("price", price), ("trigger price", trigger_price)] {
        if let Some(value) = value
            && value <= Decimal::ZERO
        {
            return Err(ValidationError::NonPositivePrice { field, value });
        }
    }
    if let Some(tick_size) = tick_size {
        check_tick_multiples(tick_size, price, trigger_price)?;
    }
    if let (Some(side), Some(price), Some(trigger_price)) = (side, price, trigger_price) {
        let wrong_side = match side {
            Side::Buy => trigger_price > price,
            Side::Sell => trigger_price < price,
        };
        if wrong_side {
            return Err(ValidationError::TriggerOnWrongSide {
                side,
                trigger_price,
                price,
            });
        }
    }
    Ok(())
}

pub(crate) fn check_validity(validity: Validity) -> Result<(), ValidationError> {
    match validity {
        Validity::Ttl { minutes: 0 } => Err(ValidationError::ZeroTtl),
        _ => Ok(()),
    }
}

pub(crate) fn check_market_protection(
    order_type: OrderType,
    protection: MarketProtection,
) -> Result<(), ValidationError> {
    if !order_type.is_market() {
        return Err(ValidationError::MarketProtectionNotAllowed { order_type });
    }
    match protection {
        MarketProtection::Percent(percent) if !(1..=100).contains(&percent) => {
            Err(ValidationError::MarketProtectionOutOfRange { percent })
        }
        _ => Ok(()),
    }
}

/// Prices must be whole ticks; a tick size of zero or less (an unusable master row)
/// constrains nothing here (the builder refuses it where a caller passes one).
pub(crate) fn check_tick_multiples(
    tick_size: Decimal,
    price: Option<Decimal>,
    trigger_price: Option<Decimal>,
) -> Result<(), ValidationError> {
    if tick_size <= Decimal::ZERO {
        return Ok(());
    }
    for (field, value) in [("price", price), ("trigger price", trigger_price)] {
        if let Some(value) = value
            && !(value % tick_size).is_zero()
        {
            return Err(ValidationError::NotTickMultiple {
                field,
                value,
                tick_size,
            });
        }
    }
    Ok(())
}

/// Quantities must be whole lots (a lot size of 0 or 1 constrains nothing).
pub(crate) fn check_lot_multiple(quantity: u32, lot_size: u32) -> Result<(), ValidationError> {
    if lot_size > 1 && !quantity.is_multiple_of(lot_size) {
        return Err(ValidationError::NotLotMultiple { quantity, lot_size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_order_id_is_quoted_shortened() {
        let error = ValidationError::malformed_order_id(BrokerKind::Zerodha, &"9".repeat(5000));
        let text = error.to_string();
        assert!(text.len() < 120, "{text}");
        assert!(text.contains("Zerodha"), "{text}");
    }
}
