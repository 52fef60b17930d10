//! The egress pool's rules through the connector, with the file store and with Postgres:
//! family sharing, one scope per address across processes, exhaustion with counts, and bind
//! addresses this machine lacks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use broker_connect::{
    Connector, ConnectorError, ConnectorSettings, EgressAddressSettings, EgressScope,
};
use common::*;
use vault::UserId;

macro_rules! backings {
    ($($case:ident),* $(,)?) => {
        mod file {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Backing::File).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Backing::Postgres).await;
                }
            )*
        }
    };
}

backings!(
    families_share_and_scopes_never_do,
    bind_addresses_this_machine_lacks,
    two_processes_racing_for_the_last_address_never_share_it,
);

fn address(text: &str) -> EgressAddressSettings {
    EgressAddressSettings::new(ip(text))
}

async fn families_share_and_scopes_never_do(backing: Backing) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let (a, b, c, d, e) = (
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
        UserId::new_random(),
    );
    let mut settings = ConnectorSettings::default();
    settings.egress.families = BTreeMap::from([("sharma".to_owned(), vec![a, b])]);
    settings.egress.addresses = vec![
        address("127.0.0.41").reserved_for(EgressScope::Family("sharma".into())),
        address("127.0.0.42").with_public(ip("203.0.113.42")),
        address("127.0.0.43").reserved_for(EgressScope::User(c)),
    ];
    let connector = Connector::new(store.open().await, settings.clone(), state_key())
        .await
        .unwrap();
    let assign = |user: UserId| {
        let connector = connector.clone();
        async move {
            let account = connector
                .store()
                .create_account(user, &angel_credentials(ANGEL_MPIN, ANGEL_TOTP))
                .await
                .unwrap();
            (account.id, connector.assign_egress(user, account.id).await)
        }
    };

    // The family shares its reserved address; each of its members' accounts lands there.
    let (_, for_a) = assign(a).await;
    let (_, for_b) = assign(b).await;
    let (_, for_b_again) = assign(b).await;
    for assignment in [&for_a, &for_b, &for_b_again] {
        let assignment = assignment.as_ref().unwrap();
        assert_eq!(assignment.bind, ip("127.0.0.41"));
        assert_eq!(assignment.scope, EgressScope::Family("sharma".into()));
    }
    // A user's reserved address is theirs.
    assert_eq!(assign(c).await.1.unwrap().bind, ip("127.0.0.43"));

    // The shared address goes to the first scope that asks, and is announced ahead.
    assert_eq!(
        connector.egress_ip_for(d).unwrap().public,
        ip("203.0.113.42")
    );
    let (d_account, for_d) = assign(d).await;
    let for_d = for_d.unwrap();
    assert_eq!(
        (for_d.bind, for_d.public),
        (ip("127.0.0.42"), ip("203.0.113.42"))
    );
    // Sticky: asking again keeps it.
    assert_eq!(connector.assign_egress(d, d_account).await.unwrap(), for_d);

    // Another scope is refused it, with the counts, here and in another process.
    let (e_account, for_e) = assign(e).await;
    assert!(matches!(
        for_e,
        Err(ConnectorError::PoolExhausted {
            addresses: 1,
            in_use: 1
        })
    ));
    assert!(matches!(
        connector.egress_ip_for(e),
        Err(ConnectorError::PoolExhausted {
            addresses: 1,
            in_use: 1
        })
    ));
    let other_process = Connector::new(store.open().await, settings, state_key())
        .await
        .unwrap();
    assert!(matches!(
        other_process.egress_ip_for(e),
        Err(ConnectorError::PoolExhausted { .. })
    ));
    assert!(matches!(
        other_process.assign_egress(e, e_account).await,
        Err(ConnectorError::PoolExhausted {
            addresses: 1,
            in_use: 1
        })
    ));
    // An address written into the store behind the pool's back is not used for another
    // scope: the family's, or the shared one d holds.
    for taken in ["127.0.0.41", "127.0.0.42"] {
        connector
            .store()
            .assign_egress_ip(e, e_account, Some(ip(taken)))
            .await
            .unwrap();
        assert!(matches!(
            connector.connect(e, e_account).await,
            Err(ConnectorError::EgressNotAllowed { .. })
        ));
    }
    store.finish().await;
}

async fn bind_addresses_this_machine_lacks(backing: Backing) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let remote_user = UserId::new_random();
    let mut settings = ConnectorSettings::default();
    // 192.0.2.0/24 (TEST-NET-1) is never on an interface.
    settings.egress.addresses = vec![
        address("127.0.0.44"),
        address("192.0.2.10").reserved_for(EgressScope::User(remote_user)),
        address("192.0.2.11"),
    ];
    match Connector::new(store.open().await, settings.clone(), state_key()).await {
        Err(ConnectorError::AddressesNotOwned { missing }) => {
            assert_eq!(missing, vec![ip("192.0.2.10"), ip("192.0.2.11")]);
        }
        other => panic!("expected the missing addresses named, got {other:?}"),
    }

    // A pool spanning machines: this process serves only the accounts on its addresses.
    settings.egress.spans_machines = true;
    let connector = Connector::new(store.open().await, settings.clone(), state_key())
        .await
        .unwrap();
    let remote = connector
        .store()
        .create_account(remote_user, &kite_credentials())
        .await
        .unwrap();
    let assigned = connector
        .assign_egress(remote_user, remote.id)
        .await
        .unwrap();
    assert_eq!(assigned.bind, ip("192.0.2.10"));
    let remote = connector
        .store()
        .account(remote_user, remote.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!connector.serves(&remote));
    assert!(matches!(
        connector.connect(remote_user, remote.id).await,
        Err(ConnectorError::AddressNotOwned { bind }) if bind == ip("192.0.2.10")
    ));
    // A Kite redirect for it that reaches this machine is refused before its state is used
    // up, so it can be sent on to the machine that holds the address.
    let login_url = connector
        .kite_login_url(remote_user, remote.id)
        .await
        .unwrap();
    assert!(matches!(
        connector
            .complete_kite_login(&url_state(&login_url), "any-request-token")
            .await,
        Err(ConnectorError::AddressNotOwned { .. })
    ));
    let now = chrono::Utc::now();
    assert!(
        connector
            .store()
            .claims("kite-state:", now)
            .await
            .unwrap()
            .is_empty()
    );
    let local_user = UserId::new_random();
    let local = connector
        .store()
        .create_account(local_user, &kite_credentials())
        .await
        .unwrap();
    let placed = connector.assign_egress(local_user, local.id).await.unwrap();
    let local = connector
        .store()
        .account(local_user, local.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connector.serves(&local), placed.bind == ip("127.0.0.44"));

    // A machine that holds none of the pool's addresses serves nothing and says so.
    settings.egress.addresses.remove(0);
    assert!(matches!(
        Connector::new(store.open().await, settings, state_key()).await,
        Err(ConnectorError::AddressesNotOwned { .. })
    ));
    store.finish().await;
}

async fn two_processes_racing_for_the_last_address_never_share_it(backing: Backing) {
    let Some(store) = StoreFixture::new(backing).await else {
        return;
    };
    let mut settings = ConnectorSettings::default();
    settings.egress.addresses = vec![address("127.0.0.45")];
    let mut racers = Vec::new();
    for _ in 0..2 {
        let connector = Connector::new(store.open().await, settings.clone(), state_key())
            .await
            .unwrap();
        let user = UserId::new_random();
        let account = connector
            .store()
            .create_account(user, &kite_credentials())
            .await
            .unwrap();
        racers.push((connector, user, account.id));
    }
    let mut race = tokio::task::JoinSet::new();
    for (connector, user, account) in racers.clone() {
        race.spawn(async move { connector.assign_egress(user, account).await });
    }
    let mut won = 0;
    let mut exhausted = 0;
    while let Some(outcome) = race.join_next().await {
        match outcome.unwrap() {
            Ok(assignment) => {
                assert_eq!(assignment.bind, ip("127.0.0.45"));
                won += 1;
            }
            Err(ConnectorError::PoolExhausted {
                addresses: 1,
                in_use: 1,
            }) => exhausted += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!((won, exhausted), (1, 1));
    let (connector, ..) = &racers[0];
    let holders: Vec<_> = connector
        .store()
        .claims("egress:", chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(holders.len(), 1);
    store.finish().await;
}
