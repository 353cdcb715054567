//! What the device says about one EVSE, in OCPP terms, and what follows from it.

use crate::ocpp::messages::{ChargingState, ConnectorStatus, Measurand, Phase};

/// One meter reading as the template decoded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub measurand: Measurand,
    pub phase: Option<Phase>,
    pub value: f64,
    /// The template's unit, if it gave one (e.g. "kWh", "W").
    pub unit: Option<String>,
}

/// The device-derived inputs of one EVSE; the hub refreshes them from template roles.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvseInputs {
    /// `None` until the device worker reported either way.
    pub online: Option<bool>,
    /// The charger's own connector status, where the template maps one.
    pub connector_status: Option<ConnectorStatus>,
    /// Whether a vehicle is plugged in, where the template maps it.
    pub vehicle_connected: Option<bool>,
    /// The charging state, where the template maps it.
    pub charging_state: Option<ChargingState>,
    /// The charger reports a fault.
    pub faulted: bool,
    /// The latest meter readings.
    pub samples: Vec<Sample>,
    /// A token presented at the charger's own reader, where the template maps one.
    pub id_token: Option<String>,
}

impl EvseInputs {
    /// Whether a vehicle is connected, from the most direct mapping the template offers.
    pub fn ev_connected(&self) -> bool {
        if let Some(connected) = self.vehicle_connected {
            return connected;
        }
        if let Some(state) = self.charging_state {
            return state != ChargingState::Idle;
        }
        self.connector_status == Some(ConnectorStatus::Occupied)
    }

    /// The charging state: mapped, or inferred from the connection and the power flowing.
    pub fn charging_state(&self) -> ChargingState {
        if let Some(state) = self.charging_state {
            return state;
        }
        if !self.ev_connected() {
            ChargingState::Idle
        } else if self
            .value(Measurand::PowerActiveImport)
            .is_some_and(|p| p > 0.0)
        {
            ChargingState::Charging
        } else {
            ChargingState::EVConnected
        }
    }

    /// The connector status the CSMS should see, given the operator's availability setting.
    /// `None` while nothing is known about the device yet.
    pub fn connector_status(&self, operative: bool) -> Option<ConnectorStatus> {
        match self.online {
            None => None,
            // The charger cannot be used while we cannot talk to it.
            Some(false) => Some(ConnectorStatus::Unavailable),
            Some(true) if self.faulted => Some(ConnectorStatus::Faulted),
            Some(true) if !operative => Some(ConnectorStatus::Unavailable),
            Some(true) => Some(match self.connector_status {
                Some(ConnectorStatus::Available) if self.ev_connected() => {
                    ConnectorStatus::Occupied
                }
                Some(status) => status,
                None if self.ev_connected() => ConnectorStatus::Occupied,
                None => ConnectorStatus::Available,
            }),
        }
    }

    /// The phase-less reading of `measurand`, or the sum over phases for additive measurands.
    pub fn value(&self, measurand: Measurand) -> Option<f64> {
        let mut total = None;
        for s in self.samples.iter().filter(|s| s.measurand == measurand) {
            if s.phase.is_none() {
                return Some(s.value);
            }
            total = Some(total.unwrap_or(0.0) + s.value);
        }
        total
    }

    /// The energy import register in Wh, whatever unit the template reads it in.
    pub fn energy_wh(&self) -> Option<f64> {
        let s = self
            .samples
            .iter()
            .find(|s| s.measurand == Measurand::EnergyActiveImportRegister && s.phase.is_none())?;
        Some(match s.unit.as_deref() {
            Some("kWh") => s.value * 1000.0,
            _ => s.value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(measurand: Measurand, phase: Option<Phase>, value: f64) -> Sample {
        Sample {
            measurand,
            phase,
            value,
            unit: None,
        }
    }

    #[test]
    fn connection_comes_from_the_most_direct_mapping() {
        let mut i = EvseInputs {
            connector_status: Some(ConnectorStatus::Occupied),
            ..Default::default()
        };
        assert!(i.ev_connected());
        i.charging_state = Some(ChargingState::Idle);
        assert!(!i.ev_connected());
        i.vehicle_connected = Some(true);
        assert!(i.ev_connected());
    }

    #[test]
    fn charging_state_is_inferred_from_power() {
        let mut i = EvseInputs {
            vehicle_connected: Some(true),
            ..Default::default()
        };
        assert_eq!(i.charging_state(), ChargingState::EVConnected);
        i.samples = vec![sample(Measurand::PowerActiveImport, None, 7400.0)];
        assert_eq!(i.charging_state(), ChargingState::Charging);
        i.vehicle_connected = Some(false);
        assert_eq!(i.charging_state(), ChargingState::Idle);
    }

    #[test]
    fn status_follows_link_fault_availability_and_vehicle() {
        let mut i = EvseInputs::default();
        assert_eq!(i.connector_status(true), None);
        i.online = Some(false);
        assert_eq!(i.connector_status(true), Some(ConnectorStatus::Unavailable));
        i.online = Some(true);
        assert_eq!(i.connector_status(true), Some(ConnectorStatus::Available));
        assert_eq!(
            i.connector_status(false),
            Some(ConnectorStatus::Unavailable)
        );
        i.vehicle_connected = Some(true);
        assert_eq!(i.connector_status(true), Some(ConnectorStatus::Occupied));
        i.faulted = true;
        assert_eq!(i.connector_status(true), Some(ConnectorStatus::Faulted));
    }

    #[test]
    fn per_phase_values_add_up_and_kwh_becomes_wh() {
        let mut i = EvseInputs {
            samples: vec![
                sample(Measurand::CurrentImport, Some(Phase::L1), 10.0),
                sample(Measurand::CurrentImport, Some(Phase::L2), 11.0),
            ],
            ..Default::default()
        };
        assert_eq!(i.value(Measurand::CurrentImport), Some(21.0));
        i.samples.push(Sample {
            measurand: Measurand::EnergyActiveImportRegister,
            phase: None,
            value: 1.5,
            unit: Some("kWh".into()),
        });
        assert_eq!(i.energy_wh(), Some(1500.0));
    }
}
