//! The Kite instrument master (`GET /instruments`, CSV): parsed into an [`InstrumentIndex`],
//! loaded into the [`broker_core::SharedInstruments`] every session of the broker shares, and
//! checked against before any order leaves (`InstrumentIndex::check`: known instrument, whole
//! lots, whole ticks).
//!
//! Columns: `instrument_token, exchange_token, tradingsymbol, name, last_price, expiry,
//! strike, tick_size, lot_size, instrument_type, segment, exchange`
//! (<https://kite.trade/docs/connect/v3/market-quotes/#instruments>). Kite's
//! `instrument_token` is the instrument's broker token, `exchange_token` its exchange token.

use std::io::Read;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use broker_core::{BrokerError, Exchange, Instrument, InstrumentIndex, InstrumentKind, Result};

use crate::Zerodha;

/// A row of the instrument master could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstrumentsError {
    /// A row is malformed.
    #[error("instrument master line {line}: {reason}")]
    BadRow {
        /// The 1-based line number (the header is line 1).
        line: u64,
        /// What was wrong.
        reason: String,
    },
}

/// The parsed instrument master.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct InstrumentMaster {
    /// Instruments on the exchanges `broker_core` knows.
    pub index: InstrumentIndex,
    /// Rows left out because their exchange is not one `broker_core` knows (such as `NCO`).
    pub skipped: usize,
}

#[derive(Debug, Deserialize)]
struct Row {
    instrument_token: u64,
    exchange_token: u64,
    tradingsymbol: String,
    name: String,
    expiry: String,
    strike: Decimal,
    tick_size: Decimal,
    lot_size: u32,
    instrument_type: String,
    segment: String,
    exchange: String,
}

fn kind(row: &Row) -> InstrumentKind {
    if row.segment == "INDICES" {
        return InstrumentKind::Index;
    }
    match row.instrument_type.as_str() {
        "EQ" => InstrumentKind::Equity,
        "FUT" => InstrumentKind::Future,
        "CE" => InstrumentKind::CallOption,
        "PE" => InstrumentKind::PutOption,
        other => InstrumentKind::Other(other.to_owned()),
    }
}

/// Parses the CSV instrument master.
///
/// # Errors
/// [`InstrumentsError::BadRow`] naming the first malformed line; nothing is returned then.
pub fn parse_instruments(
    csv_text: impl Read,
) -> std::result::Result<InstrumentMaster, InstrumentsError> {
    let mut reader = csv::Reader::from_reader(csv_text);
    let mut master = InstrumentMaster::default();
    for (position, record) in reader.deserialize::<Row>().enumerate() {
        let line = position as u64 + 2;
        let bad = |reason: String| InstrumentsError::BadRow { line, reason };
        let row = record.map_err(|error| bad(error.to_string()))?;
        let Ok(exchange) = row.exchange.parse::<Exchange>() else {
            master.skipped += 1;
            continue;
        };
        let expiry = match row.expiry.trim() {
            "" => None,
            text => Some(
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_err(|_| bad(format!("expiry {text:?} is not YYYY-MM-DD")))?,
            ),
        };
        if row.tick_size < Decimal::ZERO {
            return Err(bad(format!("negative tick size {}", row.tick_size)));
        }
        let kind = kind(&row);
        let strike = matches!(kind, InstrumentKind::CallOption | InstrumentKind::PutOption)
            .then_some(row.strike);
        master.index.insert(Instrument {
            exchange,
            trading_symbol: row.tradingsymbol,
            broker_token: row.instrument_token.to_string(),
            exchange_token: row.exchange_token.to_string(),
            name: row.name,
            kind,
            lot_size: row.lot_size,
            tick_size: row.tick_size,
            expiry,
            strike,
        });
    }
    Ok(master)
}

impl Zerodha {
    /// Downloads Kite's instrument master and makes it the index every session sharing this
    /// broker's `SharedInstruments` checks orders against. Returns how many instruments it
    /// holds. Kite publishes the master once a day, before the market opens.
    ///
    /// # Errors
    /// Any failure of the download ([`BrokerError::SessionExpired`] without a session), or
    /// [`BrokerError::Decode`] naming the first bad row; the index in use is kept then.
    pub async fn refresh_instruments(&self) -> Result<usize> {
        let (session, generation) = self.session.authorization()?;
        let csv = self
            .session
            .checked(generation, self.client.instruments(&session).await)?;
        let master = parse_instruments(csv.as_slice()).map_err(|error| BrokerError::Decode {
            message: error.to_string(),
        })?;
        if master.skipped > 0 {
            tracing::debug!(
                skipped = master.skipped,
                "instruments on unknown exchanges left out"
            );
        }
        let count = master.index.len();
        self.instruments.replace(master.index);
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const HEADER: &str = "instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange\n";

    #[test]
    fn a_malformed_row_is_refused_with_its_line_number() {
        let text = format!(
            "{HEADER}779521,3045,SBIN,STATE BANK,0,,0,0.05,1,EQ,NSE,NSE\n1,2,X,Y,0,,0,0.05,lots,EQ,NSE,NSE\n"
        );
        let error = parse_instruments(text.as_bytes()).unwrap_err();
        assert!(
            matches!(error, InstrumentsError::BadRow { line: 3, .. }),
            "{error}"
        );
    }

    #[test]
    fn unknown_exchanges_are_skipped_and_counted() {
        let text = format!(
            "{HEADER}779521,3045,SBIN,STATE BANK,0,,0,0.05,1,EQ,NSE,NSE\n9,9,GOLDM,GOLD,0,,0,1,1,FUT,NCO-FUT,NCO\n"
        );
        let master = parse_instruments(text.as_bytes()).unwrap();
        assert_eq!((master.index.len(), master.skipped), (1, 1));
        let sbin = master.index.by_symbol(Exchange::Nse, "SBIN").unwrap();
        assert_eq!(
            (
                sbin.broker_token.as_str(),
                sbin.exchange_token.as_str(),
                sbin.tick_size,
                sbin.strike
            ),
            ("779521", "3045", dec!(0.05), None)
        );
    }
}
