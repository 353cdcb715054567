//! The OCPP names a template may map, kept in one table so a new name is one line.

use std::fmt;

/// Values a `Connector.Status` enum may produce (OCPP 2.0.1 ConnectorStatusEnumType).
pub const CONNECTOR_STATUSES: &[&str] = &[
    "Available",
    "Occupied",
    "Reserved",
    "Unavailable",
    "Faulted",
];

/// The config-side prefix of measurand names (`MeterValue.Voltage`).
const MEASURAND_PREFIX: &str = "MeterValue.";

/// What an accepted `ocpp_name` stands for.
#[derive(Debug, Clone, Copy)]
enum Meaning {
    ConnectorStatus,
    Measurand(&'static str),
}

/// Builds the table; measurand rows get their `MeterValue.` name from the OCPP spelling.
macro_rules! vocabulary {
    (connector_status: [$($s:literal),* $(,)?], measurands: [$($m:literal),* $(,)?]) => {
        &[
            $(($s, Meaning::ConnectorStatus),)*
            $((concat!("MeterValue.", $m), Meaning::Measurand($m)),)*
        ]
    };
}

/// Every accepted `ocpp_name`. Measurands are OCPP 2.0.1 MeasurandEnumType (MeterValuesRequest).
const VOCABULARY: &[(&str, Meaning)] = vocabulary!(
    connector_status: ["Connector.Status", "AvailabilityState"],
    measurands: [
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
    ]
);

/// What a template variable means to OCPP.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OcppName {
    /// The connector status (`Connector.Status`, also accepted as `AvailabilityState`).
    ConnectorStatus,
    /// A sampled measurand, holding its OCPP spelling without prefix (`Energy.Active.Import.Register`).
    Measurand(String),
}

impl OcppName {
    /// Looks `name` up in the vocabulary (exact spelling).
    pub fn parse(name: &str) -> Option<OcppName> {
        VOCABULARY
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, meaning)| match meaning {
                Meaning::ConnectorStatus => OcppName::ConnectorStatus,
                Meaning::Measurand(m) => OcppName::Measurand((*m).to_string()),
            })
    }

    /// Every accepted `ocpp_name`, in table order, for error messages.
    pub fn known_names() -> impl Iterator<Item = &'static str> {
        VOCABULARY.iter().map(|(n, _)| *n)
    }

    /// The canonical OCPP name: `Connector.Status`, or the measurand as OCPP spells it.
    pub fn as_str(&self) -> &str {
        match self {
            OcppName::ConnectorStatus => "Connector.Status",
            OcppName::Measurand(m) => m,
        }
    }

    /// The strings device values must map to, for names read through an `enum`; `None` = numeric.
    pub fn enum_values(&self) -> Option<&'static [&'static str]> {
        match self {
            OcppName::ConnectorStatus => Some(CONNECTOR_STATUSES),
            OcppName::Measurand(_) => None,
        }
    }
}

/// The name as written in a template (`Connector.Status`, `MeterValue.Voltage`).
impl fmt::Display for OcppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OcppName::ConnectorStatus => f.write_str("Connector.Status"),
            OcppName::Measurand(m) => write!(f, "{MEASURAND_PREFIX}{m}"),
        }
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
        assert_eq!(OcppName::parse("Energy.Active.Import.Register"), None);
        assert_eq!(OcppName::parse("MeterValue.Temperature"), None);
        assert_eq!(OcppName::parse("connector.status"), None);
    }

    #[test]
    fn every_known_name_round_trips() {
        let names: Vec<_> = OcppName::known_names().collect();
        assert_eq!(names.len(), 27);
        for n in names {
            let parsed = OcppName::parse(n);
            assert!(parsed.is_some(), "{n}");
            if n != "AvailabilityState" {
                assert_eq!(parsed.map(|p| p.to_string()).as_deref(), Some(n));
            }
        }
    }
}
