//! The scaffold both broker simulators are built on (feature `sim`): faults injected on
//! demand, per-account request quotas, and a server that speaks HTTP or HTTPS on loopback
//! and tells handlers the real TCP peer address.
//!
//! The simulators themselves (wire protocol, accounts, order books) live in the broker crates;
//! what is the same for every broker lives here, so that the two cannot drift apart.

mod fault;
mod limits;
mod server;

pub use fault::{Fault, FaultQueue};
pub use limits::SimRateLimits;
pub use server::{SimListen, SimServer};
