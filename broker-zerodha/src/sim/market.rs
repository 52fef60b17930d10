//! The simulated market: last prices that can be moved, the previous close, freeze
//! quantities, the instrument master made from them, and the trading session on the
//! simulator's clock (which can be moved too).
//!
//! Every instrument trades in lots of 1 with a tick of 0.05. The session is 09:15 to 15:30
//! IST, Monday to Friday; exchange holidays are not known.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use rust_decimal::Decimal;

use broker_core::{Clock, SharedClock, ist};

use crate::http::models::{WireDepth, WireDepthLevel, WireLtp, WireOhlc, WireOhlcQuote, WireQuote};

/// The tick of every simulated instrument.
pub(super) const TICK: Decimal = Decimal::from_parts(5, 0, 0, false, 2);

/// When the session opens, IST.
fn session_open() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 15, 0).unwrap_or(NaiveTime::MIN)
}

/// When the session closes, IST.
fn session_close() -> NaiveTime {
    NaiveTime::from_hms_opt(15, 30, 0).unwrap_or(NaiveTime::MIN)
}

/// Whether the exchanges trade on `date` (weekdays; holidays are not known).
pub(super) fn is_trading_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Kite's timestamp format, in IST.
pub(super) fn kite_time(now: DateTime<Utc>) -> String {
    now.with_timezone(&ist::offset())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The trading date of an instant: its date in IST.
pub(super) fn trading_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&ist::offset()).date_naive()
}

/// Whether the market is in session at `now`.
pub(super) fn in_session(now: DateTime<Utc>) -> bool {
    let local = now.with_timezone(&ist::offset());
    let time = local.time();
    is_trading_day(local.date_naive()) && time >= session_open() && time < session_close()
}

/// The first session opening strictly after `after`: when an after-market order placed then
/// reaches the exchange.
pub(super) fn next_open(after: DateTime<Utc>) -> DateTime<Utc> {
    let mut date = trading_date(after);
    loop {
        let open = ist::offset()
            .from_local_datetime(&date.and_time(session_open()))
            .single()
            .map(|local| local.with_timezone(&Utc));
        if let Some(open) = open
            && open > after
            && is_trading_day(date)
        {
            return open;
        }
        date = date.succ_opt().unwrap_or(date);
    }
}

/// The simulator's clock: the configured clock moved by an offset that the simulator's owner
/// can change (so a binary on the system clock can still jump to the next session).
#[derive(Debug)]
pub(super) struct SimClock {
    base: SharedClock,
    offset: Mutex<Duration>,
}

impl SimClock {
    pub(super) fn new(base: SharedClock) -> Self {
        Self {
            base,
            offset: Mutex::new(Duration::zero()),
        }
    }

    /// Moves the clock by `by` (forward for a positive duration).
    pub(super) fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    /// Sets the clock to `now`.
    pub(super) fn set(&self, now: DateTime<Utc>) {
        let base = self.base.now();
        *self.offset.lock().unwrap_or_else(PoisonError::into_inner) = now - base;
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        self.base.now() + *self.offset.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One instrument's prices.
#[derive(Debug, Clone, Copy)]
struct Prices {
    last: Decimal,
    close: Decimal,
    open: Decimal,
    high: Decimal,
    low: Decimal,
}

impl Prices {
    fn at(price: Decimal) -> Self {
        Self {
            last: price,
            close: price,
            open: price,
            high: price,
            low: price,
        }
    }

    fn ohlc(&self) -> WireOhlc {
        let mut ohlc = WireOhlc::flat(self.last);
        ohlc.open = self.open;
        ohlc.high = self.high;
        ohlc.low = self.low;
        ohlc.close = self.close;
        ohlc
    }
}

/// Last prices, closes and freeze quantities by `EXCHANGE:TRADINGSYMBOL`.
#[derive(Debug)]
pub(super) struct Market {
    prices: HashMap<String, Prices>,
    freeze_quantities: HashMap<String, u32>,
}

impl Market {
    pub(super) fn new(
        prices: HashMap<String, Decimal>,
        freeze_quantities: HashMap<String, u32>,
    ) -> Self {
        Self {
            prices: prices
                .into_iter()
                .map(|(key, price)| (key, Prices::at(price)))
                .collect(),
            freeze_quantities,
        }
    }

    /// The last price of an instrument the market knows.
    pub(super) fn price(&self, key: &str) -> Option<Decimal> {
        self.prices.get(key).map(|prices| prices.last)
    }

    /// Moves (or lists, for a new instrument) the last price.
    pub(super) fn set_price(&mut self, key: &str, price: Decimal) {
        let prices = self
            .prices
            .entry(key.to_owned())
            .or_insert_with(|| Prices::at(price));
        prices.last = price;
        prices.high = prices.high.max(price);
        prices.low = prices.low.min(price);
    }

    /// The instruments priced, sorted.
    pub(super) fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.prices.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// A new trading day: the last prices become the closes.
    pub(super) fn close_day(&mut self) {
        for prices in self.prices.values_mut() {
            *prices = Prices::at(prices.last);
        }
    }

    /// The previous close.
    pub(super) fn close(&self, key: &str) -> Option<Decimal> {
        self.prices.get(key).map(|prices| prices.close)
    }

    /// The most an order may be without slicing (none when the exchange sets no limit).
    pub(super) fn freeze_quantity(&self, key: &str) -> Option<u32> {
        self.freeze_quantities.get(key).copied()
    }

    /// A stable made-up instrument token for `EXCHANGE:SYMBOL`.
    pub(super) fn token_of(key: &str) -> u64 {
        key.bytes().fold(17u64, |hash, byte| {
            hash.wrapping_mul(31).wrapping_add(u64::from(byte)) % 100_000_000
        })
    }

    pub(super) fn quotes(&self, keys: &[String], now: &str) -> HashMap<String, WireQuote> {
        keys.iter()
            .filter_map(|key| {
                let prices = self.prices.get(key)?;
                Some((
                    key.clone(),
                    WireQuote {
                        instrument_token: Self::token_of(key),
                        timestamp: Some(now.to_owned()),
                        last_trade_time: Some(now.to_owned()),
                        last_price: prices.last,
                        last_quantity: 1,
                        buy_quantity: 500,
                        sell_quantity: 500,
                        volume: 1_000,
                        average_price: prices.last,
                        net_change: prices.last - prices.close,
                        lower_circuit_limit: (prices.close * Decimal::new(8, 1)).round_dp(2),
                        upper_circuit_limit: (prices.close * Decimal::new(12, 1)).round_dp(2),
                        ohlc: prices.ohlc(),
                        depth: WireDepth {
                            buy: (1..=5u32)
                                .map(|level| {
                                    WireDepthLevel::new(
                                        prices.last - TICK * Decimal::from(level),
                                        100,
                                        u64::from(level),
                                    )
                                })
                                .collect(),
                            sell: (0..5u32)
                                .map(|level| {
                                    WireDepthLevel::new(
                                        prices.last + TICK * Decimal::from(level),
                                        100,
                                        u64::from(level + 1),
                                    )
                                })
                                .collect(),
                        },
                        ..WireQuote::default()
                    },
                ))
            })
            .collect()
    }

    pub(super) fn ohlc(&self, keys: &[String]) -> HashMap<String, WireOhlcQuote> {
        keys.iter()
            .filter_map(|key| {
                let prices = self.prices.get(key)?;
                Some((
                    key.clone(),
                    WireOhlcQuote {
                        instrument_token: Self::token_of(key),
                        last_price: prices.last,
                        ohlc: prices.ohlc(),
                    },
                ))
            })
            .collect()
    }

    pub(super) fn ltp(&self, keys: &[String]) -> HashMap<String, WireLtp> {
        keys.iter()
            .filter_map(|key| {
                let prices = self.prices.get(key)?;
                Some((
                    key.clone(),
                    WireLtp {
                        instrument_token: Self::token_of(key),
                        last_price: prices.last,
                    },
                ))
            })
            .collect()
    }

    /// The instrument master: one row per priced instrument, tick 0.05, lot 1.
    pub(super) fn instruments_csv(&self) -> String {
        let mut csv = String::from(
            "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange\n",
        );
        for key in self.keys() {
            let Some((exchange, symbol)) = key.split_once(':') else {
                continue;
            };
            let token = Self::token_of(&key);
            let price = self.close(&key).unwrap_or_default();
            let (kind, segment) = if symbol.ends_with("FUT") {
                ("FUT", format!("{exchange}-FUT"))
            } else {
                ("EQ", exchange.to_owned())
            };
            csv.push_str(&format!(
                "{token},{},{symbol},{symbol},{price},,0.0,{TICK},1,{kind},{segment},{exchange}\n",
                token / 256
            ));
        }
        csv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ist(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_str(&format!("{text} +0530"), "%Y-%m-%d %H:%M %z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_session_is_0915_to_1530_ist_on_weekdays() {
        assert!(!in_session(ist("2026-12-01 09:14")));
        assert!(in_session(ist("2026-12-01 09:15")));
        assert!(in_session(ist("2026-12-01 15:29")));
        assert!(!in_session(ist("2026-12-01 15:30")));
        assert!(!in_session(ist("2026-12-05 11:00")), "a Saturday");
    }

    #[test]
    fn after_market_orders_reach_the_next_session_opening() {
        assert_eq!(next_open(ist("2026-12-01 08:00")), ist("2026-12-01 09:15"));
        assert_eq!(next_open(ist("2026-12-01 09:15")), ist("2026-12-02 09:15"));
        assert_eq!(next_open(ist("2026-12-01 16:00")), ist("2026-12-02 09:15"));
        assert_eq!(
            next_open(ist("2026-12-04 16:00")),
            ist("2026-12-07 09:15"),
            "Friday evening to Monday"
        );
    }

    #[test]
    fn the_clock_moves_by_an_offset_over_its_base() {
        let base = broker_core::ManualClock::new(ist("2026-12-01 10:00"));
        let clock = SimClock::new(std::sync::Arc::new(base.clone()));
        clock.advance(Duration::hours(1));
        assert_eq!(clock.now(), ist("2026-12-01 11:00"));
        base.advance(Duration::minutes(5));
        assert_eq!(clock.now(), ist("2026-12-01 11:05"));
        clock.set(ist("2026-12-02 09:15"));
        assert_eq!(clock.now(), ist("2026-12-02 09:15"));
    }
}
