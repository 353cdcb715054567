//! Meter values from device samples (OCPP 2.0.1 block J).

use std::time::SystemTime;

use super::evse::EvseInputs;
use crate::ocpp::messages::{Measurand, MeterValue, ReadingContext, SampledValue, UnitOfMeasure};
use crate::util::time::rfc3339;

/// A MeterValue with every sample of `measurands` the device has, or `None` if it has none
/// (OCPP forbids an empty sampledValue list).
pub fn meter_value(
    inputs: &EvseInputs,
    measurands: &[Measurand],
    context: ReadingContext,
    wall: SystemTime,
) -> Option<MeterValue> {
    let sampled_value: Vec<SampledValue> = inputs
        .samples
        .iter()
        .filter(|s| measurands.contains(&s.measurand))
        .map(|s| SampledValue {
            value: s.value,
            context: Some(context),
            measurand: Some(s.measurand),
            phase: s.phase,
            location: None,
            unit_of_measure: s.unit.as_deref().map(|unit| UnitOfMeasure {
                unit: Some(ocpp_unit(unit).to_string()),
                multiplier: None,
            }),
        })
        .collect();
    (!sampled_value.is_empty()).then(|| MeterValue {
        timestamp: rfc3339(wall),
        sampled_value,
    })
}

/// Template units in OCPP's spelling (UnitOfMeasure uses "Percent", "Celsius", …).
fn ocpp_unit(unit: &str) -> &str {
    match unit {
        "%" => "Percent",
        "°C" | "C" => "Celsius",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::station::evse::Sample;

    #[test]
    fn keeps_only_the_requested_measurands_with_context_and_unit() {
        let inputs = EvseInputs {
            samples: vec![
                Sample {
                    measurand: Measurand::EnergyActiveImportRegister,
                    phase: None,
                    value: 1200.0,
                    unit: Some("Wh".into()),
                },
                Sample {
                    measurand: Measurand::SoC,
                    phase: None,
                    value: 55.0,
                    unit: Some("%".into()),
                },
            ],
            ..Default::default()
        };
        let m = meter_value(
            &inputs,
            &[Measurand::SoC],
            ReadingContext::SamplePeriodic,
            UNIX_EPOCH,
        )
        .unwrap();
        assert_eq!(m.sampled_value.len(), 1);
        assert_eq!(m.sampled_value[0].value, 55.0);
        assert_eq!(
            m.sampled_value[0].context,
            Some(ReadingContext::SamplePeriodic)
        );
        assert_eq!(
            m.sampled_value[0]
                .unit_of_measure
                .as_ref()
                .and_then(|u| u.unit.as_deref()),
            Some("Percent")
        );
        assert!(meter_value(
            &inputs,
            &[Measurand::Voltage],
            ReadingContext::SampleClock,
            UNIX_EPOCH
        )
        .is_none());
    }
}
