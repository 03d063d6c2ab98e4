//! `Revision`: the store's logical clock. One global counter, +1 for each applied transaction that
//! changes anything; every key version records the revision that created and last modified it.

/// A store revision. A fresh store is at revision 1 (as etcd), so the first write is at 2.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(pub i64);

impl Revision {
    /// The revision of an empty store.
    pub const INITIAL: Revision = Revision(1);

    /// The raw value, as carried in API messages.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The next revision.
    pub fn next(self) -> Revision {
        Revision(self.0 + 1)
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
