//! `brokerctl orders`: place, list, cancel; `--dry-run` through broker-core's paper broker.

use broker_core::paper::PaperBroker;
use broker_core::{
    Broker, BrokerKind, OrderId, OrderRequest, OrderStatus, PreTradePolicy, Variety,
};
use rust_decimal::Decimal;
use vault::{AccountId, UserId};

use crate::context::{Globals, Store, owned_account};
use crate::failure::{EXIT_REFUSED, Failure, Outcome};
use crate::output::{print_json, print_table};

/// Cash of the paper account a dry run places on: enough that only the policy refuses.
const DRY_RUN_CASH: i64 = 1_000_000_000;

/// `brokerctl orders …`
#[derive(Debug, clap::Subcommand)]
pub enum OrdersCommand {
    /// Place an order from the account's egress IP, checked by the broker's pre-trade policy
    /// and instrument master first.
    Place {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The account.
        account: AccountId,
        /// The order as JSON, in the intents' format, e.g.
        /// {"instrument":{"exchange":"NSE","trading_symbol":"SBIN-EQ"},"side":"buy",
        /// "order_type":"limit","product":"delivery","quantity":1,"price":"790"}.
        #[arg(long)]
        order: String,
        /// Place it on an in-memory paper broker with the account broker's policy instead:
        /// nothing reaches the broker.
        #[arg(long)]
        dry_run: bool,
        /// The last price the paper broker fills against (default: the order's price or
        /// trigger price; required for a market order's dry run).
        #[arg(long, requires = "dry_run")]
        last_price: Option<Decimal>,
    },
    /// The account's order book at the broker.
    List {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The account.
        account: AccountId,
    },
    /// Cancel an open order.
    Cancel {
        /// The owning user.
        #[arg(long)]
        user: UserId,
        /// The account.
        account: AccountId,
        /// The broker's order id.
        order_id: String,
        /// Only look the order up and say whether it could be cancelled.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs an `orders` command.
pub async fn run(globals: &Globals, command: OrdersCommand) -> Outcome {
    let store = globals.store().await?;
    match command {
        OrdersCommand::Place {
            user,
            account,
            order,
            dry_run,
            last_price,
        } => {
            let request: OrderRequest = serde_json::from_str(&order)
                .map_err(|error| Failure::usage(format!("--order: {error}")))?;
            let stored = owned_account(store.credentials().as_ref(), user, account).await?;
            let broker: std::sync::Arc<dyn Broker> = if dry_run {
                let config = globals.worker_config(&store)?;
                let configured = match stored.broker {
                    BrokerKind::AngelOne => config.connector.angelone.policy,
                    BrokerKind::Zerodha => config.connector.zerodha.policy,
                    _ => None,
                };
                let policy =
                    configured.unwrap_or_else(|| PreTradePolicy::for_broker(stored.broker));
                let paper = PaperBroker::new(Decimal::new(DRY_RUN_CASH, 0)).with_policy(policy);
                let price = last_price
                    .or(request.price())
                    .or(request.trigger_price())
                    .ok_or_else(|| Failure::usage("a market order's dry run needs --last-price"))?;
                paper.set_price(request.instrument(), price);
                std::sync::Arc::new(paper)
            } else {
                live_broker(globals, &store, user, account).await?
            };
            let placement = broker.place_order(&request).await?;
            let status = broker
                .order(&placement.order_id)
                .await
                .map(|history| history.current.status)
                .ok();
            if globals.json {
                return print_json(&serde_json::json!({
                    "dry_run": dry_run,
                    "order_id": placement.order_id,
                    "status": status,
                }));
            }
            let prefix = if dry_run { "dry run (paper): " } else { "" };
            println!(
                "{prefix}placed order {} ({})",
                placement.order_id,
                status.map_or_else(|| "status unknown".into(), |status| format!("{status:?}"))
            );
            Ok(())
        }
        OrdersCommand::List { user, account } => {
            let broker = live_broker(globals, &store, user, account).await?;
            let orders = broker.orders().await?;
            if globals.json {
                return print_json(&orders);
            }
            let rows: Vec<Vec<String>> = orders
                .iter()
                .map(|order| {
                    vec![
                        order.order_id.to_string(),
                        order.instrument.to_string(),
                        format!("{:?}", order.side),
                        format!("{:?}", order.order_type),
                        format!("{}/{}", order.filled_quantity, order.quantity),
                        order
                            .price
                            .map_or_else(|| "-".into(), |price| price.to_string()),
                        format!("{:?}", order.status),
                        order.tag.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(
                &[
                    "ORDER",
                    "INSTRUMENT",
                    "SIDE",
                    "TYPE",
                    "FILLED",
                    "PRICE",
                    "STATUS",
                    "TAG",
                ],
                &rows,
            );
            Ok(())
        }
        OrdersCommand::Cancel {
            user,
            account,
            order_id,
            dry_run,
        } => {
            let broker = live_broker(globals, &store, user, account).await?;
            let order_id = OrderId::new(order_id);
            if dry_run {
                let history = broker.order(&order_id).await?;
                let status = history.current.status.clone();
                let open = matches!(
                    status,
                    OrderStatus::Pending | OrderStatus::Open | OrderStatus::TriggerPending
                );
                if globals.json {
                    return print_json(&serde_json::json!({
                        "dry_run": true, "order_id": order_id, "status": status, "cancellable": open,
                    }));
                }
                println!(
                    "dry run: order {order_id} is {status:?}; {}",
                    if open {
                        "it can be cancelled"
                    } else {
                        "it cannot be cancelled"
                    }
                );
                return if open {
                    Ok(())
                } else {
                    Err(Failure::new(
                        EXIT_REFUSED,
                        format!("order {order_id} is not open"),
                    ))
                };
            }
            let cancelled = broker.cancel_order(&order_id, Variety::Regular).await?;
            if globals.json {
                return print_json(&serde_json::json!({ "cancelled": cancelled }));
            }
            println!("cancelled order {cancelled}");
            Ok(())
        }
    }
}

/// The account's live broker, from its egress IP (the account checked to be the user's).
async fn live_broker(
    globals: &Globals,
    store: &Store,
    user: UserId,
    account: AccountId,
) -> Outcome<std::sync::Arc<dyn Broker>> {
    owned_account(store.credentials().as_ref(), user, account).await?;
    Ok(globals
        .connector(store, false)
        .await?
        .connect(user, account)
        .await?)
}
