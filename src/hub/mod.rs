//! The hub: the one thread that owns every station, turns device readings into station inputs
//! and station effects into link commands. It never blocks on another thread: it sleeps in one
//! `select!` over its inbound channels and the earliest station deadline.

mod charger;
mod spec;
mod timers;

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use crossbeam_channel::{never, select, Receiver, Sender};

use crate::chan::SendError;
use crate::device::{DeviceEvent, DeviceId};
use crate::ocpp::link::{LinkCmd, LinkEvent, LinkHandle, LinkId};
use crate::station::{Effect, Station};
use crate::util::rng::Rng;

use charger::Charger;
pub use spec::{charger_specs, ChargerSpec, DevicePlan, Workers};
use timers::Timers;

/// Requests to the hub from the daemon.
#[derive(Debug)]
pub enum Control {
    /// Stop: the hub returns; the daemon then closes links and workers.
    Shutdown,
    /// Liveness check for the service watchdog: the hub answers on the channel from its loop.
    Ping(Sender<()>),
}

/// The hub's inbound channels.
pub struct Inbox {
    pub devices: Receiver<DeviceEvent>,
    pub links: Receiver<LinkEvent>,
    pub control: Receiver<Control>,
}

/// The central mapping thread's state.
pub struct Hub {
    chargers: HashMap<u32, Charger>,
    link: LinkHandle,
    workers: Workers,
    timers: Timers,
    effects: Vec<Effect>,
}

impl Hub {
    /// A hub for `specs`; devices are polled and stations connect as soon as it runs.
    pub fn new(specs: Vec<ChargerSpec>, link: LinkHandle, workers: Workers) -> Self {
        let now = Instant::now();
        let mut rng = Rng::from_entropy();
        let chargers = specs
            .into_iter()
            .map(|spec| {
                let station = Station::new(spec.station, Rng::seeded(rng.next_u64()), now);
                let charger =
                    Charger::new(spec.name, spec.template, spec.plan, station, spec.connect);
                (spec.key, charger)
            })
            .collect();
        Hub {
            chargers,
            link,
            workers,
            timers: Timers::default(),
            effects: Vec::new(),
        }
    }

    /// Runs until told to shut down.
    pub fn run(mut self, inbox: Inbox) {
        let keys: Vec<u32> = self.chargers.keys().copied().collect();
        for key in keys {
            if let Some(charger) = self.chargers.get(&key) {
                self.workers.add(&charger.plan);
            }
            self.drive(key);
        }
        let mut devices = inbox.devices;
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
                    Ok(Control::Ping(reply)) => {
                        let _ = reply.try_send(());
                    }
                    Ok(Control::Shutdown) | Err(_) => return,
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
        charger.apply(event);
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
        match event {
            LinkEvent::Connected { .. } => {
                log::info!("{}: connected to the CSMS", station.ocpp_id());
                station.connected(now);
            }
            LinkEvent::ConnectFailed { error, .. } => {
                log::warn!("{}: cannot connect to the CSMS: {error}", station.ocpp_id());
                station.link_down(now);
            }
            LinkEvent::Closed { reason, .. } => {
                log::warn!("{}: CSMS link closed: {reason}", station.ocpp_id());
                station.link_down(now);
            }
            LinkEvent::Received { text, .. } => station.received(now, &text, &mut self.effects),
        }
        self.drive(key);
    }

    /// Lets the station act on what changed, carries out its effects, re-arms its timer.
    fn drive(&mut self, key: u32) {
        let Some(charger) = self.chargers.get_mut(&key) else {
            return;
        };
        let now = Instant::now();
        charger.sync_connector_status();
        charger
            .station
            .pump(now, SystemTime::now(), &mut self.effects);
        for effect in self.effects.drain(..) {
            let cmd = match effect {
                Effect::Connect => LinkCmd::Connect {
                    link: LinkId(key),
                    params: charger.connect.clone(),
                },
                Effect::Send(text) => LinkCmd::Send {
                    link: LinkId(key),
                    text,
                },
            };
            match self.link.send(cmd) {
                Ok(()) => {}
                Err(SendError::Full(LinkCmd::Connect { .. })) => charger.station.link_down(now),
                // A lost CALL times out in the station and is derived again; a lost reply
                // times out at the CSMS. Both are counted by the channel.
                Err(SendError::Full(_)) => {}
                Err(SendError::Closed(_)) => return,
            }
        }
        self.timers.set(key, charger.station.next_deadline());
    }
}
