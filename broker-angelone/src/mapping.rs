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
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use rust_decimal::Decimal;

use crate::http::models::{
    ModifyOrderBody, PlaceOrderBody, WireDuration, WireFunds, WireHolding, WireOrder,
    WireOrderType, WirePosition, WireProduct, WireProfile, WireQuote, WireSide, WireTrade,
    WireVariety,
};

fn unsupported(operation: &'static str) -> BrokerError {
    BrokerError::Unsupported {
        broker: BrokerKind::AngelOne,
        operation,
    }
}

/// An answer's field holds a value this crate does not know. The value is not quoted:
/// answers carry personal data.
fn decode(field: &str) -> BrokerError {
    BrokerError::Decode {
        message: format!("a SmartAPI answer has a {field} this crate does not know"),
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
/// [`BrokerError::Unsupported`] for varieties, products or validities SmartAPI lacks, and for
/// a request carrying an exchange algo id: SmartAPI's `placeOrder` has no field for one, and
/// dropping it would send the order as if it had none.
pub fn place_order_body(
    request: &OrderRequest,
    symbol_token: &str,
) -> Result<PlaceOrderBody, BrokerError> {
    if request.algo_id().is_some() {
        return Err(unsupported(
            "algo ids (SmartAPI's placeOrder has no field to send one)",
        ));
    }
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
        ordertag: request.tag().map(|tag| tag.as_str().to_owned()),
    })
}

/// The `modifyOrder` body: the change applied to the order as placed. SmartAPI keeps an
/// order's variety and product: the body repeats them.
///
/// # Errors
/// [`BrokerError::Unsupported`] for varieties or validities SmartAPI lacks, and for a change
/// that needs another variety than the order's (a plain order turned into a stop-loss or
/// back: cancel it and place a new one).
pub fn modify_order_body(
    order_id: &OrderId,
    change: &OrderModification,
    placed: &OrderIdentity,
) -> Result<ModifyOrderBody, BrokerError> {
    // A regular order's variety follows its order type; an AMO or bracket order keeps its
    // own whatever the type (the modification may name it, or leave the default).
    let fits = match placed.variety {
        WireVariety::Normal | WireVariety::Stoploss => {
            change.variety() == Variety::Regular
                && wire_variety(Variety::Regular, change.order_type())? == placed.variety
        }
        WireVariety::Amo => matches!(change.variety(), Variety::Regular | Variety::Amo),
        WireVariety::Robo => matches!(change.variety(), Variety::Regular | Variety::Bracket),
    };
    if !fits {
        return Err(unsupported(
            "changing an order's variety (SmartAPI keeps it: cancel the order and place a new one)",
        ));
    }
    Ok(ModifyOrderBody {
        variety: placed.variety,
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
                .map_err(|_| decode("producttype"))?,
            variety: order.variety.parse().map_err(|_| decode("variety"))?,
            unique_order_id: order.uniqueorderid.clone(),
        })
    }
}

fn exchange(text: &str) -> Result<Exchange, BrokerError> {
    text.parse().map_err(|_| decode("exchange"))
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
        reference.with_broker_token(token.trim())
    })
}

fn side(text: &str) -> Result<Side, BrokerError> {
    match text.parse::<WireSide>() {
        Ok(WireSide::Buy) => Ok(Side::Buy),
        Ok(WireSide::Sell) => Ok(Side::Sell),
        Err(_) => Err(decode("transactiontype")),
    }
}

fn product(text: &str) -> Result<Product, BrokerError> {
    match text.parse::<WireProduct>() {
        Ok(WireProduct::Delivery) => Ok(Product::Delivery),
        Ok(WireProduct::Intraday | WireProduct::Bo) => Ok(Product::Intraday),
        Ok(WireProduct::Carryforward) => Ok(Product::Carryforward),
        Ok(WireProduct::Margin) => Ok(Product::Mtf),
        Err(_) => Err(decode("producttype")),
    }
}

fn order_type(text: &str) -> Result<OrderType, BrokerError> {
    match text.parse::<WireOrderType>() {
        Ok(WireOrderType::Market) => Ok(OrderType::Market),
        Ok(WireOrderType::Limit) => Ok(OrderType::Limit),
        Ok(WireOrderType::StoplossLimit) => Ok(OrderType::StopLimit),
        Ok(WireOrderType::StoplossMarket) => Ok(OrderType::StopMarket),
        Err(_) => Err(decode("ordertype")),
    }
}

fn variety(text: &str) -> Result<Variety, BrokerError> {
    match text.parse::<WireVariety>() {
        Ok(WireVariety::Normal | WireVariety::Stoploss) => Ok(Variety::Regular),
        Ok(WireVariety::Amo) => Ok(Variety::Amo),
        Ok(WireVariety::Robo) => Ok(Variety::Bracket),
        Err(_) => Err(decode("variety")),
    }
}

fn validity(text: &str) -> Result<Validity, BrokerError> {
    if text.trim().is_empty() {
        return Ok(Validity::Day);
    }
    match text.parse::<WireDuration>() {
        Ok(WireDuration::Day) => Ok(Validity::Day),
        Ok(WireDuration::Ioc) => Ok(Validity::Ioc),
        Err(_) => Err(decode("duration")),
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
    broker_core::ist::offset()
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

/// A domain trade from a trade-book row; fill times are on `today` (the IST trading date:
/// the trade book holds the day's fills only).
///
/// # Errors
/// [`BrokerError::Decode`] when the row has values this crate does not know.
pub fn trade(wire: &WireTrade, today: NaiveDate) -> Result<Trade, BrokerError> {
    let ist = broker_core::ist::offset();
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

fn unsigned(value: i64, field: &str) -> Result<u64, BrokerError> {
    u64::try_from(value).map_err(|_| decode(field))
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
        buy_quantity: unsigned(wire.buyqty, "buyqty")?,
        sell_quantity: unsigned(wire.sellqty, "sellqty")?,
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
        quantity: unsigned(wire.held(), "quantity")?,
        average_price: wire.averageprice,
        last_price: wire.ltp,
        pnl: wire.profitandloss,
    })
}

/// Domain funds from `getRMS`.
pub fn funds(wire: &WireFunds) -> Funds {
    Funds {
        net: wire.net,
        available_cash: wire.availablecash,
        utilised: wire.utiliseddebits,
    }
}

/// The exchange a profile's segment names: live answers use SmartAPI's lower-case segment
/// codes (`nse_cm`, `nse_fo`, `bse_cm`, `bse_fo`, `mcx_fo`, `cde_fo`, as in its WebSocket
/// exchange types), the docs' samples exchange codes (`NSE`, `NFO`). `None` for a segment
/// this toolkit does not trade (`ncx_fo`) or does not know.
pub fn profile_exchange(code: &str) -> Option<Exchange> {
    match code.trim().to_ascii_lowercase().as_str() {
        "nse_cm" => Some(Exchange::Nse),
        "bse_cm" => Some(Exchange::Bse),
        "nse_fo" => Some(Exchange::Nfo),
        "bse_fo" => Some(Exchange::Bfo),
        "mcx_fo" => Some(Exchange::Mcx),
        "cde_fo" => Some(Exchange::Cds),
        other => other.parse().ok(),
    }
}

/// The domain profile; segments this crate does not know are left out, and each exchange is
/// listed once.
pub fn profile(wire: &WireProfile) -> Profile {
    let mut exchanges: Vec<Exchange> = Vec::new();
    for exchange in wire
        .exchanges
        .iter()
        .filter_map(|code| profile_exchange(code))
    {
        if !exchanges.contains(&exchange) {
            exchanges.push(exchange);
        }
    }
    Profile {
        broker: BrokerKind::AngelOne,
        user_id: wire.clientcode.clone(),
        name: wire.name.clone(),
        email: wire.email.clone(),
        exchanges,
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
    fn an_algo_id_is_refused_as_unsupported_instead_of_dropped() {
        let request = request(OrderType::Limit, Product::Delivery)
            .algo_id("ALGO42")
            .build()
            .unwrap();
        let error = place_order_body(&request, "3045").unwrap_err();
        assert!(
            matches!(
                error,
                BrokerError::Unsupported {
                    broker: BrokerKind::AngelOne,
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("algo id"), "{error}");
    }

    #[test]
    fn a_modification_keeps_the_order_variety_and_refuses_one_that_needs_another() {
        let placed = |variety: WireVariety| OrderIdentity {
            exchange: Exchange::Nse,
            trading_symbol: "SBIN-EQ".into(),
            symbol_token: "3045".into(),
            product: WireProduct::Delivery,
            variety,
            unique_order_id: None,
        };
        let limit = OrderModification::builder(OrderType::Limit, 1)
            .price(dec!(800))
            .build()
            .unwrap();
        let stop = OrderModification::builder(OrderType::StopLimit, 1)
            .price(dec!(805))
            .trigger_price(dec!(804))
            .build()
            .unwrap();
        let id = OrderId::new("1");
        let body = |change: &OrderModification, variety| {
            modify_order_body(&id, change, &placed(variety)).map(|body| body.variety)
        };
        assert_eq!(body(&limit, WireVariety::Normal), Ok(WireVariety::Normal));
        assert_eq!(
            body(&stop, WireVariety::Stoploss),
            Ok(WireVariety::Stoploss)
        );
        assert_eq!(body(&stop, WireVariety::Amo), Ok(WireVariety::Amo));
        assert_eq!(body(&limit, WireVariety::Amo), Ok(WireVariety::Amo));
        for (change, variety) in [
            (&stop, WireVariety::Normal),
            (&limit, WireVariety::Stoploss),
        ] {
            assert!(
                matches!(body(change, variety), Err(BrokerError::Unsupported { .. })),
                "{variety:?}"
            );
        }
        let amo_change = OrderModification::builder(OrderType::Limit, 1)
            .price(dec!(800))
            .variety(Variety::Amo)
            .build()
            .unwrap();
        assert!(body(&amo_change, WireVariety::Normal).is_err());
    }

    #[test]
    fn profile_exchanges_are_read_from_live_segment_codes_and_documented_exchange_codes() {
        let live: WireProfile = serde_json::from_value(serde_json::json!({
            "clientcode": "S1", "name": "Sim",
            "exchanges": ["nse_fo", "nse_cm", "cde_fo", "ncx_fo", "bse_fo", "bse_cm", "mcx_fo"]
        }))
        .unwrap();
        assert_eq!(
            profile(&live).exchanges,
            [
                Exchange::Nfo,
                Exchange::Nse,
                Exchange::Cds,
                Exchange::Bfo,
                Exchange::Bse,
                Exchange::Mcx
            ]
        );
        let documented: WireProfile = serde_json::from_value(serde_json::json!({
            "clientcode": "S1", "name": "Sim", "exchanges": "[NSE, BSE, MCX, CDS, NCDEX, NFO]"
        }))
        .unwrap();
        assert_eq!(
            profile(&documented).exchanges,
            [
                Exchange::Nse,
                Exchange::Bse,
                Exchange::Mcx,
                Exchange::Cds,
                Exchange::Nfo
            ]
        );
    }

    #[test]
    fn a_holding_counts_t1_shares_once_whichever_way_quantity_is_reported() {
        let row = |quantity: i64, realised: i64, t1: i64| WireHolding {
            tradingsymbol: "SBIN-EQ".into(),
            exchange: "NSE".into(),
            quantity,
            realisedquantity: realised,
            t1quantity: t1,
            ..WireHolding::default()
        };
        // `quantity` including the T+1 shares, or only the delivered ones, or no breakdown.
        assert_eq!(holding(&row(12, 10, 2)).unwrap().quantity, 12);
        assert_eq!(holding(&row(10, 10, 2)).unwrap().quantity, 12);
        assert_eq!(holding(&row(7, 0, 0)).unwrap().quantity, 7);
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
        assert_eq!(open.instrument.broker_token.as_deref(), Some("3045"));
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
    fn unknown_wire_values_are_decode_errors_naming_the_field_but_not_the_value() {
        let text = include_str!("../test_data/order_book.json");
        let envelope: serde_json::Value = serde_json::from_str(text).unwrap();
        let mut row: WireOrder = serde_json::from_value(envelope["data"][0].clone()).unwrap();
        row.producttype = "WEIRD".into();
        let error = order(&row).unwrap_err();
        assert!(error.to_string().contains("producttype"), "{error}");
        assert!(!error.to_string().contains("WEIRD"), "{error}");
        row.producttype = "DELIVERY".into();
        row.exchange = "Asha Verma".into();
        let error = order(&row).unwrap_err();
        assert!(!error.to_string().contains("Asha"), "{error}");
    }
}
