//! Validated order requests.
//!
//! Requests are built through a builder whose `build` checks every rule that does not depend
//! on the broker; the instrument's tick and lot size are checked by
//! [`crate::InstrumentIndex::check`], broker rules by [`crate::PreTradePolicy`]. A built request cannot
//! be changed into an invalid one: its fields are read through accessors.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::validation::{
    MAX_ICEBERG_LEGS, MIN_ICEBERG_LEGS, ValidationError, check_market_protection, check_prices,
    check_quantity, check_validity,
};
use crate::{
    InstrumentRef, MarketProtection, OrderTag, OrderType, Product, Side, Validity, Variety,
};

/// A request to place one order, checked when built.
///
/// ```
/// use broker_core::{Exchange, InstrumentRef, OrderRequest, OrderType, Product, Side};
/// use rust_decimal::Decimal;
///
/// let request = OrderRequest::builder()
///     .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
///     .side(Side::Buy)
///     .order_type(OrderType::Limit)
///     .product(Product::Delivery)
///     .quantity(10)
///     .price(Decimal::new(80105, 2)) // 801.05
///     .tick_size(Decimal::new(5, 2)) // 0.05
///     .tag("run42leg1")
///     .build()?;
/// assert_eq!(request.quantity(), 10);
/// # Ok::<(), broker_core::ValidationError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "OrderRequestBuilder", into = "OrderRequestBuilder")]
pub struct OrderRequest {
    instrument: InstrumentRef,
    side: Side,
    order_type: OrderType,
    product: Product,
    quantity: u32,
    price: Option<Decimal>,
    trigger_price: Option<Decimal>,
    validity: Validity,
    variety: Variety,
    disclosed_quantity: Option<u32>,
    tag: Option<OrderTag>,
    market_protection: Option<MarketProtection>,
    algo_id: Option<String>,
    iceberg_legs: Option<u8>,
    auction_number: Option<String>,
}

/// The longest auction number accepted.
const MAX_AUCTION_NUMBER_LEN: usize = 10;

impl OrderRequest {
    /// An empty builder.
    pub fn builder() -> OrderRequestBuilder {
        OrderRequestBuilder::default()
    }

    /// The instrument.
    pub fn instrument(&self) -> &InstrumentRef {
        &self.instrument
    }
    /// Buy or sell.
    pub fn side(&self) -> Side {
        self.side
    }
    /// How it is priced.
    pub fn order_type(&self) -> OrderType {
        self.order_type
    }
    /// Its product.
    pub fn product(&self) -> Product {
        self.product
    }
    /// The quantity, always greater than zero.
    pub fn quantity(&self) -> u32 {
        self.quantity
    }
    /// The limit price; present exactly for limit and stop-limit orders.
    pub fn price(&self) -> Option<Decimal> {
        self.price
    }
    /// The trigger price; present exactly for stop orders.
    pub fn trigger_price(&self) -> Option<Decimal> {
        self.trigger_price
    }
    /// How long it stays live.
    pub fn validity(&self) -> Validity {
        self.validity
    }
    /// Its variety.
    pub fn variety(&self) -> Variety {
        self.variety
    }
    /// The quantity shown to the market, when less than the whole.
    pub fn disclosed_quantity(&self) -> Option<u32> {
        self.disclosed_quantity
    }
    /// The tag the order is found by again.
    pub fn tag(&self) -> Option<&OrderTag> {
        self.tag.as_ref()
    }
    /// Market protection, for market and stop-market orders.
    pub fn market_protection(&self) -> Option<MarketProtection> {
        self.market_protection
    }
    /// The exchange-registered algorithm id, when the strategy has one.
    pub fn algo_id(&self) -> Option<&str> {
        self.algo_id.as_deref()
    }

    /// How many legs an iceberg order is sliced into (iceberg orders only).
    pub fn iceberg_legs(&self) -> Option<u8> {
        self.iceberg_legs
    }
    /// The exchange's number of the auction an auction order takes part in (auction orders
    /// only).
    pub fn auction_number(&self) -> Option<&str> {
        self.auction_number.as_deref()
    }

    /// A builder holding this request's values, to derive a changed request from it.
    pub fn to_builder(&self) -> OrderRequestBuilder {
        OrderRequestBuilder::from(self.clone())
    }
}

/// Builds an [`OrderRequest`]; `build` refuses anything invalid.
///
/// Required: instrument, side, order type, product, quantity. Defaults: validity
/// [`Validity::Day`], variety [`Variety::Regular`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[must_use]
pub struct OrderRequestBuilder {
    instrument: Option<InstrumentRef>,
    side: Option<Side>,
    order_type: Option<OrderType>,
    product: Option<Product>,
    quantity: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trigger_price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    validity: Option<Validity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    variety: Option<Variety>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disclosed_quantity: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    market_protection: Option<MarketProtection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    algo_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iceberg_legs: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auction_number: Option<String>,
    /// Used only to check prices; not part of the request.
    #[serde(skip)]
    tick_size: Option<Decimal>,
}

impl OrderRequestBuilder {
    /// The instrument to trade.
    pub fn instrument(mut self, instrument: InstrumentRef) -> Self {
        self.instrument = Some(instrument);
        self
    }
    /// Buy or sell.
    pub fn side(mut self, side: Side) -> Self {
        self.side = Some(side);
        self
    }
    /// How the order is priced.
    pub fn order_type(mut self, order_type: OrderType) -> Self {
        self.order_type = Some(order_type);
        self
    }
    /// The product.
    pub fn product(mut self, product: Product) -> Self {
        self.product = Some(product);
        self
    }
    /// The quantity (shares, or units for derivatives).
    pub fn quantity(mut self, quantity: u32) -> Self {
        self.quantity = Some(quantity);
        self
    }
    /// The limit price, for limit and stop-limit orders.
    pub fn price(mut self, price: Decimal) -> Self {
        self.price = Some(price);
        self
    }
    /// The trigger price, for stop orders.
    pub fn trigger_price(mut self, trigger_price: Decimal) -> Self {
        self.trigger_price = Some(trigger_price);
        self
    }
    /// How long the order stays live (default: day).
    pub fn validity(mut self, validity: Validity) -> Self {
        self.validity = Some(validity);
        self
    }
    /// The variety (default: regular).
    pub fn variety(mut self, variety: Variety) -> Self {
        self.variety = Some(variety);
        self
    }
    /// The quantity shown to the market.
    pub fn disclosed_quantity(mut self, disclosed_quantity: u32) -> Self {
        self.disclosed_quantity = Some(disclosed_quantity);
        self
    }
    /// A tag to find the order by later: at most 20 ASCII letters and digits.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }
    /// Market protection for market and stop-market orders.
    pub fn market_protection(mut self, market_protection: MarketProtection) -> Self {
        self.market_protection = Some(market_protection);
        self
    }
    /// The exchange-registered algorithm id.
    pub fn algo_id(mut self, algo_id: impl Into<String>) -> Self {
        self.algo_id = Some(algo_id.into());
        self
    }
    /// The legs of an iceberg order ([`Variety::Iceberg`]): 2 to 50, and no more than the
    /// quantity. The broker sizes the legs (Kite: the quantity over the legs, rounded up to
    /// whole lots).
    pub fn iceberg_legs(mut self, legs: u8) -> Self {
        self.iceberg_legs = Some(legs);
        self
    }
    /// The exchange's number of the auction an auction order ([`Variety::Auction`]) takes
    /// part in: ASCII digits, as the broker lists it.
    pub fn auction_number(mut self, auction_number: impl Into<String>) -> Self {
        self.auction_number = Some(auction_number.into());
        self
    }
    /// The instrument's tick size, when known: prices must then be whole ticks.
    pub fn tick_size(mut self, tick_size: Decimal) -> Self {
        self.tick_size = Some(tick_size);
        self
    }

    /// Checks every rule and returns the request.
    ///
    /// # Errors
    /// The first [`ValidationError`] found: a missing required field, a zero quantity, a
    /// price or trigger price missing, not allowed, not positive or not a whole number of
    /// ticks, a stop-limit trigger on the wrong side of its limit, a disclosed quantity above
    /// the quantity, a zero TTL, market protection out of range or on a non-market order, a
    /// tag that is too long or not alphanumeric, an empty algo id, iceberg legs or an auction
    /// number on another variety, iceberg legs out of range, or an auction number that is
    /// not digits. Whether an iceberg or auction order without them can be placed is the
    /// broker's rule (Kite needs both).
    pub fn build(self) -> Result<OrderRequest, ValidationError> {
        let instrument = self.instrument.ok_or(ValidationError::MissingField {
            field: "instrument",
        })?;
        let side = self
            .side
            .ok_or(ValidationError::MissingField { field: "side" })?;
        let order_type = self.order_type.ok_or(ValidationError::MissingField {
            field: "order type",
        })?;
        let product = self
            .product
            .ok_or(ValidationError::MissingField { field: "product" })?;
        let quantity = self
            .quantity
            .ok_or(ValidationError::MissingField { field: "quantity" })?;
        let validity = self.validity.unwrap_or(Validity::Day);

        check_quantity(quantity, self.disclosed_quantity)?;
        check_prices(
            order_type,
            Some(side),
            self.price,
            self.trigger_price,
            self.tick_size,
        )?;
        check_validity(validity)?;
        if let Some(protection) = self.market_protection {
            check_market_protection(order_type, protection)?;
        }
        let tag = self.tag.map(OrderTag::new).transpose()?;
        if self
            .algo_id
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            return Err(ValidationError::EmptyAlgoId);
        }
        let variety = self.variety.unwrap_or(Variety::Regular);
        check_variety_fields(
            variety,
            quantity,
            self.iceberg_legs,
            self.auction_number.as_deref(),
        )?;

        Ok(OrderRequest {
            instrument,
            side,
            order_type,
            product,
            quantity,
            price: self.price,
            trigger_price: self.trigger_price,
            validity,
            variety,
            disclosed_quantity: self.disclosed_quantity,
            tag,
            market_protection: self.market_protection,
            algo_id: self.algo_id,
            iceberg_legs: self.iceberg_legs,
            auction_number: self.auction_number,
        })
    }
}

/// Iceberg legs and auction numbers belong to their own varieties and must be well formed.
fn check_variety_fields(
    variety: Variety,
    quantity: u32,
    iceberg_legs: Option<u8>,
    auction_number: Option<&str>,
) -> Result<(), ValidationError> {
    if let Some(legs) = iceberg_legs {
        if variety != Variety::Iceberg {
            return Err(ValidationError::NotForVariety {
                field: "iceberg legs",
                applies_to: Variety::Iceberg,
                variety,
            });
        }
        if !(MIN_ICEBERG_LEGS..=MAX_ICEBERG_LEGS).contains(&legs) || u32::from(legs) > quantity {
            return Err(ValidationError::IcebergLegsOutOfRange { legs, quantity });
        }
    }
    if let Some(number) = auction_number {
        if variety != Variety::Auction {
            return Err(ValidationError::NotForVariety {
                field: "auction number",
                applies_to: Variety::Auction,
                variety,
            });
        }
        if number.is_empty()
            || number.len() > MAX_AUCTION_NUMBER_LEN
            || !number.bytes().all(|byte| byte.is_ascii_digit())
        {
            return Err(ValidationError::InvalidAuctionNumber {
                value: number.to_owned(),
            });
        }
    }
    Ok(())
}

impl TryFrom<OrderRequestBuilder> for OrderRequest {
    type Error = ValidationError;

    fn try_from(builder: OrderRequestBuilder) -> Result<Self, Self::Error> {
        builder.build()
    }
}

impl From<OrderRequest> for OrderRequestBuilder {
    fn from(request: OrderRequest) -> Self {
        Self {
            instrument: Some(request.instrument),
            side: Some(request.side),
            order_type: Some(request.order_type),
            product: Some(request.product),
            quantity: Some(request.quantity),
            price: request.price,
            trigger_price: request.trigger_price,
            validity: Some(request.validity),
            variety: Some(request.variety),
            disclosed_quantity: request.disclosed_quantity,
            tag: request.tag.map(String::from),
            market_protection: request.market_protection,
            algo_id: request.algo_id,
            iceberg_legs: request.iceberg_legs,
            auction_number: request.auction_number,
            tick_size: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Exchange;
    use rust_decimal_macros::dec;

    fn limit_buy() -> OrderRequestBuilder {
        OrderRequest::builder()
            .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
            .side(Side::Buy)
            .order_type(OrderType::Limit)
            .product(Product::Delivery)
            .quantity(10)
            .price(dec!(801.05))
    }

    fn market_sell() -> OrderRequestBuilder {
        OrderRequest::builder()
            .instrument(InstrumentRef::new(Exchange::Nse, "INFY"))
            .side(Side::Sell)
            .order_type(OrderType::Market)
            .product(Product::Intraday)
            .quantity(1)
    }

    #[test]
    fn a_complete_limit_order_is_accepted_with_defaults() {
        let request = limit_buy().build().unwrap();
        assert_eq!(request.validity(), Validity::Day);
        assert_eq!(request.variety(), Variety::Regular);
        assert_eq!(request.price(), Some(dec!(801.05)));
        assert!(market_sell().build().is_ok());
    }

    #[test]
    fn every_required_field_is_named_when_missing() {
        let full = limit_buy();
        let cases: [(&str, OrderRequestBuilder); 5] = [
            (
                "instrument",
                OrderRequestBuilder {
                    instrument: None,
                    ..full.clone()
                },
            ),
            (
                "side",
                OrderRequestBuilder {
                    side: None,
                    ..full.clone()
                },
            ),
            (
                "order type",
                OrderRequestBuilder {
                    order_type: None,
                    ..full.clone()
                },
            ),
            (
                "product",
                OrderRequestBuilder {
                    product: None,
                    ..full.clone()
                },
            ),
            (
                "quantity",
                OrderRequestBuilder {
                    quantity: None,
                    ..full
                },
            ),
        ];
        for (field, builder) in cases {
            assert_eq!(
                builder.build(),
                Err(ValidationError::MissingField { field })
            );
        }
    }

    #[test]
    fn zero_quantity_is_refused() {
        assert_eq!(
            limit_buy().quantity(0).build(),
            Err(ValidationError::ZeroQuantity)
        );
        assert!(limit_buy().quantity(1).build().is_ok());
    }

    #[test]
    fn limit_and_stop_limit_orders_need_a_price() {
        let error = limit_buy().order_type(OrderType::Limit);
        let error = OrderRequestBuilder {
            price: None,
            ..error
        }
        .build();
        assert_eq!(
            error,
            Err(ValidationError::PriceRequired {
                order_type: OrderType::Limit
            })
        );
        let stop = OrderRequestBuilder {
            price: None,
            ..limit_buy()
        }
        .order_type(OrderType::StopLimit)
        .trigger_price(dec!(800));
        assert_eq!(
            stop.clone().build(),
            Err(ValidationError::PriceRequired {
                order_type: OrderType::StopLimit
            })
        );
        assert!(stop.price(dec!(801)).build().is_ok());
    }

    #[test]
    fn market_orders_refuse_a_limit_price() {
        for order_type in [OrderType::Market, OrderType::StopMarket] {
            let builder = market_sell().order_type(order_type).trigger_price(dec!(10));
            let builder = if order_type == OrderType::Market {
                OrderRequestBuilder {
                    trigger_price: None,
                    ..builder
                }
            } else {
                builder
            };
            assert!(builder.clone().build().is_ok(), "{order_type}");
            assert_eq!(
                builder.price(dec!(10)).build(),
                Err(ValidationError::PriceNotAllowed { order_type })
            );
        }
    }

    #[test]
    fn stop_orders_need_a_trigger_price_and_others_refuse_one() {
        let stop_market = market_sell().order_type(OrderType::StopMarket);
        assert_eq!(
            stop_market.clone().build(),
            Err(ValidationError::TriggerPriceRequired {
                order_type: OrderType::StopMarket
            })
        );
        assert!(stop_market.trigger_price(dec!(99.5)).build().is_ok());
        assert_eq!(
            limit_buy().trigger_price(dec!(800)).build(),
            Err(ValidationError::TriggerPriceNotAllowed {
                order_type: OrderType::Limit
            })
        );
    }

    #[test]
    fn prices_must_be_positive() {
        assert_eq!(
            limit_buy().price(dec!(0)).build(),
            Err(ValidationError::NonPositivePrice {
                field: "price",
                value: dec!(0)
            })
        );
        let stop = market_sell()
            .order_type(OrderType::StopMarket)
            .trigger_price(dec!(-1));
        assert_eq!(
            stop.build(),
            Err(ValidationError::NonPositivePrice {
                field: "trigger price",
                value: dec!(-1)
            })
        );
    }

    #[test]
    fn prices_must_be_whole_ticks_when_the_tick_size_is_known() {
        assert!(
            limit_buy()
                .price(dec!(801.05))
                .tick_size(dec!(0.05))
                .build()
                .is_ok()
        );
        assert_eq!(
            limit_buy()
                .price(dec!(801.03))
                .tick_size(dec!(0.05))
                .build(),
            Err(ValidationError::NotTickMultiple {
                field: "price",
                value: dec!(801.03),
                tick_size: dec!(0.05)
            })
        );
        let stop = limit_buy()
            .order_type(OrderType::StopLimit)
            .price(dec!(801.05));
        assert_eq!(
            stop.trigger_price(dec!(800.01))
                .tick_size(dec!(0.05))
                .build(),
            Err(ValidationError::NotTickMultiple {
                field: "trigger price",
                value: dec!(800.01),
                tick_size: dec!(0.05)
            })
        );
        assert_eq!(
            limit_buy().tick_size(dec!(0)).build(),
            Err(ValidationError::InvalidTickSize { tick_size: dec!(0) })
        );
    }

    #[test]
    fn stop_limit_trigger_must_be_on_the_right_side_of_the_limit() {
        let buy = limit_buy()
            .order_type(OrderType::StopLimit)
            .price(dec!(100));
        assert!(buy.clone().trigger_price(dec!(99)).build().is_ok());
        assert_eq!(
            buy.trigger_price(dec!(101)).build(),
            Err(ValidationError::TriggerOnWrongSide {
                side: Side::Buy,
                trigger_price: dec!(101),
                price: dec!(100)
            })
        );
        let sell = buy_to_sell(limit_buy())
            .order_type(OrderType::StopLimit)
            .price(dec!(100));
        assert!(sell.clone().trigger_price(dec!(101)).build().is_ok());
        assert!(matches!(
            sell.trigger_price(dec!(99)).build(),
            Err(ValidationError::TriggerOnWrongSide {
                side: Side::Sell,
                ..
            })
        ));
    }

    fn buy_to_sell(builder: OrderRequestBuilder) -> OrderRequestBuilder {
        builder.side(Side::Sell)
    }

    #[test]
    fn disclosed_quantity_may_not_exceed_the_quantity() {
        assert!(limit_buy().disclosed_quantity(10).build().is_ok());
        assert_eq!(
            limit_buy().disclosed_quantity(11).build(),
            Err(ValidationError::DisclosedQuantityTooLarge {
                disclosed: 11,
                quantity: 10
            })
        );
    }

    #[test]
    fn ttl_needs_at_least_a_minute() {
        assert!(
            limit_buy()
                .validity(Validity::Ttl { minutes: 1 })
                .build()
                .is_ok()
        );
        assert_eq!(
            limit_buy().validity(Validity::Ttl { minutes: 0 }).build(),
            Err(ValidationError::ZeroTtl)
        );
    }

    #[test]
    fn market_protection_must_be_in_range_and_on_a_market_order() {
        assert!(
            market_sell()
                .market_protection(MarketProtection::Percent(100))
                .build()
                .is_ok()
        );
        assert!(
            market_sell()
                .market_protection(MarketProtection::Automatic)
                .build()
                .is_ok()
        );
        for percent in [0, 101] {
            assert_eq!(
                market_sell()
                    .market_protection(MarketProtection::Percent(percent))
                    .build(),
                Err(ValidationError::MarketProtectionOutOfRange { percent })
            );
        }
        assert_eq!(
            limit_buy()
                .market_protection(MarketProtection::Automatic)
                .build(),
            Err(ValidationError::MarketProtectionNotAllowed {
                order_type: OrderType::Limit
            })
        );
    }

    #[test]
    fn the_builder_checks_the_tag_once_into_an_order_tag() {
        let request = limit_buy().tag("run42leg1").build().unwrap();
        assert_eq!(request.tag().map(OrderTag::as_str), Some("run42leg1"));
        assert!(matches!(
            limit_buy().tag("run-42").build(),
            Err(ValidationError::TagNotAlphanumeric { .. })
        ));
        assert!(matches!(
            limit_buy().tag("A".repeat(21)).build(),
            Err(ValidationError::TagTooLong { length: 21, .. })
        ));
    }

    #[test]
    fn an_empty_algo_id_is_refused() {
        assert!(limit_buy().algo_id("ALGO123").build().is_ok());
        assert_eq!(
            limit_buy().algo_id(" ").build(),
            Err(ValidationError::EmptyAlgoId)
        );
    }

    #[test]
    fn iceberg_legs_belong_to_iceberg_orders_and_must_be_in_range() {
        let iceberg = limit_buy().variety(Variety::Iceberg);
        let request = iceberg.clone().iceberg_legs(2).build().unwrap();
        assert_eq!(request.iceberg_legs(), Some(2));
        assert_eq!(
            limit_buy().iceberg_legs(2).build(),
            Err(ValidationError::NotForVariety {
                field: "iceberg legs",
                applies_to: Variety::Iceberg,
                variety: Variety::Regular
            })
        );
        for legs in [0, 1, 51] {
            assert_eq!(
                iceberg.clone().quantity(100).iceberg_legs(legs).build(),
                Err(ValidationError::IcebergLegsOutOfRange {
                    legs,
                    quantity: 100
                })
            );
        }
        assert!(
            iceberg
                .clone()
                .quantity(100)
                .iceberg_legs(50)
                .build()
                .is_ok(),
            "50 legs is Kite's maximum"
        );
        assert!(
            matches!(
                iceberg.quantity(3).iceberg_legs(4).build(),
                Err(ValidationError::IcebergLegsOutOfRange { .. })
            ),
            "no more legs than units"
        );
        let legacy = limit_buy().variety(Variety::Iceberg).build().unwrap();
        assert_eq!(legacy.iceberg_legs(), None, "legs stay optional here");
    }

    #[test]
    fn auction_numbers_belong_to_auction_orders_and_are_digits() {
        let auction = limit_buy().side(Side::Sell).variety(Variety::Auction);
        let request = auction.clone().auction_number("22").build().unwrap();
        assert_eq!(request.auction_number(), Some("22"));
        assert!(matches!(
            limit_buy().auction_number("22").build(),
            Err(ValidationError::NotForVariety {
                field: "auction number",
                ..
            })
        ));
        for bad in ["", "2a", "12345678901", " 22"] {
            assert_eq!(
                auction.clone().auction_number(bad).build(),
                Err(ValidationError::InvalidAuctionNumber { value: bad.into() }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn errors_read_as_sentences_naming_the_values() {
        let error = limit_buy()
            .price(dec!(801.03))
            .tick_size(dec!(0.05))
            .build()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "price 801.03 is not a multiple of the tick size 0.05"
        );
    }

    #[test]
    fn request_round_trips_through_serde_and_deserializing_validates() {
        let request = limit_buy()
            .order_type(OrderType::StopLimit)
            .trigger_price(dec!(800.5))
            .tag("run42")
            .validity(Validity::Ttl { minutes: 3 })
            .build()
            .unwrap();
        let iceberg = limit_buy()
            .variety(Variety::Iceberg)
            .iceberg_legs(5)
            .build()
            .unwrap();
        let json = serde_json::to_string(&iceberg).unwrap();
        assert_eq!(
            serde_json::from_str::<OrderRequest>(&json).unwrap(),
            iceberg
        );
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(
            serde_json::from_str::<OrderRequest>(&json).unwrap(),
            request
        );

        let invalid = json.replace("\"quantity\":10", "\"quantity\":0");
        let error = serde_json::from_str::<OrderRequest>(&invalid).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("quantity must be greater than zero"),
            "{error}"
        );
    }

    #[test]
    fn to_builder_derives_a_changed_request() {
        let request = limit_buy().build().unwrap();
        let changed = request.to_builder().quantity(3).build().unwrap();
        assert_eq!(changed.quantity(), 3);
        assert_eq!(changed.price(), request.price());
    }
}
