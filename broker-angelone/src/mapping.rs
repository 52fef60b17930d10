//! Domain ↔ SmartAPI wire mapping.
//!
//! | domain | SmartAPI |
//! |---|---|
//! | `Product::Delivery` / `Intraday` / `Carryforward` / `Mtf` | `DELIVERY` / `INTRADAY` / `CARRYFORWARD` / `MARGIN` |
//! | `OrderType::Market` / `Limit` | `MARKET` / `LIMIT`, variety `NORMAL` |
//! | `OrderType::StopLimit` / `StopMarket` | `STOPLOSS_LIMIT` / `STOPLOSS_MARKET`, variety `STOPLOSS` |
//! | `Variety::Amo` / `Bracket` | `AMO` / `ROBO` (product `BO`) |
//! | `Validity::Day` / `Ioc` | `DAY` / `IOC` |

use broker_core::{
    BrokerError, BrokerKind, Exchange, Funds, Holding, InstrumentRef, LastPrice, Ohlc, Order,
    OrderId, OrderModification, OrderRequest, OrderStatus, OrderType, Position, Product, Profile,
    Quote, Side, Trade, Validity, Variety,
};
use chrono::{DateTime, FixedOffset, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::http::models::{
    PlaceOrderBody, ProfileData, RmsData, WireDuration, WireHolding, WireOrder, WireOrderType,
    WirePosition, WireProduct, WireQuote, WireSide, WireTrade, WireVariety,
};

fn unsupported(operation: &'static str) -> BrokerError {
    BrokerError::Unsupported {
        broker: BrokerKind::AngelOne,
        operation,
    }
}

fn decode(what: &str, value: &str) -> BrokerError {
    BrokerError::Decode {
        message: format!("unknown {what} {value:?} in a SmartAPI answer"),
    }
}

/// The SmartAPI variety for a domain variety and order type.
///
/// # Errors
/// [`BrokerError::Unsupported`] for cover, iceberg and auction orders.
pub fn wire_variety(variety: Variety, order_type: OrderType) -> Result<WireVariety, BrokerError> {
    match variety {
        Variety::Regular if order_type.needs_trigger() => Ok(WireVariety::Stoploss),
        Variety::Regular => Ok(WireVariety::Normal),
        Variety::Amo => Ok(WireVariety::Amo),
        Variety::Bracket => Ok(WireVariety::Robo),
        Variety::Cover => Err(unsupported("cover orders")),
        Variety::Iceberg => Err(unsupported("iceberg orders")),
        Variety::Auction => Err(unsupported("auction orders")),
        _ => Err(unsupported("this order variety")),
    }
}

/// The SmartAPI order type.
pub fn wire_order_type(order_type: OrderType) -> WireOrderType {
    match order_type {
        OrderType::Market => WireOrderType::Market,
        OrderType::Limit => WireOrderType::Limit,
        OrderType::StopLimit => WireOrderType::StoplossLimit,
        OrderType::StopMarket => WireOrderType::StoplossMarket,
    }
}

/// The SmartAPI product; bracket orders always use `BO`.
///
/// # Errors
/// [`BrokerError::Unsupported`] for a product this crate does not know.
pub fn wire_product(product: Product, variety: Variety) -> Result<WireProduct, BrokerError> {
    if variety == Variety::Bracket {
        return Ok(WireProduct::Bo);
    }
    match product {
        Product::Delivery => Ok(WireProduct::Delivery),
        Product::Intraday => Ok(WireProduct::Intraday),
        Product::Carryforward => Ok(WireProduct::Carryforward),
        Product::Mtf => Ok(WireProduct::Margin),
        _ => Err(unsupported("this product")),
    }
}

/// The SmartAPI duration.
///
/// # Errors
/// [`BrokerError::Unsupported`] for TTL validity.
pub fn wire_duration(validity: Validity) -> Result<WireDuration, BrokerError> {
    match validity {
        Validity::Day => Ok(WireDuration::Day),
        Validity::Ioc => Ok(WireDuration::Ioc),
        Validity::Ttl { .. } => Err(unsupported("TTL validity")),
    }
}

fn wire_side(side: Side) -> WireSide {
    match side {
        Side::Buy => WireSide::Buy,
        Side::Sell => WireSide::Sell,
    }
}

/// The `placeOrder` body for a validated request and the instrument's symbol token.
///
/// # Errors
/// [`BrokerError::Unsupported`] for varieties, products or validities SmartAPI lacks.
pub fn place_order_body(
    request: &OrderRequest,
    symbol_token: &str,
) -> Result<PlaceOrderBody, BrokerError> {
    Ok(PlaceOrderBody {
        variety: wire_variety(request.variety(), request.order_type())?,
        tradingsymbol: request.instrument().trading_symbol.clone(),
        symboltoken: symbol_token.to_owned(),
        transactiontype: wire_side(request.side()),
        exchange: request.instrument().exchange,
        ordertype: wire_order_type(request.order_type()),
        producttype: wire_product(request.product(), request.variety())?,
        duration: wire_duration(request.validity())?,
        price: request.price().unwrap_or(Decimal::ZERO),
        squareoff: Decimal::ZERO,
        stoploss: Decimal::ZERO,
        quantity: request.quantity(),
        triggerprice: request.trigger_price(),
        disclosedquantity: request.disclosed_quantity(),
        ordertag: request.tag().map(str::to_owned),
    })
}

/// The `modifyOrder` body: the change applied to the order as placed.
///
/// # Errors
/// [`BrokerError::Unsupported`] for varieties or validities SmartAPI lacks.
pub fn modify_order_body(
    order_id: &OrderId,
    change: &OrderModification,
    placed: &OrderIdentity,
) -> Result<crate::http::models::ModifyOrderBody, BrokerError> {
    Ok(crate::http::models::ModifyOrderBody {
        variety: wire_variety(change.variety(), change.order_type())?,
        orderid: order_id.as_str().to_owned(),
        ordertype: wire_order_type(change.order_type()),
        producttype: placed.product,
        duration: wire_duration(change.validity())?,
        price: change.price().unwrap_or(Decimal::ZERO),
        quantity: change.quantity(),
        tradingsymbol: placed.trading_symbol.clone(),
        symboltoken: placed.symbol_token.clone(),
        exchange: placed.exchange,
        triggerprice: change.trigger_price(),
    })
}

/// What a modification must repeat about an order: where it trades and its product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderIdentity {
    /// The exchange segment.
    pub exchange: Exchange,
    /// The trading symbol.
    pub trading_symbol: String,
    /// The symbol token.
    pub symbol_token: String,
    /// The product.
    pub product: WireProduct,
    /// The variety it was placed with.
    pub variety: WireVariety,
    /// The unique order id, for the order-details call.
    pub unique_order_id: Option<String>,
}

impl OrderIdentity {
    /// The identity of an order in the order book.
    ///
    /// # Errors
    /// [`BrokerError::Decode`] when the row names an unknown exchange, product or variety.
    pub fn from_wire(order: &WireOrder) -> Result<Self, BrokerError> {
        Ok(Self {
            exchange: exchange(&order.exchange)?,
            trading_symbol: order.tradingsymbol.clone(),
            symbol_token: order.symboltoken.clone(),
            product: order
                .producttype
                .parse()
                .map_err(|_| decode("product", &order.producttype))?,
            variety: order
                .variety
                .parse()
                .map_err(|_| decode("variety", &order.variety))?,
            unique_order_id: order.uniqueorderid.clone(),
        })
    }
}

fn exchange(text: &str) -> Result<Exchange, BrokerError> {
    text.parse().map_err(|_| decode("exchange", text))
}

fn instrument(
    exchange_text: &str,
    symbol: &str,
    token: &str,
) -> Result<InstrumentRef, BrokerError> {
    let reference = InstrumentRef::new(exchange(exchange_text)?, symbol);
    Ok(if token.trim().is_empty() {
        reference
    } else {
        reference.with_token(token.trim())
    })
}

fn side(text: &str) -> Result<Side, BrokerError> {
    match text.parse::<WireSide>() {
        Ok(WireSide::Buy) => Ok(Side::Buy),
        Ok(WireSide::Sell) => Ok(Side::Sell),
        Err(_) => Err(decode("transaction type", text)),
    }
}

fn product(text: &str) -> Result<Product, BrokerError> {
    match text.parse::<WireProduct>() {
        Ok(WireProduct::Delivery) => Ok(Product::Delivery),
        Ok(WireProduct::Intraday | WireProduct::Bo) => Ok(Product::Intraday),
        Ok(WireProduct::Carryforward) => Ok(Product::Carryforward),
        Ok(WireProduct::Margin) => Ok(Product::Mtf),
        Err(_) => Err(decode("product", text)),
    }
}

fn order_type(text: &str) -> Result<OrderType, BrokerError> {
    match text.parse::<WireOrderType>() {
        Ok(WireOrderType::Market) => Ok(OrderType::Market),
        Ok(WireOrderType::Limit) => Ok(OrderType::Limit),
        Ok(WireOrderType::StoplossLimit) => Ok(OrderType::StopLimit),
        Ok(WireOrderType::StoplossMarket) => Ok(OrderType::StopMarket),
        Err(_) => Err(decode("order type", text)),
    }
}

fn variety(text: &str) -> Result<Variety, BrokerError> {
    match text.parse::<WireVariety>() {
        Ok(WireVariety::Normal | WireVariety::Stoploss) => Ok(Variety::Regular),
        Ok(WireVariety::Amo) => Ok(Variety::Amo),
        Ok(WireVariety::Robo) => Ok(Variety::Bracket),
        Err(_) => Err(decode("variety", text)),
    }
}

fn validity(text: &str) -> Result<Validity, BrokerError> {
    if text.trim().is_empty() {
        return Ok(Validity::Day);
    }
    match text.parse::<WireDuration>() {
        Ok(WireDuration::Day) => Ok(Validity::Day),
        Ok(WireDuration::Ioc) => Ok(Validity::Ioc),
        Err(_) => Err(decode("duration", text)),
    }
}

/// Normalises SmartAPI's order status text; `text` is the reason given for a rejection.
pub fn order_status(status: &str, text: &str) -> OrderStatus {
    match status.trim().to_ascii_lowercase().as_str() {
        "open" => OrderStatus::Open,
        "complete" => OrderStatus::Complete,
        "cancelled" => OrderStatus::Cancelled,
        "rejected" => OrderStatus::Rejected {
            reason: text.trim().to_owned(),
        },
        "trigger pending" => OrderStatus::TriggerPending,
        "open pending"
        | "validation pending"
        | "put order req received"
        | "after market order req received"
        | "modify pending"
        | "modify validation pending"
        | "cancel pending" => OrderStatus::Pending,
        _ => OrderStatus::Unknown {
            raw: status.to_owned(),
        },
    }
}

/// Parses SmartAPI's `28-Nov-2026 09:15:02` (IST).
fn ist_time(text: Option<&str>) -> Option<DateTime<FixedOffset>> {
    let naive = NaiveDateTime::parse_from_str(text?.trim(), "%d-%b-%Y %H:%M:%S").ok()?;
    broker_core::session::ist()
        .from_local_datetime(&naive)
        .single()
}

fn positive(value: Decimal) -> Option<Decimal> {
    (value > Decimal::ZERO).then_some(value)
}

/// A domain order from an order-book row.
///
/// # Errors
/// [`BrokerError::Decode`] when the row has values this crate does not know.
pub fn order(wire: &WireOrder) -> Result<Order, BrokerError> {
    let order_type = order_type(&wire.ordertype)?;
    let status_text = if wire.orderstatus.trim().is_empty() {
        &wire.status
    } else {
        &wire.orderstatus
    };
    Ok(Order {
        order_id: OrderId::new(wire.orderid.clone()),
        exchange_order_id: wire.exchangeorderid.clone(),
        instrument: instrument(&wire.exchange, &wire.tradingsymbol, &wire.symboltoken)?,
        side: side(&wire.transactiontype)?,
        order_type,
        product: product(&wire.producttype)?,
        validity: validity(&wire.duration)?,
        variety: variety(&wire.variety)?,
        quantity: wire.quantity,
        filled_quantity: wire.filledshares,
        price: order_type.needs_price().then_some(wire.price),
        trigger_price: order_type.needs_trigger().then_some(wire.triggerprice),
        average_price: positive(wire.averageprice),
        status: order_status(status_text, &wire.text),
        tag: wire.ordertag.clone(),
        updated_at: ist_time(wire.updatetime.as_deref()),
    })
}

/// A domain trade from a trade-book row; fill times are today's (IST).
///
/// # Errors
/// [`BrokerError::Decode`] when the row has values this crate does not know.
pub fn trade(wire: &WireTrade) -> Result<Trade, BrokerError> {
    let ist = broker_core::session::ist();
    let today = Utc::now().with_timezone(&ist).date_naive();
    let traded_at = wire
        .filltime
        .as_deref()
        .and_then(|time| NaiveTime::parse_from_str(time.trim(), "%H:%M:%S").ok())
        .and_then(|time| ist.from_local_datetime(&today.and_time(time)).single());
    Ok(Trade {
        trade_id: wire.fillid.clone(),
        order_id: OrderId::new(wire.orderid.clone()),
        instrument: instrument(&wire.exchange, &wire.tradingsymbol, "")?,
        side: side(&wire.transactiontype)?,
        product: product(&wire.producttype)?,
        quantity: wire.fillsize,
        price: wire.fillprice,
        traded_at,
    })
}

fn unsigned(value: i64, what: &str) -> Result<u64, BrokerError> {
    u64::try_from(value).map_err(|_| decode(what, &value.to_string()))
}

/// A domain position.
///
/// # Errors
/// [`BrokerError::Decode`] when the row has values this crate does not know.
pub fn position(wire: &WirePosition) -> Result<Position, BrokerError> {
    Ok(Position {
        instrument: instrument(&wire.exchange, &wire.tradingsymbol, &wire.symboltoken)?,
        product: product(&wire.producttype)?,
        quantity: wire.netqty,
        average_price: wire.avgnetprice,
        buy_quantity: unsigned(wire.buyqty, "buy quantity")?,
        sell_quantity: unsigned(wire.sellqty, "sell quantity")?,
        buy_value: wire.buyamount,
        sell_value: wire.sellamount,
        last_price: wire.ltp,
        pnl: wire.pnl,
    })
}

/// A domain holding.
///
/// # Errors
/// [`BrokerError::Decode`] when the row has values this crate does not know.
pub fn holding(wire: &WireHolding) -> Result<Holding, BrokerError> {
    Ok(Holding {
        instrument: instrument(&wire.exchange, &wire.tradingsymbol, &wire.symboltoken)?,
        isin: wire.isin.clone(),
        quantity: unsigned(wire.quantity, "holding quantity")?,
        average_price: wire.averageprice,
        last_price: wire.ltp,
        pnl: wire.profitandloss,
    })
}

/// Domain funds from `getRMS`.
pub fn funds(wire: &RmsData) -> Funds {
    Funds {
        net: wire.net,
        available_cash: wire.availablecash,
        utilised: wire.utiliseddebits,
    }
}

/// The domain profile; exchanges this crate does not know are left out.
pub fn profile(wire: &ProfileData) -> Profile {
    Profile {
        broker: BrokerKind::AngelOne,
        user_id: wire.clientcode.clone(),
        name: wire.name.clone(),
        email: wire.email.clone(),
        exchanges: wire
            .exchanges
            .iter()
            .filter_map(|code| code.parse().ok())
            .collect(),
    }
}

/// A domain quote.
///
/// # Errors
/// [`BrokerError::Decode`] when the quote names an unknown exchange.
pub fn quote(wire: &WireQuote) -> Result<Quote, BrokerError> {
    let ohlc = match (wire.open, wire.high, wire.low, wire.close) {
        (Some(open), Some(high), Some(low), Some(close)) => Some(Ohlc {
            open,
            high,
            low,
            close,
        }),
        _ => None,
    };
    Ok(Quote {
        instrument: instrument(&wire.exchange, &wire.trading_symbol, &wire.symbol_token)?,
        last_price: wire.ltp,
        ohlc,
        volume: wire
            .trade_volume
            .and_then(|volume| u64::try_from(volume).ok()),
        last_trade_at: ist_time(wire.exch_trade_time.as_deref()),
    })
}

/// A domain last price from a quote.
///
/// # Errors
/// [`BrokerError::Decode`] when the quote names an unknown exchange.
pub fn last_price(wire: &WireQuote) -> Result<LastPrice, BrokerError> {
    Ok(LastPrice {
        instrument: instrument(&wire.exchange, &wire.trading_symbol, &wire.symbol_token)?,
        last_price: wire.ltp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn request(order_type: OrderType, product: Product) -> broker_core::OrderRequestBuilder {
        let builder = OrderRequest::builder()
            .instrument(InstrumentRef::new(Exchange::Nse, "SBIN-EQ"))
            .side(Side::Buy)
            .order_type(order_type)
            .product(product)
            .quantity(3);
        let builder = if order_type.needs_price() {
            builder.price(dec!(801.05))
        } else {
            builder
        };
        if order_type.needs_trigger() {
            builder.trigger_price(dec!(800))
        } else {
            builder
        }
    }

    #[test]
    fn products_map_to_their_smartapi_names() {
        for (product, wire) in [
            (Product::Delivery, "DELIVERY"),
            (Product::Intraday, "INTRADAY"),
            (Product::Carryforward, "CARRYFORWARD"),
            (Product::Mtf, "MARGIN"),
        ] {
            let body =
                place_order_body(&request(OrderType::Limit, product).build().unwrap(), "3045")
                    .unwrap();
            assert_eq!(body.producttype.as_str(), wire);
            assert_eq!(self::product(wire).unwrap(), product);
        }
    }

    #[test]
    fn stop_orders_use_the_stoploss_variety() {
        for (order_type, wire) in [
            (OrderType::StopLimit, "STOPLOSS_LIMIT"),
            (OrderType::StopMarket, "STOPLOSS_MARKET"),
        ] {
            let body = place_order_body(
                &request(order_type, Product::Intraday).build().unwrap(),
                "3045",
            )
            .unwrap();
            assert_eq!(body.ordertype.as_str(), wire);
            assert_eq!(body.variety, WireVariety::Stoploss);
            assert_eq!(body.triggerprice, Some(dec!(800)));
        }
        let limit = place_order_body(
            &request(OrderType::Limit, Product::Intraday)
                .build()
                .unwrap(),
            "3045",
        )
        .unwrap();
        assert_eq!(limit.variety, WireVariety::Normal);
        assert_eq!(limit.price, dec!(801.05));
    }

    #[test]
    fn amo_and_bracket_varieties_map_and_others_are_unsupported() {
        let amo = request(OrderType::Limit, Product::Delivery)
            .variety(Variety::Amo)
            .build()
            .unwrap();
        assert_eq!(
            place_order_body(&amo, "1").unwrap().variety,
            WireVariety::Amo
        );
        let bracket = request(OrderType::Limit, Product::Intraday)
            .variety(Variety::Bracket)
            .build()
            .unwrap();
        let body = place_order_body(&bracket, "1").unwrap();
        assert_eq!(
            (body.variety, body.producttype),
            (WireVariety::Robo, WireProduct::Bo)
        );
        for variety in [Variety::Cover, Variety::Iceberg, Variety::Auction] {
            let request = request(OrderType::Limit, Product::Intraday)
                .variety(variety)
                .build()
                .unwrap();
            assert!(matches!(
                place_order_body(&request, "1"),
                Err(BrokerError::Unsupported { .. })
            ));
        }
        let ttl = request(OrderType::Limit, Product::Intraday)
            .validity(Validity::Ttl { minutes: 5 })
            .build()
            .unwrap();
        assert!(place_order_body(&ttl, "1").is_err());
    }

    #[test]
    fn order_statuses_normalise_and_unknown_ones_keep_their_text() {
        assert_eq!(order_status("open", ""), OrderStatus::Open);
        assert_eq!(order_status("complete", ""), OrderStatus::Complete);
        assert_eq!(order_status("Cancelled", ""), OrderStatus::Cancelled);
        assert_eq!(
            order_status("rejected", "RMS:Margin Exceeds"),
            OrderStatus::Rejected {
                reason: "RMS:Margin Exceeds".into()
            }
        );
        assert_eq!(
            order_status("trigger pending", ""),
            OrderStatus::TriggerPending
        );
        for pending in [
            "open pending",
            "validation pending",
            "put order req received",
            "after market order req received",
            "modify pending",
            "cancel pending",
        ] {
            assert_eq!(order_status(pending, ""), OrderStatus::Pending, "{pending}");
        }
        assert_eq!(
            order_status("not modified", ""),
            OrderStatus::Unknown {
                raw: "not modified".into()
            }
        );
    }

    #[test]
    fn order_book_fixture_maps_to_domain_orders() {
        let text = include_str!("../test_data/order_book.json");
        let envelope: serde_json::Value = serde_json::from_str(text).unwrap();
        let rows: Vec<WireOrder> = serde_json::from_value(envelope["data"].clone()).unwrap();
        let open = order(&rows[0]).unwrap();
        assert_eq!(open.status, OrderStatus::Open);
        assert_eq!(open.price, Some(dec!(194)));
        assert_eq!(open.trigger_price, None);
        assert_eq!(open.instrument.token.as_deref(), Some("3045"));
        assert_eq!(open.tag, None);
        assert_eq!(
            open.updated_at.unwrap().to_rfc3339(),
            "2020-10-20T13:10:59+05:30"
        );
        let rejected = order(&rows[1]).unwrap();
        assert_eq!(rejected.order_type, OrderType::StopLimit);
        assert_eq!(rejected.trigger_price, Some(dec!(800)));
        assert_eq!(rejected.side, Side::Sell);
        assert_eq!(rejected.tag.as_deref(), Some("run42leg1"));
        assert_eq!(
            rejected.status,
            OrderStatus::Rejected {
                reason: "Adapter is Logged Off".into()
            }
        );
    }

    #[test]
    fn unknown_wire_values_are_decode_errors_naming_them() {
        let text = include_str!("../test_data/order_book.json");
        let envelope: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut row: WireOrder = serde_json::from_value(envelope["data"][0].clone()).unwrap();
        row.producttype = "WEIRD".into();
        let error = order(&row).unwrap_err();
        assert!(error.to_string().contains("WEIRD"), "{error}");
    }
}
