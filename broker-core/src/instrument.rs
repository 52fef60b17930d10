//! Exchanges, references to tradable instruments, and the instrument index both brokers fill
//! from their instrument masters.

use std::collections::HashMap;
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
/// The trading symbol is the exchange's name for it (`SBIN-EQ` at Angel One, `SBIN` at Zerodha);
/// `token` is the broker's own numeric id where the broker needs one (Angel One's
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
    pub token: Option<String>,
}

impl InstrumentRef {
    /// A reference by exchange and trading symbol.
    pub fn new(exchange: Exchange, trading_symbol: impl Into<String>) -> Self {
        Self {
            exchange,
            trading_symbol: trading_symbol.into(),
            token: None,
        }
    }

    /// The same reference carrying the broker's token.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
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
    /// The broker's token for it.
    pub token: String,
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
    /// The reference that names this instrument, token included.
    pub fn to_ref(&self) -> InstrumentRef {
        InstrumentRef::new(self.exchange, self.trading_symbol.clone())
            .with_token(self.token.clone())
    }
}

/// Instruments indexed by exchange and trading symbol, and by exchange and token.
///
/// Both broker crates parse their instrument masters into this one type.
#[derive(Debug, Clone, Default)]
pub struct InstrumentIndex {
    instruments: Vec<Instrument>,
    by_symbol: HashMap<(Exchange, String), usize>,
    by_token: HashMap<(Exchange, String), usize>,
}

impl InstrumentIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an instrument; a later row with the same exchange and symbol replaces the earlier.
    pub fn insert(&mut self, instrument: Instrument) {
        let symbol_key = (instrument.exchange, instrument.trading_symbol.clone());
        let token_key = (instrument.exchange, instrument.token.clone());
        match self.by_symbol.get(&symbol_key) {
            Some(&position) => {
                let replaced = std::mem::replace(&mut self.instruments[position], instrument);
                self.by_token.remove(&(replaced.exchange, replaced.token));
                self.by_token.insert(token_key, position);
            }
            None => {
                let position = self.instruments.len();
                self.instruments.push(instrument);
                self.by_symbol.insert(symbol_key, position);
                self.by_token.insert(token_key, position);
            }
        }
    }

    /// The instrument with this trading symbol on this exchange.
    pub fn by_symbol(&self, exchange: Exchange, trading_symbol: &str) -> Option<&Instrument> {
        self.by_symbol
            .get(&(exchange, trading_symbol.to_owned()))
            .map(|&position| &self.instruments[position])
    }

    /// The instrument with this broker token on this exchange.
    pub fn by_token(&self, exchange: Exchange, token: &str) -> Option<&Instrument> {
        self.by_token
            .get(&(exchange, token.to_owned()))
            .map(|&position| &self.instruments[position])
    }

    /// The instrument a reference names: by token when it has one, else by symbol.
    pub fn resolve(&self, reference: &InstrumentRef) -> Option<&Instrument> {
        match &reference.token {
            Some(token) => self.by_token(reference.exchange, token),
            None => self.by_symbol(reference.exchange, &reference.trading_symbol),
        }
    }

    /// How many instruments the index holds.
    pub fn len(&self) -> usize {
        self.instruments.len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.instruments.is_empty()
    }

    /// Every instrument, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &Instrument> {
        self.instruments.iter()
    }
}

impl FromIterator<Instrument> for InstrumentIndex {
    fn from_iter<I: IntoIterator<Item = Instrument>>(iter: I) -> Self {
        let mut index = Self::new();
        for instrument in iter {
            index.insert(instrument);
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn sbin(token: &str) -> Instrument {
        Instrument {
            exchange: Exchange::Nse,
            trading_symbol: "SBIN-EQ".into(),
            token: token.into(),
            name: "SBIN".into(),
            kind: InstrumentKind::Equity,
            lot_size: 1,
            tick_size: dec!(0.05),
            expiry: None,
            strike: None,
        }
    }

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
    fn index_finds_by_symbol_token_and_reference() {
        let index: InstrumentIndex = [sbin("3045")].into_iter().collect();
        assert_eq!(
            index.by_symbol(Exchange::Nse, "SBIN-EQ").unwrap().token,
            "3045"
        );
        assert_eq!(
            index
                .by_token(Exchange::Nse, "3045")
                .unwrap()
                .trading_symbol,
            "SBIN-EQ"
        );
        assert!(index.by_symbol(Exchange::Bse, "SBIN-EQ").is_none());
        let reference = InstrumentRef::new(Exchange::Nse, "SBIN-EQ");
        assert_eq!(index.resolve(&reference).unwrap().token, "3045");
        assert_eq!(
            index
                .resolve(&index.iter().next().unwrap().to_ref())
                .unwrap()
                .token,
            "3045"
        );
    }

    #[test]
    fn reinserting_a_symbol_replaces_it_and_forgets_the_old_token() {
        let mut index = InstrumentIndex::new();
        index.insert(sbin("3045"));
        index.insert(sbin("9999"));
        assert_eq!(index.len(), 1);
        assert!(index.by_token(Exchange::Nse, "3045").is_none());
        assert_eq!(
            index.by_symbol(Exchange::Nse, "SBIN-EQ").unwrap().token,
            "9999"
        );
    }

    #[test]
    fn instrument_reference_round_trips_through_serde() {
        let reference = InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT").with_token("35001");
        let json = serde_json::to_string(&reference).unwrap();
        assert_eq!(
            serde_json::from_str::<InstrumentRef>(&json).unwrap(),
            reference
        );
    }
}
