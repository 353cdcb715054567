//! A Modbus TCP EV charger for the demo and the tests: any unit id, FC 01/02/03/04/05/06/15/16
//! over one 65536-word register table and one 65536-bit coil table.
//!
//! Input registers read the holding table and discrete inputs read the coils, so one map serves
//! templates written for either table. 32-bit values are stored high word first.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::modbus::mbap;
use crate::modbus::pdu::{ExceptionCode, Request, Response};

/// Connector status register (see the `STATUS_*` values).
pub const REG_STATUS: u16 = 0;
/// Energy active import register, uint32 Wh, two words.
pub const REG_ENERGY_WH: u16 = 10;
/// Active power, IEEE 754 float32 W, two words.
pub const REG_POWER_W: u16 = 12;
/// Current, uint16 in 0.1 A.
pub const REG_CURRENT_DA: u16 = 14;
/// Voltage, uint16 in 0.1 V.
pub const REG_VOLTAGE_DV: u16 = 15;
/// State of charge, uint16 %.
pub const REG_SOC: u16 = 16;

/// Status value: connector free.
pub const STATUS_AVAILABLE: u16 = 0;
/// Status value: a vehicle is plugged in.
pub const STATUS_OCCUPIED: u16 = 1;
/// Status value: reserved.
pub const STATUS_RESERVED: u16 = 2;
/// Status value: out of service.
pub const STATUS_UNAVAILABLE: u16 = 3;
/// Status value: faulted.
pub const STATUS_FAULTED: u16 = 4;

/// Words in the register table and bits in the coil table: the whole 16-bit address space.
const TABLE_SIZE: usize = 0x1_0000;
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
    tables: Mutex<Tables>,
    silent: AtomicBool,
    stopping: AtomicBool,
    served: AtomicU64,
    accepted: AtomicU64,
    /// A clone of each accepted stream, to unblock its thread on stop, and the thread.
    conns: Mutex<Vec<(TcpStream, JoinHandle<()>)>>,
}

#[derive(Debug)]
struct Tables {
    regs: Vec<u16>,
    coils: Vec<bool>,
    /// Energy below 1 Wh accumulated by `advance`, so small steps are not lost.
    energy_fraction_wh: f64,
}

impl ModbusChargerSim {
    /// Binds `bind` (port 0 picks a free one) and starts serving.
    pub fn start(bind: SocketAddr) -> io::Result<ModbusChargerSim> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            tables: Mutex::new(Tables {
                regs: vec![0; TABLE_SIZE],
                coils: vec![false; TABLE_SIZE],
                energy_fraction_wh: 0.0,
            }),
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

    /// Sets the connector status register.
    pub fn set_status(&self, status: u16) {
        self.set_register(REG_STATUS, status);
    }

    /// The connector status register.
    pub fn status(&self) -> u16 {
        self.register(REG_STATUS)
    }

    /// Sets the energy register and forgets any accumulated fraction of a Wh.
    pub fn set_energy_wh(&self, wh: u32) {
        let mut t = self.shared.tables();
        t.set_u32(REG_ENERGY_WH, wh);
        t.energy_fraction_wh = 0.0;
    }

    /// The energy register in Wh.
    pub fn energy_wh(&self) -> u32 {
        self.shared.tables().u32(REG_ENERGY_WH)
    }

    /// Sets the active power register.
    pub fn set_power_w(&self, watts: f32) {
        self.shared.tables().set_u32(REG_POWER_W, watts.to_bits());
    }

    /// Sets the current register (stored in 0.1 A, clamped to its range).
    pub fn set_current_a(&self, amps: f32) {
        self.set_register(REG_CURRENT_DA, tenths(amps));
    }

    /// Sets the voltage register (stored in 0.1 V, clamped to its range).
    pub fn set_voltage_v(&self, volts: f32) {
        self.set_register(REG_VOLTAGE_DV, tenths(volts));
    }

    /// Sets the state-of-charge register.
    pub fn set_soc(&self, percent: u16) {
        self.set_register(REG_SOC, percent);
    }

    /// Sets any holding register.
    pub fn set_register(&self, addr: u16, value: u16) {
        self.shared.tables().set_word(addr, value);
    }

    /// Any holding register.
    pub fn register(&self, addr: u16) -> u16 {
        self.shared.tables().word(addr)
    }

    /// Lets `dt` pass: while Occupied with positive power, the energy register grows by power·dt.
    pub fn advance(&self, dt: Duration) {
        let mut t = self.shared.tables();
        let power = f32::from_bits(t.u32(REG_POWER_W));
        if t.word(REG_STATUS) != STATUS_OCCUPIED || !power.is_finite() || power <= 0.0 {
            return;
        }
        let wh = f64::from(power) * dt.as_secs_f64() / 3600.0 + t.energy_fraction_wh;
        let whole = wh.floor();
        t.energy_fraction_wh = wh - whole;
        // Meters wrap like real ones; `as` saturates absurd steps instead of panicking.
        let energy = t.u32(REG_ENERGY_WH).wrapping_add(whole as u32);
        t.set_u32(REG_ENERGY_WH, energy);
    }

    /// A silent simulator reads requests but never answers, like a hung device.
    pub fn set_silent(&self, silent: bool) {
        self.shared.silent.store(silent, Ordering::SeqCst);
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

impl Shared {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        lock(&self.tables)
    }

    /// The response to one request PDU, or None when none can be formed.
    fn answer(&self, pdu: &[u8]) -> Option<Response> {
        let function = *pdu.first()?;
        match Request::decode(pdu) {
            Ok(request) => Some(self.execute(&request)),
            Err(e) if function & 0x80 == 0 => Some(Response::Exception {
                function,
                code: e.server_exception(),
            }),
            Err(_) => None,
        }
    }

    fn execute(&self, request: &Request) -> Response {
        let mut t = self.tables();
        let response =
            match request {
                Request::ReadCoils { address, count } => t
                    .coils_at(*address, *count)
                    .map(|b| Response::ReadCoils(b.to_vec())),
                Request::ReadDiscreteInputs { address, count } => t
                    .coils_at(*address, *count)
                    .map(|b| Response::ReadDiscreteInputs(b.to_vec())),
                Request::ReadHoldingRegisters { address, count } => t
                    .regs_at(*address, *count)
                    .map(|r| Response::ReadHoldingRegisters(r.to_vec())),
                Request::ReadInputRegisters { address, count } => t
                    .regs_at(*address, *count)
                    .map(|r| Response::ReadInputRegisters(r.to_vec())),
                Request::WriteSingleCoil { address, value } => t
                    .write_coils(*address, &[*value])
                    .map(|()| Response::WriteSingleCoil {
                        address: *address,
                        value: *value,
                    }),
                Request::WriteSingleRegister { address, value } => t
                    .write_regs(*address, &[*value])
                    .map(|()| Response::WriteSingleRegister {
                        address: *address,
                        value: *value,
                    }),
                Request::WriteMultipleCoils { address, values } => t
                    .write_coils(*address, values)
                    .map(|()| Response::WriteMultipleCoils {
                        address: *address,
                        count: quantity(values.len()),
                    }),
                Request::WriteMultipleRegisters { address, values } => t
                    .write_regs(*address, values)
                    .map(|()| Response::WriteMultipleRegisters {
                        address: *address,
                        count: quantity(values.len()),
                    }),
            };
        response.unwrap_or(Response::Exception {
            function: request.function().code(),
            code: ExceptionCode::IllegalDataAddress,
        })
    }
}

impl Tables {
    fn word(&self, addr: u16) -> u16 {
        self.regs.get(usize::from(addr)).copied().unwrap_or(0)
    }

    fn set_word(&mut self, addr: u16, value: u16) {
        if let Some(slot) = self.regs.get_mut(usize::from(addr)) {
            *slot = value;
        }
    }

    fn u32(&self, addr: u16) -> u32 {
        let hi = u32::from(self.word(addr));
        let lo = u32::from(self.word(addr.wrapping_add(1)));
        hi << 16 | lo
    }

    fn set_u32(&mut self, addr: u16, value: u32) {
        // ok to narrow: the halves of a u32.
        self.set_word(addr, (value >> 16) as u16);
        self.set_word(addr.wrapping_add(1), value as u16);
    }

    fn regs_at(&self, address: u16, count: u16) -> Option<&[u16]> {
        self.regs.get(span(address, usize::from(count)))
    }

    fn coils_at(&self, address: u16, count: u16) -> Option<&[bool]> {
        self.coils.get(span(address, usize::from(count)))
    }

    fn write_regs(&mut self, address: u16, values: &[u16]) -> Option<()> {
        let slots = self.regs.get_mut(span(address, values.len()))?;
        slots.copy_from_slice(values);
        Some(())
    }

    fn write_coils(&mut self, address: u16, values: &[bool]) -> Option<()> {
        let slots = self.coils.get_mut(span(address, values.len()))?;
        slots.copy_from_slice(values);
        Some(())
    }
}

fn span(address: u16, len: usize) -> std::ops::Range<usize> {
    let start = usize::from(address);
    start..start + len
}

fn quantity(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

/// A value in tenths, clamped into a u16 register.
fn tenths(value: f32) -> u16 {
    // `as` saturates (NaN becomes 0), which is the clamping wanted here.
    (value * 10.0).round() as u16
}

/// A poisoned lock only means another sim thread panicked; the tables are still plain data.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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
    let pdu = shared.answer(frame.pdu)?.encode().ok()?;
    let bytes = mbap::encode(frame.transaction_id, frame.unit_id, &pdu).ok()?;
    // Counted before the answer leaves, so a client that has it sees the count include it.
    shared.served.fetch_add(1, Ordering::SeqCst);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{ModbusTable, RawValue};
    use crate::modbus::{ModbusError, TcpClient};

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
    fn advance_integrates_power_only_while_occupied() {
        let sim = sim();
        sim.set_energy_wh(1000);
        sim.set_power_w(7200.0);
        sim.advance(Duration::from_secs(1800));
        assert_eq!(sim.energy_wh(), 1000, "Available: no energy flows");
        sim.set_status(STATUS_OCCUPIED);
        assert_eq!(sim.status(), STATUS_OCCUPIED);
        sim.advance(Duration::from_secs(1800));
        assert_eq!(sim.energy_wh(), 4600);
        // 1 W for 1 s is far below 1 Wh; 3600 such steps must still add up to 1 Wh.
        sim.set_power_w(1.0);
        for _ in 0..3600 {
            sim.advance(Duration::from_secs(1));
        }
        assert_eq!(sim.energy_wh(), 4601);
        sim.set_power_w(-5.0);
        sim.advance(Duration::from_secs(3600));
        assert_eq!(sim.energy_wh(), 4601);
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
