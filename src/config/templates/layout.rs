//! Where a template variable's value lives: Modbus table and address, or ECHONET Lite EPC and
//! EDT bytes, fitted to the data type, word order, bit and access.

use crate::config::error::Problems;
use crate::config::raw::RawVariable;
use crate::device::ModbusTable;
use crate::mapping::{parse_register, Access, DataType, Order, Source};

/// Most registers one Modbus read returns, so the longest string.
const MAX_STRING_REGISTERS: i64 = 125;

/// Where a polled variable reads, for overlap checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Span {
    /// Registers (or bits) `start..start + count` of `table`; `bit` of the one register.
    Modbus {
        table: ModbusTable,
        start: u32,
        count: u32,
        bit: Option<u8>,
    },
    /// Bytes `start..end` (`None`: to the end) of the EDT of `epc`; `bit` of that byte range.
    Echonet {
        epc: u8,
        start: u16,
        end: Option<u16>,
        bit: Option<u8>,
    },
}

/// Keys only one variable type takes, and which.
const MODBUS_ONLY: &[&str] = &["register", "table", "address", "order"];
const ECHONET_ONLY: &[&str] = &["epc", "offset"];

/// Keys of the other variable type are errors, naming the type they belong to.
pub(super) fn foreign_keys(
    v: &RawVariable,
    kind: &str,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) {
    let (foreign, owner): (&[&str], &str) = if kind == "modbus" {
        (ECHONET_ONLY, "echonet")
    } else {
        (MODBUS_ONLY, "modbus")
    };
    let present = |k: &str| match k {
        "register" => v.register.is_some(),
        "table" => v.table.is_some(),
        "address" => v.address.is_some(),
        "order" => v.order.is_some(),
        "epc" => v.epc.is_some(),
        "offset" => v.offset.is_some(),
        _ => false,
    };
    for k in foreign.iter().filter(|k| present(k)) {
        let hint = if *k == "offset" {
            " (offset is a byte offset within an EDT; offset_value is added to the value)"
        } else {
            ""
        };
        p.add(
            key(k),
            format!("only for type = \"{owner}\", not {kind}{hint}"),
        );
    }
}

/// The Modbus table and address, from `register` or `table` + `address`, fitted to the type.
pub(super) fn modbus_source(
    v: &RawVariable,
    data_type: Option<DataType>,
    access: Option<Access>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<Source> {
    foreign_keys(v, "modbus", key, p);
    let location = match (&v.register, &v.table, v.address) {
        (Some(register), None, None) => {
            let written = match register {
                toml::Value::Integer(n) => Some(n.to_string()),
                toml::Value::String(s) => Some(s.clone()),
                other => {
                    p.add(
                        key("register"),
                        format!(
                            "invalid type: {}, expected an integer or a string of digits",
                            other.type_str()
                        ),
                    );
                    None
                }
            };
            written.and_then(|w| match parse_register(&w) {
                Ok(location) => Some(location),
                Err(e) => {
                    p.add(key("register"), e.to_string());
                    None
                }
            })
        }
        (None, Some(table), Some(address)) => {
            let table = match table.as_str() {
                "holding" => Some(ModbusTable::HoldingRegister),
                "input" => Some(ModbusTable::InputRegister),
                "coil" => Some(ModbusTable::Coil),
                "discrete" => Some(ModbusTable::DiscreteInput),
                other => {
                    p.add(
                        key("table"),
                        format!(
                            "unknown table {other:?} (expected holding, input, coil or discrete)"
                        ),
                    );
                    None
                }
            };
            let address = u16::try_from(address).ok();
            if address.is_none() {
                p.add(key("address"), "must be between 0 and 65535");
            }
            table.zip(address)
        }
        (Some(_), _, _) => {
            p.add(
                key("register"),
                "give either register or table and address, not both",
            );
            None
        }
        (None, Some(_), None) => {
            p.add(key("address"), "missing key (table needs it)");
            None
        }
        (None, None, Some(_)) => {
            p.add(key("table"), "missing key (address needs it)");
            None
        }
        (None, None, None) => {
            p.add(key("register"), "missing key (or table and address)");
            None
        }
    };
    let order = match v.order.as_deref() {
        None => Some(Order::Abcd),
        Some(name) => {
            let order = Order::from_name(name);
            if order.is_none() {
                let known: Vec<_> = Order::names().collect();
                p.add(
                    key("order"),
                    format!(
                        "unknown order {name:?} (expected one of {})",
                        known.join(", ")
                    ),
                );
            }
            order
        }
    };
    let data_type = data_type?;
    if !data_type.is_modbus() {
        p.add(
            key("data_type"),
            format!(
                "{} is not a Modbus type (bool, uint16, int16, uint32, int32, uint64, int64, float32, float64, string)",
                data_type.name()
            ),
        );
        return None;
    }
    let count = match (data_type.registers(), v.length) {
        (Some(count), None) => count,
        (Some(_), Some(_)) => {
            p.add(key("length"), "only applies to string");
            return None;
        }
        (None, Some(len)) if (1..=MAX_STRING_REGISTERS).contains(&len) => {
            u16::try_from(len).ok()?
        }
        (None, Some(_)) => {
            p.add(
                key("length"),
                format!("must be between 1 and {MAX_STRING_REGISTERS} registers"),
            );
            return None;
        }
        (None, None) => {
            p.add(
                key("length"),
                "missing key (string needs its length in registers)",
            );
            return None;
        }
    };
    let (table, address) = location?;
    let order = order?;
    let bit_table = matches!(table, ModbusTable::Coil | ModbusTable::DiscreteInput);
    let where_ = |w: &str| format!("{w} is {}", table_name(table));
    if data_type == DataType::Bool && !bit_table {
        p.add(
            key("data_type"),
            format!(
                "bool needs a coil or discrete input, but {}",
                where_(&describe(v))
            ),
        );
        return None;
    }
    if data_type != DataType::Bool && bit_table {
        p.add(
            key("data_type"),
            format!(
                "{} needs an input or holding register, but {}",
                data_type.name(),
                where_(&describe(v))
            ),
        );
        return None;
    }
    if data_type == DataType::String && order.swaps_words() {
        p.add(
            key("order"),
            "a string is read register by register: ABCD or BADC",
        );
    }
    if bit_table && v.order.is_some() {
        p.add(key("order"), "does not apply to coils and discrete inputs");
    }
    if u32::from(address) + u32::from(count) - 1 > u32::from(u16::MAX) {
        p.add(
            location_key(v, key),
            format!(
                "{} at {} runs past the last address 65535",
                data_type.name(),
                describe(v)
            ),
        );
        return None;
    }
    if access.is_some_and(Access::writes)
        && matches!(
            table,
            ModbusTable::InputRegister | ModbusTable::DiscreteInput
        )
    {
        p.add(
            key("access"),
            format!("{} cannot be written", table_name(table)),
        );
    }
    Some(Source::Modbus {
        table,
        address,
        count,
        order,
    })
}

/// The EPC and the byte range within its EDT.
pub(super) fn echonet_source(
    v: &RawVariable,
    data_type: Option<DataType>,
    access: Option<Access>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<Source> {
    foreign_keys(v, "echonet", key, p);
    let epc = match &v.epc {
        None => {
            p.add(key("epc"), "missing key");
            None
        }
        Some(toml::Value::Integer(n)) => u8::try_from(*n).ok(),
        Some(toml::Value::String(s)) => s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .filter(|h| h.len() == 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok()),
        Some(other) => {
            p.add(
                key("epc"),
                format!(
                    "invalid type: {}, expected an integer or a hex string like \"0xC7\"",
                    other.type_str()
                ),
            );
            return None;
        }
    };
    let epc = match epc {
        Some(epc) if epc >= 0x80 => Some(epc),
        None if v.epc.is_none() => None,
        _ => {
            p.add(
                key("epc"),
                "must be a property code from 0x80 to 0xFF (an integer or a string like \"0xC7\")",
            );
            None
        }
    };
    let offset = u8::try_from(v.offset.unwrap_or(0)).ok();
    if offset.is_none() {
        p.add(key("offset"), "must be between 0 and 255");
    }
    let data_type = data_type?;
    if !data_type.is_echonet() {
        p.add(
            key("data_type"),
            format!(
                "{} is not an ECHONET Lite EDT type (uint8, int8, uint16, int16, uint32, int32, string, bytes)",
                data_type.name()
            ),
        );
        return None;
    }
    let len = match (data_type.byte_len(), v.length) {
        (Some(n), None) => Some(u8::try_from(n).ok()?),
        (Some(_), Some(_)) => {
            p.add(key("length"), "only applies to string and bytes");
            return None;
        }
        (None, Some(n)) => match u8::try_from(n) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                p.add(key("length"), "must be between 1 and 255 bytes");
                return None;
            }
        },
        (None, None) => None,
    };
    let (epc, offset) = (epc?, offset?);
    if usize::from(offset) + len.map_or(1, usize::from) > usize::from(u8::MAX) {
        p.add(
            key("offset"),
            "the value runs past the longest EDT (255 bytes)",
        );
        return None;
    }
    if access.is_some_and(Access::writes) && offset > 0 {
        p.add(
            key("access"),
            "a part of an EDT (offset > 0) cannot be written on its own",
        );
    }
    Some(Source::Echonet { epc, offset, len })
}

/// `bit` needs an integer of at most 16 bits and cannot be written on its own.
pub(super) fn check_bit(
    v: &RawVariable,
    data_type: Option<DataType>,
    access: Option<Access>,
    key: &dyn Fn(&str) -> String,
    p: &mut Problems,
) -> Option<u8> {
    let bit = v.bit?;
    let dt = data_type?;
    let width = match dt {
        DataType::U8 | DataType::I8 => 8,
        DataType::U16 | DataType::I16 => 16,
        _ => {
            p.add(
                key("bit"),
                format!(
                    "needs an integer of at most 16 bits (uint8, int8, uint16, int16), not {}",
                    dt.name()
                ),
            );
            return None;
        }
    };
    if !(0..width).contains(&bit) {
        p.add(key("bit"), format!("must be between 0 and {}", width - 1));
        return None;
    }
    if access.is_some_and(Access::writes) {
        p.add(
            key("access"),
            "a single bit cannot be written on its own; map the whole register",
        );
    }
    u8::try_from(bit).ok()
}

pub(super) fn span_of(source: Source, bit: Option<u8>) -> Span {
    match source {
        Source::Modbus {
            table,
            address,
            count,
            ..
        } => Span::Modbus {
            table,
            start: address.into(),
            count: count.into(),
            bit,
        },
        Source::Echonet { epc, offset, len } => Span::Echonet {
            epc,
            start: offset.into(),
            end: len.map(|l| u16::from(offset) + u16::from(l)),
            bit,
        },
    }
}

/// The key that holds a Modbus variable's location.
pub(super) fn location_key(v: &RawVariable, key: &dyn Fn(&str) -> String) -> String {
    match (&v.register, &v.epc) {
        (None, None) => key("address"),
        (None, Some(_)) => key("epc"),
        (Some(_), _) => key("register"),
    }
}

/// The location as written, for messages: `40011`, `holding 10`, `0xC8 offset 4`.
pub(super) fn describe(v: &RawVariable) -> String {
    let mut text = match (&v.register, &v.table, v.address, &v.epc) {
        (Some(toml::Value::Integer(n)), ..) => n.to_string(),
        (Some(toml::Value::String(s)), ..) => s.clone(),
        (_, Some(table), Some(address), _) => format!("{table} {address}"),
        (.., Some(toml::Value::String(epc))) => epc.clone(),
        (.., Some(toml::Value::Integer(epc))) => format!("0x{epc:02X}"),
        _ => "?".into(),
    };
    if let Some(offset) = v.offset.filter(|o| *o > 0) {
        text.push_str(&format!(" offset {offset}"));
    }
    if let Some(bit) = v.bit {
        text.push_str(&format!(" bit {bit}"));
    }
    text
}

fn table_name(table: ModbusTable) -> &'static str {
    match table {
        ModbusTable::Coil => "a coil",
        ModbusTable::DiscreteInput => "a discrete input",
        ModbusTable::InputRegister => "an input register",
        ModbusTable::HoldingRegister => "a holding register",
    }
}
