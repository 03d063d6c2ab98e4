//! Pod IPs out of the node's `spec.podCIDR` (IPv4), as a host-local IPAM plugin hands them
//! out: the network address and the first host address (the node's bridge gateway) are never
//! given; the rest go to pods in order, each held until its sandbox is removed.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

/// The addresses of one pod CIDR and who holds them.
#[derive(Debug)]
pub struct IpPool {
    cidr: String,
    first: u32,
    last: u32,
    held: HashMap<String, Ipv4Addr>,
    used: BTreeSet<u32>,
    next: u32,
}

/// A CIDR's network address and prefix length.
pub fn parse_cidr(cidr: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, len) = cidr.split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((addr, len))
}

impl IpPool {
    /// The pool of `cidr`; `None` when it is not an IPv4 CIDR with room for a pod.
    pub fn new(cidr: &str) -> Option<IpPool> {
        let (addr, len) = parse_cidr(cidr)?;
        if len > 30 {
            return None;
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
        let net = u32::from(addr) & mask;
        let broadcast = net | !mask;
        Some(IpPool {
            cidr: cidr.to_string(),
            first: net + 2,
            last: broadcast - 1,
            held: HashMap::new(),
            used: BTreeSet::new(),
            next: net + 2,
        })
    }

    pub fn cidr(&self) -> &str {
        &self.cidr
    }

    /// The bridge's address (the first host address).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.first - 1)
    }

    /// The address of `owner`, handed out now if it has none.
    pub fn allocate(&mut self, owner: &str) -> Option<Ipv4Addr> {
        if let Some(ip) = self.held.get(owner) {
            return Some(*ip);
        }
        let size = self.last - self.first + 1;
        for i in 0..size {
            let candidate = self.first + (self.next - self.first + i) % size;
            if self.used.insert(candidate) {
                self.next = if candidate == self.last {
                    self.first
                } else {
                    candidate + 1
                };
                let ip = Ipv4Addr::from(candidate);
                self.held.insert(owner.to_string(), ip);
                return Some(ip);
            }
        }
        None
    }

    /// Frees the address of `owner`.
    pub fn release(&mut self, owner: &str) {
        if let Some(ip) = self.held.remove(owner) {
            self.used.remove(&u32::from(ip));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_skip_the_network_and_gateway_and_are_reused_after_release() {
        let mut p = IpPool::new("10.244.3.0/29").unwrap();
        assert_eq!(p.gateway(), Ipv4Addr::new(10, 244, 3, 1));
        let got: Vec<_> = (0..5)
            .filter_map(|i| p.allocate(&format!("p{i}")))
            .collect();
        assert_eq!(got.first(), Some(&Ipv4Addr::new(10, 244, 3, 2)));
        assert_eq!(got.last(), Some(&Ipv4Addr::new(10, 244, 3, 6)));
        assert_eq!(
            p.allocate("p5"),
            None,
            "the broadcast address is not handed out"
        );
        assert_eq!(p.allocate("p1"), Some(Ipv4Addr::new(10, 244, 3, 3)));
        p.release("p1");
        assert_eq!(p.allocate("p6"), Some(Ipv4Addr::new(10, 244, 3, 3)));
        assert!(IpPool::new("10.0.0.0/31").is_none());
        assert!(IpPool::new("fd00::/64").is_none());
    }
}
