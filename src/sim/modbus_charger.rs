//! A Modbus TCP EV charger for the demo and the tests: any unit id, one register bank (see
//! `register_bank` for the map and the functions served).

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::register_bank::{lock, RegisterBank};
use crate::modbus::mbap;
use crate::modbus::pdu::ExceptionCode;

pub use super::register_bank::{
    REG_CURRENT_DA, REG_ENERGY_WH, REG_POWER_W, REG_SOC, REG_STATUS, REG_VOLTAGE_DV,
    STATUS_AVAILABLE, STATUS_FAULTED, STATUS_OCCUPIED, STATUS_RESERVED, STATUS_UNAVAILABLE,
};

/// One maximal MBAP frame.
const READ_CHUNK: usize = mbap::HEADER_LEN + crate::modbus::pdu::MAX_PDU_LEN;

/// A running simulator; dropping it stops it.
#[derive(Debug)]
pub struct ModbusChargerSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

/// State shared by the handle, the acceptor and the connection threads.
#[derive(Debug)]
struct Shared {
    bank: RegisterBank,
    silent: AtomicBool,
    stopping: AtomicBool,
    served: AtomicU64,
    accepted: AtomicU64,
    /// A clone of each accepted stream, to unblock its thread on stop, and the thread.
    conns: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
}

impl ModbusChargerSim {
    /// Binds `bind` (port 0 picks a free one) and starts serving.
    pub fn start(bind: SocketAddr) -> io::Result<ModbusChargerSim> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            bank: RegisterBank::new(),
            silent: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            served: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            conns: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("sim-mb-{}", addr.port()))
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(ModbusChargerSim {
            addr,
            shared,
            acceptor: Mutex::new(Some(acceptor)),
        })
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The simulated charger's registers.
    pub fn bank(&self) -> &RegisterBank {
        &self.shared.bank
    }

    /// Sets the connector status register.
    pub fn set_status(&self, status: u16) {
        self.shared.bank.set_status(status);
    }

    /// The connector status register.
    pub fn status(&self) -> u16 {
        self.shared.bank.status()
    }

    /// Sets the energy register and forgets any accumulated fraction of a Wh.
    pub fn set_energy_wh(&self, wh: u32) {
        self.shared.bank.set_energy_wh(wh);
    }

    /// The energy register in Wh.
    pub fn energy_wh(&self) -> u32 {
        self.shared.bank.energy_wh()
    }

    /// Sets the active power register.
    pub fn set_power_w(&self, watts: f32) {
        self.shared.bank.set_power_w(watts);
    }

    /// Sets the current register (stored in 0.1 A, clamped to its range).
    pub fn set_current_a(&self, amps: f32) {
        self.shared.bank.set_current_a(amps);
    }

    /// Sets the voltage register (stored in 0.1 V, clamped to its range).
    pub fn set_voltage_v(&self, volts: f32) {
        self.shared.bank.set_voltage_v(volts);
    }

    /// Sets the state-of-charge register.
    pub fn set_soc(&self, percent: u16) {
        self.shared.bank.set_soc(percent);
    }

    /// Sets any holding register.
    pub fn set_register(&self, addr: u16, value: u16) {
        self.shared.bank.set_register(addr, value);
    }

    /// Any holding register.
    pub fn register(&self, addr: u16) -> u16 {
        self.shared.bank.register(addr)
    }

    /// Lets `dt` pass: while Occupied with positive power, the energy register grows by power·dt.
    pub fn advance(&self, dt: Duration) {
        self.shared.bank.advance(dt);
    }

    /// A silent simulator reads requests but never answers, like a hung device.
    pub fn set_silent(&self, silent: bool) {
        self.shared.silent.store(silent, Ordering::SeqCst);
    }

    /// Answers every read with exception `code` from now on (`None`: reads work again).
    pub fn refuse_reads(&self, code: Option<ExceptionCode>) {
        self.shared.bank.refuse_reads(code);
    }

    /// Requests answered so far (exceptions included).
    pub fn requests_served(&self) -> u64 {
        self.shared.served.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Closes the listener and every connection, and joins all threads.
    pub fn stop(&self) {
        let acceptor = lock(&self.acceptor).take();
        let Some(acceptor) = acceptor else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        // A blocking accept only returns for a connection, so make one.
        if let Err(e) = TcpStream::connect_timeout(&wake_addr(self.addr), Duration::from_secs(2)) {
            log::warn!("sim {}: could not wake the acceptor: {e}", self.addr);
        }
        if acceptor.join().is_err() {
            log::warn!("sim {}: acceptor thread panicked", self.addr);
        }
        let conns = std::mem::take(&mut *lock(&self.shared.conns));
        for (stream, handle) in conns {
            // Unblocks the thread's read; an already closed socket is fine.
            let _ = stream.shutdown(std::net::Shutdown::Both);
            if handle.join().is_err() {
                log::warn!("sim {}: connection thread panicked", self.addr);
            }
        }
    }
}

impl Drop for ModbusChargerSim {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where to connect to reach a listener bound to `addr` (a wildcard bind means loopback).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                log::warn!("sim: accept failed: {e}");
                // Out of descriptors and the like: pause rather than spin on the error.
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let spawned = stream.try_clone().and_then(|for_stop| {
            let conn_shared = Arc::clone(shared);
            let handle = thread::Builder::new()
                .name("sim-mb-conn".into())
                .spawn(move || serve(stream, &conn_shared))?;
            Ok((for_stop, handle))
        });
        match spawned {
            Ok(conn) => {
                let mut conns = lock(&shared.conns);
                // Reap finished connections so a long run does not accumulate them.
                conns.retain(|(_, handle)| !handle.is_finished());
                conns.push(conn);
            }
            Err(e) => log::warn!("sim: cannot serve a connection: {e}"),
        }
    }
}

fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut rx = Vec::with_capacity(READ_CHUNK);
    let mut chunk = [0u8; READ_CHUNK];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => rx.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        loop {
            let (reply, used) = match mbap::decode(&rx) {
                Ok(None) => break,
                Ok(Some((frame, used))) => (reply_to(&frame, shared), used),
                Err(e) => {
                    log::debug!("sim: closing connection after bad frame: {e}");
                    return;
                }
            };
            rx.drain(..used);
            if let Some(bytes) = reply {
                if stream.write_all(&bytes).is_err() {
                    return;
                }
            }
        }
    }
}

/// The encoded answer to one frame, or None when silent or unanswerable.
fn reply_to(frame: &mbap::Frame<'_>, shared: &Shared) -> Option<Vec<u8>> {
    if shared.silent.load(Ordering::SeqCst) {
        return None;
    }
    let pdu = shared.bank.answer(frame.pdu)?.encode().ok()?;
    let bytes = mbap::encode(frame.transaction_id, frame.unit_id, &pdu).ok()?;
    // Counted before the answer leaves, so a client that has it sees the count include it.
    shared.served.fetch_add(1, Ordering::SeqCst);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{ModbusTable, RawValue};
    use crate::modbus::{ModbusClient, ModbusError, TcpClient};

    fn sim() -> ModbusChargerSim {
        ModbusChargerSim::start("127.0.0.1:0".parse().unwrap()).unwrap()
    }

    fn client(sim: &ModbusChargerSim, response_timeout: Duration) -> TcpClient {
        let addr = sim.addr();
        TcpClient::connect(
            &addr.ip().to_string(),
            addr.port(),
            Duration::from_secs(5),
            response_timeout,
        )
        .unwrap()
    }

    fn regs(v: &[u16]) -> RawValue {
        RawValue::Registers(v.to_vec())
    }

    /// Sends one raw MBAP frame and returns the PDU of the answer.
    fn raw_exchange(sim: &ModbusChargerSim, pdu: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(sim.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .write_all(&mbap::encode(77, 3, pdu).unwrap())
            .unwrap();
        let mut rx = Vec::new();
        let mut chunk = [0u8; 300];
        loop {
            if let Some((frame, _)) = mbap::decode(&rx).unwrap() {
                assert_eq!((frame.transaction_id, frame.unit_id), (77, 3));
                return frame.pdu.to_vec();
            }
            let n = stream.read(&mut chunk).unwrap();
            assert!(n > 0, "simulator closed the connection");
            rx.extend_from_slice(&chunk[..n]);
        }
    }

    #[test]
    fn register_map_through_a_client() {
        let sim = sim();
        sim.set_status(STATUS_OCCUPIED);
        sim.set_energy_wh(0x0001_86A0);
        sim.set_power_w(7400.5);
        sim.set_current_a(32.04);
        sim.set_voltage_v(230.0);
        sim.set_soc(55);
        let mut c = client(&sim, Duration::from_secs(10));
        let read = |c: &mut TcpClient, table, addr, n| c.read(9, table, addr, n).unwrap();
        assert_eq!(
            read(&mut c, ModbusTable::HoldingRegister, REG_STATUS, 1),
            regs(&[1])
        );
        assert_eq!(
            read(&mut c, ModbusTable::InputRegister, REG_ENERGY_WH, 2),
            regs(&[0x0001, 0x86A0])
        );
        let bits = 7400.5f32.to_bits();
        assert_eq!(
            read(&mut c, ModbusTable::HoldingRegister, REG_POWER_W, 5),
            regs(&[(bits >> 16) as u16, bits as u16, 320, 2300, 55])
        );
        assert_eq!(sim.requests_served(), 3);
    }

    #[test]
    fn writes_land_in_the_tables() {
        let sim = sim();
        let mut c = client(&sim, Duration::from_secs(10));
        c.write_registers(1, 100, &[7]).unwrap();
        c.write_registers(1, 0xFFFE, &[8, 9]).unwrap();
        assert_eq!(sim.register(100), 7);
        assert_eq!(sim.register(0xFFFF), 9);
        c.write_coils(1, 5, &[true]).unwrap();
        c.write_coils(1, 8, &[true, false, true]).unwrap();
        assert_eq!(
            c.read(1, ModbusTable::Coil, 5, 6).unwrap(),
            RawValue::Bits(vec![true, false, false, true, false, true])
        );
        assert_eq!(
            c.read(1, ModbusTable::DiscreteInput, 8, 1).unwrap(),
            RawValue::Bits(vec![true])
        );
        c.write_coils(1, 5, &[false]).unwrap();
        assert_eq!(
            c.read(1, ModbusTable::Coil, 5, 1).unwrap(),
            RawValue::Bits(vec![false])
        );
    }

    #[test]
    fn illegal_ranges_and_functions_answer_exceptions() {
        let sim = sim();
        assert_eq!(raw_exchange(&sim, &[0x03, 0xFF, 0xFF, 0, 2]), [0x83, 2]);
        assert_eq!(raw_exchange(&sim, &[0x01, 0xFF, 0xF0, 0, 17]), [0x81, 2]);
        assert_eq!(raw_exchange(&sim, &[0x2B, 0x0E, 1, 0]), [0xAB, 1]);
        assert_eq!(raw_exchange(&sim, &[0x04, 0, 0, 0, 0]), [0x84, 3]);
        assert_eq!(sim.requests_served(), 4);
    }

    #[test]
    fn silent_sim_reads_but_never_answers() {
        let sim = sim();
        sim.set_silent(true);
        let mut c = client(&sim, Duration::from_millis(200));
        let err = c.read(1, ModbusTable::HoldingRegister, 0, 1).unwrap_err();
        assert!(matches!(err, ModbusError::Timeout), "{err:?}");
        assert_eq!(sim.requests_served(), 0);
        sim.set_silent(false);
        let mut c = client(&sim, Duration::from_secs(10));
        assert_eq!(
            c.read(1, ModbusTable::HoldingRegister, 0, 1).unwrap(),
            regs(&[0])
        );
        assert_eq!(sim.requests_served(), 1);
    }

    #[test]
    fn stop_closes_everything() {
        let sim = sim();
        let addr = sim.addr();
        let mut c = client(&sim, Duration::from_secs(10));
        c.read(1, ModbusTable::Coil, 0, 1).unwrap();
        sim.stop();
        let err = c.read(1, ModbusTable::Coil, 0, 1).unwrap_err();
        assert!(
            matches!(err, ModbusError::Disconnected | ModbusError::Io(_)),
            "{err:?}"
        );
        assert!(TcpStream::connect(addr).is_err(), "listener is closed");
        sim.stop();
    }
}
