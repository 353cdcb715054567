//! Random sequences of what drivers, the CSMS, the network and power cuts do to one station,
//! against a simulated charger, CSMS and journal. After every step: energy flows only inside
//! a transaction the station runs (so the CSMS was told, or will be from the queue or the
//! journal). Once the link is quiet: seqNo gap-free per transaction, one Ended per Started,
//! and the status the CSMS acknowledged last is the device's.

use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::journal::{Stored, StoredMessage, StoredTx};

const SEQUENCES: u64 = 300;
const STEPS: usize = 60;

/// A charger that delivers energy while a vehicle is plugged in and charging is enabled.
struct Charger {
    plugged: bool,
    enabled: bool,
    energy_wh: f64,
    token: Option<String>,
}

impl Charger {
    fn charging(&self) -> bool {
        self.plugged && self.enabled
    }

    fn inputs(&self) -> EvseInputs {
        let sample = |measurand, value, unit: &str| Sample {
            measurand,
            phase: None,
            value,
            unit: Some(unit.into()),
        };
        let watts = if self.charging() { 7000.0 } else { 0.0 };
        EvseInputs {
            online: Some(true),
            vehicle_connected: Some(self.plugged),
            samples: vec![
                sample(Measurand::EnergyActiveImportRegister, self.energy_wh, "Wh"),
                sample(Measurand::PowerActiveImport, watts, "W"),
            ],
            id_token: self.token.clone(),
            ..Default::default()
        }
    }
}

/// What the CSMS has seen and acknowledged.
#[derive(Default)]
struct Csms {
    /// The station's CALL waiting for an answer: (id, action, payload).
    pending: Option<(String, String, Value)>,
    /// TransactionEvents by transaction id and seqNo (a resend replaces its copy).
    events: BTreeMap<String, BTreeMap<i64, Value>>,
    /// The connector status acknowledged last.
    status: Option<String>,
    /// The next TransactionEvent carrying a token gets idTokenInfo Invalid.
    refuse_next_token: bool,
    next_call: u64,
}

/// The journal as the hub keeps it.
#[derive(Default, Clone)]
struct Journal {
    messages: BTreeMap<u64, (String, String)>,
    transactions: BTreeMap<u32, String>,
}

impl Journal {
    fn apply(&mut self, op: &JournalOp) {
        match op {
            JournalOp::Append {
                key,
                action,
                payload,
            } => {
                self.messages
                    .insert(*key, (action.clone(), payload.clone()));
            }
            JournalOp::Remove { key, .. } => {
                self.messages.remove(key);
            }
            JournalOp::SaveTx { evse, state } => {
                self.transactions.insert(*evse, state.clone());
            }
            JournalOp::ClearTx { evse } => {
                self.transactions.remove(evse);
            }
        }
    }

    fn stored(&self) -> Stored {
        Stored {
            messages: self
                .messages
                .iter()
                .map(|(key, (action, payload))| StoredMessage {
                    key: *key,
                    action: action.clone(),
                    payload: payload.clone(),
                })
                .collect(),
            transactions: self
                .transactions
                .iter()
                .map(|(evse, state)| StoredTx {
                    evse: *evse,
                    state: state.clone(),
                })
                .collect(),
        }
    }
}

struct World {
    rng: Rng,
    st: Station,
    charger: Charger,
    csms: Csms,
    journal: Journal,
    t0: Instant,
    now: Instant,
    /// The link is cut: connection attempts fail until it is back.
    cut: bool,
    /// The device has not been read since the last restart.
    unread: bool,
    restarts: u64,
    seed: u64,
    /// What happened so far, printed with a failure.
    history: Vec<String>,
}

/// Half the seeds run with StopTxOnInvalidId off and some MaxEnergyOnInvalidId.
fn station_settings(seed: u64) -> StationSettings {
    let mut s = settings();
    s.tx.updated_interval = Duration::from_secs(30);
    s.tx.stop_tx_on_invalid_id = seed % 2 == 0;
    s.tx.max_energy_on_invalid_id_wh = (seed % 5) * 100;
    s.capabilities = Capabilities {
        start_stop: true,
        unlock: true,
        reset: true,
        availability: true,
    };
    s
}

impl World {
    fn new(seed: u64) -> Self {
        let now = Instant::now();
        let mut st = Station::new(station_settings(seed), Rng::seeded(seed << 8), now);
        st.resume_from_journal(now, wall(), 100_000, Stored::default());
        World {
            rng: Rng::seeded(seed),
            st,
            charger: Charger {
                plugged: false,
                enabled: true,
                energy_wh: 0.0,
                token: None,
            },
            csms: Csms::default(),
            journal: Journal::default(),
            t0: now,
            now,
            cut: false,
            unread: false,
            restarts: 0,
            seed,
            history: Vec::new(),
        }
    }

    fn wall(&self) -> std::time::SystemTime {
        wall() + (self.now - self.t0)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.below(100) < percent
    }

    /// Carries out the station's effects; returns whether it asked to connect.
    fn apply(&mut self, out: Vec<Effect>) -> bool {
        let mut connect = false;
        for effect in out {
            match effect {
                Effect::Connect => connect = true,
                Effect::Disconnect => self.st.link_down(self.now),
                Effect::Device(DeviceCommand::Charging { start, .. }) => {
                    self.charger.enabled = start;
                }
                Effect::Journal(op) => self.journal.apply(&op),
                Effect::Send(text) => {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    if v[0] == 2 {
                        assert!(self.csms.pending.is_none(), "two CALLs in flight: {v}");
                        let id = v[1].as_str().unwrap().to_string();
                        let action = v[2].as_str().unwrap().to_string();
                        self.csms.pending = Some((id, action, v[3].clone()));
                    }
                }
                _ => {}
            }
        }
        connect
    }

    /// The CSMS answers the station's pending CALL.
    fn answer(&mut self) -> Vec<Effect> {
        let Some((id, action, p)) = self.csms.pending.take() else {
            return Vec::new();
        };
        let reply = match action.as_str() {
            "BootNotification" => {
                json!({"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"})
            }
            "StatusNotification" => {
                self.csms.status = p["connectorStatus"].as_str().map(String::from);
                json!({})
            }
            "Authorize" => json!({"idTokenInfo": {"status": "Accepted"}}),
            "TransactionEvent" => {
                let tx = p["transactionInfo"]["transactionId"].as_str().unwrap();
                let seq = p["seqNo"].as_i64().unwrap();
                self.csms
                    .events
                    .entry(tx.to_string())
                    .or_default()
                    .insert(seq, p.clone());
                if p.get("idToken").is_some() && std::mem::take(&mut self.csms.refuse_next_token) {
                    json!({"idTokenInfo": {"status": "Invalid"}})
                } else {
                    json!({})
                }
            }
            _ => json!({}),
        };
        let mut out = Vec::new();
        self.st.received(
            self.now,
            self.wall(),
            &json!([3, id, reply]).to_string(),
            &mut out,
        );
        out
    }

    /// The CSMS sends a CALL; the station answers it in the same turn.
    fn csms_call(&mut self, action: &str, payload: Value) {
        if !self.st.is_connected() {
            return;
        }
        self.csms.next_call += 1;
        let id = format!("csms-{}", self.csms.next_call);
        let mut out = Vec::new();
        self.st.received(
            self.now,
            self.wall(),
            &json!([2, id, action, payload]).to_string(),
            &mut out,
        );
        self.settle(out);
    }

    /// Lets the station, the link and the CSMS run until nothing more happens at `now`.
    fn settle(&mut self, mut out: Vec<Effect>) {
        // Each queued message takes two rounds: the answer, then the journal's confirmation
        // of its removal before the next one may go.
        for _ in 0..150 {
            if !self.unread {
                self.st.set_inputs(0, self.charger.inputs());
                self.st.device_known(0);
            }
            self.st.pump(self.now, self.wall(), &mut out);
            let connect = self.apply(std::mem::take(&mut out));
            // This journal never fails: what the station handed out is on disk at once.
            let written = self.st.journal_written();
            if connect {
                if self.cut {
                    self.st.link_down(self.now);
                } else {
                    self.st.connected(self.now);
                }
                continue;
            }
            if self.csms.pending.is_some() && !self.cut {
                out = self.answer();
                continue;
            }
            if written {
                continue;
            }
            return;
        }
        panic!("seed {}: the station never settles", self.seed);
    }

    fn restart(&mut self) {
        self.restarts += 1;
        self.csms.pending = None;
        let rng = Rng::seeded((self.seed << 8) + self.restarts);
        self.st = Station::new(station_settings(self.seed), rng, self.now);
        let stored = self.journal.stored();
        self.st
            .resume_from_journal(self.now, self.wall(), 100_000, stored);
        // The device's first answer may come late.
        self.unread = self.chance(50);
        if self.unread {
            self.st.set_inputs(
                0,
                EvseInputs {
                    online: Some(true),
                    ..Default::default()
                },
            );
        }
    }

    fn step(&mut self) {
        let roll = self.rng.below(100);
        self.history.push(format!(
            "roll {roll}: plugged {} enabled {} tx {:?}",
            self.charger.plugged,
            self.charger.enabled,
            self.st.transaction_id(0)
        ));
        match roll {
            0..=24 => self.charger.plugged = !self.charger.plugged,
            25..=39 => {
                let remote_start_id = self.rng.below(1000) as i32;
                self.csms_call(
                    "RequestStartTransaction",
                    json!({"remoteStartId": remote_start_id,
                           "idToken": {"idToken": format!("APP-{remote_start_id}"), "type": "Central"}}),
                );
            }
            40..=54 => {
                if let Some(tx) = self.st.transaction_id(0).map(String::from) {
                    self.csms_call("RequestStopTransaction", json!({ "transactionId": tx }));
                }
            }
            55..=62 => {
                self.charger.token = match self.charger.token {
                    Some(_) => None,
                    None => Some("CARD-1".into()),
                }
            }
            63..=70 => self.csms.refuse_next_token = true,
            71..=78 => {
                if self.cut {
                    self.cut = false;
                } else {
                    self.cut = true;
                    self.csms.pending = None;
                    self.st.link_down(self.now);
                }
            }
            79..=84 => self.restart(),
            _ => {}
        }
        if self.unread && self.chance(50) {
            self.unread = false;
        }
        let secs = self.rng.below(90);
        self.now += Duration::from_secs(secs);
        if self.charger.charging() {
            self.charger.energy_wh += 7000.0 * secs as f64 / 3600.0;
        }
        self.settle(Vec::new());
        // A free-vend charger may deliver before the gateway could read it; from the first
        // reading on, its energy belongs to a transaction.
        assert!(
            self.unread || !self.charger.charging() || self.st.transaction_id(0).is_some(),
            "seed {}: energy flows without a transaction after {:#?}",
            self.seed,
            self.history
        );
    }

    /// Brings the link back and lets every queued message reach the CSMS.
    fn quiesce(&mut self) {
        self.cut = false;
        self.unread = false;
        for _ in 0..100 {
            self.now += Duration::from_secs(60);
            self.settle(Vec::new());
            if self.st.is_connected()
                && self.st.queued_messages() == 0
                && self.csms.pending.is_none()
            {
                return;
            }
        }
        panic!("seed {}: the link never became quiet", self.seed);
    }

    fn check_quiet(&self) {
        let seed = self.seed;
        let device = if self.charger.plugged {
            "Occupied"
        } else {
            "Available"
        };
        assert_eq!(
            self.csms.status.as_deref(),
            Some(device),
            "seed {seed}: the CSMS's last status is not the device's"
        );
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for (tx, events) in &self.csms.events {
            let seqs: Vec<i64> = events.keys().copied().collect();
            assert_eq!(
                seqs,
                (0..seqs.len() as i64).collect::<Vec<_>>(),
                "seed {seed}: seqNo gap in {tx}"
            );
            for p in events.values() {
                *counts.entry(p["eventType"].as_str().unwrap()).or_default() += 1;
            }
            let ended = events
                .values()
                .filter(|p| p["eventType"] == "Ended")
                .count();
            let running = self.st.transaction_id(0) == Some(tx.as_str());
            assert_eq!(
                (events[&0]["eventType"].as_str(), ended),
                (Some("Started"), usize::from(!running)),
                "seed {seed}: {tx} must start once and end once unless still running"
            );
        }
    }
}

#[test]
fn random_sequences_keep_energy_transactions_and_status_true() {
    for seed in 1..=SEQUENCES {
        let mut w = World::new(seed);
        for _ in 0..STEPS {
            w.step();
        }
        w.quiesce();
        w.check_quiet();
        // The vehicle leaves: every transaction the CSMS heard of is over.
        w.charger.plugged = false;
        w.quiesce();
        w.check_quiet();
        assert!(w.st.transaction_id(0).is_none(), "seed {seed}");
    }
}
