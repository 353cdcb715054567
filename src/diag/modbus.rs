//! `ocpp-gw diag modbus-tcp` and `diag modbus-rtu`: one read or write against a Modbus device,
//! printed for a console, with the likely cause when the device refuses or another client
//! holds it.

use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use crate::device::{ModbusTable, RawValue};
use crate::modbus::pdu::{MAX_READ_BITS, MAX_READ_REGISTERS, MAX_WRITE_COILS, MAX_WRITE_REGISTERS};
use crate::modbus::rtu::SerialLine;
use crate::modbus::{ModbusClient, ModbusError, RtuClient, TcpClient};

/// Longest wait for the TCP connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest wait for an answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// What to do on the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Read `count` registers or bits from `address` (0-based protocol address).
    Read {
        table: ModbusTable,
        address: u16,
        count: u16,
    },
    /// Write holding registers from `address` (FC06 for one, FC16 for more).
    WriteRegisters { address: u16, values: Vec<u16> },
    /// Write coils from `address` (FC05 for one, FC15 for more).
    WriteCoils { address: u16, values: Vec<bool> },
}

/// Parses `read TABLE ADDR [COUNT]` or `write holding|coil ADDR VALUE…`.
pub fn parse_operation(args: &[&str]) -> Result<Operation, String> {
    match args {
        ["read", table, rest @ ..] => {
            let table = match *table {
                "holding" => ModbusTable::HoldingRegister,
                "input" => ModbusTable::InputRegister,
                "coil" => ModbusTable::Coil,
                "discrete" => ModbusTable::DiscreteInput,
                other => {
                    return Err(format!(
                        "read: table {other:?} is not holding, input, coil or discrete"
                    ))
                }
            };
            let (address, count) = match rest {
                [address] => (number(address, "ADDR")?, 1),
                [address, count] => (number(address, "ADDR")?, number(count, "COUNT")?),
                _ => return Err("read needs ADDR and an optional COUNT".into()),
            };
            let max = match table {
                ModbusTable::Coil | ModbusTable::DiscreteInput => MAX_READ_BITS,
                ModbusTable::HoldingRegister | ModbusTable::InputRegister => MAX_READ_REGISTERS,
            };
            check_span(address, count, max)?;
            Ok(Operation::Read {
                table,
                address,
                count,
            })
        }
        ["write", "holding", address, values @ ..] if !values.is_empty() => {
            let address = number(address, "ADDR")?;
            let values = values
                .iter()
                .map(|v| number(v, "VALUE"))
                .collect::<Result<Vec<_>, _>>()?;
            check_span(address, values.len() as u16, MAX_WRITE_REGISTERS)?;
            Ok(Operation::WriteRegisters { address, values })
        }
        ["write", "coil", address, values @ ..] if !values.is_empty() => {
            let address = number(address, "ADDR")?;
            let values = values
                .iter()
                .map(|v| match *v {
                    "1" | "on" | "true" => Ok(true),
                    "0" | "off" | "false" => Ok(false),
                    other => Err(format!(
                        "coil value {other:?} is not 0/1, on/off or true/false"
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            check_span(address, values.len() as u16, MAX_WRITE_COILS)?;
            Ok(Operation::WriteCoils { address, values })
        }
        ["write", "holding" | "coil", ..] => Err("write needs ADDR and at least one VALUE".into()),
        ["write", other, ..] => Err(format!("write: table {other:?} is not holding or coil")),
        _ => Err("expected `read TABLE ADDR [COUNT]` or `write holding|coil ADDR VALUE…`".into()),
    }
}

/// A 16-bit number in decimal or `0x` hex.
fn number(text: &str, what: &str) -> Result<u16, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed
        .map_err(|_| format!("{what} {text:?} is not a number from 0 to 65535 (or 0x0000-0xFFFF)"))
}

fn check_span(address: u16, count: u16, max: u16) -> Result<(), String> {
    if !(1..=max).contains(&count) {
        return Err(format!("at most {max} values at a time (asked {count})"));
    }
    if u32::from(address) + u32::from(count) > 0x1_0000 {
        return Err(format!(
            "{count} values from {address} run past address 65535"
        ));
    }
    Ok(())
}

/// Why the device did not do what was asked, worded for someone at a console.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DiagError(String);

/// Runs `op` against `unit` of the Modbus TCP device at `host:port`.
pub fn run_tcp(host: &str, port: u16, unit: u8, op: &Operation) -> Result<String, DiagError> {
    let endpoint = format!("{host}:{port}");
    let mut client = TcpClient::connect(host, port, CONNECT_TIMEOUT, RESPONSE_TIMEOUT)
        .map_err(|e| explain(&endpoint, &e))?;
    run(&mut client, &endpoint, unit, op).map_err(|e| explain(&endpoint, &e))
}

/// Runs `op` against `unit` on the RS-485 bus of serial port `path`.
pub fn run_rtu(
    path: &str,
    line: SerialLine,
    unit: u8,
    op: &Operation,
) -> Result<String, DiagError> {
    let mut client =
        RtuClient::open(path, line, RESPONSE_TIMEOUT).map_err(|e| explain(path, &e))?;
    run(&mut client, path, unit, op).map_err(|e| explain(path, &e))
}

fn run(
    client: &mut dyn ModbusClient,
    target: &str,
    unit: u8,
    op: &Operation,
) -> Result<String, ModbusError> {
    let mut out = String::new();
    match op {
        Operation::Read {
            table,
            address,
            count,
        } => {
            let value = client.read(unit, *table, *address, *count)?;
            let _ = writeln!(
                out,
                "{target} unit {unit}: {count} {} from address {address}",
                table_name(*table)
            );
            render_values(&mut out, *table, *address, &value);
        }
        Operation::WriteRegisters { address, values } => {
            client.write_registers(unit, *address, values)?;
            let _ = writeln!(
                out,
                "{target} unit {unit}: wrote {} holding register(s) from address {address}",
                values.len()
            );
        }
        Operation::WriteCoils { address, values } => {
            client.write_coils(unit, *address, values)?;
            let _ = writeln!(
                out,
                "{target} unit {unit}: wrote {} coil(s) from address {address}",
                values.len()
            );
        }
    }
    Ok(out)
}

fn table_name(table: ModbusTable) -> &'static str {
    match table {
        ModbusTable::HoldingRegister => "holding register(s)",
        ModbusTable::InputRegister => "input register(s)",
        ModbusTable::Coil => "coil(s)",
        ModbusTable::DiscreteInput => "discrete input(s)",
    }
}

/// One line per value: protocol address, template notation, then the value.
fn render_values(out: &mut String, table: ModbusTable, address: u16, value: &RawValue) {
    match value {
        RawValue::Registers(regs) => {
            let _ = writeln!(
                out,
                "{:>7} {:>8} {:>8} {:>7} {:>7}",
                "ADDR", "REGISTER", "HEX", "UINT16", "INT16"
            );
            for (addr, reg) in (u32::from(address)..).zip(regs) {
                let _ = writeln!(
                    out,
                    "{addr:>7} {:>8} {:>8} {reg:>7} {:>7}",
                    notation(table, addr),
                    format!("0x{reg:04X}"),
                    *reg as i16
                );
            }
        }
        RawValue::Bits(bits) => {
            let _ = writeln!(out, "{:>7} {:>8} {:>5}", "ADDR", "REGISTER", "VALUE");
            for (addr, bit) in (u32::from(address)..).zip(bits) {
                let _ = writeln!(
                    out,
                    "{addr:>7} {:>8} {:>5}",
                    notation(table, addr),
                    u8::from(*bit)
                );
            }
        }
        RawValue::Bytes(bytes) => {
            let _ = writeln!(out, "{bytes:02X?}");
        }
    }
}

/// The 1-based notation templates use: 40001 for holding register 0, six digits past 9998.
fn notation(table: ModbusTable, address: u32) -> String {
    let base = match table {
        ModbusTable::Coil => 0,
        ModbusTable::DiscreteInput => 1,
        ModbusTable::InputRegister => 3,
        ModbusTable::HoldingRegister => 4,
    };
    if address < 9999 {
        format!("{}", base * 10_000 + address + 1)
    } else {
        format!("{}", base * 100_000 + address + 1)
    }
}

/// Turns a Modbus error into what it most likely means at the console.
fn explain(endpoint: &str, e: &ModbusError) -> DiagError {
    let message = match e {
        ModbusError::Connect { source, .. }
            if source.kind() == io::ErrorKind::ConnectionRefused =>
        {
            format!(
                "cannot connect to {endpoint}: connection refused. Nothing listens there (wrong \
                 host or port?), or the device takes one client at a time and another one (the \
                 gateway daemon?) holds it"
            )
        }
        ModbusError::Connect { source, .. } => format!("cannot connect to {endpoint}: {source}"),
        ModbusError::Timeout => format!(
            "{endpoint}: no answer within {}s: wrong unit id, a TCP-to-RTU bridge with nothing \
             behind it, or the device is busy with another client (the gateway daemon?)",
            RESPONSE_TIMEOUT.as_secs()
        ),
        ModbusError::Disconnected => format!(
            "{endpoint}: the device closed the connection. It may take one client at a time \
             and the gateway daemon may be using it"
        ),
        ModbusError::Io(source) if source.kind() == io::ErrorKind::ConnectionReset => format!(
            "{endpoint}: the device reset the connection. It may take one client at a time and \
             the gateway daemon may be using it"
        ),
        ModbusError::Exception(code) if code.code() == 6 => format!(
            "{endpoint}: the device is busy (exception {code}); the gateway daemon may be \
             polling it, try again"
        ),
        ModbusError::Exception(code) => {
            format!("{endpoint}: the device refused the request: exception {code}")
        }
        ModbusError::Serial { message, .. }
            if message.contains("busy") || message.contains("Busy") =>
        {
            format!(
                "{endpoint}: the serial port is in use, most likely by the running gateway \
                 daemon (it owns the bus); stop it or use `ocpp-gw status` instead"
            )
        }
        other => format!("{endpoint}: {other}"),
    };
    DiagError(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Operation, String> {
        parse_operation(args)
    }

    #[test]
    fn parses_reads_and_writes() {
        assert_eq!(
            p(&["read", "holding", "0x10", "2"]),
            Ok(Operation::Read {
                table: ModbusTable::HoldingRegister,
                address: 16,
                count: 2
            })
        );
        assert_eq!(
            p(&["read", "coil", "7"]),
            Ok(Operation::Read {
                table: ModbusTable::Coil,
                address: 7,
                count: 1
            })
        );
        assert_eq!(
            p(&["write", "holding", "3", "1", "0xFFFF"]),
            Ok(Operation::WriteRegisters {
                address: 3,
                values: vec![1, 0xFFFF]
            })
        );
        assert_eq!(
            p(&["write", "coil", "0", "on", "0"]),
            Ok(Operation::WriteCoils {
                address: 0,
                values: vec![true, false]
            })
        );
    }

    #[test]
    fn rejects_bad_operations() {
        for bad in [
            &["read", "holding"][..],
            &["read", "register", "0"],
            &["read", "holding", "0", "126"],
            &["read", "holding", "0", "0"],
            &["read", "input", "65535", "2"],
            &["read", "holding", "70000"],
            &["write", "input", "0", "1"],
            &["write", "holding", "0"],
            &["write", "coil", "0", "2"],
            &["erase"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn template_notation() {
        assert_eq!(notation(ModbusTable::HoldingRegister, 0), "40001");
        assert_eq!(notation(ModbusTable::InputRegister, 9998), "39999");
        assert_eq!(notation(ModbusTable::HoldingRegister, 9999), "410000");
        assert_eq!(notation(ModbusTable::Coil, 0), "1");
    }
}
