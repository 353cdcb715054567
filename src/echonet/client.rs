//! A blocking ECHONET Lite requester for diagnostics: one request at a time, each waited for
//! with a deadline and sent again when unanswered.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::error::RequestError;
use super::frame::{Eoj, Esv, Frame, Property};
use super::io::Sockets;
use super::{CONTROLLER, MULTICAST_GROUP, PORT};

/// Receive buffer: larger than any UDP payload.
const RECV_BUFFER: usize = 65_536;

/// A controller endpoint that sends requests and waits for their answers.
#[derive(Debug)]
pub struct Client {
    socket: UdpSocket,
    /// The port requests go to on nodes.
    port: u16,
    timeout: Duration,
    tries: u32,
    tid: u16,
    /// Whether the ECHONET Lite port was taken and an ephemeral one is used instead.
    port_taken: bool,
    buf: Vec<u8>,
}

impl Client {
    /// Binds `interface` on the ECHONET Lite port, or on an ephemeral port when another
    /// process (a running gateway) holds it; waits `timeout` per try, `tries` times.
    pub fn bind(
        interface: Ipv4Addr,
        timeout: Duration,
        tries: u32,
    ) -> Result<Client, RequestError> {
        Client::bind_port(interface, PORT, timeout, tries)
    }

    /// As `bind`, addressing nodes (and binding first) on `port`.
    pub fn bind_port(
        interface: Ipv4Addr,
        port: u16,
        timeout: Duration,
        tries: u32,
    ) -> Result<Client, RequestError> {
        let (socket, port_taken) = match Sockets::open_exclusive(interface, port, 1) {
            Ok(s) => (s, false),
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                (Sockets::open_exclusive(interface, 0, 1)?, true)
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Client {
            socket,
            port,
            timeout,
            tries: tries.max(1),
            tid: std::process::id() as u16,
            port_taken,
            buf: vec![0u8; RECV_BUFFER],
        })
    }

    /// Whether the ECHONET Lite port was in use, so requests leave from an ephemeral port
    /// (nodes that always answer to port 3610 then answer the other process instead).
    pub fn port_taken(&self) -> bool {
        self.port_taken
    }

    /// The local address requests leave from.
    pub fn local_addr(&self) -> Result<SocketAddr, RequestError> {
        Ok(self.socket.local_addr()?)
    }

    fn next_tid(&mut self) -> u16 {
        self.tid = self.tid.wrapping_add(1);
        self.tid
    }

    /// Sends `esv` with `props` to object `deoj` of node `ip` and returns the node's answer
    /// (a response or an SNA).
    pub fn request(
        &mut self,
        ip: Ipv4Addr,
        deoj: Eoj,
        esv: Esv,
        props: Vec<Property>,
    ) -> Result<Frame, RequestError> {
        let tid = self.next_tid();
        let bytes = Frame::new(tid, CONTROLLER, deoj, esv, props).encode()?;
        let to = SocketAddr::new(ip.into(), self.port);
        for _ in 0..self.tries {
            self.socket.send_to(&bytes, to)?;
            let deadline = Instant::now() + self.timeout;
            while let Some((from, frame)) = self.receive(deadline)? {
                let answers = from.ip() == IpAddr::from(ip)
                    && frame.tid == tid
                    && frame.seoj == deoj
                    && !frame.esv.is_request();
                if answers {
                    return Ok(frame);
                }
            }
        }
        Err(RequestError::Timeout {
            node: ip.to_string(),
            tries: self.tries,
        })
    }

    /// Reads `epcs` of object `eoj` at `ip`.
    pub fn get(&mut self, ip: Ipv4Addr, eoj: Eoj, epcs: &[u8]) -> Result<Frame, RequestError> {
        let props = epcs.iter().map(|&e| Property::empty(e)).collect();
        self.request(ip, eoj, Esv::Get, props)
    }

    /// Sends a Get to every node on the multicast group and collects every answer with its
    /// TID until `wait` has passed.
    pub fn multicast_get(
        &mut self,
        deoj: Eoj,
        epcs: &[u8],
        wait: Duration,
    ) -> Result<Vec<(IpAddr, Frame)>, RequestError> {
        let tid = self.next_tid();
        let props = epcs.iter().map(|&e| Property::empty(e)).collect();
        let bytes = Frame::new(tid, CONTROLLER, deoj, Esv::Get, props).encode()?;
        self.socket
            .send_to(&bytes, SocketAddr::new(MULTICAST_GROUP.into(), self.port))?;
        let deadline = Instant::now() + wait;
        let mut answers = Vec::new();
        while let Some((from, frame)) = self.receive(deadline)? {
            if frame.tid == tid && !frame.esv.is_request() {
                answers.push((from.ip(), frame));
            }
        }
        Ok(answers)
    }

    /// The next well-formed frame before `deadline`; `None` once it has passed.
    fn receive(&mut self, deadline: Instant) -> Result<Option<(SocketAddr, Frame)>, RequestError> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.socket.set_read_timeout(Some(left))?;
            match self.socket.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    if let Ok(frame) = Frame::decode(self.buf.get(..n).unwrap_or_default()) {
                        return Ok(Some((from, frame)));
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // An ICMP "port unreachable" from an earlier send: the node is not listening.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}
