//! The interface address: from DHCP, or the static [`NetConfig`] address
//! when no DHCP server answers within [`NetConfig::dhcp_fallback_ms`].
//!
//! DHCP keeps running after the fallback: a lease that arrives later
//! replaces the static address, and a lease that is lost falls back to it
//! again. With `dhcp_fallback_ms == None` the static address is used from
//! the start and no DHCP socket is polled.

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::dhcpv4;
use smoltcp::time::Duration;
use smoltcp::wire::{IpCidr, Ipv4Address, Ipv4Cidr};

use crate::NetConfig;

/// Where the interface's address came from, reported by [`App::poll`](crate::App::poll).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    /// Leased from a DHCP server.
    Dhcp(Ipv4Cidr, Option<Ipv4Address>),
    /// The configured static address (no lease, or the lease was lost).
    Static(Ipv4Cidr),
}

/// The DHCP client and the fallback timer.
pub struct Dhcp {
    socket: Option<SocketHandle>,
    fallback_at: Option<u64>,
    leased: bool,
    static_addr: Ipv4Cidr,
    gateway: Option<Ipv4Address>,
}

impl Dhcp {
    /// Adds the DHCP socket (if enabled) or applies the static address now.
    pub fn new(
        net: &NetConfig,
        iface: &mut Interface,
        sockets: &mut SocketSet<'_>,
        now_ms: u64,
    ) -> Self {
        let mut dhcp = Dhcp {
            socket: None,
            fallback_at: None,
            leased: false,
            static_addr: Ipv4Cidr::new(net.ip, net.prefix_len),
            gateway: net.gateway,
        };
        match net.dhcp_fallback_ms {
            Some(wait) => {
                let mut socket = dhcpv4::Socket::new();
                // smoltcp waits 10 s before repeating a DISCOVER; a lost
                // first one would then always end in the fallback.
                let mut retry = dhcpv4::RetryConfig::default();
                retry.discover_timeout = Duration::from_secs(1);
                retry.initial_request_timeout = Duration::from_secs(1);
                socket.set_retry_config(retry);
                dhcp.socket = Some(sockets.add(socket));
                dhcp.fallback_at = Some(now_ms.saturating_add(wait));
            }
            None => dhcp.apply(iface, dhcp.static_addr, dhcp.gateway),
        }
        dhcp
    }

    /// Applies a lease, a lost lease or the fallback; returns what changed.
    pub fn step(
        &mut self,
        iface: &mut Interface,
        sockets: &mut SocketSet<'_>,
        now_ms: u64,
    ) -> Option<Address> {
        let h = self.socket?;
        match sockets.get_mut::<dhcpv4::Socket>(h).poll() {
            Some(dhcpv4::Event::Configured(c)) => {
                self.fallback_at = None;
                self.leased = true;
                self.apply(iface, c.address, c.router);
                return Some(Address::Dhcp(c.address, c.router));
            }
            // smoltcp also reports Deconfigured once at start: only a lost
            // lease means falling back now.
            Some(dhcpv4::Event::Deconfigured) if self.leased => {
                self.leased = false;
                self.fallback_at = Some(now_ms);
            }
            Some(dhcpv4::Event::Deconfigured) => {}
            None => {}
        }
        if self.fallback_at.is_some_and(|t| now_ms >= t) {
            self.fallback_at = None;
            self.apply(iface, self.static_addr, self.gateway);
            return Some(Address::Static(self.static_addr));
        }
        None
    }

    fn apply(&self, iface: &mut Interface, addr: Ipv4Cidr, gateway: Option<Ipv4Address>) {
        iface.update_ip_addrs(|addrs| {
            addrs.clear();
            // Capacity is at least one address in every smoltcp config.
            let _ = addrs.push(IpCidr::Ipv4(addr));
        });
        iface.routes_mut().update(|routes| {
            // The default route is the only one this firmware sets, so
            // clearing the table removes it (smoltcp's
            // `remove_default_ipv4_route` shifts entries: +150 B of flash).
            routes.clear();
            if let Some(gw) = gateway {
                // Cannot fail: the table was just emptied.
                let _ = routes.push(smoltcp::iface::Route::new_ipv4_gateway(gw));
            }
        });
    }
}
