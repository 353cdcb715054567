use std::time::{Duration, Instant, UNIX_EPOCH};

use super::evse::{EvseInputs, Sample};
use super::transaction::*;
use crate::ocpp::messages::{
    ChargingState, IdToken, IdTokenType, Measurand, ReadingContext, Reason,
    TransactionEventRequest, TransactionEventType as T, TriggerReason as R,
};

struct Bench {
    tracker: TxTracker,
    settings: TxSettings,
    inputs: EvseInputs,
    now: Instant,
    ids: u32,
}

impl Bench {
    fn new(settings: TxSettings) -> Self {
        Bench {
            tracker: TxTracker::default(),
            settings,
            inputs: EvseInputs {
                online: Some(true),
                samples: vec![Sample {
                    measurand: Measurand::EnergyActiveImportRegister,
                    phase: None,
                    value: 1000.0,
                    unit: Some("Wh".into()),
                }],
                ..Default::default()
            },
            now: Instant::now(),
            ids: 0,
        }
    }

    fn update(&mut self) -> Vec<TransactionEventRequest> {
        let ctx = TxContext {
            now: self.now,
            wall: UNIX_EPOCH + Duration::from_secs(1_764_000_000),
            evse_id: 1,
            settings: &self.settings,
            inputs: &self.inputs,
            offline: false,
        };
        let mut out = Vec::new();
        let ids = &mut self.ids;
        self.tracker.update(
            &ctx,
            &mut || {
                *ids += 1;
                format!("tx-{ids}")
            },
            &mut out,
        );
        out
    }

    fn plug(&mut self, connected: bool) -> Vec<TransactionEventRequest> {
        self.inputs.vehicle_connected = Some(connected);
        self.update()
    }

    fn power(&mut self, watts: f64) -> Vec<TransactionEventRequest> {
        self.inputs
            .samples
            .retain(|s| s.measurand != Measurand::PowerActiveImport);
        self.inputs.samples.push(Sample {
            measurand: Measurand::PowerActiveImport,
            phase: None,
            value: watts,
            unit: Some("W".into()),
        });
        self.update()
    }
}

fn one(events: Vec<TransactionEventRequest>) -> TransactionEventRequest {
    assert_eq!(events.len(), 1, "{events:#?}");
    events.into_iter().next().unwrap()
}

fn token(id: &str) -> IdToken {
    IdToken {
        id_token: id.into(),
        kind: IdTokenType::Central,
        additional_info: None,
    }
}

#[test]
fn e02_cable_first_without_authorization_runs_a_full_transaction() {
    let mut b = Bench::new(TxSettings::default());
    let started = one(b.plug(true));
    assert_eq!(
        (started.event_type, started.trigger_reason, started.seq_no),
        (T::Started, R::CablePluggedIn, 0)
    );
    assert_eq!(started.transaction_info.transaction_id, "tx-1");
    assert_eq!(
        started.id_token.as_ref().map(|t| t.kind),
        Some(IdTokenType::NoAuthorization)
    );
    assert_eq!(started.evse.as_ref().map(|e| e.id), Some(1));
    let begin = &started.meter_value.as_ref().unwrap()[0].sampled_value[0];
    assert_eq!(begin.context, Some(ReadingContext::TransactionBegin));
    assert_eq!(
        started.transaction_info.charging_state,
        Some(ChargingState::EVConnected)
    );

    let charging = one(b.power(7400.0));
    assert_eq!(
        (charging.trigger_reason, charging.seq_no),
        (R::ChargingStateChanged, 1)
    );
    assert_eq!(
        charging.transaction_info.charging_state,
        Some(ChargingState::Charging)
    );
    assert!(charging.id_token.is_none() && charging.evse.is_none());

    b.now += Duration::from_secs(60);
    let periodic = one(b.update());
    assert_eq!(
        (periodic.trigger_reason, periodic.seq_no),
        (R::MeterValuePeriodic, 2)
    );
    assert_eq!(periodic.transaction_info.time_spent_charging, Some(60));
    let samples = &periodic.meter_value.as_ref().unwrap()[0].sampled_value;
    assert!(samples
        .iter()
        .all(|s| s.context == Some(ReadingContext::SamplePeriodic)));
    assert_eq!(samples.len(), 2, "energy and power");

    b.power(0.0);
    let ended = one(b.plug(false));
    assert_eq!(
        (ended.event_type, ended.trigger_reason),
        (T::Ended, R::EVCommunicationLost)
    );
    assert_eq!(
        ended.transaction_info.stopped_reason,
        Some(Reason::EVDisconnected)
    );
    assert_eq!(ended.seq_no, 4);
    assert!(b.tracker.transaction().is_none());

    let next = one(b.plug(true));
    assert_eq!(
        (next.seq_no, next.transaction_info.transaction_id.as_str()),
        (0, "tx-2")
    );
}

#[test]
fn f01_remote_start_before_the_cable_carries_token_and_remote_start_id() {
    let mut b = Bench::new(TxSettings::default());
    b.tracker.authorize(Authorization {
        id_token: token("ABC"),
        remote_start_id: Some(42),
        expires: Some(b.now + Duration::from_secs(120)),
    });
    assert!(
        b.update().is_empty(),
        "TxStartPoint EVConnected waits for the cable"
    );
    let started = one(b.plug(true));
    assert_eq!(started.trigger_reason, R::CablePluggedIn);
    assert_eq!(
        started.id_token.as_ref().map(|t| t.id_token.as_str()),
        Some("ABC")
    );
    assert_eq!(started.transaction_info.remote_start_id, Some(42));
}

#[test]
fn remote_start_with_authorized_start_point_starts_at_once() {
    let mut b = Bench::new(TxSettings {
        start_points: vec![TxPoint::Authorized],
        stop_points: vec![TxPoint::EVConnected, TxPoint::Authorized],
        auth_enabled: true,
        ..TxSettings::default()
    });
    b.tracker.authorize(Authorization {
        id_token: token("ABC"),
        remote_start_id: Some(7),
        expires: Some(b.now + Duration::from_secs(120)),
    });
    let started = one(b.update());
    assert_eq!(
        (started.event_type, started.trigger_reason),
        (T::Started, R::RemoteStart)
    );
    let plugged = one(b.plug(true));
    assert_eq!(plugged.trigger_reason, R::CablePluggedIn);
}

#[test]
fn f02_remote_start_while_plugged_in_updates_the_running_transaction() {
    let mut b = Bench::new(TxSettings::default());
    one(b.plug(true));
    b.tracker.authorize(Authorization {
        id_token: token("T1"),
        remote_start_id: Some(9),
        expires: None,
    });
    let updated = one(b.update());
    assert_eq!(
        (updated.event_type, updated.trigger_reason),
        (T::Updated, R::RemoteStart)
    );
    assert_eq!(updated.id_token.map(|t| t.id_token), Some("T1".to_string()));
    assert_eq!(updated.transaction_info.remote_start_id, Some(9));
}

#[test]
fn f03_remote_stop_ends_and_no_new_transaction_until_replugged() {
    let mut b = Bench::new(TxSettings::default());
    one(b.plug(true));
    b.tracker.deauthorize(true);
    let ended = one(b.update());
    assert_eq!(
        (ended.event_type, ended.trigger_reason),
        (T::Ended, R::RemoteStop)
    );
    assert_eq!(ended.transaction_info.stopped_reason, Some(Reason::Remote));
    assert!(
        b.update().is_empty(),
        "still plugged in: no new transaction"
    );
    assert!(b.plug(false).is_empty());
    assert_eq!(one(b.plug(true)).event_type, T::Started);
}

#[test]
fn an_authorization_without_a_vehicle_lapses() {
    let mut b = Bench::new(TxSettings::default());
    b.tracker.authorize(Authorization {
        id_token: token("ABC"),
        remote_start_id: Some(1),
        expires: Some(b.now + Duration::from_secs(120)),
    });
    assert_eq!(
        b.tracker.next_deadline(),
        Some(b.now + Duration::from_secs(120))
    );
    b.now += Duration::from_secs(121);
    assert!(b.update().is_empty());
    let started = one(b.plug(true));
    assert_eq!(
        started.id_token.map(|t| t.kind),
        Some(IdTokenType::NoAuthorization)
    );
}

#[test]
fn energy_transfer_points_follow_the_power_flow() {
    let mut b = Bench::new(TxSettings {
        start_points: vec![TxPoint::EnergyTransfer],
        stop_points: vec![TxPoint::EnergyTransfer],
        ..TxSettings::default()
    });
    assert!(b.plug(true).is_empty());
    let started = one(b.power(3000.0));
    assert_eq!(started.trigger_reason, R::ChargingStateChanged);
    let ended = one(b.power(0.0));
    assert_eq!(
        ended.transaction_info.stopped_reason,
        Some(Reason::StoppedByEV)
    );
}

#[test]
fn e06_ended_carries_the_charging_state_of_the_moment() {
    let mut b = Bench::new(TxSettings::default());
    one(b.plug(true));
    one(b.power(7400.0));
    // The power reading has not caught up yet; the cable is out all the same.
    let ended = one(b.plug(false));
    assert_eq!(ended.event_type, T::Ended);
    assert_eq!(
        ended.transaction_info.charging_state,
        Some(ChargingState::Idle)
    );

    let mut b = Bench::new(TxSettings {
        start_points: vec![TxPoint::EnergyTransfer],
        stop_points: vec![TxPoint::EnergyTransfer],
        ..TxSettings::default()
    });
    b.plug(true);
    one(b.power(3000.0));
    let ended = one(b.power(0.0));
    assert_eq!(
        ended.transaction_info.charging_state,
        Some(ChargingState::EVConnected)
    );
}

#[test]
fn e10_stop_tx_on_ev_side_disconnect_decides_whether_unplugging_ends_it() {
    for stop in [true, false] {
        let mut b = Bench::new(TxSettings {
            start_points: vec![TxPoint::Authorized],
            stop_points: vec![TxPoint::Authorized],
            auth_enabled: true,
            stop_tx_on_ev_side_disconnect: stop,
            ..TxSettings::default()
        });
        b.tracker.authorize(Authorization {
            id_token: token("A"),
            remote_start_id: None,
            expires: None,
        });
        assert_eq!(one(b.update()).event_type, T::Started);
        assert_eq!(one(b.plug(true)).trigger_reason, R::CablePluggedIn);
        let unplugged = one(b.plug(false));
        if stop {
            assert_eq!(
                (unplugged.event_type, unplugged.trigger_reason),
                (T::Ended, R::EVCommunicationLost)
            );
            assert_eq!(
                unplugged.transaction_info.stopped_reason,
                Some(Reason::EVDisconnected)
            );
        } else {
            assert_eq!(unplugged.event_type, T::Updated, "{unplugged:?}");
            assert!(b.tracker.transaction().is_some());
        }
    }
}

fn set_energy(b: &mut Bench, wh: f64) {
    for s in &mut b.inputs.samples {
        if s.measurand == Measurand::EnergyActiveImportRegister {
            s.value = wh;
        }
    }
}

/// (context, value) of every reading in an event.
fn readings(e: &TransactionEventRequest) -> Vec<(ReadingContext, f64)> {
    e.meter_value
        .iter()
        .flatten()
        .flat_map(|m| &m.sampled_value)
        .map(|s| (s.context.unwrap(), s.value))
        .collect()
}

#[test]
fn j02_tx_ended_readings_from_begin_every_interval_to_end() {
    let mut b = Bench::new(TxSettings {
        updated_interval: Duration::ZERO,
        ended_interval: Duration::from_secs(30),
        ..TxSettings::default()
    });
    one(b.plug(true));
    for wh in [1100.0, 1200.0] {
        b.now += Duration::from_secs(30);
        set_energy(&mut b, wh);
        assert!(b.update().is_empty(), "kept for the Ended event");
    }
    set_energy(&mut b, 1250.0);
    let ended = one(b.plug(false));
    use ReadingContext::{SamplePeriodic as P, TransactionBegin as B, TransactionEnd as E};
    assert_eq!(
        readings(&ended),
        [(B, 1000.0), (P, 1100.0), (P, 1200.0), (E, 1250.0)]
    );

    // Zero: the begin and end values only. A long transaction stays a bounded message.
    let mut b = Bench::new(TxSettings::default());
    one(b.plug(true));
    set_energy(&mut b, 1500.0);
    assert_eq!(readings(&one(b.plug(false))), [(B, 1000.0), (E, 1500.0)]);
    let mut b = Bench::new(TxSettings {
        updated_interval: Duration::ZERO,
        ended_interval: Duration::from_secs(1),
        ..TxSettings::default()
    });
    one(b.plug(true));
    for _ in 0..2_000 {
        b.now += Duration::from_secs(1);
        b.update();
    }
    let all = readings(&one(b.plug(false)));
    assert!(all.len() <= 241, "{} readings", all.len());
    assert_eq!((all[0].0, all[all.len() - 1].0), (B, E));
}

#[test]
fn j01_aligned_tx_ended_readings_at_clock_boundaries() {
    let mut b = Bench::new(TxSettings {
        updated_interval: Duration::ZERO,
        aligned_ended_interval: Duration::from_secs(900),
        aligned_ended_measurands: vec![Measurand::EnergyActiveImportRegister],
        ..TxSettings::default()
    });
    one(b.plug(true));
    // The bench's wall clock sits on a 900 s boundary: the next one is a full interval away.
    assert_eq!(
        b.tracker.next_deadline(),
        Some(b.now + Duration::from_secs(900))
    );
    b.now += Duration::from_secs(900);
    set_energy(&mut b, 1300.0);
    assert!(b.update().is_empty());
    set_energy(&mut b, 1400.0);
    use ReadingContext::{SampleClock as C, TransactionBegin as B, TransactionEnd as E};
    assert_eq!(
        readings(&one(b.plug(false))),
        [(B, 1000.0), (C, 1300.0), (E, 1400.0)]
    );
}

#[test]
fn e05_an_energy_cap_survives_a_restart_even_without_an_energy_register() {
    let settings = TxSettings {
        stop_tx_on_invalid_id: false,
        max_energy_on_invalid_id_wh: 500,
        ..TxSettings::default()
    };
    let mut b = Bench::new(settings.clone());
    b.inputs.samples.clear();
    one(b.plug(true));
    assert!(b.tracker.token_refused("tx-1", &settings, None));
    let json = serde_json::to_string(&b.tracker.snapshot().unwrap()).unwrap();
    let snapshot: TxSnapshot = serde_json::from_str(&json).unwrap();
    let wall = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
    b.tracker = TxTracker::resume(snapshot, b.now, wall, &settings);
    let updated = one(b.update());
    assert_eq!(updated.trigger_reason, R::Deauthorized);
    assert!(
        b.tracker.take_stop_energy(),
        "no register: energy stops at once"
    );
    assert!(b.tracker.transaction().is_some());
}

#[test]
fn e06_with_authorization_on_the_charger_is_disabled_when_the_vehicle_leaves() {
    for auth_enabled in [true, false] {
        let mut b = Bench::new(TxSettings {
            start_points: vec![TxPoint::Authorized],
            stop_points: vec![TxPoint::EVConnected],
            auth_enabled,
            ..TxSettings::default()
        });
        b.tracker.authorize(Authorization {
            id_token: token("A"),
            remote_start_id: Some(1),
            expires: Some(b.now + Duration::from_secs(120)),
        });
        assert_eq!(one(b.update()).event_type, T::Started);
        one(b.plug(true));
        assert_eq!(one(b.plug(false)).event_type, T::Ended);
        assert_eq!(b.tracker.take_stop_energy(), auth_enabled);
        // The next vehicle finds no authorization: nothing starts.
        let next = b.plug(true);
        assert_eq!(next.is_empty(), auth_enabled, "{next:?}");
    }
}
