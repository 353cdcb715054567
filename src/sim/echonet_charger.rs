//! An ECHONET Lite node for the tests and the demo: a node profile and one EV charger object
//! (class 0x02A1 or 0x027E) on its own address, port 3610.
//!
//! It answers Get, SetC, SetI, SetGet and INF_REQ with the matching response or SNA, and
//! announces a change of a status-change property (0x80, 0x88, 0xC7, 0xDA) with an INF to the
//! multicast group (unless configured without multicast) and to any extra unicast targets.
//! Faults on demand: drop the next N answers, vanish (answer nothing), refuse chosen
//! properties or every read.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use crate::echonet::io::{fds, wait_readable, Sockets};
use crate::echonet::propmap::{encode_instance_list, encode_property_map};
use crate::echonet::{Eoj, Esv, Frame, Property, MULTICAST_GROUP, NODE_PROFILE, PORT};

/// Properties whose change the charger announces.
const ANNOUNCED: [u8; 4] = [0x80, 0x88, 0xC7, 0xDA];
/// Properties the charger lets a controller set.
const SETTABLE: [u8; 4] = [0x80, 0xDA, 0xEB, 0xED];
/// Requests remembered for `requests`.
const REQUEST_LOG: usize = 1024;

/// Where and what the simulated node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Its own address, e.g. 127.0.0.21 (each simulator needs its own).
    pub ip: Ipv4Addr,
    /// 3610 unless a test needs otherwise.
    pub port: u16,
    /// 0x02A1 (EV charger) or 0x027E (EV charger/discharger).
    pub class: u16,
    pub instance: u8,
    /// Whether the node listens to the multicast group and announces there.
    pub multicast: bool,
    /// Where announcements go besides the multicast group.
    pub notify: Vec<SocketAddr>,
}

impl SimConfig {
    /// An EV charger (0x02A101) at `ip`:3610.
    pub fn charger(ip: Ipv4Addr) -> SimConfig {
        SimConfig {
            ip,
            port: PORT,
            class: crate::echonet::CLASS_EV_CHARGER,
            instance: 1,
            multicast: true,
            notify: Vec::new(),
        }
    }
}

/// A running simulated node; dropping it stops it.
#[derive(Debug)]
pub struct EchonetChargerSim {
    addr: SocketAddr,
    eoj: Eoj,
    shared: Arc<Shared>,
    /// Dropping it wakes the thread with end-of-file.
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    /// Sends answers and announcements (bound to the node's address).
    socket: UdpSocket,
    config: SimConfig,
    eoj: Eoj,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    charger: BTreeMap<u8, Vec<u8>>,
    profile: BTreeMap<u8, Vec<u8>>,
    drop_answers: u32,
    vanished: bool,
    refused: BTreeSet<u8>,
    /// Every read of the charger object is refused (Get_SNA), like a device that will not
    /// be read.
    refuse_reads: bool,
    /// Properties set by requests, in order.
    written: Vec<(u8, Vec<u8>)>,
    /// TID and service of the latest requests.
    requests: Vec<(u16, Esv)>,
    tid: u16,
}

impl EchonetChargerSim {
    /// Binds the node's address (and the multicast group) and starts answering.
    pub fn start(config: SimConfig) -> io::Result<EchonetChargerSim> {
        let eoj = Eoj::from_u32((u32::from(config.class) << 8) | u32::from(config.instance))
            .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "bad class"))?;
        let sockets = if config.multicast {
            Sockets::open(config.ip, config.port, 1)?
        } else {
            Sockets::open_unicast(config.ip, config.port, 1)?
        };
        let addr = sockets.local_addr()?;
        for s in sockets.receivers() {
            s.set_nonblocking(true)?;
        }
        let shared = Arc::new(Shared {
            socket: sockets.unicast.try_clone()?,
            eoj,
            state: Mutex::new(State {
                charger: charger_properties(),
                profile: profile_properties(eoj)?,
                ..State::default()
            }),
            config,
        });
        let (stop, stop_rx) = UnixStream::pair()?;
        let thread_shared = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name(format!("el-sim-{}", addr.ip()))
            .spawn(move || serve(&thread_shared, &sockets, &stop_rx))?;
        Ok(EchonetChargerSim {
            addr,
            eoj,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The node's unicast address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The charger object.
    pub fn eoj(&self) -> Eoj {
        self.eoj
    }

    /// Sets a charger property as the device would; a changed status-change property is
    /// announced at once.
    pub fn set_property(&self, epc: u8, edt: &[u8]) {
        let changed = {
            let mut state = self.shared.lock();
            state.charger.insert(epc, edt.to_vec()).as_deref() != Some(edt)
        };
        if changed && ANNOUNCED.contains(&epc) {
            self.shared.announce(self.eoj, Property::new(epc, edt));
        }
    }

    /// The charger's current value of `epc`.
    pub fn property(&self, epc: u8) -> Option<Vec<u8>> {
        self.shared.lock().charger.get(&epc).cloned()
    }

    /// Every property a request set, in order.
    pub fn written(&self) -> Vec<(u8, Vec<u8>)> {
        self.shared.lock().written.clone()
    }

    /// TID and service of the requests received (the latest 1024).
    pub fn requests(&self) -> Vec<(u16, Esv)> {
        self.shared.lock().requests.clone()
    }

    /// Processes the next `n` requests but sends no answer to them.
    pub fn drop_answers(&self, n: u32) {
        self.shared.lock().drop_answers = n;
    }

    /// Stops (`true`) or resumes answering and announcing.
    pub fn set_vanished(&self, vanished: bool) {
        self.shared.lock().vanished = vanished;
    }

    /// Refuses reads and writes of `epc` with an SNA from now on.
    pub fn refuse(&self, epc: u8) {
        self.shared.lock().refused.insert(epc);
    }

    /// Refuses (`true`) or serves again every read of the charger object.
    pub fn set_refuse_reads(&self, refuse: bool) {
        self.shared.lock().refuse_reads = refuse;
    }

    /// Announces the node's instance list (INF 0xD5), as a node does when it starts.
    pub fn announce_instances(&self) {
        let list = self.shared.lock().profile.get(&0xD5).cloned();
        if let Some(list) = list {
            self.shared
                .announce(NODE_PROFILE, Property::new(0xD5, list));
        }
    }
}

impl Drop for EchonetChargerSim {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn charger_properties() -> BTreeMap<u8, Vec<u8>> {
    let mut p = BTreeMap::new();
    p.insert(0x80, vec![0x30]);
    p.insert(0x82, vec![0x00, 0x00, b'R', 0x00]);
    p.insert(0x88, vec![0x42]);
    p.insert(0x8A, vec![0x00, 0x00, 0x77]);
    p.insert(0xC7, vec![0x30]);
    p.insert(0xCC, vec![0x11]);
    p.insert(0xD3, vec![0, 0, 0, 0]);
    p.insert(0xD8, vec![0, 0, 0, 0]);
    p.insert(0xDA, vec![0x44]);
    p.insert(0xE2, vec![0, 0, 0, 0]);
    p.insert(0xE4, vec![0]);
    p.insert(0xEB, vec![0, 0, 0x1C, 0x20]);
    p.insert(0xED, vec![0x01, 0x40]);
    // 16 readable properties with the maps: the Get map needs the bitmap form.
    let mut get: Vec<u8> = p.keys().copied().collect();
    get.extend([0x9D, 0x9E, 0x9F]);
    let maps = [
        (0x9D, &ANNOUNCED[..]),
        (0x9E, &SETTABLE[..]),
        (0x9F, &get[..]),
    ];
    for (epc, list) in maps {
        if let Ok(map) = encode_property_map(list) {
            p.insert(epc, map);
        }
    }
    p
}

fn profile_properties(charger: Eoj) -> io::Result<BTreeMap<u8, Vec<u8>>> {
    let bad = |e| io::Error::new(ErrorKind::InvalidInput, format!("{e}"));
    let instances = encode_instance_list(&[charger]).map_err(bad)?;
    let mut p = BTreeMap::new();
    p.insert(0x80, vec![0x30]);
    p.insert(0x82, vec![0x01, 0x0D, 0x01, 0x00]);
    p.insert(0x8A, vec![0x00, 0x00, 0x77]);
    p.insert(0xD3, vec![0, 0, 1]);
    p.insert(0xD5, instances.clone());
    p.insert(0xD6, instances);
    p.insert(0xD7, vec![1, charger.group, charger.class]);
    let get = [0x80, 0x82, 0x8A, 0x9D, 0x9E, 0x9F, 0xD3, 0xD6, 0xD7];
    let maps = [(0x9D, &[0x80, 0xD5][..]), (0x9E, &[][..]), (0x9F, &get[..])];
    for (epc, list) in maps {
        p.insert(epc, encode_property_map(list).map_err(bad)?);
    }
    Ok(p)
}

fn serve(shared: &Shared, sockets: &Sockets, stop: &UnixStream) {
    let mut watched = vec![stop.as_raw_fd()];
    watched.extend(fds(sockets.receivers()));
    let receivers: Vec<&UdpSocket> = sockets.receivers().collect();
    let mut buf = vec![0u8; 65_536];
    loop {
        let Ok(ready) = wait_readable(&watched) else {
            return;
        };
        if ready.first().copied().unwrap_or(true) {
            return;
        }
        for (socket, _) in receivers
            .iter()
            .zip(ready.iter().skip(1))
            .filter(|(_, r)| **r)
        {
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                if let Ok(frame) = Frame::decode(buf.get(..n).unwrap_or_default()) {
                    shared.handle(from, frame);
                }
            }
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn handle(&self, from: SocketAddr, frame: Frame) {
        if !frame.esv.is_request() {
            return;
        }
        let target = match frame.deoj {
            NODE_PROFILE => NODE_PROFILE,
            Eoj { instance: 0, .. } if frame.deoj.class_code() == 0x0EF0 => NODE_PROFILE,
            Eoj { instance: 0, .. } if frame.deoj.class_code() == self.eoj.class_code() => self.eoj,
            eoj if eoj == self.eoj => self.eoj,
            _ => return,
        };
        let mut announce = Vec::new();
        let answer = {
            let mut state = self.lock();
            if state.vanished {
                return;
            }
            if state.requests.len() >= REQUEST_LOG {
                state.requests.remove(0);
            }
            state.requests.push((frame.tid, frame.esv));
            let answer = state.answer(target, &frame, &mut announce);
            if state.drop_answers > 0 {
                state.drop_answers -= 1;
                None
            } else {
                answer
            }
        };
        // Every answer, INF to an INF_REQ included, goes back to the requester.
        if let Some(answer) = answer {
            self.send(&answer, from);
        }
        for p in announce {
            self.announce(self.eoj, p);
        }
    }

    /// Sends an INF from `seoj` to the group and the extra targets.
    fn announce(&self, seoj: Eoj, property: Property) {
        let tid = {
            let mut state = self.lock();
            if state.vanished {
                return;
            }
            state.tid = state.tid.wrapping_add(1);
            state.tid
        };
        let frame = Frame::new(tid, seoj, NODE_PROFILE, Esv::Inf, vec![property]);
        let group = SocketAddr::new(MULTICAST_GROUP.into(), self.config.port);
        let group = self.config.multicast.then_some(group);
        for to in group.into_iter().chain(self.config.notify.iter().copied()) {
            self.send(&frame, to);
        }
    }

    fn send(&self, frame: &Frame, to: SocketAddr) {
        if let Ok(bytes) = frame.encode() {
            if let Err(e) = self.socket.send_to(&bytes, to) {
                log::debug!("echonet sim {}: send to {to}: {e}", self.config.ip);
            }
        }
    }
}

impl State {
    fn table(&mut self, eoj: Eoj) -> &mut BTreeMap<u8, Vec<u8>> {
        if eoj == NODE_PROFILE {
            &mut self.profile
        } else {
            &mut self.charger
        }
    }

    /// The answer to `frame` addressed to `eoj` (`None` for an accepted SetI); properties
    /// whose change must be announced go to `announce`.
    fn answer(&mut self, eoj: Eoj, frame: &Frame, announce: &mut Vec<Property>) -> Option<Frame> {
        let mut refused = false;
        let (props, get_props) = match frame.esv {
            Esv::Get | Esv::InfReq => (self.read(eoj, &frame.props, &mut refused), Vec::new()),
            Esv::SetI | Esv::SetC => (
                self.write(eoj, &frame.props, &mut refused, announce),
                Vec::new(),
            ),
            Esv::SetGet => {
                let set = self.write(eoj, &frame.props, &mut refused, announce);
                (set, self.read(eoj, &frame.get_props, &mut refused))
            }
            _ => return None,
        };
        let esv = match (frame.esv, refused) {
            (Esv::Get, false) => Esv::GetRes,
            (Esv::Get, true) => Esv::GetSna,
            (Esv::InfReq, false) => Esv::Inf,
            (Esv::InfReq, true) => Esv::InfSna,
            (Esv::SetI, false) => return None,
            (Esv::SetI, true) => Esv::SetISna,
            (Esv::SetC, false) => Esv::SetRes,
            (Esv::SetC, true) => Esv::SetCSna,
            (_, false) => Esv::SetGetRes,
            (_, true) => Esv::SetGetSna,
        };
        Some(Frame {
            tid: frame.tid,
            seoj: eoj,
            deoj: frame.seoj,
            esv,
            props,
            get_props,
        })
    }

    /// Values of `asked`; an unknown or refused one comes back empty.
    fn read(&mut self, eoj: Eoj, asked: &[Property], refused: &mut bool) -> Vec<Property> {
        let blocked = self.refused.clone();
        let refuse_all = self.refuse_reads && eoj != NODE_PROFILE;
        let table = self.table(eoj);
        asked
            .iter()
            .map(|p| match table.get(&p.epc) {
                Some(v) if !refuse_all && !blocked.contains(&p.epc) => {
                    Property::new(p.epc, v.clone())
                }
                _ => {
                    *refused = true;
                    Property::empty(p.epc)
                }
            })
            .collect()
    }

    /// Applies `asked`; accepted ones come back empty, refused ones with their value.
    fn write(
        &mut self,
        eoj: Eoj,
        asked: &[Property],
        refused: &mut bool,
        announce: &mut Vec<Property>,
    ) -> Vec<Property> {
        let mut out = Vec::with_capacity(asked.len());
        for p in asked {
            let allowed = eoj != NODE_PROFILE
                && SETTABLE.contains(&p.epc)
                && !p.edt.is_empty()
                && !self.refused.contains(&p.epc);
            if !allowed {
                *refused = true;
                out.push(p.clone());
                continue;
            }
            let old = self.charger.insert(p.epc, p.edt.clone());
            self.written.push((p.epc, p.edt.clone()));
            if old.as_deref() != Some(&p.edt[..]) && ANNOUNCED.contains(&p.epc) {
                announce.push(p.clone());
            }
            out.push(Property::empty(p.epc));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_like_a_charger() {
        let mut state = State {
            charger: charger_properties(),
            ..State::default()
        };
        let eoj = Eoj::from_u32(0x02A101).unwrap();
        let controller = crate::echonet::CONTROLLER;
        let get = Frame::get(1, controller, eoj, &[0x80, 0xC7]);
        let mut announce = Vec::new();
        let answer = state.answer(eoj, &get, &mut announce).unwrap();
        assert_eq!(answer.esv, Esv::GetRes);
        assert_eq!(answer.props[1], Property::new(0xC7, [0x30]));

        let set = Frame::new(
            2,
            controller,
            eoj,
            Esv::SetC,
            vec![Property::new(0xDA, [0x42])],
        );
        let answer = state.answer(eoj, &set, &mut announce).unwrap();
        assert_eq!(
            (answer.esv, answer.props.clone()),
            (Esv::SetRes, vec![Property::empty(0xDA)])
        );
        assert_eq!(announce, vec![Property::new(0xDA, [0x42])]);

        let not_settable = Frame::new(
            3,
            controller,
            eoj,
            Esv::SetC,
            vec![Property::new(0xC7, [0x41])],
        );
        let answer = state.answer(eoj, &not_settable, &mut announce).unwrap();
        assert_eq!(answer.esv, Esv::SetCSna);
        assert_eq!(answer.props, vec![Property::new(0xC7, [0x41])]);

        state.refused.insert(0xC7);
        let answer = state.answer(eoj, &get, &mut announce).unwrap();
        assert_eq!(answer.esv, Esv::GetSna);
        assert_eq!(answer.props[1], Property::empty(0xC7));

        let seti = Frame::new(
            4,
            controller,
            eoj,
            Esv::SetI,
            vec![Property::new(0x80, [0x31])],
        );
        assert_eq!(
            state.answer(eoj, &seti, &mut announce),
            None,
            "SetI accepted: silent"
        );
        let setget = Frame {
            tid: 5,
            seoj: controller,
            deoj: eoj,
            esv: Esv::SetGet,
            props: vec![Property::new(0xEB, [0, 0, 0x0B, 0xB8])],
            get_props: vec![Property::empty(0xEB)],
        };
        let answer = state.answer(eoj, &setget, &mut announce).unwrap();
        assert_eq!(answer.esv, Esv::SetGetRes);
        assert_eq!(
            answer.get_props,
            vec![Property::new(0xEB, [0, 0, 0x0B, 0xB8])]
        );
    }
}
