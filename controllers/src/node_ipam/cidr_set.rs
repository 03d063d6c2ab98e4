//! `CidrSet`: the node ranges of one IPv4 cluster CIDR (upstream's cidrset). The cluster CIDR
//! splits into `2^(node prefix - cluster prefix)` ranges, numbered from its first address; a
//! range is handed out at most once until released, and allocation goes round the set from
//! just after the last range handed out (so a freed range is reused once the ones after it are
//! taken, not at once).

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;

/// Why a CIDR or a set could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// Not `a.b.c.d/n` with n ≤ 32 (IPv6 is not supported).
    Invalid(String),
    /// The node prefix is shorter than the cluster's.
    SubnetTooBig,
    /// The CIDR does not overlap the cluster CIDR.
    OutOfRange(String),
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::Invalid(c) => write!(f, "invalid IPv4 CIDR {c:?}"),
            CidrError::SubnetTooBig => {
                write!(f, "New CIDR set failed; the node CIDR size is too big")
            }
            CidrError::OutOfRange(c) => write!(f, "cidr {c} is out the range of cluster cidr"),
        }
    }
}

/// An IPv4 network: its first address (host bits cleared) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Net {
    pub network: u32,
    pub prefix: u8,
}

impl Ipv4Net {
    /// Parses `a.b.c.d/n`, clearing host bits as Go's `net.ParseCIDR` does.
    pub fn parse(s: &str) -> Result<Ipv4Net, CidrError> {
        let invalid = || CidrError::Invalid(s.to_string());
        let (addr, prefix) = s.trim().split_once('/').ok_or_else(invalid)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.parse().map_err(|_| invalid())?;
        if prefix > 32 {
            return Err(invalid());
        }
        Ok(Ipv4Net {
            network: u32::from(addr) & mask(prefix),
            prefix,
        })
    }

    /// The last address in the network.
    fn last(&self) -> u32 {
        self.network | !mask(self.prefix)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.network), self.prefix)
    }
}

/// The netmask of a prefix length, as a number.
fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

/// The ranges of a cluster CIDR, which are used.
#[derive(Debug)]
pub struct CidrSet {
    cluster: Ipv4Net,
    node_prefix: u8,
    /// How many node ranges the cluster CIDR holds.
    max: u64,
    /// The indices of the ranges in use (a set, not a bitmap: a /8 split into /32s is legal).
    used: BTreeSet<u64>,
    /// Where the search for a free range starts.
    next_candidate: u64,
}

impl CidrSet {
    pub fn new(cluster: &str, node_prefix: u8) -> Result<CidrSet, CidrError> {
        let cluster = Ipv4Net::parse(cluster)?;
        if node_prefix < cluster.prefix || node_prefix > 32 {
            return Err(CidrError::SubnetTooBig);
        }
        Ok(CidrSet {
            cluster,
            node_prefix,
            max: 1u64 << (node_prefix - cluster.prefix),
            used: BTreeSet::new(),
            next_candidate: 0,
        })
    }

    /// The node range with index `i`.
    fn block(&self, i: u64) -> Ipv4Net {
        let offset = if self.node_prefix == 0 {
            0
        } else {
            // `i` < 2^node_prefix, so the shifted value fits 32 bits.
            u32::try_from(i << (32 - u32::from(self.node_prefix))).unwrap_or(0)
        };
        Ipv4Net {
            network: self.cluster.network | offset,
            prefix: self.node_prefix,
        }
    }

    /// The index of the node range holding address `ip`, if it is in the cluster CIDR.
    fn index_of(&self, ip: u32) -> Option<u64> {
        let i = u64::from(self.cluster.network ^ ip) >> (32 - u32::from(self.node_prefix));
        (i < self.max).then_some(i)
    }

    /// The first and last range indices `cidr` covers.
    fn span(&self, cidr: &str) -> Result<(u64, u64), CidrError> {
        let net = Ipv4Net::parse(cidr)?;
        let overlaps = net.network & mask(self.cluster.prefix) == self.cluster.network
            || self.cluster.network & mask(net.prefix) == net.network;
        if !overlaps {
            return Err(CidrError::OutOfRange(cidr.to_string()));
        }
        if net.prefix <= self.cluster.prefix {
            return Ok((0, self.max - 1));
        }
        let out = || CidrError::OutOfRange(cidr.to_string());
        let first = self
            .index_of(net.network & mask(self.node_prefix))
            .ok_or_else(out)?;
        let last = self
            .index_of(net.last() & mask(self.node_prefix))
            .ok_or_else(out)?;
        Ok((first, last))
    }

    /// Hands out the next free range, or `None` when every range is in use.
    pub fn allocate_next(&mut self) -> Option<String> {
        if self.used.len() as u64 >= self.max {
            return None;
        }
        let mut candidate = self.next_candidate;
        for _ in 0..self.max {
            if !self.used.contains(&candidate) {
                break;
            }
            candidate = (candidate + 1) % self.max;
        }
        self.next_candidate = (candidate + 1) % self.max;
        self.used.insert(candidate);
        Some(self.block(candidate).to_string())
    }

    /// Marks every range `cidr` covers as used (already used is fine).
    pub fn occupy(&mut self, cidr: &str) -> Result<(), CidrError> {
        let (first, last) = self.span(cidr)?;
        self.used.extend(first..=last);
        Ok(())
    }

    /// Frees every range `cidr` covers.
    pub fn release(&mut self, cidr: &str) -> Result<(), CidrError> {
        let (first, last) = self.span(cidr)?;
        for i in first..=last {
            self.used.remove(&i);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_handed_out_in_order_and_never_twice() {
        let mut s = CidrSet::new("10.244.0.0/16", 24).unwrap();
        assert_eq!(s.allocate_next().as_deref(), Some("10.244.0.0/24"));
        assert_eq!(s.allocate_next().as_deref(), Some("10.244.1.0/24"));
        s.occupy("10.244.2.0/24").unwrap();
        assert_eq!(s.allocate_next().as_deref(), Some("10.244.3.0/24"));
    }

    #[test]
    fn an_exhausted_set_hands_out_nothing_until_a_range_is_released() {
        let mut s = CidrSet::new("192.168.0.0/24", 26).unwrap();
        let all: Vec<String> = (0..4).filter_map(|_| s.allocate_next()).collect();
        assert_eq!(
            all,
            [
                "192.168.0.0/26",
                "192.168.0.64/26",
                "192.168.0.128/26",
                "192.168.0.192/26"
            ]
        );
        assert_eq!(s.allocate_next(), None);
        s.release("192.168.0.64/26").unwrap();
        assert_eq!(s.allocate_next().as_deref(), Some("192.168.0.64/26"));
        assert_eq!(s.allocate_next(), None);
    }

    #[test]
    fn allocation_goes_round_from_the_last_range_handed_out() {
        let mut s = CidrSet::new("10.0.0.0/24", 26).unwrap();
        let first = s.allocate_next().unwrap();
        s.allocate_next().unwrap();
        s.release(&first).unwrap();
        // The freed first range waits until the search comes round to it.
        assert_eq!(s.allocate_next().as_deref(), Some("10.0.0.128/26"));
        assert_eq!(s.allocate_next().as_deref(), Some("10.0.0.192/26"));
        assert_eq!(s.allocate_next().as_deref(), Some("10.0.0.0/26"));
    }

    #[test]
    fn a_wider_or_narrower_cidr_occupies_every_range_it_covers() {
        let mut s = CidrSet::new("10.0.0.0/16", 24).unwrap();
        s.occupy("10.0.4.0/23").unwrap();
        s.occupy("10.0.0.7/32").unwrap();
        let next: Vec<String> = (0..3).filter_map(|_| s.allocate_next()).collect();
        assert_eq!(next, ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]);
        assert_eq!(s.allocate_next().as_deref(), Some("10.0.6.0/24"));
        s.occupy("10.0.0.0/8").unwrap();
        assert_eq!(s.allocate_next(), None);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(
            CidrSet::new("10.0.0.0/33", 24),
            Err(CidrError::Invalid(_))
        ));
        assert!(matches!(
            CidrSet::new("fd00::/48", 64),
            Err(CidrError::Invalid(_))
        ));
        assert_eq!(
            CidrSet::new("10.0.0.0/24", 16).unwrap_err(),
            CidrError::SubnetTooBig
        );
        let mut s = CidrSet::new("10.0.0.0/16", 24).unwrap();
        assert!(matches!(
            s.occupy("10.1.0.0/24"),
            Err(CidrError::OutOfRange(_))
        ));
        assert!(matches!(s.occupy("garbage"), Err(CidrError::Invalid(_))));
        // Whole-space and single-address sets work.
        let mut all = CidrSet::new("0.0.0.0/0", 0).unwrap();
        assert_eq!(all.allocate_next().as_deref(), Some("0.0.0.0/0"));
        let mut one = CidrSet::new("10.1.2.3/32", 32).unwrap();
        assert_eq!(one.allocate_next().as_deref(), Some("10.1.2.3/32"));
    }
}
