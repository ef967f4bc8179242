//! systemd socket activation and readiness notification: the modern
//! inetd. Under a `wirekit.socket` unit (or `systemd-socket-activate`)
//! the sockets arrive already bound as file descriptors 3, 4, … with
//! `LISTEN_FDS`/`LISTEN_PID` set and their `FileDescriptorName=`s in
//! `LISTEN_FDNAMES`; each name is the service to run on that socket
//! (`echo`, `time`, `files`, …), and a service with both a TCP and a UDP
//! socket (`daytime`) gets both. `READY=1` and `STOPPING=1` go to
//! `NOTIFY_SOCKET` when it is set (`Type=notify`).
//!
//! The descriptors are taken through `listenfd`, which checks each one is
//! a socket of the expected kind, so no `unsafe` is needed here.

use std::net::{SocketAddr, TcpListener, UdpSocket};

use anyhow::{bail, Context as _};
use listenfd::ListenFd;

/// The sockets systemd passed, by name, not yet taken by a service.
#[derive(Debug, Default)]
pub struct Activation {
    sockets: Vec<(String, Socket)>,
}

/// A passed socket, owned.
#[derive(Debug)]
enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// One passed socket, as `wirekit serve` lists it before starting services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    /// Its `FileDescriptorName=` (the service name).
    pub name: String,
    /// What it is bound to.
    pub addr: SocketAddr,
    /// True for a stream (TCP) socket, false for a datagram one.
    pub tcp: bool,
}

impl Activation {
    /// Takes the passed sockets from the environment (and removes the
    /// variables, so commands wirekit runs do not inherit them). Must run
    /// before any other thread exists: it changes the environment. A
    /// socket without a usable name, or of another kind than a TCP
    /// listener or a UDP socket, is an error: wirekit could not tell what
    /// to run on it.
    pub fn from_env() -> anyhow::Result<Activation> {
        let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
        std::env::remove_var("LISTEN_FDNAMES");
        let mut fds = ListenFd::from_env();
        let names: Vec<&str> = names.split(':').collect();
        let mut sockets = Vec::new();
        for i in 0..fds.len() {
            let fd = i + 3;
            let name = names.get(i).copied().unwrap_or("");
            if name.is_empty() || name == "unknown" {
                bail!("passed socket (fd {fd}) has no FileDescriptorName= naming its service");
            }
            let sock = if let Ok(Some(l)) = fds.take_tcp_listener(i) {
                Socket::Tcp(l)
            } else if let Ok(Some(u)) = fds.take_udp_socket(i) {
                Socket::Udp(u)
            } else {
                bail!("passed socket `{name}` (fd {fd}) is not a TCP listener or a UDP socket");
            };
            sockets.push((name.to_string(), sock));
        }
        Ok(Activation { sockets })
    }

    /// True when systemd passed any socket.
    pub fn is_active(&self) -> bool {
        !self.sockets.is_empty()
    }

    /// Every passed socket not yet taken, with its name, address and kind.
    pub fn list(&self) -> anyhow::Result<Vec<Passed>> {
        self.sockets
            .iter()
            .map(|(name, s)| {
                let (addr, tcp) = match s {
                    Socket::Tcp(l) => (l.local_addr(), true),
                    Socket::Udp(u) => (u.local_addr(), false),
                };
                let addr = addr.with_context(|| format!("passed socket `{name}`"))?;
                Ok(Passed {
                    name: name.clone(),
                    addr,
                    tcp,
                })
            })
            .collect()
    }

    /// Takes the passed TCP listener named `service` bound to `addr`.
    pub fn take_tcp(&mut self, service: &str, addr: SocketAddr) -> Option<TcpListener> {
        let i = self.sockets.iter().position(|(n, s)| {
            n == service && matches!(s, Socket::Tcp(l) if l.local_addr().ok() == Some(addr))
        })?;
        match self.sockets.remove(i).1 {
            Socket::Tcp(l) => Some(l),
            Socket::Udp(_) => None,
        }
    }

    /// Takes the passed UDP socket named `service` bound to `addr`.
    pub fn take_udp(&mut self, service: &str, addr: SocketAddr) -> Option<UdpSocket> {
        let i = self.sockets.iter().position(|(n, s)| {
            n == service && matches!(s, Socket::Udp(u) if u.local_addr().ok() == Some(addr))
        })?;
        match self.sockets.remove(i).1 {
            Socket::Udp(u) => Some(u),
            Socket::Tcp(_) => None,
        }
    }
}

/// Tells systemd the service is ready (all sockets bound); a no-op
/// without `NOTIFY_SOCKET`. A failure is logged, never fatal.
pub fn notify_ready() {
    notify(sd_notify::NotifyState::Ready);
}

/// Tells systemd the service is stopping.
pub fn notify_stopping() {
    notify(sd_notify::NotifyState::Stopping);
}

fn notify(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "sd_notify failed");
    }
}
