//! A dry run of the daily 15:10 job on the paper broker.
//!
//! Three tenants, each with their own paper account that applies their real broker's
//! pre-trade rules, execute their order intents. Every order carries a tag derived from the
//! run and the intent, so a retry after a crash could find it in the order book. Invalid
//! intents are refused before anything is placed, and the run goes on for everyone else.
//!
//! Run it with `cargo run -p broker-core --example paper_run`.

use std::sync::Arc;

use broker_core::paper::PaperBroker;
use broker_core::{
    Broker, BrokerKind, Exchange, InstrumentRef, MarketProtection, OrderRequest, OrderType,
    PreTradePolicy, Product, Side,
};
use rust_decimal::Decimal;

/// One order a tenant wants placed at the slot.
struct Intent {
    symbol: &'static str,
    side: Side,
    order_type: OrderType,
    quantity: u32,
    limit: Option<Decimal>,
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
    tag: &str,
) -> Result<OrderRequest, broker_core::ValidationError> {
    let mut builder = OrderRequest::builder()
        .instrument(InstrumentRef::new(Exchange::Nse, intent.symbol))
        .side(intent.side)
        .order_type(intent.order_type)
        .product(Product::Intraday)
        .quantity(intent.quantity)
        .tick_size(Decimal::new(5, 2))
        .tag(tag);
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
async fn main() {
    let run = "20261201s1510";
    println!("paper run {run}");
    for (tenant_number, tenant) in tenants().iter().enumerate() {
        let broker = paper_account_for(tenant);
        println!("\n{}", tenant.name);
        for (leg, intent) in tenant.intents.iter().enumerate() {
            let tag = format!("{run}t{tenant_number}l{leg}");
            let outcome = match build_request(tenant, intent, &tag) {
                Err(invalid) => format!("refused before sending: {invalid}"),
                Ok(request) => match broker.place_order(&request).await {
                    Err(error) => format!("refused: {error}"),
                    Ok(order_id) => match broker.order(&order_id).await {
                        Ok(history) => format!("{order_id} {:?}", history.current.status),
                        Err(error) => format!("{order_id} placed, status unknown: {error}"),
                    },
                },
            };
            println!(
                "  {tag} {:?} {} {}: {outcome}",
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
            (Err(error), _) | (_, Err(error)) => println!("  could not read the account: {error}"),
        }
    }
}
