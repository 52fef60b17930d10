//! The egress pool's rules: which scope a user belongs to, which addresses a scope may use,
//! and the deterministic order in which a scope tries the shared addresses.
//!
//! An address reserved for a scope is that scope's. Unreserved addresses go to one scope
//! each, first come: a scope tries them in an order fixed by a hash of its name, so the same
//! scope always lands on the same address, and the claim recorded in the store (shared by
//! every process) keeps a second scope off an address the first one holds.

use std::collections::HashMap;
use std::net::IpAddr;

use sha2::{Digest, Sha256};
use vault::UserId;

use crate::error::SettingsError;
use crate::settings::{EgressAddressSettings, EgressPoolSettings, EgressScope};

/// The validated pool.
#[derive(Debug, Clone)]
pub(crate) struct EgressPool {
    entries: Vec<EgressAddressSettings>,
    by_bind: HashMap<IpAddr, usize>,
    /// Indexes of the unreserved entries, in configuration order.
    shared: Vec<usize>,
    family_of: HashMap<UserId, String>,
}

impl EgressPool {
    /// Checks the settings: no address twice (bind or public), each user in one family at
    /// most, reservations only for families that exist.
    pub(crate) fn new(settings: &EgressPoolSettings) -> Result<Self, SettingsError> {
        let mut family_of = HashMap::new();
        for (family, members) in &settings.families {
            for member in members {
                if let Some(first) = family_of.insert(*member, family.clone()) {
                    return Err(SettingsError::UserInTwoFamilies {
                        user: *member,
                        first,
                        second: family.clone(),
                    });
                }
            }
        }
        let mut by_bind = HashMap::new();
        let mut publics = HashMap::new();
        let mut shared = Vec::new();
        for (index, entry) in settings.addresses.iter().enumerate() {
            if by_bind.insert(entry.bind, index).is_some() {
                return Err(SettingsError::DuplicateAddress { ip: entry.bind });
            }
            let public = entry.binding().public;
            if publics.insert(public, index).is_some() {
                return Err(SettingsError::DuplicateAddress { ip: public });
            }
            match &entry.reserved_for {
                Some(EgressScope::Family(name)) if !settings.families.contains_key(name) => {
                    return Err(SettingsError::UnknownFamily { name: name.clone() });
                }
                Some(_) => {}
                None => shared.push(index),
            }
        }
        Ok(Self {
            entries: settings.addresses.clone(),
            by_bind,
            shared,
            family_of,
        })
    }

    /// Every address.
    pub(crate) fn entries(&self) -> &[EgressAddressSettings] {
        &self.entries
    }

    /// The address bound to `bind`, if it is in the pool.
    pub(crate) fn by_bind(&self, bind: IpAddr) -> Option<&EgressAddressSettings> {
        self.by_bind.get(&bind).map(|index| &self.entries[*index])
    }

    /// The scope `user` belongs to: their family, else themselves.
    pub(crate) fn scope_of(&self, user: UserId) -> EgressScope {
        self.family_of
            .get(&user)
            .map_or(EgressScope::User(user), |family| {
                EgressScope::Family(family.clone())
            })
    }

    /// Whether `scope` may use `entry`: reserved for it, or unreserved (then the store's
    /// claim decides).
    pub(crate) fn allows(entry: &EgressAddressSettings, scope: &EgressScope) -> bool {
        entry
            .reserved_for
            .as_ref()
            .is_none_or(|reserved| reserved == scope)
    }

    /// The first address reserved for `scope`, if any.
    pub(crate) fn reserved(&self, scope: &EgressScope) -> Option<&EgressAddressSettings> {
        self.entries
            .iter()
            .find(|entry| entry.reserved_for.as_ref() == Some(scope))
    }

    /// The unreserved addresses in the order `scope` tries them.
    pub(crate) fn shared_order(
        &self,
        scope: &EgressScope,
    ) -> impl Iterator<Item = &EgressAddressSettings> {
        let count = self.shared.len();
        let start = if count == 0 {
            0
        } else {
            let digest = Sha256::digest(scope.key().as_bytes());
            let mut first = [0u8; 8];
            first.copy_from_slice(&digest[..8]);
            usize::try_from(u64::from_be_bytes(first) % count as u64).unwrap_or(0)
        };
        (0..count).map(move |offset| &self.entries[self.shared[(start + offset) % count]])
    }

    /// How many addresses any scope may be given.
    pub(crate) fn shared_count(&self) -> usize {
        self.shared.len()
    }
}

/// The name of the store claim that gives the unreserved address `bind` to one scope.
pub(crate) fn address_claim(bind: IpAddr) -> String {
    format!("{ADDRESS_CLAIM_PREFIX}{bind}")
}

/// The prefix of address claims.
pub(crate) const ADDRESS_CLAIM_PREFIX: &str = "egress:";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn address(ip: &str) -> EgressAddressSettings {
        EgressAddressSettings::new(ip.parse().unwrap())
    }

    #[test]
    fn family_members_share_a_scope_and_others_have_their_own() {
        let (a, b, c) = (
            UserId::new_random(),
            UserId::new_random(),
            UserId::new_random(),
        );
        let settings = EgressPoolSettings {
            addresses: vec![address("127.0.0.2")],
            families: BTreeMap::from([("sharma".to_owned(), vec![a, b])]),
            spans_machines: false,
        };
        let pool = EgressPool::new(&settings).unwrap();
        assert_eq!(pool.scope_of(a), EgressScope::Family("sharma".into()));
        assert_eq!(pool.scope_of(a), pool.scope_of(b));
        assert_eq!(pool.scope_of(c), EgressScope::User(c));
    }

    #[test]
    fn bad_pools_are_refused_with_the_reason() {
        let user = UserId::new_random();
        let twice = EgressPoolSettings {
            addresses: vec![address("127.0.0.2"), address("127.0.0.2")],
            ..EgressPoolSettings::default()
        };
        assert!(matches!(
            EgressPool::new(&twice),
            Err(SettingsError::DuplicateAddress { .. })
        ));
        let same_public = EgressPoolSettings {
            addresses: vec![
                address("127.0.0.2").with_public("203.0.113.1".parse().unwrap()),
                address("127.0.0.3").with_public("203.0.113.1".parse().unwrap()),
            ],
            ..EgressPoolSettings::default()
        };
        assert!(matches!(
            EgressPool::new(&same_public),
            Err(SettingsError::DuplicateAddress { .. })
        ));
        let two_families = EgressPoolSettings {
            families: BTreeMap::from([("a".to_owned(), vec![user]), ("b".to_owned(), vec![user])]),
            ..EgressPoolSettings::default()
        };
        assert!(matches!(
            EgressPool::new(&two_families),
            Err(SettingsError::UserInTwoFamilies { .. })
        ));
        let unknown = EgressPoolSettings {
            addresses: vec![
                address("127.0.0.2").reserved_for(EgressScope::Family("nobody".into())),
            ],
            ..EgressPoolSettings::default()
        };
        assert!(matches!(
            EgressPool::new(&unknown),
            Err(SettingsError::UnknownFamily { .. })
        ));
    }

    #[test]
    fn a_scope_tries_the_shared_addresses_in_a_fixed_order_covering_them_all() {
        let settings = EgressPoolSettings {
            addresses: (2..12).map(|n| address(&format!("127.0.0.{n}"))).collect(),
            ..EgressPoolSettings::default()
        };
        let pool = EgressPool::new(&settings).unwrap();
        let scope = EgressScope::User(UserId::new_random());
        let order: Vec<IpAddr> = pool.shared_order(&scope).map(|entry| entry.bind).collect();
        let again: Vec<IpAddr> = pool.shared_order(&scope).map(|entry| entry.bind).collect();
        assert_eq!(order, again);
        let mut sorted = order.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 10);
        // Different scopes start at different places (with 10 addresses, 20 scopes cannot
        // all start at one).
        let starts: std::collections::HashSet<IpAddr> = (0..20)
            .map(|_| {
                let scope = EgressScope::User(UserId::new_random());
                pool.shared_order(&scope).next().unwrap().bind
            })
            .collect();
        assert!(starts.len() > 1);
    }
}
