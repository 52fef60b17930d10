//! What fills leave behind, per account: the trade book, net positions (and their
//! conversion to another product), holdings and funds.

use std::collections::HashMap;

use broker_core::{Exchange, Instrument};
use rust_decimal::Decimal;

use super::responses::Refusal;
use crate::http::models::{
    ConvertPositionBody, WireAllHoldings, WireFunds, WireHolding, WireHoldingTotals, WirePosition,
    WireProduct, WireSide, WireTrade,
};

/// One fill, as the portfolio needs it.
#[derive(Debug, Clone)]
pub(crate) struct Fill<'a> {
    pub client_code: &'a str,
    pub instrument: &'a Instrument,
    pub instrumenttype: &'a str,
    pub isin: Option<String>,
    pub side: WireSide,
    pub product: WireProduct,
    pub quantity: u32,
    pub price: Decimal,
    pub order_id: &'a str,
    pub fill_id: String,
    pub time: String,
}

/// A net position of one instrument and product.
#[derive(Debug, Clone)]
struct Position {
    exchange: Exchange,
    token: String,
    symbol: String,
    lot_size: u32,
    product: WireProduct,
    buy_quantity: i64,
    sell_quantity: i64,
    buy_value: Decimal,
    sell_value: Decimal,
}

impl Position {
    fn net(&self) -> i64 {
        self.buy_quantity - self.sell_quantity
    }

    fn average(value: Decimal, quantity: i64) -> Decimal {
        if quantity == 0 {
            Decimal::ZERO
        } else {
            (value / Decimal::from(quantity)).round_dp(2)
        }
    }

    fn to_wire(&self) -> WirePosition {
        let net = self.net();
        WirePosition {
            exchange: self.exchange.as_str().to_owned(),
            symboltoken: self.token.clone(),
            producttype: self.product.as_str().to_owned(),
            tradingsymbol: self.symbol.clone(),
            buyqty: self.buy_quantity,
            sellqty: self.sell_quantity,
            buyamount: self.buy_value,
            sellamount: self.sell_value,
            netqty: net,
            buyavgprice: Self::average(self.buy_value, self.buy_quantity),
            sellavgprice: Self::average(self.sell_value, self.sell_quantity),
            avgnetprice: Self::average(self.buy_value - self.sell_value, net),
            lotsize: self.lot_size,
            ..WirePosition::default()
        }
    }
}

/// Shares of one company held (whichever exchange they were bought on).
#[derive(Debug, Clone)]
struct Holding {
    name: String,
    exchange: Exchange,
    token: String,
    symbol: String,
    isin: Option<String>,
    realised: i64,
    t1: i64,
    average: Decimal,
}

impl Holding {
    fn held(&self) -> i64 {
        self.realised + self.t1
    }
}

/// One account's funds and what it holds.
#[derive(Debug, Default)]
struct Account {
    cash: Decimal,
    /// What today's fills used: purchases less sales.
    debits: Decimal,
    trades: Vec<WireTrade>,
    positions: Vec<Position>,
    holdings: Vec<Holding>,
}

/// Every account's trades, positions, holdings and funds.
#[derive(Debug, Default)]
pub(crate) struct Portfolio {
    accounts: HashMap<String, Account>,
}

impl Portfolio {
    fn account(&mut self, client_code: &str) -> &mut Account {
        self.accounts.entry(client_code.to_owned()).or_default()
    }

    /// Opens an account with `cash`.
    pub(crate) fn open(&mut self, client_code: &str, cash: Decimal) {
        self.account(client_code).cash = cash;
    }

    /// Adds shares delivered before today.
    pub(crate) fn hold(
        &mut self,
        client_code: &str,
        instrument: &Instrument,
        isin: Option<String>,
        quantity: u32,
        average: Decimal,
    ) {
        self.account(client_code).holdings.push(Holding {
            name: instrument.name.clone(),
            exchange: instrument.exchange,
            token: instrument.broker_token.clone(),
            symbol: instrument.trading_symbol.clone(),
            isin,
            realised: i64::from(quantity),
            t1: 0,
            average,
        });
    }

    /// The shares of `instrument`'s company the account can sell for delivery.
    pub(crate) fn sellable(&self, client_code: &str, instrument: &Instrument) -> i64 {
        self.accounts
            .get(client_code)
            .and_then(|account| {
                account
                    .holdings
                    .iter()
                    .find(|holding| holding.name == instrument.name)
            })
            .map_or(0, Holding::held)
    }

    /// Margin available for new orders.
    pub(crate) fn available(&self, client_code: &str) -> Decimal {
        self.accounts
            .get(client_code)
            .map_or(Decimal::ZERO, |account| {
                account.cash - account.debits.max(Decimal::ZERO)
            })
    }

    /// Books a fill: the trade, the position, delivery into (or out of) holdings, funds.
    pub(crate) fn apply(&mut self, fill: &Fill<'_>) {
        let account = self.account(fill.client_code);
        let quantity = i64::from(fill.quantity);
        let value = fill.price * Decimal::from(fill.quantity);
        account.trades.push(WireTrade {
            exchange: fill.instrument.exchange.as_str().to_owned(),
            producttype: fill.product.as_str().to_owned(),
            tradingsymbol: fill.instrument.trading_symbol.clone(),
            transactiontype: fill.side.as_str().to_owned(),
            instrumenttype: fill.instrumenttype.to_owned(),
            tradevalue: value,
            fillprice: fill.price,
            fillsize: fill.quantity,
            orderid: fill.order_id.to_owned(),
            fillid: fill.fill_id.clone(),
            filltime: Some(fill.time.clone()),
        });
        let index = account.positions.iter().position(|position| {
            position.exchange == fill.instrument.exchange
                && position.token == fill.instrument.broker_token
                && position.product == fill.product
        });
        let position = match index {
            Some(index) => &mut account.positions[index],
            None => {
                account.positions.push(Position {
                    exchange: fill.instrument.exchange,
                    token: fill.instrument.broker_token.clone(),
                    symbol: fill.instrument.trading_symbol.clone(),
                    lot_size: fill.instrument.lot_size,
                    product: fill.product,
                    buy_quantity: 0,
                    sell_quantity: 0,
                    buy_value: Decimal::ZERO,
                    sell_value: Decimal::ZERO,
                });
                let last = account.positions.len() - 1;
                &mut account.positions[last]
            }
        };
        match fill.side {
            WireSide::Buy => {
                position.buy_quantity += quantity;
                position.buy_value += value;
                account.debits += value;
            }
            WireSide::Sell => {
                position.sell_quantity += quantity;
                position.sell_value += value;
                account.debits -= value;
            }
        }
        if fill.product == WireProduct::Delivery {
            deliver(account, fill, quantity);
        }
    }

    /// `getTradeBook`.
    pub(crate) fn trades(&self, client_code: &str) -> Vec<WireTrade> {
        self.accounts
            .get(client_code)
            .map(|account| account.trades.clone())
            .unwrap_or_default()
    }

    /// `getPosition`.
    pub(crate) fn positions(&self, client_code: &str) -> Vec<WirePosition> {
        self.accounts
            .get(client_code)
            .map(|account| account.positions.iter().map(Position::to_wire).collect())
            .unwrap_or_default()
    }

    /// `getHolding`, priced by `price` (last price and previous close).
    pub(crate) fn holdings(
        &self,
        client_code: &str,
        price: impl Fn(Exchange, &str) -> Option<(Decimal, Decimal)>,
    ) -> Vec<WireHolding> {
        let Some(account) = self.accounts.get(client_code) else {
            return Vec::new();
        };
        account
            .holdings
            .iter()
            .filter(|holding| holding.held() > 0)
            .map(|holding| {
                let (last, close) = price(holding.exchange, &holding.token)
                    .unwrap_or((holding.average, holding.average));
                let cost = holding.average * Decimal::from(holding.held());
                let pnl = (last - holding.average) * Decimal::from(holding.held());
                WireHolding {
                    tradingsymbol: holding.symbol.clone(),
                    exchange: holding.exchange.as_str().to_owned(),
                    isin: holding.isin.clone(),
                    t1quantity: holding.t1,
                    realisedquantity: holding.realised,
                    quantity: holding.held(),
                    product: WireProduct::Delivery.as_str().to_owned(),
                    averageprice: holding.average,
                    ltp: Some(last),
                    symboltoken: holding.token.clone(),
                    close: Some(close),
                    profitandloss: Some(pnl.round_dp(2)),
                    pnlpercentage: Some(percent(pnl, cost)),
                    ..WireHolding::default()
                }
            })
            .collect()
    }

    /// `getAllHolding`: the holdings and their totals.
    pub(crate) fn all_holdings(&self, holdings: Vec<WireHolding>) -> WireAllHoldings {
        let mut totals = WireHoldingTotals::default();
        for holding in &holdings {
            let quantity = Decimal::from(holding.quantity);
            totals.totalholdingvalue += holding.ltp.unwrap_or_default() * quantity;
            totals.totalinvvalue += holding.averageprice * quantity;
        }
        totals.totalprofitandloss = totals.totalholdingvalue - totals.totalinvvalue;
        totals.totalpnlpercentage = percent(totals.totalprofitandloss, totals.totalinvvalue);
        WireAllHoldings {
            holdings,
            totalholding: totals,
        }
    }

    /// `getRMS`.
    pub(crate) fn funds(&self, client_code: &str) -> WireFunds {
        let Some(account) = self.accounts.get(client_code) else {
            return WireFunds::default();
        };
        let used = account.debits.max(Decimal::ZERO);
        WireFunds {
            net: account.cash - used,
            availablecash: account.cash,
            utiliseddebits: used,
            ..WireFunds::default()
        }
    }

    /// `convertPosition`: moves `quantity` of today's position from one product to another.
    ///
    /// The refusals' codes: SmartAPI documents AB1016 "Position not found" and AB1017
    /// "Position conversion failed" but not which answer which case; AB1012 for a product the
    /// segment does not allow.
    pub(crate) fn convert(
        &mut self,
        client_code: &str,
        body: &ConvertPositionBody,
        instrument: &Instrument,
    ) -> Result<(), Refusal> {
        if body.oldproducttype == body.newproducttype
            || !super::checks::product_allowed(body.newproducttype, instrument.exchange)
        {
            return Err(Refusal::new("AB1012", "Invalid Product Type"));
        }
        let account = self.account(client_code);
        let old = account
            .positions
            .iter()
            .position(|position| {
                position.exchange == instrument.exchange
                    && position.token == instrument.broker_token
                    && position.product == body.oldproducttype
            })
            .ok_or_else(|| Refusal::new("AB1016", "Position not found"))?;
        let quantity = i64::from(body.quantity);
        let net = account.positions[old].net();
        let enough = match body.transactiontype {
            WireSide::Buy => net >= quantity,
            WireSide::Sell => -net >= quantity,
        };
        if quantity == 0 || !enough {
            return Err(Refusal::new("AB1017", "Position conversion failed"));
        }
        let from = &mut account.positions[old];
        let (buy_quantity, buy_value, sell_quantity, sell_value) = match body.transactiontype {
            WireSide::Buy => {
                let value =
                    Position::average(from.buy_value, from.buy_quantity) * Decimal::from(quantity);
                from.buy_quantity -= quantity;
                from.buy_value -= value;
                (quantity, value, 0, Decimal::ZERO)
            }
            WireSide::Sell => {
                let value = Position::average(from.sell_value, from.sell_quantity)
                    * Decimal::from(quantity);
                from.sell_quantity -= quantity;
                from.sell_value -= value;
                (0, Decimal::ZERO, quantity, value)
            }
        };
        let moved = Position {
            product: body.newproducttype,
            buy_quantity,
            sell_quantity,
            buy_value,
            sell_value,
            ..from.clone()
        };
        let target = account.positions.iter().position(|position| {
            position.exchange == moved.exchange
                && position.token == moved.token
                && position.product == moved.product
        });
        match target {
            Some(target) => {
                let to = &mut account.positions[target];
                to.buy_quantity += moved.buy_quantity;
                to.sell_quantity += moved.sell_quantity;
                to.buy_value += moved.buy_value;
                to.sell_value += moved.sell_value;
            }
            None => account.positions.push(moved),
        }
        Ok(())
    }
}

/// Delivery fills move shares into holdings (as T+1) or out of them (delivered shares
/// first).
fn deliver(account: &mut Account, fill: &Fill<'_>, quantity: i64) {
    let index = account
        .holdings
        .iter()
        .position(|holding| holding.name == fill.instrument.name);
    match (fill.side, index) {
        (WireSide::Buy, Some(index)) => {
            let holding = &mut account.holdings[index];
            let cost = holding.average * Decimal::from(holding.held())
                + fill.price * Decimal::from(quantity);
            holding.t1 += quantity;
            holding.average = (cost / Decimal::from(holding.held())).round_dp(2);
        }
        (WireSide::Buy, None) => account.holdings.push(Holding {
            name: fill.instrument.name.clone(),
            exchange: fill.instrument.exchange,
            token: fill.instrument.broker_token.clone(),
            symbol: fill.instrument.trading_symbol.clone(),
            isin: fill.isin.clone(),
            realised: 0,
            t1: quantity,
            average: fill.price,
        }),
        (WireSide::Sell, Some(index)) => {
            let holding = &mut account.holdings[index];
            let from_realised = holding.realised.min(quantity);
            holding.realised -= from_realised;
            holding.t1 -= (quantity - from_realised).min(holding.t1);
        }
        // Refused at placement: a delivery sale needs holdings.
        (WireSide::Sell, None) => {}
    }
}

fn percent(part: Decimal, whole: Decimal) -> Decimal {
    if whole.is_zero() {
        Decimal::ZERO
    } else {
        (part * Decimal::ONE_HUNDRED / whole).round_dp(2)
    }
}
