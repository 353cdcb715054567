//! The hub: the one thread that owns every station, turns device readings into station inputs
//! and station effects into link commands. It never blocks on another thread: it sleeps in one
//! `select!` over its inbound channels and the earliest station deadline.

mod charger;
mod journal;
mod query;
mod reload;
mod spec;
mod timers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crossbeam_channel::{never, select, Receiver, Sender};

use crate::chan::SendError;
use crate::config::Config;
use crate::device::{DeviceEvent, DeviceId};
use crate::journal::Journal;
use crate::metrics;
use crate::ocpp::link::{CloseWhy, LinkCmd, LinkEvent, LinkHandle, LinkId};
use crate::station::device_model::read_store;
use crate::station::{Effect, Station};
use crate::util::rng::Rng;

use charger::Charger;
use journal::{restore, HubJournal};
pub use query::{
    DeviceDetail, DeviceLink, DeviceSummary, GatewaySnapshot, Query, Reading, VariableSnapshot,
};
pub use reload::{diff, ReloadPlan};
pub use spec::{charger_specs, ChargerSpec, DevicePlan, WorkerOp, Workers};
use timers::Timers;

/// Requests to the hub from the daemon.
#[derive(Debug)]
pub enum Control {
    /// Stop: the hub returns; the daemon then closes links and workers.
    Shutdown,
    /// Apply a new, validated config: start, stop or restart the devices it changes.
    Reload(Box<Config>),
    /// Liveness check for the service watchdog: the hub answers on the channel from its loop.
    Ping(Sender<()>),
}

/// The hub's inbound channels.
pub struct Inbox {
    pub devices: Receiver<DeviceEvent>,
    pub links: Receiver<LinkEvent>,
    pub control: Receiver<Control>,
    /// Questions from the admin server.
    pub admin: Receiver<Query>,
}

/// The central mapping thread's state.
pub struct Hub {
    chargers: HashMap<u32, Charger>,
    link: LinkHandle,
    workers: Workers,
    timers: Timers,
    effects: Vec<Effect>,
    /// The running config, which a reload is compared with; `None` when not reloadable.
    config: Option<Box<Config>>,
    /// TLS settings for stations started by a reload.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// The next unused device/link key.
    next_key: u32,
    /// Seeds each new station's jitter.
    rng: Rng,
    /// Where transaction messages and states are kept across restarts, when it could be opened.
    journal: Option<HubJournal>,
}

impl Hub {
    /// A hub for `specs`; devices are polled and stations connect as soon as it runs.
    pub fn new(specs: Vec<ChargerSpec>, link: LinkHandle, workers: Workers) -> Self {
        let now = Instant::now();
        let mut rng = Rng::from_entropy();
        let chargers = specs
            .into_iter()
            .map(|spec| {
                (
                    spec.key,
                    new_charger(spec, Rng::seeded(rng.next_u64()), now),
                )
            })
            .collect();
        Hub {
            chargers,
            link,
            workers,
            timers: Timers::default(),
            effects: Vec::new(),
            config: None,
            tls: None,
            next_key: 0,
            rng,
            journal: None,
        }
    }

    /// Journals every station's transaction messages and states in `journal`, each station's
    /// queue bounded to `max_messages`; each station takes back what the journal holds for it
    /// before its first step.
    pub fn with_journal(mut self, journal: Journal, max_messages: usize) -> Self {
        self.journal = Some(HubJournal::new(journal, max_messages));
        self
    }

    /// Makes the hub reloadable: `config` is what `specs` were built from with `tls`, and
    /// `next_key` the first key they did not use.
    pub fn with_config(
        mut self,
        config: Config,
        tls: Option<Arc<rustls::ClientConfig>>,
        next_key: u32,
    ) -> Self {
        self.config = Some(Box::new(config));
        self.tls = tls;
        self.next_key = next_key;
        self
    }

    /// Runs until told to shut down.
    pub fn run(mut self, inbox: Inbox) {
        let keys: Vec<u32> = self.chargers.keys().copied().collect();
        for key in keys {
            if let Some(charger) = self.chargers.get(&key) {
                let _ = self.workers.send(&charger.plan, WorkerOp::Add);
            }
            self.drive(key);
        }
        let mut devices = inbox.devices;
        let mut admin = inbox.admin;
        loop {
            let timer = match self.timers.next() {
                Some(at) => crossbeam_channel::at(at),
                None => never(),
            };
            select! {
                recv(devices) -> event => match event {
                    Ok(event) => self.on_device(event),
                    // Every device worker is gone; keep serving the CSMS side.
                    Err(_) => devices = never(),
                },
                recv(inbox.links) -> event => match event {
                    Ok(event) => self.on_link(event),
                    Err(_) => return,
                },
                recv(inbox.control) -> control => match control {
                    Ok(Control::Reload(config)) => self.reload(*config),
                    Ok(Control::Ping(reply)) => {
                        let _ = reply.try_send(());
                    }
                    Ok(Control::Shutdown) | Err(_) => return,
                },
                recv(admin) -> query => match query {
                    Ok(query) => self.answer(query, &devices, &inbox.links, &admin),
                    Err(_) => admin = never(),
                },
                recv(timer) -> _ => {
                    for key in self.timers.due(Instant::now()) {
                        self.drive(key);
                    }
                }
            }
        }
    }

    fn on_device(&mut self, event: DeviceEvent) {
        let DeviceId(key) = event.device();
        let Some(charger) = self.chargers.get_mut(&key) else {
            return;
        };
        match &event {
            DeviceEvent::Online { .. } => metrics::device(&charger.name).online.set(1),
            DeviceEvent::Offline { .. } => metrics::device(&charger.name).online.set(0),
            DeviceEvent::Values { .. } | DeviceEvent::Written { .. } => {}
        }
        let values_changed = matches!(event, DeviceEvent::Values { .. });
        charger.apply(event);
        if values_changed {
            let values = charger.external_values();
            charger.station.set_external_values(values);
        }
        self.drive(key);
    }

    fn on_link(&mut self, event: LinkEvent) {
        let now = Instant::now();
        let key = match &event {
            LinkEvent::Connected { link }
            | LinkEvent::ConnectFailed { link, .. }
            | LinkEvent::Received { link, .. }
            | LinkEvent::Closed { link, .. } => link.0,
        };
        let Some(charger) = self.chargers.get_mut(&key) else {
            return;
        };
        let station = &mut charger.station;
        let counters = metrics::station(station.ocpp_id());
        match event {
            LinkEvent::Connected { .. } => {
                log::info!("{}: connected to the CSMS", station.ocpp_id());
                counters.opened();
                station.connected(now);
            }
            LinkEvent::ConnectFailed { error, auth, .. } => {
                log::warn!("{}: cannot connect to the CSMS: {error}", station.ocpp_id());
                counters.closed(true);
                if auth {
                    station.auth_failed(now, SystemTime::now(), &error);
                } else {
                    station.link_down(now);
                }
            }
            LinkEvent::Closed { reason, .. } => {
                log::warn!("{}: CSMS link closed: {reason}", station.ocpp_id());
                counters.closed(false);
                station.link_down(now);
            }
            LinkEvent::Received { text, .. } => {
                counters.received.inc();
                station.received(now, SystemTime::now(), &text, &mut self.effects);
            }
        }
        self.drive(key);
    }

    /// Lets the station act on what changed, carries out its effects, re-arms its timer.
    fn drive(&mut self, key: u32) {
        let Some(charger) = self.chargers.get_mut(&key) else {
            return;
        };
        let now = Instant::now();
        if let Some(journal) = &mut self.journal {
            if !charger.journaled {
                charger.journaled = true;
                restore(charger, journal, now);
            }
        }
        let mut retry = None;
        // Once the journal writes are on disk the station may send the transaction message
        // they cover; a second pump lets it do so at once. A third finds nothing new.
        for _ in 0..3 {
            if !self.pump(key, now) {
                return;
            }
            let Some(charger) = self.chargers.get_mut(&key) else {
                return;
            };
            let written = match &mut self.journal {
                Some(journal) => journal.write(charger.station.ocpp_id(), now),
                None => true,
            };
            if !written {
                retry = self.journal.as_ref().and_then(HubJournal::retry_at);
                break;
            }
            if !charger.station.journal_written() {
                break;
            }
        }
        if let Some(charger) = self.chargers.get(&key) {
            // A write that failed before reaching the device is the station's news at once.
            let next = match charger.has_reports() {
                true => Some(now),
                false => charger.station.next_deadline(),
            };
            let deadline = match (next, retry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            self.timers.set(key, deadline);
        }
    }

    /// One pump of the station of `key` and its effects; false when the link worker is gone.
    fn pump(&mut self, key: u32, now: Instant) -> bool {
        let Some(charger) = self.chargers.get_mut(&key) else {
            return true;
        };
        let inputs = charger.evse_inputs();
        charger.station.set_inputs(0, inputs);
        for report in charger.take_reports() {
            charger
                .station
                .write_finished(now, SystemTime::now(), report, &mut self.effects);
        }
        if charger.has_readings() {
            charger.station.device_known(0);
        }
        charger
            .station
            .pump(now, SystemTime::now(), &mut self.effects);
        let counters =
            (!self.effects.is_empty()).then(|| metrics::station(charger.station.ocpp_id()));
        for effect in self.effects.drain(..) {
            if let Effect::Journal(op) = effect {
                if let Some(journal) = &mut self.journal {
                    journal.push(charger.station.ocpp_id(), op);
                }
                continue;
            }
            let frame = matches!(effect, Effect::Send(_));
            if frame {
                // What the station journaled is on disk before anything after it leaves when
                // the disk allows; if it does not, only frames the journal does not cover go
                // out (the station holds back its transaction messages).
                if let Some(journal) = &mut self.journal {
                    journal.write(charger.station.ocpp_id(), now);
                }
            }
            let cmd = match effect {
                Effect::Connect => LinkCmd::Connect {
                    link: LinkId(key),
                    params: charger.connect_params(),
                },
                Effect::Disconnect => LinkCmd::Close {
                    link: LinkId(key),
                    why: CloseWhy::Normal,
                },
                Effect::Send(text) => LinkCmd::Send {
                    link: LinkId(key),
                    text,
                },
                Effect::Device(command) => {
                    charger.command(command, &self.workers);
                    continue;
                }
                Effect::WriteVariable {
                    component,
                    variable,
                    value,
                } => {
                    charger.write_variable(&component, &variable, &value, &self.workers);
                    continue;
                }
                Effect::Persist(values) => {
                    charger.persist(&values);
                    continue;
                }
                Effect::Journal(_) => continue,
            };
            let sent = self.link.send(cmd);
            if let (true, Some(counters)) = (frame, &counters) {
                match sent {
                    Ok(()) => counters.sent.inc(),
                    Err(_) => counters.failed.inc(),
                }
            }
            match sent {
                Ok(()) => {}
                Err(SendError::Full(LinkCmd::Connect { .. })) => charger.station.link_down(now),
                // A lost CALL times out in the station and is derived again; a lost reply
                // times out at the CSMS. Both are counted by the channel.
                Err(SendError::Full(_)) => {}
                Err(SendError::Closed(_)) => return false,
            }
        }
        true
    }
}

/// A charger for `spec`, its station restored from what the CSMS set before a restart.
fn new_charger(spec: ChargerSpec, rng: Rng, now: Instant) -> Charger {
    let mut station = Station::new(spec.station, rng, now);
    station.define_external(charger::exposed_variables(&spec.template));
    match read_store(&spec.store_dir) {
        Ok(Some(stored)) => station.restore_device_model(&stored),
        Ok(None) => {}
        Err(e) => log::warn!("{}: {e}; starting from the config", spec.name),
    }
    Charger::new(
        spec.name,
        spec.template,
        spec.plan,
        station,
        spec.connect,
        spec.store_dir,
    )
}
