//! One admin connection's byte stream, plain or TLS, where every read and write is bounded by
//! one deadline for the whole phase (head, body, answer), not per byte: a client that drips a
//! byte a second gets no more time than one that sends nothing.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// A TCP stream whose every read and write fails with `TimedOut` once `deadline` has passed.
#[derive(Debug)]
pub(super) struct DeadlineSocket {
    tcp: TcpStream,
    deadline: Instant,
}

impl DeadlineSocket {
    /// The time left, armed on the socket; an error once it is gone.
    fn arm(&self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection's deadline passed",
            ));
        }
        self.tcp.set_read_timeout(Some(left))?;
        self.tcp.set_write_timeout(Some(left))
    }
}

impl Read for DeadlineSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        self.tcp.read(buf)
    }
}

impl Write for DeadlineSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// A plain or TLS admin connection.
pub(super) enum Conn {
    Plain(DeadlineSocket),
    Tls(Box<StreamOwned<ServerConnection, DeadlineSocket>>),
}

impl Conn {
    /// Wraps an accepted stream; with `tls` the handshake happens on the first read, within
    /// the first deadline.
    pub(super) fn new(
        tcp: TcpStream,
        tls: Option<&Arc<ServerConfig>>,
        deadline: Instant,
    ) -> io::Result<Conn> {
        tcp.set_nodelay(true)?;
        let socket = DeadlineSocket { tcp, deadline };
        Ok(match tls {
            None => Conn::Plain(socket),
            Some(config) => {
                let session =
                    ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
                Conn::Tls(Box::new(StreamOwned::new(session, socket)))
            }
        })
    }

    /// Sets the deadline of the next phase.
    pub(super) fn set_deadline(&mut self, deadline: Instant) {
        self.socket_mut().deadline = deadline;
    }

    /// Ends the answer: a TLS close_notify, then no more writes from our side.
    pub(super) fn finish(&mut self) {
        if let Conn::Tls(stream) = self {
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
        let _ = self.socket_mut().tcp.shutdown(Shutdown::Write);
    }

    fn socket_mut(&mut self) -> &mut DeadlineSocket {
        match self {
            Conn::Plain(socket) => socket,
            Conn::Tls(stream) => &mut stream.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(socket) => socket.read(buf),
            Conn::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(socket) => socket.write(buf),
            Conn::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(socket) => socket.flush(),
            Conn::Tls(stream) => stream.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    /// A peer dripping one byte every 50 ms does not keep a read going past the deadline.
    #[test]
    fn the_deadline_covers_the_whole_phase() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let dripper = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            for _ in 0..40 {
                if c.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let (tcp, _) = listener.accept().unwrap();
        let start = Instant::now();
        let mut conn = Conn::new(tcp, None, start + Duration::from_millis(300)).unwrap();
        let mut buf = [0u8; 16];
        let err = loop {
            match conn.read(&mut buf) {
                Ok(0) => panic!("closed"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            "{err}"
        );
        assert!(start.elapsed() < Duration::from_millis(800));
        drop(conn);
        dripper.join().unwrap();
    }
}
