//! Memory taken by live brokers for 10,000 Angel One accounts on 2,000 egress addresses
//! (127.0.x.y, five accounts of one user per address), built by one connector from a file
//! store: 2,000 HTTP clients (one per address, one TLS configuration), 10,000 sessions with
//! their rate limiters. Target: at most 100 MB.
//!
//! Measured as the growth of the process's resident set from after the store is loaded to
//! after every account is connected (Linux `/proc/self/statm`).
//!
//! `cargo bench -p broker-connect --bench ten_thousand_accounts`

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use broker_connect::{Connector, ConnectorSettings, EgressAddressSettings};
use broker_core::BrokerKind;
use secrecy::{SecretSlice, SecretString};
use vault::{
    AccountRecord, AccountStatus, BrokerAccount, CredentialStore, Field, FileBackend, KeyId,
    KeyMaterial, Keyring, Place, RecordBackend, SealedFields, UserId, Vault,
};

const ACCOUNTS: usize = 10_000;
const ADDRESSES: usize = 2_000;
const TARGET_MB: f64 = 100.0;

fn or_panic<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|error| panic!("{error}"))
}

fn address(index: usize) -> IpAddr {
    let (high, low) = (index / 250, index % 250);
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        u8::try_from(10 + high).unwrap_or(u8::MAX),
        u8::try_from(1 + low).unwrap_or(u8::MAX),
    ))
}

/// Resident set size in bytes.
fn resident_bytes() -> u64 {
    let statm = or_panic(std::fs::read_to_string("/proc/self/statm"));
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or_else(|| panic!("unexpected /proc/self/statm: {statm}"));
    pages * 4096
}

/// Ten thousand Angel One accounts with valid sealed credentials, five per user and address.
fn records(keyring: &Keyring) -> Vec<AccountRecord> {
    let users: Vec<UserId> = (0..ADDRESSES).map(|_| UserId::new_random()).collect();
    (0..ACCOUNTS)
        .map(|index| {
            let slot = index % ADDRESSES;
            let mut account = BrokerAccount::new(users[slot], BrokerKind::AngelOne);
            account.status = AccountStatus::Active;
            account.egress_ip = Some(address(slot));
            let values = [
                (Field::ApiKey, format!("benchKEY{index}")),
                (Field::ClientId, format!("B{index}")),
                (Field::Mpin, "4831".to_owned()),
                (
                    Field::TotpSecret,
                    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".to_owned(),
                ),
            ];
            let mut secrets = SealedFields::new();
            for (field, value) in values {
                let place = Place {
                    account: account.id,
                    user: account.user_id,
                    broker: account.broker,
                    field,
                };
                secrets.insert(
                    field,
                    or_panic(keyring.seal(&place, &SecretString::from(value))),
                );
            }
            AccountRecord { account, secrets }
        })
        .collect()
}

fn main() {
    let runtime = or_panic(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    );
    runtime.block_on(async {
        let dir = or_panic(tempfile::tempdir());
        let keyring = Keyring::new(or_panic(KeyId::new("kid0")), &KeyMaterial::generate());
        let backend = or_panic(FileBackend::open(dir.path()));
        let records = records(&keyring);
        or_panic(backend.insert_accounts(&records).await);
        let store: Arc<dyn CredentialStore> = Arc::new(Vault::new(backend, keyring));
        // Loads the store's snapshot, so only the connector's growth is measured.
        let first = &records[0].account;
        or_panic(store.credentials(first.user_id, first.id).await);

        let mut settings = ConnectorSettings::default();
        settings.egress.addresses = (0..ADDRESSES)
            .map(|index| EgressAddressSettings::new(address(index)))
            .collect();
        let before = resident_bytes();
        let started = Instant::now();
        let connector = or_panic(
            Connector::new(Arc::clone(&store), settings, SecretSlice::from(vec![7u8; 32])).await,
        );
        let mut brokers = Vec::with_capacity(ACCOUNTS);
        for record in &records {
            let account = &record.account;
            brokers.push(or_panic(connector.connect(account.user_id, account.id).await));
        }
        let elapsed = started.elapsed();
        let grown = resident_bytes().saturating_sub(before);
        let megabytes = grown as f64 / 1_048_576.0;
        println!(
            "broker-connect: {ACCOUNTS} accounts on {ADDRESSES} egress addresses connected in {:.2} s",
            elapsed.as_secs_f64()
        );
        println!(
            "memory: {megabytes:.1} MB resident growth ({:.1} KB per account); target at most {TARGET_MB} MB: {}",
            grown as f64 / 1024.0 / ACCOUNTS as f64,
            if megabytes <= TARGET_MB { "met" } else { "NOT MET" }
        );
        drop(brokers);
    });
}
