//! Connector threads: opening links (DNS, TCP, TLS, HTTP upgrade) off the shard. Each thread
//! drives up to [`MAX_ATTEMPTS_PER_THREAD`] non-blocking attempts at once, each under its own
//! overall deadline (`ConnectParams::connect_timeout`), so a slow CSMS delays only its own
//! stations, never the others'.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::WebSocket;

use super::attempt::{Attempt, Step};
use super::failure::ConnectError;
use super::waker::Waker;
use super::{ConnectParams, LinkId};

/// An open, negotiated, non-blocking WebSocket.
pub(super) type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// Attempts one connector thread works on at once; further jobs wait in the channel.
const MAX_ATTEMPTS_PER_THREAD: usize = 256;
/// While attempts are in progress the thread looks for new jobs (and retries handshakes that
/// may wait to write) at least this often.
const TICK: Duration = Duration::from_millis(20);

/// One connection attempt; `attempt` tells a current attempt from an abandoned one.
pub(super) struct Job {
    pub link: LinkId,
    pub attempt: u64,
    pub params: ConnectParams,
}

/// The result of a [`Job`].
pub(super) struct Outcome {
    pub link: LinkId,
    pub attempt: u64,
    pub result: Result<Ws, ConnectError>,
}

/// The connector pool as the shard sees it.
pub(super) struct Connectors {
    pub jobs: Sender<Job>,
    pub outcomes: Receiver<Outcome>,
}

/// Starts `threads` connector threads; they end when the shard drops `jobs`.
pub(super) fn spawn_pool(threads: usize, waker: Arc<Waker>) -> std::io::Result<Connectors> {
    let (jobs_tx, jobs_rx) = crossbeam_channel::bounded::<Job>(4096);
    let (out_tx, out_rx) = crossbeam_channel::bounded::<Outcome>(4096);
    for i in 0..threads.max(1) {
        let connector = Connector {
            jobs: jobs_rx.clone(),
            outcomes: out_tx.clone(),
            waker: Arc::clone(&waker),
            running: Vec::new(),
            pollfds: Vec::new(),
        };
        // Detached on purpose: a thread in a name lookup must not delay shutdown.
        std::thread::Builder::new()
            .name(format!("csms-connect-{i}"))
            .spawn(move || connector.run())?;
    }
    Ok(Connectors {
        jobs: jobs_tx,
        outcomes: out_rx,
    })
}

/// One connector thread's state.
struct Connector {
    jobs: Receiver<Job>,
    outcomes: Sender<Outcome>,
    waker: Arc<Waker>,
    running: Vec<(Job, Attempt)>,
    pollfds: Vec<libc::pollfd>,
}

impl Connector {
    fn run(mut self) {
        loop {
            if !self.take_jobs() {
                return;
            }
            self.wait();
            let now = Instant::now();
            let running = std::mem::take(&mut self.running);
            let mut finished = Vec::new();
            // A socket that is not ready is still stepped on its deadline, and after a quiet
            // tick, in case a handshake waits to write.
            let quiet = self.pollfds.iter().all(|p| p.revents == 0);
            for (i, (job, attempt)) in running.into_iter().enumerate() {
                // An attempt without a socket (a name lookup) is checked every round.
                let ready = match self.pollfds.get(i) {
                    Some(p) if p.fd >= 0 => p.revents != 0,
                    _ => true,
                };
                if ready || quiet || now >= attempt.deadline() {
                    match attempt.step(now) {
                        Step::Pending(attempt) => self.running.push((job, attempt)),
                        Step::Done(result) => finished.push((job, result)),
                    }
                } else {
                    self.running.push((job, attempt));
                }
            }
            for (job, result) in finished {
                if !self.report(job, result) {
                    return;
                }
            }
        }
    }

    /// Starts new jobs: waits for one when idle, else takes what is queued up to the limit.
    /// False once the shard is gone.
    fn take_jobs(&mut self) -> bool {
        while self.running.len() < MAX_ATTEMPTS_PER_THREAD {
            let job = if self.running.is_empty() {
                match self.jobs.recv() {
                    Ok(job) => job,
                    Err(_) => return false,
                }
            } else {
                match self.jobs.try_recv() {
                    Ok(job) => job,
                    Err(TryRecvError::Empty) => return true,
                    Err(TryRecvError::Disconnected) => return false,
                }
            };
            let deadline = Instant::now() + job.params.connect_timeout;
            match Attempt::start(&job.params, deadline) {
                Step::Pending(attempt) => self.running.push((job, attempt)),
                Step::Done(result) => {
                    if !self.report(job, result) {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// Waits until a socket is ready, the earliest deadline passes, or a tick has gone by.
    fn wait(&mut self) {
        self.pollfds.clear();
        let mut deadline = Instant::now() + TICK;
        for (_, attempt) in &self.running {
            deadline = deadline.min(attempt.deadline());
            let (fd, events) = attempt.wait().unwrap_or((-1, 0));
            self.pollfds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
        }
        let ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis()
            .min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `pollfds` is a valid, exclusively borrowed array of `len` pollfd structs;
        // negative fds are ignored by poll(2).
        let rc = unsafe {
            libc::poll(
                self.pollfds.as_mut_ptr(),
                self.pollfds.len() as libc::nfds_t,
                ms,
            )
        };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != ErrorKind::Interrupted {
                log::error!("connector poll failed: {err}");
            }
            for p in &mut self.pollfds {
                p.revents = 0;
            }
        }
    }

    /// Hands a finished attempt to the shard; false once the shard is gone.
    fn report(&self, job: Job, result: Result<Box<Ws>, ConnectError>) -> bool {
        let result = result.and_then(|ws| into_nonblocking(*ws));
        let outcome = Outcome {
            link: job.link,
            attempt: job.attempt,
            result,
        };
        if self.outcomes.send(outcome).is_err() {
            return false;
        }
        self.waker.wake();
        true
    }
}

/// The shard reads and writes the socket without blocking and without timeouts.
fn into_nonblocking(ws: Ws) -> Result<Ws, ConnectError> {
    let sock = match ws.get_ref() {
        MaybeTlsStream::Plain(s) => s,
        MaybeTlsStream::Rustls(s) => s.get_ref(),
        _ => return Err(ConnectError::UnsupportedStream),
    };
    let addr = sock
        .peer_addr()
        .map_or_else(|_| "CSMS".to_string(), |a| a.to_string());
    sock.set_read_timeout(None)
        .and_then(|()| sock.set_write_timeout(None))
        .and_then(|()| sock.set_nonblocking(true))
        .map_err(|source| ConnectError::Tcp { addr, source })?;
    Ok(ws)
}
