//! The OCPP names a template may map: semantic roles the station understands, measurands, and
//! vendor variables. Each role says which way its value flows, what values it takes, and where
//! it appears in the OCPP device model unless the template says otherwise.

use std::fmt;

/// Values a `Connector.Status` enum may produce (OCPP 2.0.1 ConnectorStatusEnumType).
pub const CONNECTOR_STATUSES: &[&str] = &[
    "Available",
    "Occupied",
    "Reserved",
    "Unavailable",
    "Faulted",
];
/// Values an `EVSE.ChargingState` enum may produce (OCPP 2.0.1 ChargingStateEnumType).
pub const CHARGING_STATES: &[&str] = &[
    "Charging",
    "EVConnected",
    "SuspendedEV",
    "SuspendedEVSE",
    "Idle",
];
/// Values an `EVSE.VehicleConnected` enum must produce, both of them.
pub const BOOLEAN_TEXTS: &[&str] = &["true", "false"];
/// Commands a `Control.Availability` enum must map to device values, all of them.
pub const AVAILABILITY_COMMANDS: &[&str] = &["Operative", "Inoperative"];
/// Commands a `Control.Charging` enum must map to device values, all of them.
pub const CHARGING_COMMANDS: &[&str] = &["Start", "Stop"];
/// The command a `Control.Reset` enum must map to a device value.
pub const RESET_COMMANDS: &[&str] = &["Reset"];
/// The command a `Control.Unlock` enum must map to a device value.
pub const UNLOCK_COMMANDS: &[&str] = &["Unlock"];

/// The config-side prefix of measurand names (`MeterValue.Voltage`).
const MEASURAND_PREFIX: &str = "MeterValue.";
/// The config-side prefix of vendor variables (`Vendor.Temperature`).
const VENDOR_PREFIX: &str = "Vendor.";
/// Longest OCPP variable name (VariableType.name), which a vendor name becomes.
pub const MAX_NAME: usize = 50;

/// OCPP 2.0.1 MeasurandEnumType (MeterValuesRequest), as OCPP spells them.
const MEASURANDS: &[&str] = &[
    "Current.Export",
    "Current.Import",
    "Current.Offered",
    "Energy.Active.Export.Register",
    "Energy.Active.Import.Register",
    "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register",
    "Energy.Active.Export.Interval",
    "Energy.Active.Import.Interval",
    "Energy.Active.Net",
    "Energy.Reactive.Export.Interval",
    "Energy.Reactive.Import.Interval",
    "Energy.Reactive.Net",
    "Energy.Apparent.Net",
    "Energy.Apparent.Import",
    "Energy.Apparent.Export",
    "Frequency",
    "Power.Active.Export",
    "Power.Active.Import",
    "Power.Factor",
    "Power.Offered",
    "Power.Reactive.Export",
    "Power.Reactive.Import",
    "SoC",
    "Voltage",
];

/// What a template variable means to OCPP.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OcppName {
    /// `Connector.Status` (also `AvailabilityState`): the status for StatusNotification.
    ConnectorStatus,
    /// `EVSE.VehicleConnected`: whether a vehicle is plugged in.
    VehicleConnected,
    /// `EVSE.ChargingState`: the OCPP charging state of the EVSE.
    ChargingState,
    /// `EVSE.Fault`: a fault code or text; non-zero, `true` or non-empty means faulted.
    Fault,
    /// `MeterValue.<measurand>`, holding the OCPP spelling without prefix.
    Measurand(String),
    /// `Auth.IdToken`: a token presented at the charger's reader.
    IdToken,
    /// `Control.Availability`: make the charger Operative or Inoperative.
    ControlAvailability,
    /// `Control.Charging`: Start or Stop charging.
    ControlCharging,
    /// `Control.CurrentLimit`: charging current limit in A.
    ControlCurrentLimit,
    /// `Control.PowerLimit`: charging power limit in W.
    ControlPowerLimit,
    /// `Control.Reset`: restart the charger.
    ControlReset,
    /// `Control.Unlock`: release the connector.
    ControlUnlock,
    /// `Identity.SerialNumber`: the charger's serial number, for BootNotification.
    IdentitySerialNumber,
    /// `Identity.FirmwareVersion`: the charger's firmware version, for BootNotification.
    IdentityFirmwareVersion,
    /// `Vendor.<name>`: a device value with no OCPP meaning, exposed in the device model only.
    Vendor(String),
}

/// Which way a name's value flows, and so which `access` it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Read from the device (`access` read or read_write).
    Read,
    /// Written to the device (`access` write or read_write).
    Write,
    /// Either way (vendor variables).
    Either,
}

/// What values a name takes from its template variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRule {
    /// An `enum` onto these texts is required; with `cover`, every text must be listed.
    Enum {
        texts: &'static [&'static str],
        cover: bool,
    },
    /// A `bool` or `bit`, or an `enum` listing both of these texts.
    BoolOrEnum(&'static [&'static str]),
    /// A plain number: no `enum`, no `bool`, no text.
    Number,
    /// A number, a `bool`/`bit`, or an `enum` with any texts (a fault code).
    Code,
    /// A `string` or `bytes`.
    Text,
    /// Anything.
    Any,
}

/// Fixed names, their meaning, and their default device-model component and variable.
const ROLES: &[(&str, OcppName, &str, &str)] = &[
    (
        "Connector.Status",
        OcppName::ConnectorStatus,
        "Connector",
        "AvailabilityState",
    ),
    (
        "AvailabilityState",
        OcppName::ConnectorStatus,
        "Connector",
        "AvailabilityState",
    ),
    (
        "EVSE.VehicleConnected",
        OcppName::VehicleConnected,
        "EVSE",
        "VehicleConnected",
    ),
    (
        "EVSE.ChargingState",
        OcppName::ChargingState,
        "EVSE",
        "ChargingState",
    ),
    ("EVSE.Fault", OcppName::Fault, "EVSE", "Fault"),
    ("Auth.IdToken", OcppName::IdToken, "TokenReader", "Token"),
    (
        "Control.Availability",
        OcppName::ControlAvailability,
        "EVSE",
        "Availability",
    ),
    (
        "Control.Charging",
        OcppName::ControlCharging,
        "EVSE",
        "Charging",
    ),
    (
        "Control.CurrentLimit",
        OcppName::ControlCurrentLimit,
        "EVSE",
        "CurrentLimit",
    ),
    (
        "Control.PowerLimit",
        OcppName::ControlPowerLimit,
        "EVSE",
        "PowerLimit",
    ),
    ("Control.Reset", OcppName::ControlReset, "EVSE", "Reset"),
    (
        "Control.Unlock",
        OcppName::ControlUnlock,
        "Connector",
        "Unlock",
    ),
    (
        "Identity.SerialNumber",
        OcppName::IdentitySerialNumber,
        "ChargingStation",
        "SerialNumber",
    ),
    (
        "Identity.FirmwareVersion",
        OcppName::IdentityFirmwareVersion,
        "ChargingStation",
        "FirmwareVersion",
    ),
];

impl OcppName {
    /// Looks `name` up (exact spelling): a role, `MeterValue.<measurand>` or `Vendor.<name>`.
    pub fn parse(name: &str) -> Option<OcppName> {
        if let Some((_, role, _, _)) = ROLES.iter().find(|(n, ..)| *n == name) {
            return Some(role.clone());
        }
        if let Some(m) = name.strip_prefix(MEASURAND_PREFIX) {
            return MEASURANDS
                .contains(&m)
                .then(|| OcppName::Measurand(m.to_string()));
        }
        let vendor = name.strip_prefix(VENDOR_PREFIX)?;
        let ok = (1..=MAX_NAME).contains(&vendor.len())
            && vendor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| OcppName::Vendor(vendor.to_string()))
    }

    /// Every accepted fixed name and measurand, then the vendor form, for error messages.
    pub fn known_names() -> impl Iterator<Item = String> {
        let roles = ROLES.iter().map(|(n, ..)| n.to_string());
        let measurands = MEASURANDS.iter().map(|m| format!("{MEASURAND_PREFIX}{m}"));
        roles
            .chain(measurands)
            .chain(std::iter::once(format!("{VENDOR_PREFIX}<name>")))
    }

    /// The canonical name: the role (`EVSE.Fault`), the measurand as OCPP spells it, or the
    /// vendor name without prefix.
    pub fn as_str(&self) -> &str {
        match self {
            OcppName::Measurand(m) | OcppName::Vendor(m) => m,
            role => ROLES
                .iter()
                .find(|(_, r, ..)| r == role)
                .map_or("?", |(n, ..)| *n),
        }
    }

    /// Which way the value flows.
    pub fn direction(&self) -> Direction {
        match self {
            OcppName::ConnectorStatus
            | OcppName::VehicleConnected
            | OcppName::ChargingState
            | OcppName::Fault
            | OcppName::Measurand(_)
            | OcppName::IdToken
            | OcppName::IdentitySerialNumber
            | OcppName::IdentityFirmwareVersion => Direction::Read,
            OcppName::ControlAvailability
            | OcppName::ControlCharging
            | OcppName::ControlCurrentLimit
            | OcppName::ControlPowerLimit
            | OcppName::ControlReset
            | OcppName::ControlUnlock => Direction::Write,
            OcppName::Vendor(_) => Direction::Either,
        }
    }

    /// What values the name takes.
    pub fn value_rule(&self) -> ValueRule {
        let exact = |texts| ValueRule::Enum { texts, cover: true };
        match self {
            OcppName::ConnectorStatus => ValueRule::Enum {
                texts: CONNECTOR_STATUSES,
                cover: false,
            },
            OcppName::ChargingState => ValueRule::Enum {
                texts: CHARGING_STATES,
                cover: false,
            },
            OcppName::VehicleConnected => ValueRule::BoolOrEnum(BOOLEAN_TEXTS),
            OcppName::Fault => ValueRule::Code,
            OcppName::Measurand(_)
            | OcppName::ControlCurrentLimit
            | OcppName::ControlPowerLimit => ValueRule::Number,
            OcppName::IdToken => ValueRule::Text,
            OcppName::ControlAvailability => exact(AVAILABILITY_COMMANDS),
            OcppName::ControlCharging => exact(CHARGING_COMMANDS),
            OcppName::ControlReset => exact(RESET_COMMANDS),
            OcppName::ControlUnlock => exact(UNLOCK_COMMANDS),
            // A version or serial may be a number register as well as a string.
            OcppName::Vendor(_)
            | OcppName::IdentitySerialNumber
            | OcppName::IdentityFirmwareVersion => ValueRule::Any,
        }
    }

    /// The texts an `enum` of this name maps onto, where they are fixed.
    pub fn enum_values(&self) -> Option<&'static [&'static str]> {
        match self.value_rule() {
            ValueRule::Enum { texts, .. } | ValueRule::BoolOrEnum(texts) => Some(texts),
            ValueRule::Number | ValueRule::Code | ValueRule::Text | ValueRule::Any => None,
        }
    }

    /// The device-model component a variable of this name appears under by default; `None`
    /// means the template's vendor component (named after the template id).
    pub fn default_component(&self) -> Option<&'static str> {
        match self {
            OcppName::Measurand(_) => Some("EVSE"),
            OcppName::Vendor(_) => None,
            role => ROLES
                .iter()
                .find(|(_, r, ..)| r == role)
                .map(|(_, _, c, _)| *c),
        }
    }

    /// The device-model variable name by default: the role's, `Power` for the active import
    /// power (the EVSE's standard Power variable), the measurand, or the vendor name.
    pub fn default_variable(&self) -> &str {
        match self {
            OcppName::Measurand(m) if m == "Power.Active.Import" => "Power",
            OcppName::Measurand(m) | OcppName::Vendor(m) => m,
            role => ROLES
                .iter()
                .find(|(_, r, ..)| r == role)
                .map_or("?", |(_, _, _, v)| *v),
        }
    }
}

/// The name as written in a template (`Connector.Status`, `MeterValue.Voltage`, `Vendor.X`).
impl fmt::Display for OcppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OcppName::Measurand(m) => write!(f, "{MEASURAND_PREFIX}{m}"),
            OcppName::Vendor(v) => write!(f, "{VENDOR_PREFIX}{v}"),
            role => f.write_str(role.as_str()),
        }
    }
}

/// The phase a measurand was taken on (OCPP 2.0.1 PhaseEnumType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    L1,
    L2,
    L3,
    N,
    L1N,
    L2N,
    L3N,
    L1L2,
    L2L3,
    L3L1,
}

/// OCPP spellings, in the order error messages list them.
const PHASES: &[(&str, Phase)] = &[
    ("L1", Phase::L1),
    ("L2", Phase::L2),
    ("L3", Phase::L3),
    ("N", Phase::N),
    ("L1-N", Phase::L1N),
    ("L2-N", Phase::L2N),
    ("L3-N", Phase::L3N),
    ("L1-L2", Phase::L1L2),
    ("L2-L3", Phase::L2L3),
    ("L3-L1", Phase::L3L1),
];

impl Phase {
    /// Parses the OCPP spelling (`L1`, `L1-N`, …).
    pub fn from_name(name: &str) -> Option<Phase> {
        PHASES.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    /// Every OCPP spelling, for error messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        PHASES.iter().map(|(n, _)| *n)
    }

    /// The OCPP spelling.
    pub fn as_str(self) -> &'static str {
        PHASES
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |(n, _)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_status_has_two_spellings() {
        assert_eq!(
            OcppName::parse("Connector.Status"),
            Some(OcppName::ConnectorStatus)
        );
        assert_eq!(
            OcppName::parse("AvailabilityState"),
            Some(OcppName::ConnectorStatus)
        );
        assert_eq!(OcppName::ConnectorStatus.as_str(), "Connector.Status");
        assert_eq!(
            OcppName::ConnectorStatus.enum_values(),
            Some(CONNECTOR_STATUSES)
        );
    }

    #[test]
    fn measurands_parse_with_prefix_only() {
        let name = OcppName::parse("MeterValue.Energy.Active.Import.Register");
        assert_eq!(
            name,
            Some(OcppName::Measurand("Energy.Active.Import.Register".into()))
        );
        let name = name.unwrap_or(OcppName::ConnectorStatus);
        assert_eq!(name.as_str(), "Energy.Active.Import.Register");
        assert_eq!(name.to_string(), "MeterValue.Energy.Active.Import.Register");
        assert_eq!(name.enum_values(), None);
        assert_eq!(name.value_rule(), ValueRule::Number);
        assert_eq!(OcppName::parse("Energy.Active.Import.Register"), None);
        assert_eq!(OcppName::parse("MeterValue.Temperature"), None);
        assert_eq!(OcppName::parse("connector.status"), None);
    }

    #[test]
    fn vendor_names() {
        assert_eq!(
            OcppName::parse("Vendor.Temperature"),
            Some(OcppName::Vendor("Temperature".into()))
        );
        assert_eq!(
            OcppName::parse("Vendor.Temperature").map(|n| n.to_string()),
            Some("Vendor.Temperature".into())
        );
        assert_eq!(OcppName::parse("Vendor."), None);
        assert_eq!(OcppName::parse("Vendor.a b"), None);
        assert_eq!(OcppName::parse(&format!("Vendor.{}", "x".repeat(51))), None);
        let v = OcppName::Vendor("Temp".into());
        assert_eq!(
            (v.default_component(), v.default_variable()),
            (None, "Temp")
        );
        assert_eq!(v.direction(), Direction::Either);
    }

    #[test]
    fn every_known_name_round_trips() {
        let names: Vec<_> = OcppName::known_names().collect();
        assert_eq!(names.len(), ROLES.len() + MEASURANDS.len() + 1);
        for n in names.iter().filter(|n| !n.ends_with("<name>")) {
            let parsed = OcppName::parse(n);
            assert!(parsed.is_some(), "{n}");
            if n != "AvailabilityState" {
                assert_eq!(parsed.map(|p| p.to_string()).as_ref(), Some(n));
            }
        }
    }

    #[test]
    fn roles_have_directions_rules_and_defaults() {
        let cases = [
            (
                "EVSE.VehicleConnected",
                Direction::Read,
                "EVSE",
                "VehicleConnected",
            ),
            (
                "EVSE.ChargingState",
                Direction::Read,
                "EVSE",
                "ChargingState",
            ),
            ("EVSE.Fault", Direction::Read, "EVSE", "Fault"),
            ("Auth.IdToken", Direction::Read, "TokenReader", "Token"),
            ("MeterValue.Voltage", Direction::Read, "EVSE", "Voltage"),
            (
                "MeterValue.Power.Active.Import",
                Direction::Read,
                "EVSE",
                "Power",
            ),
            (
                "Control.Availability",
                Direction::Write,
                "EVSE",
                "Availability",
            ),
            ("Control.Charging", Direction::Write, "EVSE", "Charging"),
            (
                "Control.CurrentLimit",
                Direction::Write,
                "EVSE",
                "CurrentLimit",
            ),
            ("Control.PowerLimit", Direction::Write, "EVSE", "PowerLimit"),
            ("Control.Reset", Direction::Write, "EVSE", "Reset"),
            ("Control.Unlock", Direction::Write, "Connector", "Unlock"),
            (
                "Identity.SerialNumber",
                Direction::Read,
                "ChargingStation",
                "SerialNumber",
            ),
            (
                "Identity.FirmwareVersion",
                Direction::Read,
                "ChargingStation",
                "FirmwareVersion",
            ),
        ];
        for (name, direction, component, variable) in cases {
            let Some(n) = OcppName::parse(name) else {
                panic!("{name} not parsed")
            };
            assert_eq!(n.direction(), direction, "{name}");
            assert_eq!(n.default_component(), Some(component), "{name}");
            assert_eq!(n.default_variable(), variable, "{name}");
        }
        assert_eq!(
            OcppName::ControlCharging.value_rule(),
            ValueRule::Enum {
                texts: CHARGING_COMMANDS,
                cover: true
            }
        );
        assert_eq!(
            OcppName::VehicleConnected.value_rule(),
            ValueRule::BoolOrEnum(BOOLEAN_TEXTS)
        );
        assert_eq!(OcppName::Fault.value_rule(), ValueRule::Code);
        assert_eq!(OcppName::IdToken.value_rule(), ValueRule::Text);
        assert_eq!(
            OcppName::IdentityFirmwareVersion.value_rule(),
            ValueRule::Any
        );
        assert_eq!(OcppName::ChargingState.enum_values(), Some(CHARGING_STATES));
    }

    #[test]
    fn phases_round_trip() {
        for name in Phase::names() {
            assert_eq!(Phase::from_name(name).map(Phase::as_str), Some(name));
        }
        assert_eq!(Phase::from_name("l1"), None);
        assert_eq!(Phase::from_name("L1-L3"), None);
    }
}
