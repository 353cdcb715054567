//! UDP sockets for ECHONET Lite and a blocking wait on several of them: the only place that
//! knows about socket options.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

use super::MULTICAST_GROUP;

/// The sockets of one ECHONET Lite endpoint: `unicast` sends everything and receives what is
/// addressed to the interface; `multicast` (only when bound to a specific interface) receives
/// what is sent to the group. Bound to 0.0.0.0, `unicast` receives both.
#[derive(Debug)]
pub(crate) struct Sockets {
    pub(crate) unicast: UdpSocket,
    pub(crate) multicast: Option<UdpSocket>,
}

impl Sockets {
    /// Binds `interface:port` with SO_REUSEADDR, joins 224.0.23.0 on `interface`, and sends
    /// multicast from `interface` with `ttl`.
    pub(crate) fn open(interface: Ipv4Addr, port: u16, ttl: u32) -> io::Result<Sockets> {
        let unicast = socket(true)?;
        unicast.bind(&SocketAddrV4::new(interface, port).into())?;
        unicast.set_multicast_if_v4(&interface)?;
        unicast.set_multicast_ttl_v4(ttl)?;
        // Other nodes on this host (and simulators) must hear our multicast too.
        unicast.set_multicast_loop_v4(true)?;
        let multicast = if interface.is_unspecified() {
            unicast.join_multicast_v4(&MULTICAST_GROUP, &interface)?;
            None
        } else {
            // A socket bound to a unicast address never sees group traffic; this one sees
            // only that.
            let group = socket(true)?;
            group.bind(&SocketAddrV4::new(MULTICAST_GROUP, port).into())?;
            group.join_multicast_v4(&MULTICAST_GROUP, &interface)?;
            Some(UdpSocket::from(group))
        };
        Ok(Sockets {
            unicast: UdpSocket::from(unicast),
            multicast,
        })
    }

    /// Binds `interface:port` with SO_REUSEADDR and sends multicast from `interface`, without
    /// joining the group: for a simulated node that does not listen to multicast.
    #[cfg(feature = "sim")]
    pub(crate) fn open_unicast(interface: Ipv4Addr, port: u16, ttl: u32) -> io::Result<Sockets> {
        let unicast = socket(true)?;
        unicast.bind(&SocketAddrV4::new(interface, port).into())?;
        unicast.set_multicast_if_v4(&interface)?;
        unicast.set_multicast_ttl_v4(ttl)?;
        unicast.set_multicast_loop_v4(true)?;
        Ok(Sockets {
            unicast: UdpSocket::from(unicast),
            multicast: None,
        })
    }

    /// Binds `interface:port` for requests only, without SO_REUSEADDR so that a port held by
    /// a running gateway is reported as in use rather than shared.
    pub(crate) fn open_exclusive(
        interface: Ipv4Addr,
        port: u16,
        ttl: u32,
    ) -> io::Result<UdpSocket> {
        let s = socket(false)?;
        s.bind(&SocketAddrV4::new(interface, port).into())?;
        s.set_multicast_if_v4(&interface)?;
        s.set_multicast_ttl_v4(ttl)?;
        s.set_multicast_loop_v4(true)?;
        Ok(UdpSocket::from(s))
    }

    /// Every receiving socket.
    pub(crate) fn receivers(&self) -> impl Iterator<Item = &UdpSocket> {
        std::iter::once(&self.unicast).chain(self.multicast.as_ref())
    }

    /// The local address of the unicast socket.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.unicast.local_addr()
    }
}

fn socket(reuse: bool) -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    if reuse {
        s.set_reuse_address(true)?;
    }
    Ok(s)
}

/// Blocks until at least one of `fds` is readable (or hung up); returns which are.
pub(crate) fn wait_readable(fds: &[RawFd]) -> io::Result<Vec<bool>> {
    let mut pollfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `pollfds` is a valid, exclusively borrowed array of `pollfds.len()` entries
        // for the whole call.
        let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, -1) };
        if n >= 0 {
            return Ok(pollfds.iter().map(|p| p.revents != 0).collect());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The descriptors of `sockets`, for `wait_readable`.
pub(crate) fn fds<'a>(sockets: impl Iterator<Item = &'a UdpSocket>) -> Vec<RawFd> {
    sockets.map(AsRawFd::as_raw_fd).collect()
}
