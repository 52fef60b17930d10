//! Integration tests of the vault: one behavioural suite run against both backends, plus the
//! file backend's multi-process test and the Web Crypto interop test.

// Test support panics on setup failure by design: a broken fixture must fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod suite;

mod file_backend;
mod platform_table;
mod postgres_backend;
mod webcrypto;
