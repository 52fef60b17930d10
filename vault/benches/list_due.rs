//! Listing 10,000 auto-execute accounts: from the file store (target: at most 150 ms; measured
//! with the store already loaded, and from a cold open that parses the file) and from
//! Postgres (target: at most 300 ms; needs `DATABASE_URL`, otherwise skipped with a message).
//!
//! `cargo bench -p vault --bench list_due`

use std::hint::black_box;

use broker_core::BrokerKind;
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;
use sqlx::Executor;
use tokio::runtime::Runtime;
use vault::{
    AccountRecord, AccountStatus, BrokerAccount, CredentialStore, Field, FileBackend, KeyId,
    KeyMaterial, Keyring, Place, PostgresBackend, RecordBackend, SealedFields, UserId, Vault,
};

const ACCOUNTS: usize = 10_000;

fn or_panic<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|error| panic!("{error}"))
}

fn keyring() -> Keyring {
    Keyring::new(or_panic(KeyId::new("kid0")), &KeyMaterial::generate())
}

/// 10,000 Angel One accounts with auto-execute on and five sealed fields each.
fn due_accounts(keyring: &Keyring) -> Vec<AccountRecord> {
    (0..ACCOUNTS)
        .map(|index| {
            let mut account = BrokerAccount::new(UserId::new_random(), BrokerKind::AngelOne);
            account.auto_execute = true;
            account.status = AccountStatus::Active;
            account.egress_ip = Some(std::net::Ipv4Addr::new(127, 0, 0, 2).into());
            let mut secrets = SealedFields::new();
            for field in Field::ACCOUNT {
                let place = Place {
                    account: account.id,
                    user: account.user_id,
                    broker: account.broker,
                    field,
                };
                let secret = SecretString::from(format!("{field}-{index}"));
                secrets.insert(field, or_panic(keyring.seal(&place, &secret)));
            }
            AccountRecord { account, secrets }
        })
        .collect()
}

fn bench_listing<B: RecordBackend>(
    c: &mut Criterion,
    runtime: &Runtime,
    name: &str,
    vault: &Vault<B>,
) {
    let listed = or_panic(runtime.block_on(vault.accounts_due_for_run()));
    assert_eq!(
        listed.len(),
        ACCOUNTS,
        "the store should hold {ACCOUNTS} due accounts"
    );
    c.bench_function(name, |b| {
        b.to_async(runtime)
            .iter(|| async { black_box(vault.accounts_due_for_run().await.map(|due| due.len())) });
    });
}

fn from_the_file_store(c: &mut Criterion) {
    let runtime = or_panic(Runtime::new());
    let dir = or_panic(tempfile::tempdir());
    let keyring = keyring();
    let backend = or_panic(FileBackend::open(dir.path()));
    or_panic(runtime.block_on(backend.insert_accounts(&due_accounts(&keyring))));
    let vault = Vault::new(or_panic(FileBackend::open(dir.path())), keyring.clone());
    bench_listing(c, &runtime, "list_10k_due_accounts_file", &vault);

    // The worst case: a process that has just started reads and parses the whole file first.
    c.bench_function("open_file_store_then_list_10k_due_accounts", |b| {
        b.to_async(&runtime).iter(|| async {
            let cold = Vault::new(or_panic(FileBackend::open(dir.path())), keyring.clone());
            black_box(cold.accounts_due_for_run().await.map(|due| due.len()))
        });
    });
}

fn from_postgres(c: &mut Criterion) {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("skipping list_10k_due_accounts_postgres: DATABASE_URL is not set");
        return;
    };
    let runtime = or_panic(Runtime::new());
    let schema = format!("vault_bench_{}", uuid::Uuid::new_v4().simple());
    let keyring = keyring();
    let backend = or_panic(runtime.block_on(PostgresBackend::connect_in_schema(&url, &schema)));
    or_panic(runtime.block_on(backend.insert_accounts(&due_accounts(&keyring))));
    let pool = backend.pool().clone();
    let vault = Vault::new(backend, keyring);
    bench_listing(c, &runtime, "list_10k_due_accounts_postgres", &vault);
    let drop = format!("DROP SCHEMA {schema} CASCADE");
    or_panic(runtime.block_on(pool.execute(drop.as_str())));
}

criterion_group!(benches, from_the_file_store, from_postgres);
criterion_main!(benches);
