//! Values shared by equal keys across a process while anyone holds them.

use std::sync::{Arc, Mutex, PoisonError, Weak};

/// A table of values built once per key and shared while in use: a worker builds one client
/// per account, tens of thousands of them, whose read-only parts (quota plans, endpoint URIs)
/// are the same for every account of a broker. Holds only weak references, so a value no
/// client uses any more is freed. Meant for a handful of distinct keys (a linear scan).
#[derive(Debug)]
pub struct Interned<K, V: ?Sized> {
    entries: Mutex<Vec<(K, Weak<V>)>>,
}

impl<K: PartialEq, V: ?Sized> Interned<K, V> {
    /// An empty table, usable as a `static`.
    pub const fn new() -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
        }
    }

    /// The live value of `key`, or the one `build` makes from it (then shared with later
    /// callers for as long as any of them holds it).
    ///
    /// # Errors
    /// What `build` returns.
    pub fn get_or_try_insert<E>(
        &self,
        key: K,
        build: impl FnOnce(&K) -> Result<Arc<V>, E>,
    ) -> Result<Arc<V>, E> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|(_, value)| value.strong_count() > 0);
        if let Some(value) = entries
            .iter()
            .filter(|(known, _)| *known == key)
            .find_map(|(_, value)| value.upgrade())
        {
            return Ok(value);
        }
        let value = build(&key)?;
        entries.push((key, Arc::downgrade(&value)));
        Ok(value)
    }
}

impl<K: PartialEq, V: ?Sized> Default for Interned<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn build(key: &&str) -> Result<Arc<str>, Infallible> {
        Ok(Arc::from(key.to_uppercase()))
    }

    #[test]
    fn equal_keys_share_one_value_while_it_is_held() {
        let table = Interned::<&str, str>::new();
        let first = table.get_or_try_insert("a", build).unwrap();
        let again = table.get_or_try_insert("a", build).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = table.get_or_try_insert("b", build).unwrap();
        assert_eq!(&*other, "B");
        assert!(!Arc::ptr_eq(&first, &other));
    }

    #[test]
    fn a_value_nobody_holds_is_freed_and_built_again() {
        let table = Interned::<&str, str>::new();
        let weak = Arc::downgrade(&table.get_or_try_insert("a", build).unwrap());
        assert!(weak.upgrade().is_none(), "the table must not keep it alive");
        let rebuilt = table.get_or_try_insert("a", build).unwrap();
        assert_eq!(&*rebuilt, "A");
        assert_eq!(table.entries.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_failed_build_stores_nothing() {
        let table = Interned::<&str, str>::new();
        let failed: Result<_, &str> = table.get_or_try_insert("a", |_| Err("no"));
        assert_eq!(failed.unwrap_err(), "no");
        assert!(table.entries.lock().unwrap().is_empty());
    }
}
