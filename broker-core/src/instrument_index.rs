//! The instrument index both brokers fill from their instrument masters, shared by every
//! session of a broker and swapped whole when the master is refreshed.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::validation::{ValidationError, check_lot_multiple, check_tick_multiples};
use crate::{BrokerKind, Exchange, Instrument, InstrumentRef, OrderModification, OrderRequest};

/// Instruments indexed by exchange and trading symbol, and by exchange and broker token.
///
/// ```
/// use broker_core::{Exchange, Instrument, InstrumentIndex, InstrumentKind, InstrumentRef};
/// use rust_decimal::Decimal;
///
/// let index: InstrumentIndex = [Instrument {
///     exchange: Exchange::Nse,
///     trading_symbol: "SBIN-EQ".into(),
///     broker_token: "3045".into(),
///     exchange_token: "3045".into(),
///     name: "SBIN".into(),
///     kind: InstrumentKind::Equity,
///     lot_size: 1,
///     tick_size: Decimal::new(5, 2),
///     expiry: None,
///     strike: None,
/// }]
/// .into_iter()
/// .collect();
/// let sbin = index.resolve(&InstrumentRef::new(Exchange::Nse, "SBIN-EQ")).unwrap();
/// assert_eq!(sbin.broker_token, "3045");
/// ```
#[derive(Debug, Clone, Default)]
pub struct InstrumentIndex {
    instruments: Vec<Instrument>,
    // Per exchange, so that a lookup borrows the symbol instead of allocating a key.
    by_symbol: HashMap<Exchange, HashMap<String, usize>>,
    by_token: HashMap<Exchange, HashMap<String, usize>>,
}

impl InstrumentIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an instrument; a later row with the same exchange and symbol replaces the earlier.
    pub fn insert(&mut self, instrument: Instrument) {
        let exchange = instrument.exchange;
        let symbol = instrument.trading_symbol.clone();
        let token = instrument.broker_token.clone();
        let existing = self
            .by_symbol
            .get(&exchange)
            .and_then(|symbols| symbols.get(&symbol))
            .copied();
        let position = match existing {
            Some(position) => {
                let replaced = std::mem::replace(&mut self.instruments[position], instrument);
                if let Some(tokens) = self.by_token.get_mut(&exchange) {
                    tokens.remove(&replaced.broker_token);
                }
                position
            }
            None => {
                self.instruments.push(instrument);
                self.instruments.len() - 1
            }
        };
        self.by_symbol
            .entry(exchange)
            .or_default()
            .insert(symbol, position);
        self.by_token
            .entry(exchange)
            .or_default()
            .insert(token, position);
    }

    /// The instrument with this trading symbol on this exchange.
    pub fn by_symbol(&self, exchange: Exchange, trading_symbol: &str) -> Option<&Instrument> {
        Self::find(&self.by_symbol, exchange, trading_symbol).map(|at| &self.instruments[at])
    }

    /// The instrument with this broker token on this exchange.
    pub fn by_broker_token(&self, exchange: Exchange, token: &str) -> Option<&Instrument> {
        Self::find(&self.by_token, exchange, token).map(|at| &self.instruments[at])
    }

    fn find(
        map: &HashMap<Exchange, HashMap<String, usize>>,
        exchange: Exchange,
        key: &str,
    ) -> Option<usize> {
        map.get(&exchange)?.get(key).copied()
    }

    /// The instrument a reference names: by broker token when it has one, else by symbol.
    pub fn resolve(&self, reference: &InstrumentRef) -> Option<&Instrument> {
        match &reference.broker_token {
            Some(token) => self.by_broker_token(reference.exchange, token),
            None => self.by_symbol(reference.exchange, &reference.trading_symbol),
        }
    }

    /// Checks an order against the instrument it names, before anything is sent: the
    /// instrument must be in the master (and a reference carrying both a symbol and a token
    /// must name the same instrument by both), the quantity a whole number of lots, and the
    /// prices whole ticks. Returns the instrument, whose broker token the request needs.
    ///
    /// # Errors
    /// [`ValidationError::UnknownInstrument`] (also for a symbol and token that disagree),
    /// [`ValidationError::NotLotMultiple`], [`ValidationError::NotTickMultiple`].
    pub fn check(
        &self,
        broker: BrokerKind,
        request: &OrderRequest,
    ) -> Result<&Instrument, ValidationError> {
        let reference = request.instrument();
        let instrument = self
            .resolve(reference)
            .filter(|found| found.trading_symbol == reference.trading_symbol)
            .ok_or_else(|| ValidationError::UnknownInstrument {
                broker,
                exchange: reference.exchange,
                trading_symbol: reference.trading_symbol.clone(),
            })?;
        check_lot_multiple(request.quantity(), instrument.lot_size)?;
        check_tick_multiples(
            instrument.tick_size,
            request.price(),
            request.trigger_price(),
        )?;
        Ok(instrument)
    }

    /// Checks a modification of an order on `instrument`: whole lots and whole ticks.
    ///
    /// # Errors
    /// [`ValidationError::NotLotMultiple`], [`ValidationError::NotTickMultiple`].
    pub fn check_modification(
        instrument: &Instrument,
        change: &OrderModification,
    ) -> Result<(), ValidationError> {
        check_lot_multiple(change.quantity(), instrument.lot_size)?;
        check_tick_multiples(instrument.tick_size, change.price(), change.trigger_price())
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

/// One broker's instrument index, shared by every session of that broker and replaced whole
/// after the daily refresh of the master: sessions read the new index on their next order.
/// Clones share the index.
#[derive(Debug, Clone, Default)]
pub struct SharedInstruments {
    current: Arc<RwLock<Arc<InstrumentIndex>>>,
}

impl SharedInstruments {
    /// Shares this index.
    pub fn new(index: InstrumentIndex) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(index))),
        }
    }

    /// The index in use now (cheap: a reference count).
    pub fn current(&self) -> Arc<InstrumentIndex> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the index for every session that shares it.
    pub fn replace(&self, index: InstrumentIndex) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InstrumentKind, OrderType, Product, Side};
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    fn sbin(token: &str) -> Instrument {
        Instrument {
            exchange: Exchange::Nse,
            trading_symbol: "SBIN-EQ".into(),
            broker_token: token.into(),
            exchange_token: token.into(),
            name: "SBIN".into(),
            kind: InstrumentKind::Equity,
            lot_size: 1,
            tick_size: dec!(0.05),
            expiry: None,
            strike: None,
        }
    }

    fn nifty_future() -> Instrument {
        Instrument {
            exchange: Exchange::Nfo,
            trading_symbol: "NIFTY26DECFUT".into(),
            broker_token: "35001".into(),
            exchange_token: "35001".into(),
            name: "NIFTY".into(),
            kind: InstrumentKind::Future,
            lot_size: 75,
            tick_size: dec!(0.1),
            expiry: None,
            strike: None,
        }
    }

    fn limit(instrument: InstrumentRef, quantity: u32, price: Decimal) -> OrderRequest {
        OrderRequest::builder()
            .instrument(instrument)
            .side(Side::Buy)
            .order_type(OrderType::Limit)
            .product(Product::Carryforward)
            .quantity(quantity)
            .price(price)
            .build()
            .unwrap()
    }

    #[test]
    fn index_finds_by_symbol_token_and_reference() {
        let index: InstrumentIndex = [sbin("3045")].into_iter().collect();
        assert_eq!(
            index
                .by_symbol(Exchange::Nse, "SBIN-EQ")
                .unwrap()
                .broker_token,
            "3045"
        );
        assert_eq!(
            index
                .by_broker_token(Exchange::Nse, "3045")
                .unwrap()
                .trading_symbol,
            "SBIN-EQ"
        );
        assert!(index.by_symbol(Exchange::Bse, "SBIN-EQ").is_none());
        let reference = InstrumentRef::new(Exchange::Nse, "SBIN-EQ");
        assert_eq!(index.resolve(&reference).unwrap().broker_token, "3045");
        let by_token = index.iter().next().unwrap().to_ref();
        assert_eq!(index.resolve(&by_token).unwrap().broker_token, "3045");
    }

    #[test]
    fn reinserting_a_symbol_replaces_it_and_forgets_the_old_token() {
        let mut index = InstrumentIndex::new();
        index.insert(sbin("3045"));
        index.insert(sbin("9999"));
        assert_eq!(index.len(), 1);
        assert!(index.by_broker_token(Exchange::Nse, "3045").is_none());
        assert_eq!(
            index
                .by_symbol(Exchange::Nse, "SBIN-EQ")
                .unwrap()
                .broker_token,
            "9999"
        );
    }

    #[test]
    fn check_refuses_unknown_or_mismatched_instruments() {
        let index: InstrumentIndex = [sbin("3045"), nifty_future()].into_iter().collect();
        let unknown = limit(InstrumentRef::new(Exchange::Nse, "NOPE-EQ"), 1, dec!(10));
        assert!(matches!(
            index.check(BrokerKind::AngelOne, &unknown),
            Err(ValidationError::UnknownInstrument {
                broker: BrokerKind::AngelOne,
                ..
            })
        ));
        // The symbol says SBIN, the token names the future: refused, not guessed.
        let mismatched = limit(
            InstrumentRef::new(Exchange::Nse, "SBIN-EQ").with_broker_token("35001"),
            1,
            dec!(10),
        );
        assert!(matches!(
            index.check(BrokerKind::AngelOne, &mismatched),
            Err(ValidationError::UnknownInstrument { .. })
        ));
        let good = limit(
            InstrumentRef::new(Exchange::Nse, "SBIN-EQ"),
            3,
            dec!(801.05),
        );
        assert_eq!(
            index
                .check(BrokerKind::AngelOne, &good)
                .unwrap()
                .broker_token,
            "3045"
        );
    }

    #[test]
    fn check_enforces_lot_and_tick_sizes() {
        let index: InstrumentIndex = [nifty_future()].into_iter().collect();
        let future = InstrumentRef::new(Exchange::Nfo, "NIFTY26DECFUT");
        assert!(
            index
                .check(
                    BrokerKind::Zerodha,
                    &limit(future.clone(), 150, dec!(24100.1))
                )
                .is_ok()
        );
        assert_eq!(
            index
                .check(
                    BrokerKind::Zerodha,
                    &limit(future.clone(), 100, dec!(24100))
                )
                .unwrap_err(),
            ValidationError::NotLotMultiple {
                quantity: 100,
                lot_size: 75
            }
        );
        assert_eq!(
            index
                .check(BrokerKind::Zerodha, &limit(future, 75, dec!(24100.05)))
                .unwrap_err(),
            ValidationError::NotTickMultiple {
                field: "price",
                value: dec!(24100.05),
                tick_size: dec!(0.1)
            }
        );
        let change = OrderModification::builder(OrderType::Limit, 74)
            .price(dec!(24100))
            .build()
            .unwrap();
        assert!(InstrumentIndex::check_modification(&nifty_future(), &change).is_err());
    }

    #[test]
    fn shared_instruments_swap_for_every_holder() {
        let shared = SharedInstruments::new(InstrumentIndex::new());
        let holder = shared.clone();
        assert!(holder.current().is_empty());
        shared.replace([sbin("3045")].into_iter().collect());
        assert_eq!(holder.current().len(), 1);
    }
}
