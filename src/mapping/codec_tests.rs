//! Conversion tests: every type × order, scale/offset round trips, enums both ways, bits,
//! ECHONET Lite EDT layouts, and every refusal.

use std::collections::BTreeMap;

use super::*;
use crate::device::PollClass;
use crate::mapping::{Access, OcppName, Order};

fn modbus(data_type: DataType, table: ModbusTable, order: Order) -> Variable {
    let count = data_type.registers().unwrap_or(4);
    Variable {
        ocpp_name: OcppName::Vendor("X".into()),
        phase: None,
        source: Source::Modbus {
            table,
            address: 7,
            count,
            order,
        },
        data_type,
        bit: None,
        access: Access::ReadWrite,
        poll: PollClass::Fast,
        scale: 1.0,
        offset_value: 0.0,
        unit: None,
        enum_map: BTreeMap::new(),
        min: None,
        max: None,
        component: "t".into(),
        variable: "X".into(),
    }
}

fn holding(data_type: DataType) -> Variable {
    modbus(data_type, ModbusTable::HoldingRegister, Order::Abcd)
}

fn echonet(data_type: DataType, offset: u8, len: Option<u8>) -> Variable {
    let mut v = holding(data_type);
    v.source = Source::Echonet {
        epc: 0xC7,
        offset,
        len,
    };
    v
}

fn regs(words: &[u16]) -> RawValue {
    RawValue::Registers(words.to_vec())
}

fn num(n: f64) -> Result<Value, MappingError> {
    Ok(Value::Number(n))
}

fn written_words(v: &Variable, value: &Value) -> Vec<u16> {
    match v.encode(value) {
        Ok(WriteValue::Registers { address: 7, values }) => values,
        other => panic!("{value:?}: {other:?}"),
    }
}

/// Each numeric type's bytes for a sample value, most significant first.
fn samples() -> Vec<(DataType, Vec<u8>, f64)> {
    vec![
        (DataType::U16, vec![0xFF, 0xFE], 65534.0),
        (DataType::I16, vec![0xFF, 0xFE], -2.0),
        (DataType::U32, vec![0x00, 0x01, 0x00, 0x02], 65538.0),
        (DataType::I32, vec![0xFF, 0xFF, 0xFF, 0xFE], -2.0),
        (DataType::F32, 7360.5f32.to_be_bytes().to_vec(), 7360.5),
        (DataType::U64, vec![0, 0, 0, 1, 0, 0, 0, 2], 4_294_967_298.0),
        (DataType::I64, (-3i64).to_be_bytes().to_vec(), -3.0),
        (DataType::F64, (-1.25f64).to_be_bytes().to_vec(), -1.25),
    ]
}

#[test]
fn every_modbus_type_in_every_order_reads_and_writes_back() {
    for order in [Order::Abcd, Order::Cdab, Order::Badc, Order::Dcba] {
        for (data_type, bytes, value) in samples() {
            let v = modbus(data_type, ModbusTable::HoldingRegister, order);
            let words = order.bytes_to_words(&bytes);
            let what = format!("{} {}", data_type.name(), order.name());
            assert_eq!(v.decode(&regs(&words)), num(value), "{what}");
            assert_eq!(written_words(&v, &Value::Number(value)), words, "{what}");
        }
    }
}

#[test]
fn thirty_two_bit_orders_on_the_wire() {
    let v = |order| modbus(DataType::U32, ModbusTable::InputRegister, order);
    assert_eq!(
        v(Order::Abcd).decode(&regs(&[0x0001, 0x0002])),
        num(65538.0)
    );
    assert_eq!(
        v(Order::Cdab).decode(&regs(&[0x0002, 0x0001])),
        num(65538.0)
    );
    assert_eq!(
        v(Order::Badc).decode(&regs(&[0x0100, 0x0200])),
        num(65538.0)
    );
    assert_eq!(
        v(Order::Dcba).decode(&regs(&[0x0200, 0x0100])),
        num(65538.0)
    );
    let bits = 0.1f32.to_bits();
    let f = modbus(DataType::F32, ModbusTable::HoldingRegister, Order::Cdab);
    assert_eq!(
        f.decode(&regs(&[bits as u16, (bits >> 16) as u16])),
        num(0.1)
    );
}

#[test]
fn sixteen_bit_extremes() {
    assert_eq!(
        holding(DataType::U16).decode(&regs(&[0xFFFF])),
        num(65535.0)
    );
    assert_eq!(
        holding(DataType::I16).decode(&regs(&[0x8000])),
        num(-32768.0)
    );
    assert_eq!(
        holding(DataType::I16).decode(&regs(&[0x7FFF])),
        num(32767.0)
    );
    let swapped = modbus(DataType::U16, ModbusTable::HoldingRegister, Order::Badc);
    assert_eq!(swapped.decode(&regs(&[0x3412])), num(4660.0));
}

#[test]
fn non_finite_floats_are_refused() {
    let nan = f32::NAN.to_bits();
    assert_eq!(
        holding(DataType::F32).decode(&regs(&[(nan >> 16) as u16, nan as u16])),
        Err(MappingError::NotFinite)
    );
    let inf = f64::INFINITY.to_bits().to_be_bytes();
    assert_eq!(
        holding(DataType::F64).decode(&regs(&Order::Abcd.bytes_to_words(&inf))),
        Err(MappingError::NotFinite)
    );
}

#[test]
fn scale_and_offset_round_trip() {
    let mut v = holding(DataType::I16);
    v.scale = 0.1;
    v.offset_value = -40.0;
    // 0.1 °C steps from -40 °C: 652 → 25.2
    assert_eq!(v.decode(&regs(&[652])), num(25.2));
    assert_eq!(written_words(&v, &Value::Number(25.2)), [652]);
    assert_eq!(written_words(&v, &Value::Number(-40.0)), [0]);
    // Between two device steps: the nearest one.
    assert_eq!(written_words(&v, &Value::Number(25.24)), [652]);
    let mut energy = holding(DataType::I32);
    energy.scale = 10.0; // 0.01 kWh → Wh
    assert_eq!(energy.decode(&regs(&[0, 12345])), num(123450.0));
    assert_eq!(written_words(&energy, &Value::Number(123450.0)), [0, 12345]);
    let mut tenths = holding(DataType::U32);
    tenths.scale = 0.001;
    assert_eq!(tenths.decode(&regs(&[0xFFFF, 0xFFFF])), num(4_294_967.295));
    let mut neg = holding(DataType::I16);
    neg.scale = -1.0;
    assert_eq!(
        neg.decode(&regs(&[0])).map(|v| v.to_string()),
        Ok("0".into())
    );
}

#[test]
fn writes_check_template_and_type_ranges() {
    let mut v = holding(DataType::U16);
    v.scale = 0.1;
    v.min = Some(6.0);
    v.max = Some(32.0);
    assert_eq!(written_words(&v, &Value::Number(16.0)), [160]);
    assert_eq!(
        v.encode(&Value::Number(5.9)),
        Err(MappingError::BelowMin {
            value: 5.9,
            min: 6.0
        })
    );
    assert_eq!(
        v.encode(&Value::Number(32.5)),
        Err(MappingError::AboveMax {
            value: 32.5,
            max: 32.0
        })
    );
    let plain = holding(DataType::U16);
    assert_eq!(
        plain.encode(&Value::Number(65536.0)),
        Err(MappingError::DeviceRange {
            value: 65536.0,
            data_type: "uint16"
        })
    );
    assert_eq!(
        plain.encode(&Value::Number(-1.0)),
        Err(MappingError::DeviceRange {
            value: -1.0,
            data_type: "uint16"
        })
    );
    assert_eq!(
        holding(DataType::F32).encode(&Value::Number(1e39)),
        Err(MappingError::DeviceRange {
            value: 1e39,
            data_type: "float32"
        })
    );
    assert_eq!(
        plain.encode(&Value::Text("7".into())),
        Err(MappingError::WrongValue {
            got: "7".into(),
            expected: "a number"
        })
    );
}

#[test]
fn enums_both_ways() {
    let mut v = holding(DataType::U16);
    v.ocpp_name = OcppName::ControlCharging;
    v.enum_map = BTreeMap::from([(1, "Start".into()), (2, "Stop".into())]);
    assert_eq!(v.decode(&regs(&[2])), Ok(Value::Text("Stop".into())));
    assert_eq!(
        v.decode(&regs(&[7])),
        Err(MappingError::NotInEnum { value: 7 })
    );
    assert_eq!(written_words(&v, &Value::Text("Start".into())), [1]);
    assert_eq!(
        v.encode(&Value::Text("Pause".into())),
        Err(MappingError::NoEnumEntry {
            text: "Pause".into()
        })
    );
    assert_eq!(
        v.encode(&Value::Number(1.0)),
        Err(MappingError::WrongValue {
            got: "1".into(),
            expected: "one of the enum texts"
        })
    );
    let mut signed = holding(DataType::I16);
    signed.enum_map = BTreeMap::from([(-1, "Faulted".into())]);
    assert_eq!(
        signed.decode(&regs(&[0xFFFF])),
        Ok(Value::Text("Faulted".into()))
    );
    assert_eq!(
        written_words(&signed, &Value::Text("Faulted".into())),
        [0xFFFF]
    );
}

#[test]
fn bits_of_a_register() {
    let mut v = modbus(DataType::U16, ModbusTable::InputRegister, Order::Abcd);
    v.access = Access::Read;
    v.bit = Some(3);
    assert_eq!(v.decode(&regs(&[0b1000])), Ok(Value::Bool(true)));
    assert_eq!(v.decode(&regs(&[0b0111])), Ok(Value::Bool(false)));
    v.bit = Some(15);
    assert_eq!(v.decode(&regs(&[0x8000])), Ok(Value::Bool(true)));
    v.enum_map = BTreeMap::from([(0, "false".into()), (1, "true".into())]);
    assert_eq!(v.decode(&regs(&[0x8000])), Ok(Value::Text("true".into())));
    v.access = Access::ReadWrite;
    assert_eq!(
        v.encode(&Value::Text("true".into())),
        Err(MappingError::NotWritable)
    );
    let mut signed = holding(DataType::I16);
    signed.bit = Some(15);
    assert_eq!(signed.decode(&regs(&[0x8000])), Ok(Value::Bool(true)));
}

#[test]
fn coils_read_and_write_one_bit() {
    let v = modbus(DataType::Bool, ModbusTable::Coil, Order::Abcd);
    assert_eq!(v.decode(&RawValue::Bits(vec![true])), Ok(Value::Bool(true)));
    assert_eq!(
        v.encode(&Value::Bool(true)),
        Ok(WriteValue::Coils {
            address: 7,
            values: vec![true]
        })
    );
    let mut start_stop = v.clone();
    start_stop.enum_map = BTreeMap::from([(0, "Stop".into()), (1, "Start".into())]);
    assert_eq!(
        start_stop.encode(&Value::Text("Stop".into())),
        Ok(WriteValue::Coils {
            address: 7,
            values: vec![false]
        })
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
fn read_only_tables_and_access_refuse_writes() {
    let input = modbus(DataType::U16, ModbusTable::InputRegister, Order::Abcd);
    assert_eq!(
        input.encode(&Value::Number(1.0)),
        Err(MappingError::NotWritable)
    );
    let mut read = holding(DataType::U16);
    read.access = Access::Read;
    assert_eq!(
        read.encode(&Value::Number(1.0)),
        Err(MappingError::NotWritable)
    );
}

#[test]
fn modbus_strings() {
    let mut v = holding(DataType::String);
    v.source = Source::Modbus {
        table: ModbusTable::HoldingRegister,
        address: 7,
        count: 3,
        order: Order::Abcd,
    };
    assert_eq!(
        v.decode(&regs(&[0x4142, 0x4344, 0x0000])),
        Ok(Value::Text("ABCD".into()))
    );
    assert_eq!(
        v.decode(&regs(&[0x4142, 0x2020, 0x2020])),
        Ok(Value::Text("AB".into()))
    );
    assert_eq!(
        written_words(&v, &Value::Text("ABC".into())),
        [0x4142, 0x4300, 0x0000]
    );
    assert_eq!(
        v.encode(&Value::Text("ABCDEFG".into())),
        Err(MappingError::TooLong { len: 7, max: 6 })
    );
    v.source = Source::Modbus {
        table: ModbusTable::HoldingRegister,
        address: 7,
        count: 2,
        order: Order::Badc,
    };
    assert_eq!(
        v.decode(&regs(&[0x4241, 0x0043])),
        Ok(Value::Text("ABC".into()))
    );
}

#[test]
fn echonet_numbers_are_big_endian_at_an_offset() {
    let power = echonet(DataType::U32, 0, Some(4));
    assert_eq!(
        power.decode(&RawValue::Bytes(vec![0, 0, 0x1C, 0xC0])),
        num(7360.0)
    );
    // 0xC8: min and max charging power, two uint32 in one EDT.
    let max = echonet(DataType::U32, 4, Some(4));
    let edt = RawValue::Bytes(vec![0, 0, 0x05, 0xDC, 0, 0, 0x1C, 0xC0]);
    assert_eq!(max.decode(&edt), num(7360.0));
    let signed = echonet(DataType::I32, 0, Some(4));
    assert_eq!(
        signed.decode(&RawValue::Bytes(vec![0xFF, 0xFF, 0xFC, 0x18])),
        num(-1000.0)
    );
    let short = echonet(DataType::I8, 0, Some(1));
    assert_eq!(short.decode(&RawValue::Bytes(vec![0x80])), num(-128.0));
    assert_eq!(
        max.decode(&RawValue::Bytes(vec![0, 0, 0, 1, 0, 0])),
        Err(MappingError::WrongShape {
            expected: RawShape::Bytes(8),
            got: RawShape::Bytes(6)
        })
    );
    assert_eq!(
        max.decode(&regs(&[1, 2])),
        Err(MappingError::WrongShape {
            expected: RawShape::Bytes(8),
            got: RawShape::Registers(2)
        })
    );
}

#[test]
fn echonet_enums_scale_and_writes() {
    let mut status = echonet(DataType::U8, 0, Some(1));
    status.enum_map = BTreeMap::from([
        (0x30, "false".into()),
        (0x40, "true".into()),
        (0x41, "true".into()),
    ]);
    assert_eq!(
        status.decode(&RawValue::Bytes(vec![0x41])),
        Ok(Value::Text("true".into()))
    );
    let mut current = echonet(DataType::U16, 0, Some(2));
    current.source = Source::Echonet {
        epc: 0xED,
        offset: 0,
        len: Some(2),
    };
    current.scale = 0.1;
    assert_eq!(
        current.decode(&RawValue::Bytes(vec![0x00, 0xA0])),
        num(16.0)
    );
    assert_eq!(
        current.encode(&Value::Number(16.0)),
        Ok(WriteValue::Epc {
            epc: 0xED,
            edt: vec![0x00, 0xA0]
        })
    );
    let part = echonet(DataType::U32, 4, Some(4));
    assert_eq!(
        part.encode(&Value::Number(1.0)),
        Err(MappingError::NotWritable)
    );
}

#[test]
fn echonet_text_and_bytes() {
    let id = echonet(DataType::Bytes, 1, None);
    assert_eq!(
        id.decode(&RawValue::Bytes(vec![3, 0xDE, 0xAD, 0x01])),
        Ok(Value::Text("DEAD01".into()))
    );
    let raw = echonet(DataType::Bytes, 0, None);
    assert_eq!(
        raw.encode(&Value::Text("0aFF".into())),
        Ok(WriteValue::Epc {
            epc: 0xC7,
            edt: vec![0x0A, 0xFF]
        })
    );
    assert_eq!(
        raw.encode(&Value::Text("ABC".into())),
        Err(MappingError::WrongValue {
            got: "ABC".into(),
            expected: "hex digits in pairs"
        })
    );
    let name = echonet(DataType::String, 0, Some(4));
    assert_eq!(
        name.decode(&RawValue::Bytes(b"EV1\0".to_vec())),
        Ok(Value::Text("EV1".into()))
    );
    assert_eq!(
        name.encode(&Value::Text("EV".into())),
        Ok(WriteValue::Epc {
            epc: 0xC7,
            edt: b"EV\0\0".to_vec()
        })
    );
}

#[test]
fn parse_value_follows_the_value_kind() {
    let mut v = holding(DataType::U16);
    assert_eq!(v.value_kind(), ValueKind::Integer);
    assert_eq!(v.parse_value(" 16 "), num(16.0));
    assert_eq!(
        v.parse_value("x"),
        Err(MappingError::WrongValue {
            got: "x".into(),
            expected: "a number"
        })
    );
    v.scale = 0.1;
    assert_eq!(v.value_kind(), ValueKind::Decimal);
    v.enum_map = BTreeMap::from([(0, "Stop".into()), (1, "Start".into()), (2, "Stop".into())]);
    assert_eq!(
        v.value_kind(),
        ValueKind::Options(vec!["Stop".into(), "Start".into()])
    );
    assert_eq!(v.parse_value("Start"), Ok(Value::Text("Start".into())));
    assert_eq!(
        v.parse_value("Go"),
        Err(MappingError::NoEnumEntry { text: "Go".into() })
    );
    let coil = modbus(DataType::Bool, ModbusTable::Coil, Order::Abcd);
    assert_eq!(coil.value_kind(), ValueKind::Boolean);
    assert_eq!(coil.parse_value("true"), Ok(Value::Bool(true)));
    assert!(coil.parse_value("1").is_err());
    let text = holding(DataType::String);
    assert_eq!(text.value_kind(), ValueKind::Text);
    assert_eq!(text.parse_value("A B"), Ok(Value::Text("A B".into())));
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
    assert_eq!(
        holding(DataType::U16).decode(&RawValue::Bytes(vec![1, 2])),
        Err(MappingError::WrongShape {
            expected: RawShape::Registers(1),
            got: RawShape::Bytes(2)
        })
    );
}

#[test]
fn reads_follow_access_and_poll_class() {
    let mut v = holding(DataType::U32);
    v.poll = PollClass::Slow;
    v.access = Access::Read;
    assert_eq!(
        v.register_read(3),
        Some(crate::device::RegisterRead {
            var: 3,
            table: ModbusTable::HoldingRegister,
            address: 7,
            count: 2,
            class: PollClass::Slow,
        })
    );
    assert_eq!(v.epc_read(3), None);
    assert_eq!(v.mutability(), crate::mapping::Mutability::ReadOnly);
    v.access = Access::Write;
    assert_eq!(v.register_read(3), None);
    assert_eq!(v.mutability(), crate::mapping::Mutability::WriteOnly);
    let el = echonet(DataType::U8, 0, Some(1));
    assert_eq!(
        el.epc_read(1),
        Some(crate::device::EpcRead {
            var: 1,
            epc: 0xC7,
            class: PollClass::Fast
        })
    );
    assert_eq!(el.register_read(1), None);
    assert_eq!(el.mutability(), crate::mapping::Mutability::ReadWrite);
}
