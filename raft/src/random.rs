//! `random_u64`: a random number from the standard library's per-process hash keys and the
//! clock (ids and jitter need unpredictability, not cryptographic strength).

use std::hash::{BuildHasher, Hasher};

/// A random `u64`.
pub(crate) fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
