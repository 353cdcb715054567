//! A template: which registers or properties a charger model has and what they mean in OCPP
//! terms, and where each appears in the OCPP device model.

use std::collections::BTreeMap;

use crate::device::{EpcRead, ModbusTable, PollClass, RegisterRead};

use super::{DataType, OcppName, Order, Phase};

/// A validated mapping template (`<templates_dir>/<id>.toml`) with its parents merged in.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub id: String,
    pub description: String,
    /// The parent template (`extends`), already merged into `variables`.
    pub extends: Option<String>,
    /// For BootNotification `chargingStation.vendorName` (≤ 50 chars).
    pub vendor_name: Option<String>,
    /// For BootNotification `chargingStation.model` (≤ 20 chars).
    pub model: Option<String>,
    /// Parent variables first (overridden ones in place), then the template's own; a
    /// variable's index here is its `var` in reads and events.
    pub variables: Vec<Variable>,
}

/// One mapped value.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub ocpp_name: OcppName,
    /// The phase of a measurand.
    pub phase: Option<Phase>,
    pub source: Source,
    pub data_type: DataType,
    /// A single bit (0 = least significant) of an integer value, read as a bool or enum key.
    pub bit: Option<u8>,
    pub access: Access,
    pub poll: PollClass,
    /// OCPP value = device value × `scale` + `offset_value` (numbers only).
    pub scale: f64,
    /// Added after scaling (numbers only).
    pub offset_value: f64,
    pub unit: Option<String>,
    /// Device value → text; empty when the variable is not an enum.
    pub enum_map: BTreeMap<i64, String>,
    /// Lowest value a write may set, in OCPP units.
    pub min: Option<f64>,
    /// Highest value a write may set, in OCPP units.
    pub max: Option<f64>,
    /// OCPP device-model component.
    pub component: String,
    /// OCPP device-model variable name.
    pub variable: String,
}

/// Where a variable's raw value lives on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Modbus table, 0-based address, width in registers (bits for coils and discrete
    /// inputs), and the order of the value's bytes.
    Modbus {
        table: ModbusTable,
        address: u16,
        count: u16,
        order: Order,
    },
    /// An ECHONET Lite property: bytes `offset..offset + len` of its EDT (`len` `None`: to the
    /// end), big-endian.
    Echonet {
        epc: u8,
        offset: u8,
        len: Option<u8>,
    },
}

/// Which way a variable may be used (`access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Access {
    /// Polled, never written.
    #[default]
    Read,
    /// Written on command, never polled (e.g. a command register).
    Write,
    /// Polled and written.
    ReadWrite,
}

impl Access {
    /// Parses the template spelling (`read`, `write`, `read_write`).
    pub fn from_name(name: &str) -> Option<Access> {
        match name {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            "read_write" => Some(Access::ReadWrite),
            _ => None,
        }
    }

    /// Whether the variable is polled.
    pub fn reads(self) -> bool {
        matches!(self, Access::Read | Access::ReadWrite)
    }

    /// Whether the variable may be written.
    pub fn writes(self) -> bool {
        matches!(self, Access::Write | Access::ReadWrite)
    }
}

/// How the OCPP device model may use a variable (OCPP MutabilityEnumType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    ReadOnly,
    WriteOnly,
    ReadWrite,
}

/// The kind of value a variable carries, for the device model's dataType.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind {
    /// A whole number (an integer type with scale 1 and a whole offset).
    Integer,
    /// Any other number.
    Decimal,
    /// `true` or `false`.
    Boolean,
    /// One of the `enum` texts (OCPP OptionList), each listed once in device-value order.
    Options(Vec<String>),
    /// Free text.
    Text,
}

impl Template {
    /// The first variable mapped to `name`, with its index.
    pub fn variable(&self, name: &OcppName) -> Option<(usize, &Variable)> {
        self.variables
            .iter()
            .enumerate()
            .find(|(_, v)| v.ocpp_name == *name)
    }

    /// The variable exposed as `component`/`variable` (and `instance`) in the device model.
    pub fn exposed(
        &self,
        component: &str,
        variable: &str,
        instance: Option<&str>,
    ) -> Option<(usize, &Variable)> {
        self.variables.iter().enumerate().find(|(_, v)| {
            v.component == component && v.variable == variable && v.instance() == instance
        })
    }

    /// The Modbus reads a worker performs for this template (readable Modbus variables).
    pub fn register_reads(&self) -> Vec<RegisterRead> {
        self.variables
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.register_read(i))
            .collect()
    }

    /// The ECHONET Lite reads a worker performs for this template (readable EL variables).
    pub fn epc_reads(&self) -> Vec<EpcRead> {
        self.variables
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.epc_read(i))
            .collect()
    }
}

impl Variable {
    /// The read a Modbus worker performs for this variable, tagged with its index `var`;
    /// `None` for a write-only or non-Modbus variable.
    pub fn register_read(&self, var: usize) -> Option<RegisterRead> {
        match self.source {
            Source::Modbus {
                table,
                address,
                count,
                ..
            } if self.access.reads() => Some(RegisterRead {
                var,
                table,
                address,
                count,
                class: self.poll,
            }),
            Source::Modbus { .. } | Source::Echonet { .. } => None,
        }
    }

    /// The read an ECHONET Lite worker performs for this variable, tagged with its index `var`;
    /// `None` for a write-only or non-ECHONET variable.
    pub fn epc_read(&self, var: usize) -> Option<EpcRead> {
        match self.source {
            Source::Echonet { epc, .. } if self.access.reads() => Some(EpcRead {
                var,
                epc,
                class: self.poll,
            }),
            Source::Echonet { .. } | Source::Modbus { .. } => None,
        }
    }

    /// OCPP device-model component (e.g. `EVSE`, `Connector`, or the template's vendor one).
    pub fn component(&self) -> &str {
        &self.component
    }

    /// OCPP device-model variable name.
    pub fn variable_name(&self) -> &str {
        &self.variable
    }

    /// OCPP device-model variable instance: the phase of a measurand.
    pub fn instance(&self) -> Option<&str> {
        self.phase.map(Phase::as_str)
    }

    /// How the device model may use the variable, from its `access`.
    pub fn mutability(&self) -> Mutability {
        match self.access {
            Access::Read => Mutability::ReadOnly,
            Access::Write => Mutability::WriteOnly,
            Access::ReadWrite => Mutability::ReadWrite,
        }
    }

    /// Whether the device value is one bit (a coil, discrete input or `bit`).
    pub fn is_bit(&self) -> bool {
        self.data_type == DataType::Bool || self.bit.is_some()
    }

    /// The kind of value the variable carries.
    pub fn value_kind(&self) -> ValueKind {
        if !self.enum_map.is_empty() {
            let mut texts: Vec<String> = Vec::new();
            for text in self.enum_map.values() {
                if !texts.contains(text) {
                    texts.push(text.clone());
                }
            }
            ValueKind::Options(texts)
        } else if self.is_bit() {
            ValueKind::Boolean
        } else if self.data_type.is_text() {
            ValueKind::Text
        } else if self.data_type.integer_range().is_some()
            && self.scale == 1.0
            && self.offset_value.fract() == 0.0
        {
            ValueKind::Integer
        } else {
            ValueKind::Decimal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::ModbusTable;

    fn var(name: OcppName, phase: Option<Phase>, access: Access, address: u16) -> Variable {
        Variable {
            component: name.default_component().unwrap_or("t").to_string(),
            variable: name.default_variable().to_string(),
            ocpp_name: name,
            phase,
            source: Source::Modbus {
                table: ModbusTable::HoldingRegister,
                address,
                count: 1,
                order: Order::Abcd,
            },
            data_type: DataType::U16,
            bit: None,
            access,
            poll: PollClass::Slow,
            scale: 1.0,
            offset_value: 0.0,
            unit: None,
            enum_map: BTreeMap::new(),
            min: None,
            max: None,
        }
    }

    fn template() -> Template {
        let voltage = |phase, address| {
            var(
                OcppName::Measurand("Voltage".into()),
                Some(phase),
                Access::Read,
                address,
            )
        };
        Template {
            id: "t".into(),
            description: String::new(),
            extends: None,
            vendor_name: None,
            model: None,
            variables: vec![
                voltage(Phase::L1N, 0),
                voltage(Phase::L2N, 1),
                var(OcppName::ControlCurrentLimit, None, Access::Write, 2),
            ],
        }
    }

    #[test]
    fn lookups_by_name_and_by_device_model_identity() {
        let t = template();
        let voltage = OcppName::Measurand("Voltage".into());
        assert_eq!(t.variable(&voltage).map(|(i, _)| i), Some(0));
        assert_eq!(t.variable(&OcppName::ConnectorStatus), None);
        let l2 = t.exposed("EVSE", "Voltage", Some("L2-N"));
        assert_eq!(l2.map(|(i, v)| (i, v.instance())), Some((1, Some("L2-N"))));
        assert_eq!(t.exposed("EVSE", "Voltage", None), None);
        let limit = t.exposed("EVSE", "CurrentLimit", None);
        assert_eq!(
            limit.map(|(i, v)| (i, v.mutability())),
            Some((2, Mutability::WriteOnly))
        );
    }

    #[test]
    fn write_only_variables_are_not_polled() {
        let t = template();
        let reads = t.register_reads();
        assert_eq!(
            reads
                .iter()
                .map(|r| (r.var, r.address, r.class))
                .collect::<Vec<_>>(),
            [(0, 0, PollClass::Slow), (1, 1, PollClass::Slow)]
        );
        assert!(t.epc_reads().is_empty());
    }

    #[test]
    fn access_spellings() {
        assert_eq!(Access::from_name("read"), Some(Access::Read));
        assert_eq!(Access::from_name("write"), Some(Access::Write));
        assert_eq!(Access::from_name("read_write"), Some(Access::ReadWrite));
        assert_eq!(Access::from_name("rw"), None);
        assert!(Access::ReadWrite.reads() && Access::ReadWrite.writes());
        assert!(!Access::Write.reads() && !Access::Read.writes());
    }
}
