//! Conversions between raw device values and OCPP values, both ways.
//!
//! Reading: raw registers/bits/bytes → the value's bytes (word and byte order applied) → a
//! device number, text or bit → enum lookup, bool, or number × scale + offset_value. Writing
//! runs the same steps backwards, checking the template's range and the data type's.

use crate::device::{ModbusTable, RawValue, WriteValue};

use super::{DataType, MappingError, RawShape, Source, Value, ValueKind, Variable};

/// A device value before the template gives it a meaning.
#[derive(Debug, Clone, PartialEq)]
enum DeviceValue {
    Int(i128),
    Float(f64),
    Text(String),
}

impl Variable {
    /// Turns a raw reading into its OCPP value.
    pub fn decode(&self, raw: &RawValue) -> Result<Value, MappingError> {
        let device = match self.source {
            Source::Modbus { count, order, .. } => match raw {
                RawValue::Bits(bits) if self.data_type == DataType::Bool => match bits.as_slice() {
                    [b] => DeviceValue::Int((*b).into()),
                    _ => return Err(self.wrong_shape(raw)),
                },
                RawValue::Registers(words)
                    if self.data_type != DataType::Bool && words.len() == usize::from(count) =>
                {
                    self.device_value(&order.words_to_bytes(words), raw)?
                }
                _ => return Err(self.wrong_shape(raw)),
            },
            Source::Echonet { offset, len, .. } => {
                let RawValue::Bytes(edt) = raw else {
                    return Err(self.wrong_shape(raw));
                };
                let start = usize::from(offset);
                let value = match len {
                    Some(len) => edt.get(start..start + usize::from(len)),
                    None => edt.get(start..),
                };
                self.device_value(value.ok_or_else(|| self.wrong_shape(raw))?, raw)?
            }
        };
        self.to_ocpp(device)
    }

    /// Turns an OCPP value into the write that sets it on the device: enum reverse lookup,
    /// (value − offset_value) / scale rounded to the device's step, range and type checks,
    /// then word and byte order.
    pub fn encode(&self, value: &Value) -> Result<WriteValue, MappingError> {
        if !self.access.writes() || self.bit.is_some() {
            return Err(MappingError::NotWritable);
        }
        let device = self.to_device(value)?;
        match self.source {
            Source::Modbus {
                table: ModbusTable::Coil,
                address,
                ..
            } => match device {
                DeviceValue::Int(v) => Ok(WriteValue::Coils {
                    address,
                    values: vec![v != 0],
                }),
                DeviceValue::Float(_) | DeviceValue::Text(_) => Err(MappingError::NotWritable),
            },
            Source::Modbus {
                table: ModbusTable::HoldingRegister,
                address,
                count,
                order,
            } => {
                let room = usize::from(count) * 2;
                let mut bytes = self.to_bytes(device, room)?;
                // Strings are padded with NULs to their registers; numbers fill them exactly.
                bytes.resize(room, 0);
                Ok(WriteValue::Registers {
                    address,
                    values: order.bytes_to_words(&bytes),
                })
            }
            Source::Modbus { .. } => Err(MappingError::NotWritable),
            Source::Echonet {
                epc,
                offset: 0,
                len,
            } => {
                let room = len.map_or(usize::from(u8::MAX), usize::from);
                let mut edt = self.to_bytes(device, room)?;
                if let Some(len) = len {
                    edt.resize(usize::from(len), 0);
                }
                Ok(WriteValue::Epc { epc, edt })
            }
            Source::Echonet { .. } => Err(MappingError::NotWritable),
        }
    }

    /// Parses an OCPP text value (as SetVariables carries it) into this variable's kind.
    pub fn parse_value(&self, text: &str) -> Result<Value, MappingError> {
        let wrong = |expected| MappingError::WrongValue {
            got: text.to_string(),
            expected,
        };
        match self.value_kind() {
            ValueKind::Options(texts) if texts.iter().any(|t| t == text) => {
                Ok(Value::Text(text.to_string()))
            }
            ValueKind::Options(_) => Err(MappingError::NoEnumEntry {
                text: text.to_string(),
            }),
            ValueKind::Boolean => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(wrong("true or false")),
            },
            ValueKind::Text => Ok(Value::Text(text.to_string())),
            ValueKind::Integer | ValueKind::Decimal => match text.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(Value::Number(n)),
                _ => Err(wrong("a number")),
            },
        }
    }

    /// The shape a raw reading of this variable should have.
    fn wrong_shape(&self, raw: &RawValue) -> MappingError {
        let expected = match self.source {
            Source::Modbus { .. } if self.data_type == DataType::Bool => RawShape::Bits(1),
            Source::Modbus { count, .. } => RawShape::Registers(count.into()),
            Source::Echonet { offset, len, .. } => {
                RawShape::Bytes(usize::from(offset) + len.map_or(1, usize::from))
            }
        };
        MappingError::WrongShape {
            expected,
            got: RawShape::of(raw),
        }
    }

    /// The device value held in `bytes` (most significant first), with `bit` extracted.
    fn device_value(&self, bytes: &[u8], raw: &RawValue) -> Result<DeviceValue, MappingError> {
        let shape = || self.wrong_shape(raw);
        fn array<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
            b.try_into().ok()
        }
        let int = |v: i128| Ok(DeviceValue::Int(v));
        let value = match self.data_type {
            DataType::U8 => int(u8::from_be_bytes(array(bytes).ok_or_else(shape)?).into()),
            DataType::I8 => int(i8::from_be_bytes(array(bytes).ok_or_else(shape)?).into()),
            DataType::U16 => int(u16::from_be_bytes(array(bytes).ok_or_else(shape)?).into()),
            DataType::I16 => int(i16::from_be_bytes(array(bytes).ok_or_else(shape)?).into()),
            DataType::U32 => int(u32::from_be_bytes(array(bytes).ok_or_else(shape)?).into()),
            DataType::I32 => int(i32::from_be_bytes(array(bytes).ok_or_else(shape)?).into()),
            DataType::U64 => int(u64::from_be_bytes(array(bytes).ok_or_else(shape)?).into()),
            DataType::I64 => int(i64::from_be_bytes(array(bytes).ok_or_else(shape)?).into()),
            DataType::F32 => Ok(DeviceValue::Float(shortest_f64(f32::from_be_bytes(
                array(bytes).ok_or_else(shape)?,
            )))),
            DataType::F64 => Ok(DeviceValue::Float(f64::from_be_bytes(
                array(bytes).ok_or_else(shape)?,
            ))),
            DataType::String => Ok(DeviceValue::Text(text_of(bytes))),
            DataType::Bytes => Ok(DeviceValue::Text(hex(bytes))),
            DataType::Bool => Err(shape()),
        }?;
        Ok(match (value, self.bit) {
            (DeviceValue::Int(v), Some(bit)) => DeviceValue::Int((v >> bit) & 1),
            (value, _) => value,
        })
    }

    /// Gives a device value its OCPP meaning.
    fn to_ocpp(&self, device: DeviceValue) -> Result<Value, MappingError> {
        match device {
            DeviceValue::Int(value) if !self.enum_map.is_empty() => i64::try_from(value)
                .ok()
                .and_then(|key| self.enum_map.get(&key))
                .map(|text| Value::Text(text.clone()))
                .ok_or(MappingError::NotInEnum { value }),
            DeviceValue::Int(value) if self.is_bit() => Ok(Value::Bool(value != 0)),
            DeviceValue::Int(value) => finite(value as f64 * self.scale + self.offset_value),
            DeviceValue::Float(value) => finite(value * self.scale + self.offset_value),
            DeviceValue::Text(text) => Ok(Value::Text(text)),
        }
    }

    /// The device value that represents `value`.
    fn to_device(&self, value: &Value) -> Result<DeviceValue, MappingError> {
        let wrong = |expected| MappingError::WrongValue {
            got: value.to_string(),
            expected,
        };
        if !self.enum_map.is_empty() {
            let Value::Text(text) = value else {
                return Err(wrong("one of the enum texts"));
            };
            return self
                .enum_map
                .iter()
                .find(|(_, t)| *t == text)
                .map(|(key, _)| DeviceValue::Int((*key).into()))
                .ok_or_else(|| MappingError::NoEnumEntry { text: text.clone() });
        }
        if self.is_bit() {
            let Value::Bool(b) = value else {
                return Err(wrong("true or false"));
            };
            return Ok(DeviceValue::Int((*b).into()));
        }
        if self.data_type.is_text() {
            let Value::Text(text) = value else {
                return Err(wrong("text"));
            };
            return Ok(DeviceValue::Text(text.clone()));
        }
        let Value::Number(n) = *value else {
            return Err(wrong("a number"));
        };
        if let Some(min) = self.min.filter(|min| n < *min) {
            return Err(MappingError::BelowMin { value: n, min });
        }
        if let Some(max) = self.max.filter(|max| n > *max) {
            return Err(MappingError::AboveMax { value: n, max });
        }
        let raw = (n - self.offset_value) / self.scale;
        if !raw.is_finite() {
            return Err(MappingError::NotFinite);
        }
        let out_of_range = |raw| MappingError::DeviceRange {
            value: raw,
            data_type: self.data_type.name(),
        };
        match self.data_type.integer_range() {
            Some((lo, hi)) => {
                let raw = raw.round();
                if raw < lo as f64 || raw > hi as f64 {
                    return Err(out_of_range(raw));
                }
                // ok: `raw` is whole and within the type's range, which i128 holds exactly.
                Ok(DeviceValue::Int(raw as i128))
            }
            None if self.data_type == DataType::F32 && raw.abs() > f64::from(f32::MAX) => {
                Err(out_of_range(raw))
            }
            None => Ok(DeviceValue::Float(raw)),
        }
    }

    /// The bytes of a device value, most significant first; text may take up to `room` bytes.
    fn to_bytes(&self, device: DeviceValue, room: usize) -> Result<Vec<u8>, MappingError> {
        let range = |v: i128| MappingError::DeviceRange {
            value: v as f64,
            data_type: self.data_type.name(),
        };
        let bytes = match (self.data_type, device) {
            (DataType::U8, DeviceValue::Int(v)) => u8::try_from(v)
                .map_err(|_| range(v))?
                .to_be_bytes()
                .to_vec(),
            (DataType::I8, DeviceValue::Int(v)) => i8::try_from(v)
                .map_err(|_| range(v))?
                .to_be_bytes()
                .to_vec(),
            (DataType::U16, DeviceValue::Int(v)) => u16::try_from(v)
                .map_err(|_| range(v))?
                .to_be_bytes()
                .to_vec(),
            (DataType::I16, DeviceValue::Int(v)) => i16::try_from(v)
                .map_err(|_| range(v))?
                .to_be_bytes()
                .to_vec(),
            (DataType::U32, DeviceValue::Int(v)) => u32::try_from(v)
                .map_err(|_| range(v))?
                .to_be_bytes()
                .to_vec(),
            (DataType::I32, DeviceValue::Int(v)) => i32::try_from(v)
                .map_err(|_| range(v))?
                .to_be_bytes()
                .to_vec(),
            (DataType::U64, DeviceValue::Int(v)) => u64::try_from(v)
                .map_err(|_| range(v))?
                .to_be_bytes()
                .to_vec(),
            (DataType::I64, DeviceValue::Int(v)) => i64::try_from(v)
                .map_err(|_| range(v))?
                .to_be_bytes()
                .to_vec(),
            // Range-checked in `to_device`, so the narrowing keeps the value.
            (DataType::F32, DeviceValue::Float(f)) => (f as f32).to_be_bytes().to_vec(),
            (DataType::F64, DeviceValue::Float(f)) => f.to_be_bytes().to_vec(),
            (DataType::String, DeviceValue::Text(t)) => t.into_bytes(),
            (DataType::Bytes, DeviceValue::Text(t)) => {
                unhex(&t).ok_or(MappingError::WrongValue {
                    got: t,
                    expected: "hex digits in pairs",
                })?
            }
            (_, device) => {
                return Err(MappingError::WrongValue {
                    got: format!("{device:?}"),
                    expected: self.data_type.name(),
                })
            }
        };
        if bytes.len() > room {
            return Err(MappingError::TooLong {
                len: bytes.len(),
                max: room,
            });
        }
        Ok(bytes)
    }
}

/// Text up to the first NUL, without trailing spaces; bytes that are not UTF-8 become U+FFFD.
fn text_of(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let text = String::from_utf8_lossy(bytes.get(..end).unwrap_or(bytes));
    text.trim_end().to_string()
}

/// Upper-case hex, two digits per byte.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The inverse of `hex` (either case); `None` unless it is hex digits in pairs.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Widens through the shortest decimal form so 0.1f32 becomes 0.1, not 0.10000000149011612.
fn shortest_f64(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

/// Rounds to 15 significant digits, which drops the binary noise of `× scale` (2301 × 0.1 =
/// 230.10000000000002) while keeping every digit a u32 or f32 can carry.
fn finite(value: f64) -> Result<Value, MappingError> {
    if !value.is_finite() {
        return Err(MappingError::NotFinite);
    }
    let rounded: f64 = format!("{value:.14e}").parse().unwrap_or(value);
    // Adding 0.0 turns -0.0 into 0.0, which OCPP consumers would otherwise see as "-0".
    Ok(Value::Number(rounded + 0.0))
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
