//! The cluster's network: a private /24 on one bridge, checked free before
//! use, and the `ip`/`iptables` steps that build and remove it.
//!
//! Nodes get `.11`, `.12`, ...; the bridge itself gets `.1` so the
//! controller in the root namespace can reach them. The /24 is the only
//! route inside a node: no default route, no NAT, nothing leaves the bridge.

use super::ClusterError;
use crate::remote::{Command, Local, Remote};
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A /24 network, e.g. `10.77.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    base: Ipv4Addr,
}

impl Subnet {
    /// `10.77.0.0/24`, the default (`super::DEFAULT_SUBNET`).
    pub const DEFAULT: Subnet = Subnet {
        base: Ipv4Addr::new(10, 77, 0, 0),
    };

    /// The /24 starting at `base` (its last octet is ignored).
    pub fn new(base: Ipv4Addr) -> Subnet {
        let [a, b, c, _] = base.octets();
        Subnet {
            base: Ipv4Addr::new(a, b, c, 0),
        }
    }

    /// Address of node `i` (1-based): `.10+i`.
    pub fn node(&self, i: usize) -> Ipv4Addr {
        self.host(10 + i as u8)
    }

    /// The bridge's own address: `.1`.
    pub fn bridge(&self) -> Ipv4Addr {
        self.host(1)
    }

    fn host(&self, last: u8) -> Ipv4Addr {
        let [a, b, c, _] = self.base.octets();
        Ipv4Addr::new(a, b, c, last)
    }

    /// Whether `net`/`len` shares any address with this /24.
    pub fn overlaps(&self, net: Ipv4Addr, len: u8) -> bool {
        let len = len.min(32);
        let shorter = len.min(24);
        let mask = |l: u8| if l == 0 { 0 } else { u32::MAX << (32 - l) };
        (u32::from(net) & mask(shorter)) == (u32::from(self.base) & mask(shorter))
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, len) = s
            .split_once('/')
            .ok_or(format!("{s:?} is not a CIDR like 10.77.0.0/24"))?;
        let base: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
        if len != "24" {
            return Err(format!("{s}: the local cluster needs a /24"));
        }
        if base.octets()[3] != 0 {
            return Err(format!("{s}: a /24 ends in .0"));
        }
        if !base.is_private() {
            return Err(format!(
                "{s}: use a private range (10/8, 172.16/12, 192.168/16)"
            ));
        }
        Ok(Subnet { base })
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/24", self.base)
    }
}

/// The first line of `ip -o addr` / `ip route` output that uses `subnet`
/// (a default route does not count).
pub fn find_use(subnet: &Subnet, addr_lines: &str, route_lines: &str) -> Option<String> {
    let addrs = addr_lines
        .lines()
        .filter(|l| l.split_whitespace().nth(3).is_some_and(|w| uses(subnet, w)));
    let routes = route_lines.lines().filter(|l| {
        let mut words = l.split_whitespace();
        let first = words.next().unwrap_or("");
        let prefix = match first {
            "local" | "broadcast" | "unicast" | "blackhole" | "unreachable" | "prohibit"
            | "anycast" | "multicast" | "throw" | "nat" => words.next().unwrap_or(""),
            _ => first,
        };
        uses(subnet, prefix)
    });
    addrs.chain(routes).next().map(|l| l.trim().to_string())
}

/// Whether a word like `10.77.0.5/16` or `10.77.0.0` names part of `subnet`.
fn uses(subnet: &Subnet, word: &str) -> bool {
    let (addr, len) = word.split_once('/').unwrap_or((word, "32"));
    match (addr.parse::<Ipv4Addr>(), len.parse::<u8>()) {
        (Ok(addr), Ok(len)) if len > 0 => subnet.overlaps(addr, len),
        _ => false,
    }
}

/// Fails when `subnet` is assigned or routed anywhere on this machine.
pub fn check_free(local: &Local, subnet: &Subnet) -> Result<(), ClusterError> {
    let addrs = local.exec(&Command::shell("ip -o -4 addr show"))?.stdout;
    let routes = local
        .exec(&Command::shell("ip -4 route show table all"))?
        .stdout;
    match find_use(subnet, &addrs, &routes) {
        Some(line) => Err(ClusterError::SubnetInUse {
            subnet: subnet.to_string(),
            by: line,
        }),
        None => Ok(()),
    }
}

/// Whether a link named `name` exists in the root namespace.
pub fn link_exists(local: &Local, name: &str) -> Result<bool, ClusterError> {
    let out = local.exec(
        &Command::new("ip")
            .args(["link", "show", "dev", name])
            .unchecked(),
    )?;
    Ok(out.success())
}

/// The names `ip netns list` shows.
pub fn netns_list(local: &Local) -> Result<Vec<String>, ClusterError> {
    let out = local.exec(&Command::shell("ip netns list"))?;
    Ok(out
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// The iptables arguments of the bridge's FORWARD rule, after `-I`/`-D`/`-C`.
pub fn forward_rule(bridge: &str) -> [&str; 7] {
    ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
}

/// Whether the bridge's FORWARD rule is present.
pub fn forward_rule_present(local: &Local, bridge: &str) -> Result<bool, ClusterError> {
    let check = Command::new("iptables")
        .args(["-w", "-C"])
        .args(forward_rule(bridge))
        .unchecked();
    Ok(local.exec(&check)?.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> Subnet {
        "10.77.0.0/24".parse().unwrap()
    }

    #[test]
    fn parses_only_private_slash_24s() {
        assert_eq!(
            super::super::DEFAULT_SUBNET.parse::<Subnet>(),
            Ok(Subnet::DEFAULT)
        );
        assert_eq!(net().node(1), Ipv4Addr::new(10, 77, 0, 11));
        assert_eq!(net().bridge(), Ipv4Addr::new(10, 77, 0, 1));
        assert!("10.77.0.0/16".parse::<Subnet>().is_err());
        assert!("10.77.0.5/24".parse::<Subnet>().is_err());
        assert!("8.8.8.0/24".parse::<Subnet>().is_err());
        assert!("nonsense".parse::<Subnet>().is_err());
    }

    #[test]
    fn overlap_covers_wider_and_narrower_prefixes() {
        let n = net();
        assert!(n.overlaps(Ipv4Addr::new(10, 0, 0, 0), 8));
        assert!(n.overlaps(Ipv4Addr::new(10, 77, 0, 128), 25));
        assert!(!n.overlaps(Ipv4Addr::new(10, 77, 1, 0), 24));
        assert!(!n.overlaps(Ipv4Addr::new(192, 0, 2, 0), 24));
    }

    #[test]
    fn find_use_reads_ip_output_and_ignores_default_routes() {
        let addrs = "4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\n";
        let routes = "default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0 proto kernel\n\
                      local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1\n";
        assert_eq!(find_use(&net(), addrs, routes), None);
        let routes_in_use = format!("{routes}10.0.0.0/8 via 192.0.2.1 dev eth0\n");
        assert_eq!(
            find_use(&net(), addrs, &routes_in_use).as_deref(),
            Some("10.0.0.0/8 via 192.0.2.1 dev eth0")
        );
        let addrs_in_use = "5: br9    inet 10.77.0.1/24 scope global br9\n";
        assert!(find_use(&net(), addrs_in_use, "").unwrap().contains("br9"));
        let local_route = "local 10.77.0.1 dev br9 table local\n";
        assert!(find_use(&net(), "", local_route).is_some());
    }
}
