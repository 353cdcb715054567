//! Wakes the shard out of `poll(2)` when the hub or a connector has something for it.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// A self-pipe: writing a byte makes the read end readable.
pub struct Waker {
    tx: UnixStream,
    rx: UnixStream,
}

impl Waker {
    /// Creates a non-blocking socket pair.
    pub fn new() -> std::io::Result<Self> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(Waker { tx, rx })
    }

    /// Makes the next (or current) `poll` return; cheap when already woken.
    pub fn wake(&self) {
        // A full buffer means a wake-up is already pending, which is all we need.
        if let Err(e) = (&self.tx).write(&[1]) {
            if e.kind() != ErrorKind::WouldBlock {
                log::error!("link waker failed: {e}");
            }
        }
    }

    /// Consumes pending wake-ups.
    pub fn drain(&self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = (&self.rx).read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }

    /// The descriptor to poll for readability.
    pub fn fd(&self) -> RawFd {
        self.rx.as_raw_fd()
    }
}
