//! The readings a transaction's Ended event carries: the begin value, one every
//! SampledDataCtrlr.TxEndedInterval, one at each AlignedDataCtrlr.TxEndedInterval clock
//! boundary, and the end value — kept bounded however long the transaction runs.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{TxContext, TxTracker};
use crate::ocpp::messages::{Measurand, MeterValue, ReadingContext};
use crate::station::meter::meter_value;

/// Readings kept for the Ended event; past this, every second reading after the begin value
/// is dropped so a long transaction stays a bounded message.
const MAX_ENDED_READINGS: usize = 240;

impl TxTracker {
    /// Takes the sampled and the clock-aligned readings that are due.
    pub(super) fn ended_readings_due(&mut self, ctx: &TxContext<'_>) {
        let Some(tx) = &self.tx else { return };
        let due = |at: Option<Instant>| at.is_some_and(|at| at <= ctx.now);
        let (sampled, aligned) = (due(tx.next_ended_reading), due(tx.next_aligned_reading));
        if sampled {
            self.take_ended_reading(ctx, ReadingContext::SamplePeriodic);
        }
        if aligned {
            let measurands = &ctx.settings.aligned_ended_measurands;
            if let Some(tx) = &mut self.tx {
                tx.next_aligned_reading = next_boundary(ctx, ctx.settings.aligned_ended_interval);
                keep(
                    &mut tx.ended_readings,
                    reading(ctx, measurands, ReadingContext::SampleClock),
                );
            }
        }
    }

    /// A reading of the ended measurands for the Ended event; schedules the next sampled one.
    pub(super) fn take_ended_reading(&mut self, ctx: &TxContext<'_>, context: ReadingContext) {
        let Some(tx) = &mut self.tx else { return };
        let interval = ctx.settings.ended_interval;
        tx.next_ended_reading = (!interval.is_zero()).then(|| ctx.now + interval);
        let measurands = &ctx.settings.ended_measurands;
        keep(&mut tx.ended_readings, reading(ctx, measurands, context));
    }
}

fn reading(
    ctx: &TxContext<'_>,
    measurands: &[Measurand],
    context: ReadingContext,
) -> Option<MeterValue> {
    meter_value(ctx.inputs, measurands, context, ctx.wall)
}

fn keep(readings: &mut Vec<MeterValue>, reading: Option<MeterValue>) {
    let Some(reading) = reading else { return };
    if readings.len() >= MAX_ENDED_READINGS {
        let mut index = 0;
        readings.retain(|_| {
            index += 1;
            index % 2 == 1
        });
    }
    readings.push(reading);
}

/// The next multiple of `interval` since midnight UTC after `ctx`'s time; `None` for zero.
pub(super) fn next_boundary(ctx: &TxContext<'_>, interval: Duration) -> Option<Instant> {
    boundary_after(ctx.now, ctx.wall, interval)
}

/// The next multiple of `interval` since midnight UTC after `wall` (at `now`); `None` for zero.
pub(super) fn boundary_after(
    now: Instant,
    wall: SystemTime,
    interval: Duration,
) -> Option<Instant> {
    let every = interval.as_secs();
    if every == 0 {
        return None;
    }
    let since_epoch = wall.duration_since(UNIX_EPOCH).unwrap_or_default();
    let into = Duration::new(since_epoch.as_secs() % every, since_epoch.subsec_nanos());
    Some(now + (Duration::from_secs(every) - into))
}
