//! The ECHONET Lite worker threads: a reader blocked on the sockets, and the worker that runs
//! the session, sleeping until a command, a datagram or the session's next deadline.
//!
//! Two threads because the hub's commands arrive on a channel, which `poll(2)` cannot watch:
//! the reader turns datagrams into channel messages so the worker can wait on both at once.

use std::io::{self, ErrorKind};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixStream;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{Receiver, Select, Sender};

use super::io::{fds, wait_readable, Sockets};
use super::session::{Datagram, HubGone, Session};
use super::settings::Settings;
use crate::chan;
use crate::device::{DeviceEvent, EchonetDevice, WorkerCmd};
use crate::util::rng::Rng;

/// Received datagrams waiting for the worker; beyond this the reader waits (and the kernel
/// buffers).
const RECEIVED_CAPACITY: usize = 256;
/// Larger than any UDP payload, so nothing is cut off.
const RECV_BUFFER: usize = 65_536;

/// A datagram as received.
struct Received {
    from: SocketAddr,
    bytes: Vec<u8>,
}

/// Binds the sockets (so a bad interface or a taken port is reported here) and starts the
/// worker; it runs until `WorkerCmd::Shutdown` or until `cmds` disconnects.
pub fn spawn_worker(
    settings: Settings,
    events: Sender<DeviceEvent>,
    cmds: Receiver<WorkerCmd<EchonetDevice>>,
) -> io::Result<JoinHandle<()>> {
    let sockets = Sockets::open(settings.interface, settings.port, settings.multicast_ttl)?;
    let local = sockets.local_addr()?;
    let sender = sockets.unicast.try_clone()?;
    for s in sockets.receivers() {
        s.set_nonblocking(true)?;
    }
    // Dropping `stop_tx` (when the worker ends) wakes the reader with end-of-file.
    let (stop_tx, stop_rx) = UnixStream::pair()?;
    let (received_tx, received_rx) = crossbeam_channel::bounded(RECEIVED_CAPACITY);
    let reader = thread::Builder::new()
        .name("echonet-rx".into())
        .spawn(move || read_loop(&sockets, &stop_rx, &received_tx))?;
    let first_tid = Rng::from_entropy().next_u64() as u16;
    let worker = Worker {
        session: Session::new(settings, events.clone(), first_tid),
        events,
        sender,
    };
    thread::Builder::new()
        .name("echonet".into())
        .spawn(move || {
            log::info!("echonet worker: started on {local}");
            worker.run(&cmds, &received_rx);
            // A reader blocked on a full channel must see it close before it can see the stop.
            drop(received_rx);
            drop(stop_tx);
            if reader.join().is_err() {
                log::error!("echonet worker: reader thread panicked");
            }
        })
}

/// Moves datagrams from the sockets to the worker until told to stop.
fn read_loop(sockets: &Sockets, stop: &UnixStream, received: &Sender<Received>) {
    let mut watched = vec![std::os::fd::AsRawFd::as_raw_fd(stop)];
    watched.extend(fds(sockets.receivers()));
    let receivers: Vec<&UdpSocket> = sockets.receivers().collect();
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        let ready = match wait_readable(&watched) {
            Ok(r) => r,
            Err(e) => {
                log::error!("echonet worker: waiting for datagrams failed: {e}");
                return;
            }
        };
        if ready.first().copied().unwrap_or(true) {
            return;
        }
        for (socket, _) in receivers
            .iter()
            .zip(ready.iter().skip(1))
            .filter(|(_, r)| **r)
        {
            loop {
                match socket.recv_from(&mut buf) {
                    Ok((n, from)) => {
                        let bytes = buf.get(..n).unwrap_or_default().to_vec();
                        // Blocking here is back-pressure; it ends when the worker is gone.
                        if received.send(Received { from, bytes }).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        // ICMP errors from earlier sends surface here; nothing to do.
                        log::debug!("echonet worker: receive: {e}");
                        break;
                    }
                }
            }
        }
    }
}

/// What woke the worker.
enum Wake {
    Cmd(WorkerCmd<EchonetDevice>),
    Datagram(Received),
    Deadline,
    Stop,
}

/// The state owned by the worker thread.
struct Worker {
    session: Session,
    events: Sender<DeviceEvent>,
    sender: UdpSocket,
}

impl Worker {
    fn run(mut self, cmds: &Receiver<WorkerCmd<EchonetDevice>>, received: &Receiver<Received>) {
        loop {
            self.flush();
            let wake = wait(cmds, received, self.session.next_deadline());
            let now = Instant::now();
            let outcome = match wake {
                Wake::Cmd(WorkerCmd::Add(device)) => {
                    self.add(device, now);
                    Ok(())
                }
                Wake::Cmd(WorkerCmd::Remove(id)) => {
                    self.session.remove(id);
                    Ok(())
                }
                Wake::Cmd(WorkerCmd::Write(request)) => self.session.write(request, now),
                Wake::Datagram(d) => self.session.datagram(d.from, &d.bytes, now),
                Wake::Deadline => Ok(()),
                Wake::Cmd(WorkerCmd::Shutdown) | Wake::Stop => break,
            };
            // Ticking after every wake-up keeps a stream of datagrams from starving timers.
            let ticked = match self.session.next_deadline() {
                Some(due) if due <= now => self.session.tick(now),
                _ => Ok(()),
            };
            if let (Err(HubGone), _) | (_, Err(HubGone)) = (outcome, ticked) {
                log::info!("echonet worker: device event receiver gone, stopping");
                break;
            }
        }
        self.flush();
        log::info!("echonet worker: stopped; {:?}", self.session.counters());
    }

    fn flush(&mut self) {
        while let Some(Datagram { to, bytes }) = self.session.poll_transmit() {
            // A lost datagram is a lost request: the session's timeout sends it again.
            if let Err(e) = self.sender.send_to(&bytes, to) {
                log::warn!("echonet worker: send to {to}: {e}");
            }
        }
    }

    fn add(&mut self, device: EchonetDevice, now: Instant) {
        match resolve(&device.ip) {
            Ok(ip) => self.session.add(device, ip, now),
            Err(reason) => {
                log::error!("{}: {reason}; not polled", device.name);
                let event = DeviceEvent::Offline {
                    device: device.id,
                    reason,
                };
                let _ = chan::try_send(&self.events, event, "echonet→hub");
            }
        }
    }
}

/// Waits for a command, a datagram or `deadline`, commands first.
fn wait(
    cmds: &Receiver<WorkerCmd<EchonetDevice>>,
    received: &Receiver<Received>,
    deadline: Option<Instant>,
) -> Wake {
    let mut sel = Select::new_biased();
    let cmd_index = sel.recv(cmds);
    sel.recv(received);
    let op = match deadline {
        Some(d) => match sel.select_deadline(d) {
            Ok(op) => op,
            Err(_) => return Wake::Deadline,
        },
        None => sel.select(),
    };
    if op.index() == cmd_index {
        op.recv(cmds).map_or(Wake::Stop, Wake::Cmd)
    } else {
        op.recv(received).map_or(Wake::Stop, Wake::Datagram)
    }
}

/// The address of `host`: an IPv4 literal, or the first IPv4 address a name resolves to
/// (the worker's sockets are IPv4).
fn resolve(host: &str) -> Result<IpAddr, String> {
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_ipv4() => return Ok(ip),
        Ok(_) => return Err(format!("{host}: IPv6 nodes are not supported")),
        Err(_) => {}
    }
    (host, super::PORT)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .map(|a| a.ip())
        .find(IpAddr::is_ipv4)
        .ok_or_else(|| format!("{host} has no IPv4 address"))
}
