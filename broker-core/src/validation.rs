//! What is wrong with a request that was refused before anything was sent.

use rust_decimal::Decimal;

use crate::policy::PolicyRule;
use crate::{BrokerKind, Exchange, OrderType, Side};

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
