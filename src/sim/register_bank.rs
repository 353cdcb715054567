//! The register map of one simulated Modbus EV charger, shared by the TCP and RTU front ends:
//! FC 01/02/03/04/05/06/15/16 over one 65536-word register table and one 65536-bit coil table.
//!
//! Input registers read the holding table and discrete inputs read the coils, so one map serves
//! templates written for either table. 32-bit values are stored high word first.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

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

/// One charger's registers and coils, safe to share between threads.
#[derive(Debug)]
pub struct RegisterBank {
    tables: Mutex<Tables>,
}

#[derive(Debug)]
struct Tables {
    regs: Vec<u16>,
    coils: Vec<bool>,
    /// Energy below 1 Wh accumulated by `advance`, so small steps are not lost.
    energy_fraction_wh: f64,
    /// Holding registers whose writes are refused (exception 2), like a write-protected one.
    protected: Vec<u16>,
    /// The exception every read gets, like a device that refuses to be read.
    refuse_reads: Option<ExceptionCode>,
}

impl Default for RegisterBank {
    fn default() -> Self {
        RegisterBank::new()
    }
}

impl RegisterBank {
    /// All registers and coils zero: Available, no energy.
    pub fn new() -> RegisterBank {
        RegisterBank {
            tables: Mutex::new(Tables {
                regs: vec![0; TABLE_SIZE],
                coils: vec![false; TABLE_SIZE],
                energy_fraction_wh: 0.0,
                protected: Vec::new(),
                refuse_reads: None,
            }),
        }
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
        let mut t = self.tables();
        t.set_u32(REG_ENERGY_WH, wh);
        t.energy_fraction_wh = 0.0;
    }

    /// The energy register in Wh.
    pub fn energy_wh(&self) -> u32 {
        self.tables().u32(REG_ENERGY_WH)
    }

    /// Sets the active power register.
    pub fn set_power_w(&self, watts: f32) {
        self.tables().set_u32(REG_POWER_W, watts.to_bits());
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
        self.tables().set_word(addr, value);
    }

    /// Any holding register.
    pub fn register(&self, addr: u16) -> u16 {
        self.tables().word(addr)
    }

    /// Any coil.
    pub fn coil(&self, addr: u16) -> bool {
        self.tables()
            .coils
            .get(usize::from(addr))
            .copied()
            .unwrap_or(false)
    }

    /// Lets `dt` pass: while Occupied with positive power, the energy register grows by power·dt.
    pub fn advance(&self, dt: Duration) {
        let mut t = self.tables();
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

    /// Refuses (or again takes) writes of holding register `addr`.
    pub fn set_write_protected(&self, addr: u16, protected: bool) {
        let mut t = self.tables();
        t.protected.retain(|a| *a != addr);
        if protected {
            t.protected.push(addr);
        }
    }

    /// The response to one request PDU, or None when none can be formed (an exception PDU).
    pub fn answer(&self, pdu: &[u8]) -> Option<Response> {
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

    fn tables(&self) -> MutexGuard<'_, Tables> {
        lock(&self.tables)
    }

    /// Answers every read with exception `code` from now on (`None`: reads work again).
    pub fn refuse_reads(&self, code: Option<ExceptionCode>) {
        self.tables().refuse_reads = code;
    }

    fn execute(&self, request: &Request) -> Response {
        let mut t = self.tables();
        if let Some(code) = t.refuse_reads.filter(|_| is_read(request)) {
            return Response::Exception {
                function: request.function().code(),
                code,
            };
        }
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

fn is_read(request: &Request) -> bool {
    matches!(
        request,
        Request::ReadCoils { .. }
            | Request::ReadDiscreteInputs { .. }
            | Request::ReadHoldingRegisters { .. }
            | Request::ReadInputRegisters { .. }
    )
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
        let range = span(address, values.len());
        if self
            .protected
            .iter()
            .any(|a| range.contains(&usize::from(*a)))
        {
            return None;
        }
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
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_integrates_power_only_while_occupied() {
        let bank = RegisterBank::new();
        bank.set_energy_wh(1000);
        bank.set_power_w(7200.0);
        bank.advance(Duration::from_secs(1800));
        assert_eq!(bank.energy_wh(), 1000, "Available: no energy flows");
        bank.set_status(STATUS_OCCUPIED);
        assert_eq!(bank.status(), STATUS_OCCUPIED);
        bank.advance(Duration::from_secs(1800));
        assert_eq!(bank.energy_wh(), 4600);
        // 1 W for 1 s is far below 1 Wh; 3600 such steps must still add up to 1 Wh.
        bank.set_power_w(1.0);
        for _ in 0..3600 {
            bank.advance(Duration::from_secs(1));
        }
        assert_eq!(bank.energy_wh(), 4601);
        bank.set_power_w(-5.0);
        bank.advance(Duration::from_secs(3600));
        assert_eq!(bank.energy_wh(), 4601);
    }

    #[test]
    fn requests_are_executed_against_the_tables() {
        let bank = RegisterBank::new();
        let write = Request::WriteMultipleCoils {
            address: 0xFFFE,
            values: vec![true, true],
        };
        assert!(matches!(
            bank.answer(&write.encode().unwrap()),
            Some(Response::WriteMultipleCoils { count: 2, .. })
        ));
        assert!(bank.coil(0xFFFF));
        assert_eq!(
            bank.answer(&[0x03, 0xFF, 0xFF, 0, 2]),
            Some(Response::Exception {
                function: 3,
                code: ExceptionCode::IllegalDataAddress
            })
        );
        assert_eq!(
            bank.answer(&[0x2B, 0x0E]),
            Some(Response::Exception {
                function: 0x2B,
                code: ExceptionCode::IllegalFunction
            })
        );
        assert_eq!(bank.answer(&[0x83, 2]), None);
        assert_eq!(bank.answer(&[]), None);
    }
}
