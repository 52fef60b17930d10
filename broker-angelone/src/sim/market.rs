//! The simulator's market: its instrument master (served as SmartAPI's scrip master is), the
//! price feed orders match against, and the market-data answers built from it (LTP, quotes
//! with five levels of depth, instrument search, candles).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use broker_core::{Exchange, Instrument, InstrumentIndex};
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, TimeZone, Utc, Weekday};
use rust_decimal::Decimal;
use serde::Deserialize;

use super::responses::Refusal;
use crate::http::models::{
    CandleDataBody, LtpBody, QuoteBody, QuoteMode, WireCandle, WireDepth, WireDepthLevel, WireLtp,
    WireQuote, WireQuotes, WireScrip,
};
use crate::instruments::{InstrumentsError, parse_instruments};

/// The simulator's own instrument master: equities, indices, futures and options with their
/// lot and tick sizes, in `OpenAPIScripMaster.json`'s format.
pub(crate) const SCRIP_MASTER: &str = include_str!("scrip_master.json");

/// Where the simulator serves its instrument master (the path of SmartAPI's own file).
pub(crate) const SCRIP_MASTER_PATH: &str = "/OpenAPI_File/files/OpenAPIScripMaster.json";

/// Opening prices and ISINs of the instruments of [`SCRIP_MASTER`]; any other instrument
/// opens at 100.
const OPENING: &[(Exchange, &str, i64, u32, &str)] = &[
    (Exchange::Nse, "3045", 80105, 2, "INE062A01020"),
    (Exchange::Nse, "1594", 152040, 2, "INE009A01021"),
    (Exchange::Nse, "2885", 295010, 2, "INE002A01018"),
    (Exchange::Nse, "11536", 341250, 2, "INE467B01029"),
    (Exchange::Nse, "1333", 174530, 2, "INE040A01034"),
    (Exchange::Nse, "11915", 2137, 2, "INE528G01035"),
    (Exchange::Bse, "500112", 80110, 2, "INE062A01020"),
    (Exchange::Bse, "500325", 295015, 2, "INE002A01018"),
    (Exchange::Nse, "99926000", 2415035, 2, ""),
    (Exchange::Nse, "99926009", 5123460, 2, ""),
    (Exchange::Nfo, "52000", 2421030, 2, ""),
    (Exchange::Nfo, "52001", 31245, 2, ""),
    (Exchange::Nfo, "52002", 16520, 2, ""),
    (Exchange::Nfo, "52100", 5131020, 2, ""),
    (Exchange::Nfo, "52200", 80535, 2, ""),
    (Exchange::Mcx, "445003", 7812500, 2, ""),
    (Exchange::Cds, "1165", 841250, 4, ""),
];

/// A master row's fields the index does not keep, for order rows.
#[derive(Deserialize)]
struct RawRow {
    token: String,
    #[serde(default)]
    instrumenttype: String,
    #[serde(default)]
    expiry: String,
    exch_seg: String,
}

/// What the order book repeats about an instrument.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowFacts {
    pub instrumenttype: String,
    pub expiry: String,
}

/// One instrument's day.
#[derive(Debug, Clone)]
struct Day {
    last: Decimal,
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: i64,
    last_trade: Option<DateTime<Utc>>,
}

impl Day {
    fn opening(price: Decimal) -> Self {
        Self {
            last: price,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: 0,
            last_trade: None,
        }
    }
}

/// The instruments and their prices.
pub(crate) struct Market {
    master_json: String,
    index: InstrumentIndex,
    facts: HashMap<(Exchange, String), RowFacts>,
    isins: HashMap<(Exchange, String), String>,
    days: Mutex<HashMap<(Exchange, String), Day>>,
}

fn key(exchange: Exchange, token: &str) -> (Exchange, String) {
    (exchange, token.to_owned())
}

/// The IST text SmartAPI writes times in (`28-Nov-2026 09:15:02`).
pub(crate) fn ist_text(now: DateTime<Utc>, format: &str) -> String {
    now.with_timezone(&broker_core::ist::offset())
        .format(format)
        .to_string()
}

impl Market {
    /// The market of `master_json` (an `OpenAPIScripMaster.json`).
    pub(crate) fn new(master_json: String) -> Result<Self, InstrumentsError> {
        let index = parse_instruments(master_json.as_bytes())?.index;
        let rows: Vec<RawRow> = serde_json::from_str(&master_json)
            .map_err(|error| InstrumentsError::NotAnArray(error.to_string()))?;
        let facts = rows
            .into_iter()
            .filter_map(|row| {
                let exchange = row.exch_seg.trim().parse().ok()?;
                Some((
                    key(exchange, row.token.trim()),
                    RowFacts {
                        instrumenttype: row.instrumenttype.trim().to_owned(),
                        expiry: row.expiry.trim().to_owned(),
                    },
                ))
            })
            .collect();
        let mut days = HashMap::new();
        let mut isins = HashMap::new();
        for instrument in index.iter() {
            let opening = OPENING
                .iter()
                .find(|(exchange, token, ..)| {
                    *exchange == instrument.exchange && *token == instrument.broker_token
                })
                .map(|(_, _, price, scale, isin)| (Decimal::new(*price, *scale), *isin));
            let (price, isin) = opening.unwrap_or((Decimal::ONE_HUNDRED, ""));
            let id = key(instrument.exchange, &instrument.broker_token);
            days.insert(id.clone(), Day::opening(price));
            if !isin.is_empty() {
                isins.insert(id, isin.to_owned());
            }
        }
        Ok(Self {
            master_json,
            index,
            facts,
            isins,
            days: Mutex::new(days),
        })
    }

    fn days(&self) -> MutexGuard<'_, HashMap<(Exchange, String), Day>> {
        self.days.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The master as served.
    pub(crate) fn master_json(&self) -> &str {
        &self.master_json
    }

    /// The instrument of a symbol token.
    pub(crate) fn instrument(&self, exchange: Exchange, token: &str) -> Option<&Instrument> {
        self.index.by_broker_token(exchange, token.trim())
    }

    /// The instrument of a trading symbol.
    pub(crate) fn instrument_by_symbol(
        &self,
        exchange: Exchange,
        symbol: &str,
    ) -> Option<&Instrument> {
        self.index.by_symbol(exchange, symbol.trim())
    }

    /// The master row's instrument type and expiry.
    pub(crate) fn facts(&self, exchange: Exchange, token: &str) -> RowFacts {
        self.facts
            .get(&key(exchange, token))
            .cloned()
            .unwrap_or_default()
    }

    /// The instrument's ISIN, when the simulator knows it.
    pub(crate) fn isin(&self, exchange: Exchange, token: &str) -> Option<String> {
        self.isins.get(&key(exchange, token)).cloned()
    }

    /// The last price.
    pub(crate) fn last_price(&self, exchange: Exchange, token: &str) -> Option<Decimal> {
        self.days().get(&key(exchange, token)).map(|day| day.last)
    }

    /// The previous close.
    pub(crate) fn close(&self, exchange: Exchange, token: &str) -> Option<Decimal> {
        self.days().get(&key(exchange, token)).map(|day| day.close)
    }

    /// Moves the last price (a trade of the feed at `now`).
    ///
    /// # Errors
    /// Why the price cannot be set: unknown instrument, not above zero, off its tick.
    pub(crate) fn set_price(
        &self,
        exchange: Exchange,
        token: &str,
        price: Decimal,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let instrument = self
            .instrument(exchange, token)
            .ok_or_else(|| format!("no instrument {exchange}:{token} in the simulator's master"))?;
        if price <= Decimal::ZERO {
            return Err("a price must be above zero".to_owned());
        }
        if !on_tick(price, instrument.tick_size) {
            return Err(format!(
                "{price} is not a multiple of the tick size {}",
                instrument.tick_size
            ));
        }
        let mut days = self.days();
        let day = days
            .entry(key(exchange, token))
            .or_insert_with(|| Day::opening(price));
        day.last = price;
        day.high = day.high.max(price);
        day.low = day.low.min(price);
        day.last_trade = Some(now);
        Ok(())
    }

    /// Counts a fill in the day's volume.
    pub(crate) fn record_trade(
        &self,
        exchange: Exchange,
        token: &str,
        quantity: u32,
        now: DateTime<Utc>,
    ) {
        if let Some(day) = self.days().get_mut(&key(exchange, token)) {
            day.volume += i64::from(quantity);
            day.last_trade = Some(now);
        }
    }

    /// `getLtpData`.
    pub(crate) fn ltp(&self, body: &LtpBody) -> Result<WireLtp, Refusal> {
        let instrument = self
            .instrument(body.exchange, &body.symboltoken)
            .filter(|found| found.trading_symbol == body.tradingsymbol.trim())
            .ok_or_else(|| Refusal::new("AB1009", "Symbol not found"))?;
        let days = self.days();
        let day = days
            .get(&key(instrument.exchange, &instrument.broker_token))
            .ok_or_else(|| Refusal::new("AB1009", "Symbol not found"))?;
        Ok(WireLtp {
            exchange: instrument.exchange.as_str().to_owned(),
            tradingsymbol: instrument.trading_symbol.clone(),
            symboltoken: instrument.broker_token.clone(),
            ltp: day.last,
            open: Some(day.open),
            high: Some(day.high),
            low: Some(day.low),
            close: Some(day.close),
        })
    }

    /// `market/v1/quote`: unknown tokens go to `unfetched`.
    pub(crate) fn quote(&self, body: &QuoteBody, now: DateTime<Utc>) -> WireQuotes {
        let mut data = WireQuotes::default();
        let days = self.days();
        for (exchange, tokens) in &body.exchange_tokens {
            for token in tokens {
                let found = self
                    .instrument(*exchange, token)
                    .zip(days.get(&key(*exchange, token.trim())));
                match found {
                    Some((instrument, day)) => data
                        .fetched
                        .push(quote_row(instrument, day, body.mode, now)),
                    None => data.unfetched.push(serde_json::json!({
                        "exchange": exchange.as_str(),
                        "symbolToken": token,
                        "message": "",
                        "errorCode": ""
                    })),
                }
            }
        }
        data
    }

    /// `searchScrip`: the instruments of an exchange whose symbol contains `text`.
    pub(crate) fn search(&self, exchange: Exchange, text: &str) -> Vec<WireScrip> {
        let wanted = text.trim().to_ascii_uppercase();
        let mut found: Vec<WireScrip> = self
            .index
            .iter()
            .filter(|instrument| {
                instrument.exchange == exchange
                    && instrument
                        .trading_symbol
                        .to_ascii_uppercase()
                        .contains(&wanted)
            })
            .map(|instrument| WireScrip {
                exchange: instrument.exchange.as_str().to_owned(),
                tradingsymbol: instrument.trading_symbol.clone(),
                symboltoken: instrument.broker_token.clone(),
            })
            .collect();
        found.sort_by(|a, b| a.tradingsymbol.cmp(&b.tradingsymbol));
        found
    }

    /// `getCandleData`: the simulator keeps no history, so every candle of the range (trading
    /// minutes of weekdays, 09:15 to 15:30 IST) is flat at the current last price, with no
    /// volume.
    pub(crate) fn candles(&self, body: &CandleDataBody) -> Result<Vec<WireCandle>, Refusal> {
        let exchange = Exchange::from_str(body.exchange.trim())
            .map_err(|_| Refusal::new("AB1009", "Symbol not found"))?;
        let price = self
            .instrument(exchange, &body.symboltoken)
            .and_then(|instrument| self.last_price(exchange, &instrument.broker_token))
            .ok_or_else(|| Refusal::new("AB1009", "Symbol not found"))?;
        let step = candle_step(&body.interval).ok_or_else(|| {
            // SmartAPI's code for an unknown interval is not documented.
            Refusal::new("AB1004", "Invalid interval")
        })?;
        let parse = |text: &str| {
            NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M")
                .ok()
                .and_then(|naive| {
                    broker_core::ist::offset()
                        .from_local_datetime(&naive)
                        .single()
                })
        };
        let (Some(from), Some(to)) = (parse(&body.fromdate), parse(&body.todate)) else {
            // The documented format is `yyyy-MM-dd HH:mm`; the code for another is not.
            return Err(Refusal::new("AB1004", "Invalid date format"));
        };
        let mut candles = Vec::new();
        let mut at = from;
        while at < to && candles.len() < MAX_CANDLES {
            let minutes = at.time().signed_duration_since(
                chrono::NaiveTime::from_hms_opt(9, 15, 0).unwrap_or_default(),
            );
            let trading = !matches!(at.weekday(), Weekday::Sat | Weekday::Sun)
                && minutes >= Duration::zero()
                && minutes < Duration::minutes(375);
            if trading || step >= Duration::days(1) {
                candles.push(WireCandle::flat(at.to_rfc3339(), price));
            }
            at += step;
        }
        Ok(candles)
    }
}

/// Candles answered at most (SmartAPI limits a request's range by interval).
const MAX_CANDLES: usize = 2000;

fn candle_step(interval: &str) -> Option<Duration> {
    Some(match interval.trim() {
        "ONE_MINUTE" => Duration::minutes(1),
        "THREE_MINUTE" => Duration::minutes(3),
        "FIVE_MINUTE" => Duration::minutes(5),
        "TEN_MINUTE" => Duration::minutes(10),
        "FIFTEEN_MINUTE" => Duration::minutes(15),
        "THIRTY_MINUTE" => Duration::minutes(30),
        "ONE_HOUR" => Duration::hours(1),
        "ONE_DAY" => Duration::days(1),
        _ => return None,
    })
}

/// Whether `price` is a whole number of ticks (any price, when the tick is unknown).
pub(crate) fn on_tick(price: Decimal, tick: Decimal) -> bool {
    tick <= Decimal::ZERO || (price % tick).is_zero()
}

fn quote_row(instrument: &Instrument, day: &Day, mode: QuoteMode, now: DateTime<Utc>) -> WireQuote {
    let detailed = mode != QuoteMode::Ltp;
    let full = mode == QuoteMode::Full;
    let tick = if instrument.tick_size > Decimal::ZERO {
        instrument.tick_size
    } else {
        Decimal::new(5, 2)
    };
    let change = day.last - day.close;
    let percent = if day.close.is_zero() {
        Decimal::ZERO
    } else {
        (change * Decimal::ONE_HUNDRED / day.close).round_dp(2)
    };
    // Circuit limits 20% either side of the previous close, on the tick.
    let band = |factor: Decimal| ((day.close * factor) / tick).round() * tick;
    let depth = WireDepth {
        buy: (0..5)
            .map(|level| depth_level(day.last - tick * Decimal::from(level), level))
            .collect(),
        sell: (0..5)
            .map(|level| depth_level(day.last + tick * Decimal::from(level + 1), level))
            .collect(),
    };
    let time = ist_text(day.last_trade.unwrap_or(now), "%d-%b-%Y %H:%M:%S");
    WireQuote {
        exchange: instrument.exchange.as_str().to_owned(),
        trading_symbol: instrument.trading_symbol.clone(),
        symbol_token: instrument.broker_token.clone(),
        ltp: day.last,
        open: detailed.then_some(day.open),
        high: detailed.then_some(day.high),
        low: detailed.then_some(day.low),
        close: detailed.then_some(day.close),
        last_trade_qty: full.then_some(if day.volume > 0 { 1 } else { 0 }),
        exch_feed_time: full.then(|| ist_text(now, "%d-%b-%Y %H:%M:%S")),
        exch_trade_time: full.then_some(time),
        net_change: full.then_some(change),
        percent_change: full.then_some(percent),
        avg_price: full.then_some(day.last),
        trade_volume: full.then_some(day.volume),
        // The simulator keeps no open interest.
        opn_interest: full.then_some(0),
        lower_circuit: full.then(|| band(Decimal::new(8, 1))),
        upper_circuit: full.then(|| band(Decimal::new(12, 1))),
        tot_buy_quan: full.then_some(5 * DEPTH_QUANTITY),
        tot_sell_quan: full.then_some(5 * DEPTH_QUANTITY),
        week_52_low: full.then_some(day.low),
        week_52_high: full.then_some(day.high),
        depth: full.then_some(depth),
    }
}

/// The quantity shown at each level of depth.
const DEPTH_QUANTITY: i64 = 100;

fn depth_level(price: Decimal, level: usize) -> WireDepthLevel {
    WireDepthLevel {
        price,
        quantity: DEPTH_QUANTITY,
        orders: i64::try_from(level + 1).unwrap_or(1),
    }
}
