#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod accounts_cache;
pub mod app;
pub mod auth;
pub mod config;
pub mod egress;
pub mod error;
pub mod health;
pub mod json;
pub mod kite;
pub mod metrics;
pub mod page;
pub mod rate_limit;
pub mod runs;
pub mod sandbox;
pub mod sandbox_api;
pub mod server;
pub mod state;
pub mod store;

pub use app::{app, openapi};
pub use config::Config;
pub use server::{Roles, run, serve, state_from_config};
pub use state::AppState;
