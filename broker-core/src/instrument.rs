//! Exchanges, references to tradable instruments, and the rows of instrument masters.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An Indian exchange segment, as both brokers name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Exchange {
    /// National Stock Exchange, cash segment.
    Nse,
    /// Bombay Stock Exchange, cash segment.
    Bse,
    /// NSE futures and options.
    Nfo,
    /// BSE futures and options.
    Bfo,
    /// Multi Commodity Exchange.
    Mcx,
    /// NSE currency derivatives.
    Cds,
    /// BSE currency derivatives.
    Bcd,
}

impl Exchange {
    /// Every exchange, in declaration order.
    pub const ALL: [Exchange; 7] = [
        Exchange::Nse,
        Exchange::Bse,
        Exchange::Nfo,
        Exchange::Bfo,
        Exchange::Mcx,
        Exchange::Cds,
        Exchange::Bcd,
    ];

    /// The code both brokers use on the wire (`"NSE"`, `"NFO"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Exchange::Nse => "NSE",
            Exchange::Bse => "BSE",
            Exchange::Nfo => "NFO",
            Exchange::Bfo => "BFO",
            Exchange::Mcx => "MCX",
            Exchange::Cds => "CDS",
            Exchange::Bcd => "BCD",
        }
    }
}

impl fmt::Display for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text did not name a known exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown exchange {0:?}: expected one of NSE, BSE, NFO, BFO, MCX, CDS, BCD")]
pub struct UnknownExchange(pub String);

impl FromStr for Exchange {
    type Err = UnknownExchange;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Exchange::ALL
            .into_iter()
            .find(|exchange| exchange.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownExchange(s.to_owned()))
    }
}

/// Which instrument an order or quote is about.
///
/// The trading symbol is the broker's name for it (`SBIN-EQ` at Angel One, `SBIN` at Zerodha);
/// `broker_token` is the broker's own numeric id where the broker needs one (Angel One's
/// `symboltoken`, Kite's `instrument_token`). Brokers resolve a missing token through their
/// instrument index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InstrumentRef {
    /// The exchange segment.
    pub exchange: Exchange,
    /// The exchange's trading symbol.
    pub trading_symbol: String,
    /// The broker's own token for the instrument, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_token: Option<String>,
}

impl InstrumentRef {
    /// A reference by exchange and trading symbol.
    pub fn new(exchange: Exchange, trading_symbol: impl Into<String>) -> Self {
        Self {
            exchange,
            trading_symbol: trading_symbol.into(),
            broker_token: None,
        }
    }

    /// The same reference carrying the broker's token.
    #[must_use]
    pub fn with_broker_token(mut self, token: impl Into<String>) -> Self {
        self.broker_token = Some(token.into());
        self
    }
}

impl fmt::Display for InstrumentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.exchange, self.trading_symbol)
    }
}

/// The kind of instrument, normalised across brokers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InstrumentKind {
    /// A share or ETF.
    Equity,
    /// An index (not tradable; quotes only).
    Index,
    /// A futures contract.
    Future,
    /// A call option.
    CallOption,
    /// A put option.
    PutOption,
    /// Anything else, with the broker's own name for it.
    Other(String),
}

/// One row of a broker's instrument master.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    /// The exchange segment.
    pub exchange: Exchange,
    /// The exchange's trading symbol.
    pub trading_symbol: String,
    /// The broker's own id for it (Angel One `symboltoken`, Kite `instrument_token`).
    pub broker_token: String,
    /// The exchange's id for it (Kite `exchange_token`; at Angel One the same number as the
    /// broker token).
    pub exchange_token: String,
    /// The underlying's name (`SBIN`, `NIFTY`).
    pub name: String,
    /// What kind of instrument it is.
    pub kind: InstrumentKind,
    /// The minimum order quantity step.
    pub lot_size: u32,
    /// The minimum price step, in rupees.
    pub tick_size: Decimal,
    /// The expiry date of a derivative.
    pub expiry: Option<NaiveDate>,
    /// The strike price of an option, in rupees.
    pub strike: Option<Decimal>,
}

impl Instrument {
    /// The reference that names this instrument, broker token included.
    pub fn to_ref(&self) -> InstrumentRef {
        InstrumentRef::new(self.exchange, self.trading_symbol.clone())
            .with_broker_token(self.broker_token.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn exchange_parses_case_insensitively_and_refuses_unknown_codes() {
        assert_eq!("nfo".parse::<Exchange>(), Ok(Exchange::Nfo));
        assert_eq!(" BSE ".parse::<Exchange>(), Ok(Exchange::Bse));
        let error = "NYSE".parse::<Exchange>().unwrap_err();
        assert!(error.to_string().contains("NYSE"));
    }

    #[test]
    fn exchange_round_trips_through_serde_as_its_wire_code() {
        for exchange in Exchange::ALL {
            let json = serde_json::to_string(&exchange).unwrap();
            assert_eq!(json, format!("\"{}\"", exchange.as_str()));
            assert_eq!(serde_json::from_str::<Exchange>(&json).unwrap(), exchange);
        }
    }

    #[test]
    fn instrument_reference_round_trips_through_serde() {
        let reference =
            InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT").with_broker_token("35001");
        let json = serde_json::to_string(&reference).unwrap();
        assert_eq!(
            serde_json::from_str::<InstrumentRef>(&json).unwrap(),
            reference
        );
    }
}
