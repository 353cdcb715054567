//! Meter values (block J): the sampled-value types shared with TransactionEvent, and the
//! MeterValues message for readings outside a transaction.

use serde::{Deserialize, Serialize};

use super::{Action, SchemaViolation};
use crate::ocpp::types::check_len;

wire_enum! {
    /// Why a value was sampled (`ReadingContextEnumType`).
    pub enum ReadingContext {
        /// At the start of a supply interruption.
        InterruptionBegin = "Interruption.Begin",
        /// At the end of a supply interruption.
        InterruptionEnd = "Interruption.End",
        /// For another reason.
        Other = "Other",
        /// On a clock-aligned interval.
        SampleClock = "Sample.Clock",
        /// On a periodic interval counted from the start of the transaction.
        SamplePeriodic = "Sample.Periodic",
        /// At the start of a transaction.
        TransactionBegin = "Transaction.Begin",
        /// At the end of a transaction.
        TransactionEnd = "Transaction.End",
        /// Because the CSMS asked (TriggerMessage).
        Trigger = "Trigger",
    }
}

wire_enum! {
    /// What a sampled value measures (`MeasurandEnumType`).
    pub enum Measurand {
        /// Current from the EV to the grid, A.
        CurrentExport = "Current.Export",
        /// Current from the grid to the EV, A.
        CurrentImport = "Current.Import",
        /// Maximum current offered to the EV, A.
        CurrentOffered = "Current.Offered",
        /// Active energy exported to the grid, register reading, Wh.
        EnergyActiveExportRegister = "Energy.Active.Export.Register",
        /// Active energy imported from the grid, register reading, Wh.
        EnergyActiveImportRegister = "Energy.Active.Import.Register",
        /// Reactive energy exported to the grid, register reading, varh.
        EnergyReactiveExportRegister = "Energy.Reactive.Export.Register",
        /// Reactive energy imported from the grid, register reading, varh.
        EnergyReactiveImportRegister = "Energy.Reactive.Import.Register",
        /// Active energy exported during the last interval, Wh.
        EnergyActiveExportInterval = "Energy.Active.Export.Interval",
        /// Active energy imported during the last interval, Wh.
        EnergyActiveImportInterval = "Energy.Active.Import.Interval",
        /// Net active energy (import minus export), Wh.
        EnergyActiveNet = "Energy.Active.Net",
        /// Reactive energy exported during the last interval, varh.
        EnergyReactiveExportInterval = "Energy.Reactive.Export.Interval",
        /// Reactive energy imported during the last interval, varh.
        EnergyReactiveImportInterval = "Energy.Reactive.Import.Interval",
        /// Net reactive energy, varh.
        EnergyReactiveNet = "Energy.Reactive.Net",
        /// Net apparent energy, VAh.
        EnergyApparentNet = "Energy.Apparent.Net",
        /// Apparent energy imported, VAh.
        EnergyApparentImport = "Energy.Apparent.Import",
        /// Apparent energy exported, VAh.
        EnergyApparentExport = "Energy.Apparent.Export",
        /// Grid frequency, Hz.
        Frequency = "Frequency",
        /// Active power exported to the grid, W.
        PowerActiveExport = "Power.Active.Export",
        /// Active power imported from the grid, W.
        PowerActiveImport = "Power.Active.Import",
        /// Power factor.
        PowerFactor = "Power.Factor",
        /// Maximum power offered to the EV, W.
        PowerOffered = "Power.Offered",
        /// Reactive power exported to the grid, var.
        PowerReactiveExport = "Power.Reactive.Export",
        /// Reactive power imported from the grid, var.
        PowerReactiveImport = "Power.Reactive.Import",
        /// The EV battery's state of charge, percent.
        SoC = "SoC",
        /// Voltage, V.
        Voltage = "Voltage",
    }
}

wire_enum! {
    /// Which phase or phases a value was measured on (`PhaseEnumType`).
    pub enum Phase {
        /// Phase 1 (against neutral, or line-to-line if unspecified).
        L1 = "L1",
        /// Phase 2.
        L2 = "L2",
        /// Phase 3.
        L3 = "L3",
        /// Neutral.
        N = "N",
        /// Phase 1 to neutral.
        L1N = "L1-N",
        /// Phase 2 to neutral.
        L2N = "L2-N",
        /// Phase 3 to neutral.
        L3N = "L3-N",
        /// Phase 1 to phase 2.
        L1L2 = "L1-L2",
        /// Phase 2 to phase 3.
        L2L3 = "L2-L3",
        /// Phase 3 to phase 1.
        L3L1 = "L3-L1",
    }
}

wire_enum! {
    /// Where a value was measured (`LocationEnumType`).
    pub enum Location {
        /// Inside the charging station (e.g. its temperature).
        Body = "Body",
        /// In the cable.
        Cable = "Cable",
        /// Reported by the EV.
        EV = "EV",
        /// At the grid connection of the station.
        Inlet = "Inlet",
        /// At the connector to the EV.
        Outlet = "Outlet",
    }
}

/// The unit of a sampled value (`UnitOfMeasureType`); absent fields mean "Wh" and 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitOfMeasure {
    /// A unit from the spec's list of standardized units (e.g. "W", "kWh", "A", "V").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Power of ten the value is multiplied by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<i32>,
}

impl UnitOfMeasure {
    /// Schema `maxLength` of `unit`.
    pub const UNIT_MAX: usize = 20;

    /// Checks the unit against its schema length limit.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        if let Some(unit) = &self.unit {
            check_len("unit", unit, Self::UNIT_MAX)?;
        }
        Ok(())
    }
}

/// One measured value (`SampledValueType`, without signed meter data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampledValue {
    /// The value, in `unit_of_measure` (Wh when absent).
    pub value: f64,
    /// Why it was sampled; absent means Sample.Periodic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ReadingContext>,
    /// What it measures; absent means Energy.Active.Import.Register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurand: Option<Measurand>,
    /// The phase, where it matters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// Where it was measured; absent means Outlet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Its unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_of_measure: Option<UnitOfMeasure>,
}

impl SampledValue {
    /// Checks that the value is a JSON number and the unit fits its length limit.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        // serde_json writes NaN and infinities as null, which the schema rejects.
        if !self.value.is_finite() {
            return Err(SchemaViolation::NotFinite { field: "value" });
        }
        match &self.unit_of_measure {
            Some(unit) => unit.validate(),
            None => Ok(()),
        }
    }
}

/// Values sampled at one moment (`MeterValueType`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValue {
    /// When they were sampled, RFC 3339.
    pub timestamp: String,
    /// The values (at least one).
    pub sampled_value: Vec<SampledValue>,
}

impl MeterValue {
    /// Checks that there is at least one value and that each fits the schema.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        if self.sampled_value.is_empty() {
            return Err(SchemaViolation::Empty {
                field: "sampledValue",
            });
        }
        self.sampled_value
            .iter()
            .try_for_each(SampledValue::validate)
    }
}

/// Checks an OCPP `meterValue` array: at least one entry, each valid.
pub(super) fn validate_meter_values(values: &[MeterValue]) -> Result<(), SchemaViolation> {
    if values.is_empty() {
        return Err(SchemaViolation::Empty {
            field: "meterValue",
        });
    }
    values.iter().try_for_each(MeterValue::validate)
}

/// MeterValues: readings taken outside a transaction (or not tied to one).
#[derive(Debug, Clone, Copy)]
pub struct MeterValues;

impl Action for MeterValues {
    const NAME: &'static str = "MeterValues";
    type Request = MeterValuesRequest;
    type Response = MeterValuesResponse;
}

/// MeterValues CALL payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeterValuesRequest {
    /// The EVSE measured (0 for the station's main meter).
    pub evse_id: i32,
    /// The readings (at least one).
    pub meter_value: Vec<MeterValue>,
}

impl MeterValuesRequest {
    /// Checks the readings against the schema, so the CSMS never sees a request it must reject.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        validate_meter_values(&self.meter_value)
    }
}

/// MeterValues CALLRESULT payload (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeterValuesResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::ocpp::messages::test_support::check;
    use crate::ocpp::types::TooLong;

    fn energy(value: f64) -> SampledValue {
        SampledValue {
            value,
            context: Some(ReadingContext::SamplePeriodic),
            measurand: Some(Measurand::EnergyActiveImportRegister),
            phase: None,
            location: Some(Location::Outlet),
            unit_of_measure: Some(UnitOfMeasure {
                unit: Some("kWh".into()),
                multiplier: None,
            }),
        }
    }

    #[test]
    fn meter_values_use_the_dotted_spellings() {
        let req = MeterValuesRequest {
            evse_id: 1,
            meter_value: vec![MeterValue {
                timestamp: "2024-05-01T10:00:00.000Z".into(),
                sampled_value: vec![
                    energy(12.5),
                    SampledValue {
                        value: 230.4,
                        context: Some(ReadingContext::SampleClock),
                        measurand: Some(Measurand::Voltage),
                        phase: Some(Phase::L1N),
                        location: None,
                        unit_of_measure: Some(UnitOfMeasure {
                            unit: Some("V".into()),
                            multiplier: Some(0),
                        }),
                    },
                    SampledValue {
                        value: 61.0,
                        context: None,
                        measurand: Some(Measurand::SoC),
                        phase: None,
                        location: Some(Location::EV),
                        unit_of_measure: None,
                    },
                ],
            }],
        };
        check(
            &req,
            json!({"evseId": 1, "meterValue": [{"timestamp": "2024-05-01T10:00:00.000Z",
                "sampledValue": [
                    {"value": 12.5, "context": "Sample.Periodic",
                     "measurand": "Energy.Active.Import.Register", "location": "Outlet",
                     "unitOfMeasure": {"unit": "kWh"}},
                    {"value": 230.4, "context": "Sample.Clock", "measurand": "Voltage",
                     "phase": "L1-N", "unitOfMeasure": {"unit": "V", "multiplier": 0}},
                    {"value": 61.0, "measurand": "SoC", "location": "EV"}]}]}),
        );
        assert_eq!(req.validate(), Ok(()));
        check(&MeterValuesResponse {}, json!({}));
    }

    #[test]
    fn renamed_enums_round_trip_every_spelling() {
        assert_eq!(ReadingContext::ALL.len(), 8);
        assert_eq!(Measurand::ALL.len(), 25);
        assert_eq!(Phase::ALL.len(), 10);
        assert_eq!(Location::ALL.len(), 5);
        for m in Measurand::ALL {
            assert_eq!(json!(m), json!(m.as_str()));
            assert_eq!(Measurand::parse(m.as_str()), Some(*m));
        }
        for c in ReadingContext::ALL {
            assert_eq!(
                serde_json::from_value::<ReadingContext>(json!(c.to_string())).ok(),
                Some(*c)
            );
        }
        for p in Phase::ALL {
            assert_eq!(Phase::parse(&p.to_string()), Some(*p));
        }
        assert_eq!(
            Measurand::parse("Power.Active.Import"),
            Some(Measurand::PowerActiveImport)
        );
        assert_eq!(Measurand::parse("PowerActiveImport"), None);
        assert_eq!(Phase::L2L3.as_str(), "L2-L3");
        assert_eq!(ReadingContext::TransactionEnd.as_str(), "Transaction.End");
        assert!(serde_json::from_value::<Phase>(json!("L1N")).is_err());
    }

    #[test]
    fn validation_catches_what_the_schema_would_reject() {
        let mut mv = MeterValue {
            timestamp: "2024-05-01T10:00:00.000Z".into(),
            sampled_value: vec![],
        };
        assert_eq!(
            mv.validate(),
            Err(SchemaViolation::Empty {
                field: "sampledValue"
            })
        );
        mv.sampled_value.push(energy(f64::NAN));
        assert_eq!(
            mv.validate(),
            Err(SchemaViolation::NotFinite { field: "value" })
        );
        mv.sampled_value = vec![energy(f64::INFINITY)];
        assert!(mv.validate().is_err());
        let mut long_unit = energy(1.0);
        long_unit.unit_of_measure = Some(UnitOfMeasure {
            unit: Some("W".repeat(21)),
            multiplier: None,
        });
        mv.sampled_value = vec![long_unit];
        assert_eq!(
            mv.validate(),
            Err(SchemaViolation::TooLong(TooLong {
                field: "unit",
                len: 21,
                max: 20
            }))
        );
        let empty = MeterValuesRequest {
            evse_id: 1,
            meter_value: vec![],
        };
        assert_eq!(
            empty.validate(),
            Err(SchemaViolation::Empty {
                field: "meterValue"
            })
        );
    }
}
