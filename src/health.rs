//! What a device worker has told the hub about one device: online or offline (probing with
//! back-off while offline), and which values the hub already has, so that only changes are
//! sent. Shared by the Modbus and ECHONET Lite workers; free of I/O.

use std::collections::HashMap;
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::chan::{self, SendError};
use crate::device::{DeviceEvent, DeviceId, RawValue};

/// The hub dropped its event receiver: the worker has nobody left to report to.
#[derive(Debug, PartialEq, Eq)]
pub struct HubGone;

/// What the hub has been told about the device's reachability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Nothing yet: the device was just added.
    Unknown,
    Online,
    Offline,
}

/// One device as its worker reports it to the hub.
#[derive(Debug)]
pub(crate) struct DeviceHealth {
    id: DeviceId,
    name: String,
    /// The configured interval, restored once the device answers.
    poll_interval: Duration,
    /// Name of the device-event channel in full-channel logs.
    channel: &'static str,
    link: Link,
    failures: u32,
    /// The current poll interval: the configured one, or longer while backing off.
    interval: Duration,
    /// The last value of each variable the hub accepted.
    reported: HashMap<usize, RawValue>,
}

impl DeviceHealth {
    /// A device the hub knows nothing about yet.
    pub(crate) fn new(
        id: DeviceId,
        name: &str,
        poll_interval: Duration,
        channel: &'static str,
    ) -> DeviceHealth {
        DeviceHealth {
            id,
            name: name.to_owned(),
            poll_interval,
            channel,
            link: Link::Unknown,
            failures: 0,
            interval: poll_interval,
            reported: HashMap::new(),
        }
    }

    /// The config's device id, for logs.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether the hub was last told the device is online.
    pub(crate) fn is_online(&self) -> bool {
        self.link == Link::Online
    }

    /// The poll interval now: the configured one, or longer while backing off.
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// The device answered: failures and back-off end and the hub hears it is online.
    /// `Ok(false)` when Online could not be queued: values must not precede it, so both wait
    /// for the next poll.
    pub(crate) fn answered(&mut self, events: &Sender<DeviceEvent>) -> Result<bool, HubGone> {
        self.failures = 0;
        self.interval = self.poll_interval;
        if self.link == Link::Online {
            return Ok(true);
        }
        let online = DeviceEvent::Online { device: self.id };
        match chan::try_send(events, online, self.channel) {
            Ok(()) => {
                log::info!("{}: online", self.name);
                self.link = Link::Online;
                // The hub must see every value again after (re)connecting.
                self.reported.clear();
                Ok(true)
            }
            Err(SendError::Full(_)) => Ok(false),
            Err(SendError::Closed(_)) => Err(HubGone),
        }
    }

    /// Whether the hub does not have `value` for `var` yet.
    pub(crate) fn is_new(&self, var: usize, value: &RawValue) -> bool {
        self.reported.get(&var) != Some(value)
    }

    /// Sends `changed` to the hub; if the channel is full they stay unreported, so the next
    /// poll sends them again.
    pub(crate) fn report(
        &mut self,
        changed: Vec<(usize, RawValue)>,
        events: &Sender<DeviceEvent>,
    ) -> Result<(), HubGone> {
        if changed.is_empty() {
            return Ok(());
        }
        let msg = DeviceEvent::Values {
            device: self.id,
            values: changed.clone(),
        };
        match chan::try_send(events, msg, self.channel) {
            Ok(()) => {
                self.reported.extend(changed);
                Ok(())
            }
            Err(SendError::Full(_)) => Ok(()),
            Err(SendError::Closed(_)) => Err(HubGone),
        }
    }

    /// A poll failed with `reason`: Offline once the failures reach `offline_after`, then
    /// probing backs off up to `max_backoff`.
    pub(crate) fn failed(
        &mut self,
        reason: &str,
        offline_after: u32,
        max_backoff: Duration,
        events: &Sender<DeviceEvent>,
    ) -> Result<(), HubGone> {
        self.failures = self.failures.saturating_add(1);
        if self.link == Link::Offline {
            let cap = max_backoff.max(self.poll_interval);
            self.interval = self.interval.saturating_mul(2).min(cap);
            log::debug!(
                "{}: still offline ({reason}); next probe in {:?}",
                self.name,
                self.interval
            );
        } else if self.failures >= offline_after.max(1) {
            let msg = DeviceEvent::Offline {
                device: self.id,
                reason: reason.to_owned(),
            };
            match chan::try_send(events, msg, self.channel) {
                Ok(()) => {
                    log::warn!(
                        "{}: offline after {} failed polls: {reason}",
                        self.name,
                        self.failures
                    );
                    self.link = Link::Offline;
                }
                // Still counted as failing; Offline is retried after the next failure.
                Err(SendError::Full(_)) => {}
                Err(SendError::Closed(_)) => return Err(HubGone),
            }
        } else {
            log::info!(
                "{}: poll failed ({}/{}): {reason}",
                self.name,
                self.failures,
                offline_after.max(1)
            );
        }
        Ok(())
    }
}
