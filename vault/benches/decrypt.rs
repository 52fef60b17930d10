//! Decrypting one account's five credential fields (target: at most 10 µs).
//!
//! `cargo bench -p vault --bench decrypt`

use std::hint::black_box;

use broker_core::BrokerKind;
use criterion::{Criterion, criterion_group, criterion_main};
use secrecy::SecretString;
use vault::{AccountId, CredentialStore, Field, KeyId, KeyMaterial, Keyring, Place, UserId, Vault};

fn open_five_fields(c: &mut Criterion) {
    let Ok(key_id) = KeyId::new("kid0") else {
        panic!("kid0 is a valid key id");
    };
    let keyring = Keyring::new(key_id, &KeyMaterial::generate());
    let account = AccountId::new_random();
    let secrets = [
        (Field::ApiKey, "smartKEYzq81aa"),
        (Field::ApiSecret, "8f1d2c3b-4a5e-6f70-8192-a3b4c5d6e7f8"),
        (Field::ClientId, "A123456"),
        (Field::Mpin, "4831"),
        (Field::TotpSecret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
    ];
    let sealed: Vec<(Place, String)> = secrets
        .iter()
        .map(|(field, secret)| {
            let place = Place {
                account,
                user: UserId::new_random(),
                broker: BrokerKind::AngelOne,
                field: *field,
            };
            let envelope = keyring.seal(&place, &SecretString::from(*secret));
            (place, envelope.unwrap_or_else(|error| panic!("{error}")))
        })
        .collect();
    c.bench_function("open_one_accounts_five_fields", |b| {
        b.iter(|| {
            for (place, envelope) in &sealed {
                black_box(keyring.open(place, black_box(envelope)).is_ok());
            }
        });
    });
}

/// The whole read path of the file store: fetch the record and build `BrokerCredentials`.
fn credentials_from_the_file_store(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|error| panic!("{error}"));
    let dir = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let Ok(key_id) = KeyId::new("kid0") else {
        panic!("kid0 is a valid key id");
    };
    let backend = vault::FileBackend::open(dir.path()).unwrap_or_else(|error| panic!("{error}"));
    let vault = Vault::new(backend, Keyring::new(key_id, &KeyMaterial::generate()));
    let credentials = broker_core::AngelOneCredentials::new(
        "smartKEYzq81aa".into(),
        "A123456",
        "4831".into(),
        "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
    )
    .and_then(|angel| angel.with_api_secret("8f1d2c3b4a5e6f70".into()))
    .unwrap_or_else(|error| panic!("{error}"));
    let user = UserId::new_random();
    let id = runtime
        .block_on(
            vault.create_account(user, &broker_core::BrokerCredentials::AngelOne(credentials)),
        )
        .unwrap_or_else(|error| panic!("{error}"))
        .id;
    c.bench_function("credentials_from_file_store", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(vault.credentials(user, id).await.is_ok()) });
    });
}

criterion_group!(benches, open_five_fields, credentials_from_the_file_store);
criterion_main!(benches);
