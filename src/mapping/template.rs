//! A template: which registers a charger model has and what they mean in OCPP terms.

use std::collections::BTreeMap;

use crate::device::{ModbusTable, PollClass, RawValue, RegisterRead};

use super::{DataType, MappingError, OcppName, RawShape, Value};

/// A validated mapping template (`<templates_dir>/<id>.toml`).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub id: String,
    pub description: String,
    /// For BootNotification `chargingStation.vendorName` (≤ 50 chars).
    pub vendor_name: Option<String>,
    /// For BootNotification `chargingStation.model` (≤ 20 chars).
    pub model: Option<String>,
    /// In file order; a variable's index here is its `var` in register reads and events.
    pub variables: Vec<Variable>,
}

/// One mapped value.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub ocpp_name: OcppName,
    pub source: Source,
    pub data_type: DataType,
    /// Multiplier from device value to `unit` (not used when `enum_map` is set).
    pub scale: f64,
    pub unit: Option<String>,
    /// Device value → text; empty when the variable is numeric.
    pub enum_map: BTreeMap<i64, String>,
}

/// Where a variable's raw value lives on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Modbus table and 0-based address.
    Modbus { table: ModbusTable, address: u16 },
}

impl Template {
    /// The variable mapped to `name`, with its index.
    pub fn variable(&self, name: &OcppName) -> Option<(usize, &Variable)> {
        self.variables
            .iter()
            .enumerate()
            .find(|(_, v)| v.ocpp_name == *name)
    }
}

impl Variable {
    /// The read a device worker performs for this variable, tagged with its index `var`.
    pub fn register_read(&self, var: usize) -> RegisterRead {
        let Source::Modbus { table, address } = self.source;
        RegisterRead {
            var,
            table,
            address,
            count: self.data_type.registers(),
            class: PollClass::Fast,
        }
    }

    /// Turns a raw reading into its OCPP value: enum lookup, or the number × `scale`.
    pub fn decode(&self, raw: &RawValue) -> Result<Value, MappingError> {
        let expected = self.data_type.registers();
        let got = RawShape::of(raw);
        let wrong_shape = || MappingError::WrongShape {
            expected: if self.data_type == DataType::Bool {
                RawShape::Bits(expected.into())
            } else {
                RawShape::Registers(expected.into())
            },
            got,
        };
        let words = match (self.data_type, raw) {
            (DataType::Bool, RawValue::Bits(bits)) => {
                return match bits.as_slice() {
                    [b] => Ok(Value::Bool(*b)),
                    _ => Err(wrong_shape()),
                }
            }
            (DataType::Bool, RawValue::Registers(_))
            | (_, RawValue::Bits(_))
            | (_, RawValue::Bytes(_)) => return Err(wrong_shape()),
            (_, RawValue::Registers(words)) => words.as_slice(),
        };
        let number = match (self.data_type, words) {
            (DataType::U16, [w]) => Number::Int(i64::from(*w)),
            (DataType::I16, [w]) => Number::Int(i64::from(*w as i16)),
            (DataType::U32, [hi, lo]) => Number::Int(i64::from(join(*hi, *lo))),
            (DataType::I32, [hi, lo]) => Number::Int(i64::from(join(*hi, *lo) as i32)),
            (DataType::F32, [hi, lo]) => Number::Float(f32::from_bits(join(*hi, *lo))),
            _ => return Err(wrong_shape()),
        };
        match number {
            Number::Int(value) if !self.enum_map.is_empty() => self
                .enum_map
                .get(&value)
                .map(|text| Value::Text(text.clone()))
                .ok_or(MappingError::NotInEnum { value }),
            Number::Int(value) => finite(value as f64 * self.scale),
            Number::Float(value) => finite(shortest_f64(value) * self.scale),
        }
    }
}

/// A device number before scaling.
enum Number {
    Int(i64),
    Float(f32),
}

/// Two registers, high word first.
fn join(hi: u16, lo: u16) -> u32 {
    (u32::from(hi) << 16) | u32::from(lo)
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
mod tests {
    use super::*;

    fn var(data_type: DataType, table: ModbusTable, scale: f64) -> Variable {
        Variable {
            ocpp_name: OcppName::Measurand("Voltage".into()),
            source: Source::Modbus { table, address: 7 },
            data_type,
            scale,
            unit: None,
            enum_map: BTreeMap::new(),
        }
    }

    fn holding(data_type: DataType) -> Variable {
        var(data_type, ModbusTable::HoldingRegister, 1.0)
    }

    fn regs(words: &[u16]) -> RawValue {
        RawValue::Registers(words.to_vec())
    }

    #[test]
    fn uint16_and_int16() {
        assert_eq!(
            holding(DataType::U16).decode(&regs(&[0xFFFF])),
            Ok(Value::Number(65535.0))
        );
        assert_eq!(
            holding(DataType::I16).decode(&regs(&[0xFFFF])),
            Ok(Value::Number(-1.0))
        );
        assert_eq!(
            holding(DataType::I16).decode(&regs(&[0x8000])),
            Ok(Value::Number(-32768.0))
        );
        assert_eq!(
            holding(DataType::I16).decode(&regs(&[0x7FFF])),
            Ok(Value::Number(32767.0))
        );
    }

    #[test]
    fn thirty_two_bit_types_are_high_word_first() {
        let v = holding(DataType::U32).decode(&regs(&[0x0001, 0x0002]));
        assert_eq!(v, Ok(Value::Number(65538.0)));
        let v = holding(DataType::U32).decode(&regs(&[0xFFFF, 0xFFFF]));
        assert_eq!(v, Ok(Value::Number(4_294_967_295.0)));
        let v = holding(DataType::I32).decode(&regs(&[0xFFFF, 0xFFFE]));
        assert_eq!(v, Ok(Value::Number(-2.0)));
        let v = holding(DataType::I32).decode(&regs(&[0x8000, 0x0000]));
        assert_eq!(v, Ok(Value::Number(-2_147_483_648.0)));
    }

    #[test]
    fn float32() {
        let bits = 7360.5f32.to_bits();
        let v = holding(DataType::F32).decode(&regs(&[(bits >> 16) as u16, bits as u16]));
        assert_eq!(v, Ok(Value::Number(7360.5)));
        let bits = 0.1f32.to_bits();
        let v = holding(DataType::F32).decode(&regs(&[(bits >> 16) as u16, bits as u16]));
        assert_eq!(v, Ok(Value::Number(0.1)));
        let bits = (-1.25f32).to_bits();
        let v = holding(DataType::F32).decode(&regs(&[(bits >> 16) as u16, bits as u16]));
        assert_eq!(v, Ok(Value::Number(-1.25)));
        let nan = f32::NAN.to_bits();
        let v = holding(DataType::F32).decode(&regs(&[(nan >> 16) as u16, nan as u16]));
        assert_eq!(v, Err(MappingError::NotFinite));
    }

    #[test]
    fn bool_from_one_bit() {
        let v = var(DataType::Bool, ModbusTable::Coil, 1.0);
        assert_eq!(v.decode(&RawValue::Bits(vec![true])), Ok(Value::Bool(true)));
        assert_eq!(
            v.decode(&RawValue::Bits(vec![false])),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            v.decode(&RawValue::Bits(vec![true, false])),
            Err(MappingError::WrongShape {
                expected: RawShape::Bits(1),
                got: RawShape::Bits(2)
            })
        );
        assert_eq!(
            v.decode(&regs(&[1])),
            Err(MappingError::WrongShape {
                expected: RawShape::Bits(1),
                got: RawShape::Registers(1)
            })
        );
    }

    #[test]
    fn scale_multiplies_and_stays_decimal() {
        let v = var(DataType::U16, ModbusTable::HoldingRegister, 0.1);
        assert_eq!(v.decode(&regs(&[2301])), Ok(Value::Number(230.1)));
        assert_eq!(
            v.decode(&regs(&[2301])).map(|v| v.to_string()),
            Ok("230.1".into())
        );
        let v = var(DataType::I16, ModbusTable::InputRegister, 0.01);
        assert_eq!(v.decode(&regs(&[(-5i16) as u16])), Ok(Value::Number(-0.05)));
        let v = var(DataType::U32, ModbusTable::HoldingRegister, 0.001);
        assert_eq!(
            v.decode(&regs(&[0xFFFF, 0xFFFF])),
            Ok(Value::Number(4_294_967.295))
        );
        let v = var(DataType::I16, ModbusTable::HoldingRegister, -1.0);
        assert_eq!(v.decode(&regs(&[0])).map(|v| v.to_string()), Ok("0".into()));
    }

    #[test]
    fn enum_hit_and_miss() {
        let mut v = holding(DataType::U16);
        v.ocpp_name = OcppName::ConnectorStatus;
        v.enum_map = BTreeMap::from([(0, "Available".into()), (1, "Occupied".into())]);
        assert_eq!(v.decode(&regs(&[1])), Ok(Value::Text("Occupied".into())));
        assert_eq!(
            v.decode(&regs(&[7])),
            Err(MappingError::NotInEnum { value: 7 })
        );
        v.data_type = DataType::I16;
        v.enum_map.insert(-1, "Faulted".into());
        assert_eq!(
            v.decode(&regs(&[0xFFFF])),
            Ok(Value::Text("Faulted".into()))
        );
    }

    #[test]
    fn wrong_register_count_or_kind() {
        assert_eq!(
            holding(DataType::U32).decode(&regs(&[1])),
            Err(MappingError::WrongShape {
                expected: RawShape::Registers(2),
                got: RawShape::Registers(1)
            })
        );
        assert_eq!(
            holding(DataType::U16).decode(&regs(&[])),
            Err(MappingError::WrongShape {
                expected: RawShape::Registers(1),
                got: RawShape::Registers(0)
            })
        );
        assert_eq!(
            holding(DataType::F32).decode(&RawValue::Bits(vec![true, true])),
            Err(MappingError::WrongShape {
                expected: RawShape::Registers(2),
                got: RawShape::Bits(2)
            })
        );
    }

    #[test]
    fn register_read_and_lookup() {
        let t = Template {
            id: "t".into(),
            description: String::new(),
            vendor_name: None,
            model: None,
            variables: vec![holding(DataType::U16), holding(DataType::F32)],
        };
        let (i, v) = match t.variable(&OcppName::Measurand("Voltage".into())) {
            Some(found) => found,
            None => panic!("Voltage not found"),
        };
        assert_eq!(i, 0);
        assert_eq!(
            t.variables[1].register_read(1),
            RegisterRead {
                var: 1,
                table: ModbusTable::HoldingRegister,
                address: 7,
                count: 2,
                class: PollClass::Fast,
            }
        );
        assert_eq!(v.register_read(0).count, 1);
        assert_eq!(t.variable(&OcppName::ConnectorStatus), None);
    }
}
