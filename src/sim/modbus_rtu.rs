//! A Modbus RTU bus of simulated chargers on a pseudo-terminal: the gateway opens `path()` as its
//! serial port and the simulator answers on the master side, one register bank per unit id.
//!
//! Faults can be injected per unit (silence, a bad CRC, another unit's id, garbage, a frame cut
//! short, an exception). With `pace` set, each answer is held back for the time the request and
//! the answer would take on a real line at that speed, so a pty measures gateway overhead against
//! the theoretical wire time.

use std::collections::{BTreeMap, HashMap};
use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::register_bank::{lock, RegisterBank};
use crate::modbus::pdu::{ExceptionCode, Response};
use crate::modbus::rtu::{self, SerialLine, BROADCAST, MAX_FRAME_LEN};

/// Partial bytes older than this are dropped when no pacing line says otherwise.
const DEFAULT_SILENCE: Duration = Duration::from_millis(2);

/// What a unit does wrong when answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Reads the request, never answers.
    Silent,
    /// Answers with the last CRC byte flipped.
    CorruptCrc,
    /// Answers with the next unit's id.
    WrongUnit,
    /// Answers as if asked a sibling function (03 for 04, 05 for 06, ...), framed correctly.
    WrongFunction,
    /// Answers with bytes that start no frame.
    Garbage,
    /// Answers with the last three bytes missing.
    Truncate,
    /// Answers every request with this exception.
    Exception(ExceptionCode),
}

/// A running bus simulator; dropping it stops it.
#[derive(Debug)]
pub struct ModbusRtuSim {
    path: PathBuf,
    shared: Arc<Shared>,
    /// Writing a byte here wakes and stops the serving thread.
    stop_tx: Mutex<Option<File>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Held open so the master never sees a hang-up while the gateway reopens the port.
    _slave: OwnedFd,
}

#[derive(Debug)]
struct Shared {
    units: BTreeMap<u8, RegisterBank>,
    /// Per unit: the fault and how many more answers it affects (`None` = until cleared).
    faults: Mutex<HashMap<u8, (Fault, Option<u32>)>>,
    pace: Option<SerialLine>,
    /// Requests addressed to each unit (broadcasts included), answered or not.
    requests: Mutex<HashMap<u8, u64>>,
    answered: AtomicU64,
}

impl ModbusRtuSim {
    /// Opens a pty pair and serves `units` on it; `pace` holds answers for their wire time.
    pub fn start(
        units: impl IntoIterator<Item = u8>,
        pace: Option<SerialLine>,
    ) -> io::Result<ModbusRtuSim> {
        let (master, slave) = open_pty()?;
        let path = tty_path(slave.as_raw_fd())?;
        let (stop_rx, stop_tx) = pipe()?;
        let shared = Arc::new(Shared {
            units: units
                .into_iter()
                .map(|u| (u, RegisterBank::new()))
                .collect(),
            faults: Mutex::new(HashMap::new()),
            pace,
            requests: Mutex::new(HashMap::new()),
            answered: AtomicU64::new(0),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let master = File::from(master);
            thread::Builder::new()
                .name("sim-rtu".into())
                .spawn(move || serve(master, &stop_rx, &shared))?
        };
        Ok(ModbusRtuSim {
            path,
            shared,
            stop_tx: Mutex::new(Some(File::from(stop_tx))),
            thread: Mutex::new(Some(thread)),
            _slave: slave,
        })
    }

    /// The serial device the gateway opens.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The registers of `unit`, if it is on the bus.
    pub fn bank(&self, unit: u8) -> Option<&RegisterBank> {
        self.shared.units.get(&unit)
    }

    /// Makes `unit` misbehave on its next `times` answers (`None`: until cleared).
    pub fn set_fault(&self, unit: u8, fault: Fault, times: Option<u32>) {
        lock(&self.shared.faults).insert(unit, (fault, times));
    }

    /// Lets `unit` answer normally again.
    pub fn clear_fault(&self, unit: u8) {
        lock(&self.shared.faults).remove(&unit);
    }

    /// Requests seen for `unit` so far, whether answered or not.
    pub fn requests(&self, unit: u8) -> u64 {
        lock(&self.shared.requests).get(&unit).copied().unwrap_or(0)
    }

    /// Answers sent so far, faulty ones included.
    pub fn answered(&self) -> u64 {
        self.shared.answered.load(Ordering::SeqCst)
    }

    /// Stops serving and joins the thread.
    pub fn stop(&self) {
        if let Some(mut tx) = lock(&self.stop_tx).take() {
            if let Err(e) = tx.write_all(&[1]) {
                log::warn!("sim rtu: cannot wake the serving thread: {e}");
            }
        }
        if let Some(thread) = lock(&self.thread).take() {
            if thread.join().is_err() {
                log::warn!("sim rtu: serving thread panicked");
            }
        }
    }
}

impl Drop for ModbusRtuSim {
    fn drop(&mut self) {
        self.stop();
    }
}

fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut master: RawFd = -1;
    let mut slave: RawFd = -1;
    // SAFETY: openpty writes two descriptors; name, termios and winsize may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded, so both are open descriptors nobody else owns.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on an open descriptor.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    make_raw(slave.as_raw_fd())?;
    Ok((master, slave))
}

/// No echo, no line editing, no byte translation: until the gateway opens the port and sets its
/// own mode, nothing the simulator writes may come back to it.
fn make_raw(fd: RawFd) -> io::Result<()> {
    let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the struct on success, checked before use.
    if unsafe { libc::tcgetattr(fd, termios.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: initialised by the successful tcgetattr above.
    let mut termios = unsafe { termios.assume_init() };
    // SAFETY: cfmakeraw only edits the struct it is given.
    unsafe { libc::cfmakeraw(&mut termios) };
    // SAFETY: tcsetattr reads a valid struct and acts on an open descriptor.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &termios) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn tty_path(fd: RawFd) -> io::Result<PathBuf> {
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: ttyname_r writes at most buf.len() bytes, NUL included, into buf.
    let rc = unsafe { libc::ttyname_r(fd, buf.as_mut_ptr(), buf.len()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // SAFETY: on success buf holds a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Ok(PathBuf::from(name.to_string_lossy().into_owned()))
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both are open descriptors nobody else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What `poll` saw.
enum Ready {
    Data,
    Quiet,
    Stop,
}

/// Waits for the master or the stop pipe; `timeout` bounds the wait while a frame is partial.
fn wait(master: &File, stop: &OwnedFd, timeout: Option<Duration>) -> io::Result<Ready> {
    let mut fds = [
        libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: stop.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = timeout.map_or(-1, |t| {
        libc::c_int::try_from(t.as_millis().max(1)).unwrap_or(libc::c_int::MAX)
    });
    loop {
        // SAFETY: fds is a valid array of two pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let [master_fd, stop_fd] = fds;
        return Ok(if stop_fd.revents != 0 {
            Ready::Stop
        } else if master_fd.revents & libc::POLLIN != 0 {
            Ready::Data
        } else if master_fd.revents != 0 {
            // Hang-up or error on the master: nothing more will come.
            Ready::Stop
        } else {
            Ready::Quiet
        });
    }
}

fn serve(mut master: File, stop: &OwnedFd, shared: &Shared) {
    let silence = shared
        .pace
        .map_or(DEFAULT_SILENCE, |l| l.frame_silence().max(DEFAULT_SILENCE));
    let mut rx: Vec<u8> = Vec::with_capacity(MAX_FRAME_LEN);
    let mut chunk = [0u8; MAX_FRAME_LEN];
    loop {
        let timeout = (!rx.is_empty()).then_some(silence);
        match wait(&master, stop, timeout) {
            Ok(Ready::Data) => {}
            // A partial frame followed by silence is noise; a real unit discards it too.
            Ok(Ready::Quiet) => {
                rx.clear();
                continue;
            }
            Ok(Ready::Stop) => return,
            Err(e) => {
                log::warn!("sim rtu: poll failed: {e}");
                return;
            }
        }
        match master.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => rx.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log::warn!("sim rtu: read failed: {e}");
                return;
            }
        }
        let arrived = Instant::now();
        loop {
            let (reply, used) = match rtu::decode_request(&rx) {
                Ok(None) => break,
                Ok(Some((frame, used))) => (shared.reply(frame.unit, frame.pdu, used), used),
                Err(e) => {
                    log::debug!("sim rtu: dropping {} byte(s): {e}", rx.len());
                    rx.clear();
                    break;
                }
            };
            rx.drain(..used);
            let Some(reply) = reply else { continue };
            if let Some(line) = shared.pace {
                let due = arrived
                    + line.wire_time(used)
                    + line.frame_silence()
                    + line.wire_time(reply.len());
                let wait = due.saturating_duration_since(Instant::now());
                if !wait.is_zero() {
                    thread::sleep(wait);
                }
            }
            if master.write_all(&reply).is_err() {
                return;
            }
            shared.answered.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Shared {
    /// The bytes `unit` sends back for `pdu` (a `request_len`-byte frame), if any.
    fn reply(&self, unit: u8, pdu: &[u8], request_len: usize) -> Option<Vec<u8>> {
        *lock(&self.requests).entry(unit).or_insert(0) += 1;
        if unit == BROADCAST {
            for bank in self.units.values() {
                let _ = bank.answer(pdu);
            }
            return None;
        }
        let bank = self.units.get(&unit)?;
        let fault = self.take_fault(unit);
        if fault == Some(Fault::Silent) {
            return None;
        }
        let response = match fault {
            Some(Fault::Exception(code)) => Response::Exception {
                function: *pdu.first()? & 0x7F,
                code,
            },
            _ => bank.answer(pdu)?,
        };
        let mut answer = response.encode().ok()?;
        if let (Some(Fault::WrongFunction), Some(function)) = (fault, answer.first_mut()) {
            *function = sibling(*function);
        }
        let mut frame = match fault {
            Some(Fault::WrongUnit) => rtu::encode(unit.wrapping_add(1).max(1), &answer).ok()?,
            _ => rtu::encode(unit, &answer).ok()?,
        };
        match fault {
            Some(Fault::CorruptCrc) => {
                if let Some(last) = frame.last_mut() {
                    *last ^= 0xFF;
                }
            }
            Some(Fault::Truncate) => frame.truncate(frame.len().saturating_sub(3)),
            Some(Fault::Garbage) => frame = vec![unit, 0x6A, 0x6A, 0x6A, 0x6A],
            _ => {}
        }
        log::trace!(
            "sim rtu: unit {unit}: {request_len}-byte request, {}-byte answer",
            frame.len()
        );
        Some(frame)
    }

    /// The fault for `unit`'s next answer, counting it down.
    fn take_fault(&self, unit: u8) -> Option<Fault> {
        let mut faults = lock(&self.faults);
        let (fault, times) = faults.get_mut(&unit)?;
        let fault = *fault;
        match times {
            None => {}
            Some(0) => {
                faults.remove(&unit);
                return None;
            }
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    faults.remove(&unit);
                }
            }
        }
        Some(fault)
    }
}

/// A function whose answers are framed like `function`'s: swapping them keeps the frame valid.
fn sibling(function: u8) -> u8 {
    match function {
        0x01 => 0x02,
        0x02 => 0x01,
        0x03 => 0x04,
        0x04 => 0x03,
        0x05 => 0x06,
        0x06 => 0x05,
        0x0F => 0x10,
        0x10 => 0x0F,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Parity;
    use crate::modbus::pdu::Request;

    fn exchange(port: &mut File, unit: u8, request: &Request) -> Option<Vec<u8>> {
        let frame = rtu::encode(unit, &request.encode().unwrap()).unwrap();
        port.write_all(&frame).unwrap();
        let mut rx = Vec::new();
        let mut chunk = [0u8; 300];
        let deadline = Instant::now() + Duration::from_millis(300);
        while Instant::now() < deadline {
            let mut fds = [libc::pollfd {
                fd: port.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(fds.as_mut_ptr(), 1, 50) } == 1 {
                let n = port.read(&mut chunk).unwrap();
                rx.extend_from_slice(&chunk[..n]);
            }
        }
        (!rx.is_empty()).then_some(rx)
    }

    fn open(sim: &ModbusRtuSim) -> File {
        File::options()
            .read(true)
            .write(true)
            .open(sim.path())
            .unwrap()
    }

    #[test]
    fn units_answer_and_faults_apply() {
        let sim = ModbusRtuSim::start([1, 2], None).unwrap();
        sim.bank(2).unwrap().set_register(5, 0xBEEF);
        let mut port = open(&sim);
        let read = Request::ReadHoldingRegisters {
            address: 5,
            count: 1,
        };
        let answer = exchange(&mut port, 2, &read).unwrap();
        assert_eq!(answer, rtu::encode(2, &[0x03, 2, 0xBE, 0xEF]).unwrap());
        assert_eq!(exchange(&mut port, 9, &read), None, "no such unit");

        sim.set_fault(2, Fault::CorruptCrc, Some(1));
        let bad = exchange(&mut port, 2, &read).unwrap();
        assert!(rtu::decode_response(&bad).is_err());
        assert_eq!(exchange(&mut port, 2, &read).unwrap(), answer, "one-off");

        sim.set_fault(1, Fault::Exception(ExceptionCode::ServerDeviceBusy), None);
        let refused = exchange(&mut port, 1, &read).unwrap();
        assert_eq!(refused, rtu::encode(1, &[0x83, 6]).unwrap());
        sim.set_fault(1, Fault::Silent, None);
        assert_eq!(exchange(&mut port, 1, &read), None);
        sim.clear_fault(1);
        assert!(exchange(&mut port, 1, &read).is_some());
        assert_eq!(sim.requests(1), 3);
        assert_eq!(sim.requests(9), 1);
    }

    #[test]
    fn broadcasts_reach_every_unit_silently() {
        let sim = ModbusRtuSim::start([1, 2, 3], None).unwrap();
        let mut port = open(&sim);
        let write = Request::WriteSingleRegister {
            address: 7,
            value: 42,
        };
        assert_eq!(exchange(&mut port, BROADCAST, &write), None);
        for unit in [1, 2, 3] {
            assert_eq!(sim.bank(unit).unwrap().register(7), 42);
        }
    }

    #[test]
    fn paced_answers_take_their_wire_time() {
        let line = SerialLine {
            baud_rate: 9600,
            data_bits: 8,
            parity: Parity::None,
            stop_bits: 1,
        };
        let sim = ModbusRtuSim::start([1], Some(line)).unwrap();
        let mut port = open(&sim);
        let read = Request::ReadHoldingRegisters {
            address: 0,
            count: 17,
        };
        let started = Instant::now();
        assert!(exchange(&mut port, 1, &read).is_some());
        // 8-byte request + 3.5 characters + 39-byte answer at 9600 baud: about 52.6 ms.
        assert!(started.elapsed() >= line.wire_time(47));
        sim.stop();
        sim.stop();
    }
}
