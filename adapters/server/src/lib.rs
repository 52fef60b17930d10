#![doc = include_str!("../README.md")]

pub mod accounts;
pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod health;
pub mod json;
pub mod metrics;
pub mod page;
pub mod rate_limit;
pub mod server;
pub mod state;
pub mod store;

pub use app::{app, openapi};
pub use config::Config;
pub use server::{run, serve, state_from_config};
pub use state::AppState;
