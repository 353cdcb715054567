//! The shard thread: every open link's socket plus the waker in one `poll(2)`.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::Message;

use super::connect::{Connectors, Job, Outcome, Ws};
use super::waker::Waker;
use super::{CloseWhy, LinkCmd, LinkEvent, LinkId};
use crate::chan::{self, SendError};

enum Link {
    /// A connector thread is working on it; `attempt` identifies the current try.
    Connecting {
        attempt: u64,
        ping_interval: Option<Duration>,
    },
    Open(Box<Open>),
}

struct Open {
    ws: Ws,
    fd: RawFd,
    /// Output is buffered in tungstenite because the socket would block.
    want_write: bool,
    ping_interval: Option<Duration>,
    next_ping: Option<Instant>,
    /// A ping went out and nothing has come back since.
    awaiting_pong: bool,
}

pub(super) struct Shard {
    cmds: Receiver<LinkCmd>,
    events: Sender<LinkEvent>,
    waker: Arc<Waker>,
    connectors: Connectors,
    links: HashMap<LinkId, Link>,
    attempts: u64,
    // Reused between iterations so an idle wake-up allocates nothing.
    pollfds: Vec<libc::pollfd>,
    polled: Vec<LinkId>,
}

impl Shard {
    pub fn new(
        cmds: Receiver<LinkCmd>,
        events: Sender<LinkEvent>,
        waker: Arc<Waker>,
        connectors: Connectors,
    ) -> Self {
        Shard {
            cmds,
            events,
            waker,
            connectors,
            links: HashMap::new(),
            attempts: 0,
            pollfds: Vec::new(),
            polled: Vec::new(),
        }
    }

    pub fn run(mut self) {
        loop {
            self.wait();
            self.waker.drain();
            if !self.handle_commands() {
                self.shutdown();
                return;
            }
            self.adopt_outcomes();
            for i in 0..self.polled.len() {
                let revents = self.pollfds[i + 1].revents;
                if revents != 0 {
                    self.service(self.polled[i], revents);
                }
            }
            self.tick_pings(Instant::now());
        }
    }

    /// Blocks until a socket, the waker or the earliest ping deadline needs us.
    fn wait(&mut self) {
        self.pollfds.clear();
        self.polled.clear();
        self.pollfds.push(libc::pollfd {
            fd: self.waker.fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        let mut deadline: Option<Instant> = None;
        for (id, link) in &self.links {
            if let Link::Open(open) = link {
                let mut events = libc::POLLIN;
                if open.want_write {
                    events |= libc::POLLOUT;
                }
                self.pollfds.push(libc::pollfd {
                    fd: open.fd,
                    events,
                    revents: 0,
                });
                self.polled.push(*id);
                if let Some(at) = open.next_ping {
                    deadline = Some(deadline.map_or(at, |d| d.min(at)));
                }
            }
        }
        let timeout_ms: libc::c_int = match deadline {
            None => -1,
            Some(at) => {
                let ms = at.saturating_duration_since(Instant::now()).as_millis() + 1;
                ms.min(i32::MAX as u128) as libc::c_int
            }
        };
        // SAFETY: `pollfds` is a valid, exclusively borrowed array of `len` pollfd structs.
        let rc = unsafe {
            libc::poll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                timeout_ms,
            )
        };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != ErrorKind::Interrupted {
                log::error!("link poll failed: {err}");
            }
            for p in &mut self.pollfds {
                p.revents = 0;
            }
        }
    }

    /// Applies every queued hub command; false once the hub asked to shut down or is gone.
    fn handle_commands(&mut self) -> bool {
        loop {
            match self.cmds.try_recv() {
                Ok(LinkCmd::Connect { link, params }) => {
                    if let Some(Link::Open(mut open)) = self.links.remove(&link) {
                        close_quietly(&mut open.ws);
                    }
                    self.attempts += 1;
                    let attempt = self.attempts;
                    let ping_interval = params.ping_interval;
                    let job = Job {
                        link,
                        attempt,
                        params,
                    };
                    match chan::try_send(&self.connectors.jobs, job, "link→connectors") {
                        Ok(()) => {
                            self.links.insert(
                                link,
                                Link::Connecting {
                                    attempt,
                                    ping_interval,
                                },
                            );
                        }
                        Err(SendError::Full(_) | SendError::Closed(_)) => {
                            self.emit(LinkEvent::ConnectFailed {
                                link,
                                error: "too many connection attempts queued".into(),
                                auth: false,
                            });
                        }
                    }
                }
                Ok(LinkCmd::Send { link, text }) => self.send_text(link, text),
                Ok(LinkCmd::Close { link, why }) => {
                    if let Some(removed) = self.links.remove(&link) {
                        if let Link::Open(mut open) = removed {
                            close_with(&mut open.ws, why);
                        }
                        self.emit(LinkEvent::Closed {
                            link,
                            reason: "closed by the gateway".into(),
                        });
                    }
                }
                Ok(LinkCmd::Shutdown) | Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    fn adopt_outcomes(&mut self) {
        while let Ok(Outcome {
            link,
            attempt,
            result,
        }) = self.connectors.outcomes.try_recv()
        {
            let ping_interval = match self.links.get(&link) {
                Some(Link::Connecting {
                    attempt: current,
                    ping_interval,
                }) if *current == attempt => *ping_interval,
                // Abandoned attempt: a dropped socket simply closes.
                _ => continue,
            };
            match result {
                Ok(ws) => {
                    let fd = match ws.get_ref() {
                        MaybeTlsStream::Plain(s) => s.as_raw_fd(),
                        MaybeTlsStream::Rustls(s) => s.get_ref().as_raw_fd(),
                        _ => continue,
                    };
                    let open = Open {
                        ws,
                        fd,
                        want_write: false,
                        ping_interval,
                        next_ping: ping_interval.map(|p| Instant::now() + p),
                        awaiting_pong: false,
                    };
                    self.links.insert(link, Link::Open(Box::new(open)));
                    self.emit(LinkEvent::Connected { link });
                    // Frames that arrived with the upgrade response are already buffered and
                    // will never make the socket readable again: read them now.
                    self.service(link, libc::POLLIN);
                }
                Err(e) => {
                    self.links.remove(&link);
                    self.emit(LinkEvent::ConnectFailed {
                        link,
                        auth: e.is_auth(),
                        error: e.to_string(),
                    });
                }
            }
        }
    }

    fn send_text(&mut self, link: LinkId, text: String) {
        let Some(Link::Open(open)) = self.links.get_mut(&link) else {
            log::debug!(
                "link {}: dropping frame for a link that is not open",
                link.0
            );
            return;
        };
        let result = open
            .ws
            .write(Message::text(text))
            .and_then(|()| open.ws.flush());
        if let Err(reason) = write_outcome(open, result) {
            self.drop_link(link, reason);
        }
    }

    /// Reads everything the socket has, then flushes pending output (including pongs).
    fn service(&mut self, link: LinkId, revents: libc::c_short) {
        let Some(Link::Open(open)) = self.links.get_mut(&link) else {
            return;
        };
        let mut received = Vec::new();
        let mut closed: Option<String> = None;
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
            loop {
                match open.ws.read() {
                    Ok(Message::Text(text)) => {
                        open.awaiting_pong = false;
                        received.push(text.as_str().to_owned());
                    }
                    Ok(Message::Binary(_)) => {
                        log::warn!("link {}: ignoring a binary frame (OCPP-J is text)", link.0);
                    }
                    Ok(_) => open.awaiting_pong = false,
                    Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(
                        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                    ) => {
                        closed = Some("closed by the CSMS".into());
                        break;
                    }
                    Err(e) => {
                        closed = Some(e.to_string());
                        break;
                    }
                }
            }
        }
        if closed.is_none() {
            let result = open.ws.flush();
            if let Err(reason) = write_outcome(open, result) {
                closed = Some(reason);
            }
        }
        for text in received {
            self.emit(LinkEvent::Received { link, text });
        }
        if let Some(reason) = closed {
            self.drop_link(link, reason);
        }
    }

    fn tick_pings(&mut self, now: Instant) {
        let mut dead = Vec::new();
        for (id, link) in &mut self.links {
            let Link::Open(open) = link else { continue };
            let (Some(at), Some(interval)) = (open.next_ping, open.ping_interval) else {
                continue;
            };
            if at > now {
                continue;
            }
            if open.awaiting_pong {
                dead.push((*id, format!("no pong within {}s", interval.as_secs())));
                continue;
            }
            open.awaiting_pong = true;
            open.next_ping = Some(now + interval);
            let result = open
                .ws
                .write(Message::Ping(Default::default()))
                .and_then(|()| open.ws.flush());
            if let Err(reason) = write_outcome(open, result) {
                dead.push((*id, reason));
            }
        }
        for (id, reason) in dead {
            self.drop_link(id, reason);
        }
    }

    fn drop_link(&mut self, link: LinkId, reason: String) {
        if let Some(Link::Open(mut open)) = self.links.remove(&link) {
            close_quietly(&mut open.ws);
        }
        log::info!("link {} closed: {reason}", link.0);
        self.emit(LinkEvent::Closed { link, reason });
    }

    /// Hands an event to the hub; waits if the hub is behind (it never waits on us).
    fn emit(&self, event: LinkEvent) {
        if let Err(SendError::Full(event)) = chan::try_send(&self.events, event, "link→hub") {
            let _ = self.events.send(event);
        }
    }

    fn shutdown(&mut self) {
        for (_, link) in self.links.drain() {
            if let Link::Open(mut open) = link {
                close_with(&mut open.ws, CloseWhy::GoingAway);
            }
        }
    }
}

/// Maps a write/flush result: blocking output is remembered, anything else closes the link.
fn write_outcome(open: &mut Open, result: tungstenite::Result<()>) -> Result<(), String> {
    match result {
        Ok(()) => {
            open.want_write = false;
            Ok(())
        }
        Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {
            open.want_write = true;
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Closes with a close code the CSMS can read, then drops the socket.
fn close_with(ws: &mut Ws, why: CloseWhy) {
    let frame = CloseFrame {
        code: CloseCode::from(why.code()),
        reason: match why {
            CloseWhy::Normal => "reset".into(),
            CloseWhy::GoingAway => "going away".into(),
        },
    };
    // Best effort, as below; the frame is small enough for any socket buffer.
    let _ = ws.close(Some(frame));
    let _ = ws.flush();
}

fn close_quietly(ws: &mut Ws) {
    // Best effort: the socket is non-blocking and about to be dropped anyway.
    let _ = ws.close(None);
    let _ = ws.flush();
}
