//! A dry run of the daily 15:10 job on the paper broker.
//!
//! Three tenants, each with their own paper account that applies their real broker's
//! pre-trade rules, execute their order intents. Every order carries a tag derived from the
//! run and the intent, so a retry after a crash could find it in the order book. Invalid
//! intents are refused before anything is placed, and the run goes on for everyone else.
//! The program exits with a failure when any outcome differs from what the rules say.
//!
//! Run it with `cargo run -p broker-core --example paper_run`.

use std::process::ExitCode;
use std::sync::Arc;

use broker_core::paper::PaperBroker;
use broker_core::{
    Broker, BrokerKind, Exchange, InstrumentRef, MarketProtection, OrderRequest, OrderTag,
    OrderType, PreTradePolicy, Product, Side,
};
use rust_decimal::Decimal;

/// One order a tenant wants placed at the slot, and whether it should go out.
struct Intent {
    symbol: &'static str,
    side: Side,
    order_type: OrderType,
    quantity: u32,
    limit: Option<Decimal>,
}

impl Intent {
    /// Angel One refuses market orders from API clients; a zero quantity is never valid.
    fn should_be_placed(&self, broker: BrokerKind) -> bool {
        self.quantity > 0 && !(broker == BrokerKind::AngelOne && self.order_type.is_market())
    }
}

struct Tenant {
    name: &'static str,
    broker: BrokerKind,
    intents: Vec<Intent>,
}

fn intent(
    symbol: &'static str,
    side: Side,
    order_type: OrderType,
    quantity: u32,
    limit: Option<Decimal>,
) -> Intent {
    Intent {
        symbol,
        side,
        order_type,
        quantity,
        limit,
    }
}

fn tenants() -> Vec<Tenant> {
    vec![
        Tenant {
            name: "asha (Angel One)",
            broker: BrokerKind::AngelOne,
            intents: vec![
                intent(
                    "SBIN-EQ",
                    Side::Buy,
                    OrderType::Limit,
                    10,
                    Some(Decimal::new(80_150, 2)),
                ),
                // Angel One refuses market orders from API clients: refused before sending.
                intent("INFY-EQ", Side::Buy, OrderType::Market, 2, None),
            ],
        },
        Tenant {
            name: "ravi (Zerodha)",
            broker: BrokerKind::Zerodha,
            intents: vec![
                intent("INFY", Side::Buy, OrderType::Market, 3, None),
                intent(
                    "SBIN",
                    Side::Sell,
                    OrderType::Limit,
                    5,
                    Some(Decimal::new(81_000, 2)),
                ),
            ],
        },
        Tenant {
            name: "meera (Zerodha)",
            broker: BrokerKind::Zerodha,
            // A zero quantity is caught by the request builder itself.
            intents: vec![intent(
                "SBIN",
                Side::Buy,
                OrderType::Limit,
                0,
                Some(Decimal::new(800, 0)),
            )],
        },
    ]
}

fn paper_account_for(tenant: &Tenant) -> Arc<dyn Broker> {
    let paper = PaperBroker::new(Decimal::new(100_000, 0))
        .with_policy(PreTradePolicy::for_broker(tenant.broker));
    for (symbol, price) in [
        ("SBIN-EQ", 80_000),
        ("SBIN", 80_000),
        ("INFY-EQ", 150_000),
        ("INFY", 150_000),
    ] {
        paper.set_price(
            &InstrumentRef::new(Exchange::Nse, symbol),
            Decimal::new(price, 2),
        );
    }
    Arc::new(paper)
}

fn build_request(
    tenant: &Tenant,
    intent: &Intent,
    tag: &OrderTag,
) -> Result<OrderRequest, broker_core::ValidationError> {
    let mut builder = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, intent.symbol))
        .side(intent.side)
        .order_type(intent.order_type)
        .product(Product::Intraday)
        .quantity(intent.quantity)
        .tick_size(Decimal::new(5, 2))
        .tag(tag.as_str());
    if let Some(limit) = intent.limit {
        builder = builder.price(limit);
    }
    // Kite needs market protection on market orders; Angel One refuses market orders anyway.
    if intent.order_type.is_market() && tenant.broker == BrokerKind::Zerodha {
        builder = builder.market_protection(MarketProtection::Percent(2));
    }
    builder.build()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let run = "2026-12-01/15:10";
    println!("paper run {run}");
    let mut surprises = 0;
    for (tenant_number, tenant) in tenants().iter().enumerate() {
        let broker = paper_account_for(tenant);
        println!("\n{}", tenant.name);
        for (leg, intent) in tenant.intents.iter().enumerate() {
            let tag = OrderTag::derive(run, format!("tenant{tenant_number}/leg{leg}"));
            let (placed, outcome) = match build_request(tenant, intent, &tag) {
                Err(invalid) => (false, format!("refused before sending: {invalid}")),
                Ok(request) => match broker.place_order(&request).await {
                    Err(error) => (false, format!("refused: {error}")),
                    Ok(placement) => {
                        let order_id = placement.order_id;
                        match broker.order(&order_id).await {
                            Ok(history) => {
                                (true, format!("{order_id} {:?}", history.current.status))
                            }
                            Err(error) => {
                                (true, format!("{order_id} placed, status unknown: {error}"))
                            }
                        }
                    }
                },
            };
            let expected = intent.should_be_placed(tenant.broker);
            let verdict = if placed == expected {
                "as expected"
            } else {
                surprises += 1;
                "NOT AS EXPECTED"
            };
            println!(
                "  {tag} {:?} {} {}: {outcome} ({verdict})",
                intent.side, intent.quantity, intent.symbol
            );
        }
        match (broker.positions().await, broker.funds().await) {
            (Ok(positions), Ok(funds)) => {
                for position in positions {
                    println!(
                        "  position {} {:+} @ {}",
                        position.instrument, position.quantity, position.average_price
                    );
                }
                println!("  cash available {}", funds.available_cash);
            }
            (Err(error), _) | (_, Err(error)) => {
                surprises += 1;
                println!("  could not read the account: {error}");
            }
        }
    }
    if surprises > 0 {
        eprintln!("\n{surprises} outcome(s) differed from what the rules say");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
