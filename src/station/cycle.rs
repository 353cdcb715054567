//! What every pump does for each EVSE besides scheduling CALLs: transactions, clock-aligned
//! samples, the device model's availability, and a reset that has come due.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::transaction::TxContext;
use super::{meter, DeviceCommand, Effect, Link, Registration, Station};
use crate::ocpp::messages::{
    Action, BootReason, ConnectorStatus, MeterValues, MeterValuesRequest, ReadingContext, Reason,
    TransactionEventRequest, TriggerReason,
};

impl Station {
    /// Runs every EVSE's transaction tracker and queues what it produced.
    pub(super) fn update_transactions(
        &mut self,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Effect>,
    ) {
        let mut events: Vec<TransactionEventRequest> = Vec::new();
        let offline = self.link != Link::Up;
        for index in 0..self.evses.len() {
            let (prefix, counter) = (self.id_prefix, &mut self.next_id);
            let evse = &mut self.evses[index];
            // G03/G04: an unavailable EVSE starts nothing; its tracker catches up once operative.
            // Nothing is inferred from a device not yet read (a journaled transaction waits too).
            if !evse.known || (evse.inoperative && evse.tx.transaction().is_none()) {
                continue;
            }
            let ctx = TxContext {
                now,
                wall,
                evse_id: index as i32 + 1,
                settings: &self.settings.tx,
                inputs: &evse.inputs,
                offline,
            };
            let mut new_id = || {
                *counter += 1;
                format!("{prefix:08x}-tx{counter}-{}", index + 1)
            };
            evse.tx.update(&ctx, &mut new_id, &mut events);
            // E03/E05: the charger was enabled for an authorization that no longer holds.
            if evse.tx.take_stop_energy() && self.settings.capabilities.start_stop {
                out.push(Effect::Device(DeviceCommand::Charging {
                    evse: index,
                    start: false,
                }));
            }
            if evse.tx.transaction().is_none() {
                if let Some(inoperative) = evse.scheduled_inoperative.take() {
                    evse.inoperative = inoperative;
                    if self.settings.capabilities.availability {
                        out.push(Effect::Device(DeviceCommand::Availability {
                            operative: !inoperative,
                        }));
                    }
                }
            }
        }
        self.queue_transaction_events(events);
    }

    /// Keeps AvailabilityState in the device model equal to what the CSMS is told.
    pub(super) fn mirror_availability(&mut self) {
        let mut station = None;
        for (index, e) in self.evses.iter().enumerate() {
            let Some(status) = e.status() else {
                continue;
            };
            self.model.set_evse_availability(index as i32 + 1, status);
            let usable = matches!(
                status,
                ConnectorStatus::Available | ConnectorStatus::Occupied | ConnectorStatus::Reserved
            );
            if usable || station.is_none() {
                station = Some(if usable {
                    ConnectorStatus::Available
                } else {
                    status
                });
            }
        }
        if let Some(status) = station {
            self.model.set_station_availability(status);
        }
    }

    /// J01: at each multiple of AlignedDataCtrlr.Interval since midnight UTC, a Sample.Clock
    /// reading of every EVSE: inside its transaction if one runs, else as MeterValues.
    pub(super) fn sample_clock(&mut self, now: Instant, wall: SystemTime) {
        let interval = self.settings.aligned_interval.as_secs();
        if interval == 0 {
            self.next_clock = None;
            return;
        }
        if self.next_clock.is_some_and(|at| at <= now) {
            let mut events = Vec::new();
            let offline = self.link != Link::Up;
            for (index, evse) in self.evses.iter_mut().enumerate() {
                if !evse.known {
                    continue;
                }
                let ctx = TxContext {
                    now,
                    wall,
                    evse_id: index as i32 + 1,
                    settings: &self.settings.tx,
                    inputs: &evse.inputs,
                    offline,
                };
                if evse
                    .tx
                    .clock(&ctx, &self.settings.aligned_measurands, &mut events)
                {
                    continue;
                }
                let Some(value) = meter::meter_value(
                    &evse.inputs,
                    &self.settings.aligned_measurands,
                    ReadingContext::SampleClock,
                    wall,
                ) else {
                    continue;
                };
                let request = MeterValuesRequest {
                    evse_id: index as i32 + 1,
                    meter_value: vec![value],
                };
                if let Ok(payload) = serde_json::to_value(request) {
                    self.extra.push_back((MeterValues::NAME, payload));
                }
            }
            self.queue_transaction_events(events);
            self.next_clock = None;
        }
        if self.next_clock.is_none() {
            let since_epoch = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
            let into = Duration::new(since_epoch.as_secs() % interval, since_epoch.subsec_nanos());
            self.next_clock = Some(now + (Duration::from_secs(interval) - into));
        }
    }

    pub(super) fn queue_transaction_events(&mut self, events: Vec<TransactionEventRequest>) {
        for event in events {
            let payload = match serde_json::to_value(&event) {
                Ok(payload) => payload,
                Err(e) => {
                    log::error!("{}: cannot encode TransactionEvent: {e}", self.ocpp_id());
                    continue;
                }
            };
            if let Some(dropped) = self.queue.push("TransactionEvent", payload) {
                log::warn!(
                    "{}: journal full ({} queued): dropped the oldest intermediate event: {}",
                    self.ocpp_id(),
                    self.queue.len(),
                    dropped.payload
                );
            }
        }
    }

    /// Starts a reset that is due: Immediate at once, OnIdle when no transaction runs.
    pub(super) fn apply_pending_reset(
        &mut self,
        now: Instant,
        wall: SystemTime,
        out: &mut Vec<Effect>,
    ) {
        let Some(reset) = self.reset else { return };
        if reset.on_idle && self.evses.iter().any(|e| e.tx.transaction().is_some()) {
            return;
        }
        self.end_all_transactions(now, wall);
        // The CSMS hears how the transactions ended before the station goes away.
        if self.link == Link::Up && !self.queue.is_empty() {
            return;
        }
        self.reset = None;
        if self.settings.capabilities.reset {
            out.push(Effect::Device(DeviceCommand::Reset));
        }
        log::info!("{}: resetting the virtual station", self.ocpp_id());
        self.registration = Registration::Unknown;
        self.boot_reason = BootReason::RemoteReset;
        self.boot_at = now;
        self.outstanding = None;
        self.heartbeat_due = false;
        if self.link == Link::Up {
            self.link = Link::Resetting;
            out.push(Effect::Disconnect);
        }
    }

    fn end_all_transactions(&mut self, now: Instant, wall: SystemTime) {
        let mut events = Vec::new();
        let offline = self.link != Link::Up;
        for (index, evse) in self.evses.iter_mut().enumerate() {
            let ctx = TxContext {
                now,
                wall,
                evse_id: index as i32 + 1,
                settings: &self.settings.tx,
                inputs: &evse.inputs,
                offline,
            };
            evse.tx.end_with(
                &ctx,
                TriggerReason::ResetCommand,
                Reason::ImmediateReset,
                &mut events,
            );
        }
        self.queue_transaction_events(events);
    }
}
