//! Finding nodes and their objects: instance lists in frames (sans-IO, used by the worker to
//! bind devices) and a blocking survey of a network (used by `ocpp-gw diag el discover`).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::client::Client;
use super::epc::{
    GET_MAP, INSTANCE_LIST_NOTIFICATION, SELF_NODE_INSTANCES, SET_MAP, STATUS_CHANGE_MAP,
};
use super::error::{PropertyError, RequestError};
use super::frame::{Eoj, Esv, Frame};
use super::propmap::{decode_instance_list, decode_property_map};
use super::{is_ev_charger, CLASS_NODE_PROFILE, NODE_PROFILE};

/// The instance list a node profile sends in `frame` (0xD6 answer or 0xD5 announcement), if
/// the frame carries one.
pub fn instance_list(frame: &Frame) -> Option<Result<Vec<Eoj>, PropertyError>> {
    if frame.seoj.class_code() != CLASS_NODE_PROFILE {
        return None;
    }
    let p = frame.props.iter().find(|p| {
        matches!(p.epc, SELF_NODE_INSTANCES | INSTANCE_LIST_NOTIFICATION) && !p.edt.is_empty()
    })?;
    Some(decode_instance_list(&p.edt))
}

/// The first EV charger (or charger/discharger) object of an instance list.
pub fn first_charger(instances: &[Eoj]) -> Option<Eoj> {
    instances.iter().copied().find(|&e| is_ev_charger(e))
}

/// The property maps of one object; each is `None` when the node did not give it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropertyMaps {
    pub status_change: Option<Vec<u8>>,
    pub set: Option<Vec<u8>>,
    pub get: Option<Vec<u8>>,
}

/// One object of a node and what it says about its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub eoj: Eoj,
    /// The maps, or why they could not be read.
    pub maps: Result<PropertyMaps, String>,
}

/// A node that answered, with its node profile first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub ip: IpAddr,
    pub objects: Vec<ObjectInfo>,
}

/// Asks every node for its instance list, listens for `wait`, then reads the property maps
/// of each object of each node that answered (ordered by address).
pub fn survey(client: &mut Client, wait: Duration) -> Result<Vec<NodeInfo>, RequestError> {
    let answers = client.multicast_get(NODE_PROFILE, &[SELF_NODE_INSTANCES], wait)?;
    let mut nodes: BTreeMap<Ipv4Addr, Vec<Eoj>> = BTreeMap::new();
    for (ip, frame) in answers {
        let IpAddr::V4(ip) = ip else {
            continue;
        };
        match instance_list(&frame) {
            Some(Ok(list)) => {
                nodes.insert(ip, list);
            }
            Some(Err(e)) => log::warn!("{ip}: bad instance list: {e}"),
            None => log::warn!("{ip}: answered without an instance list ({})", frame.esv),
        }
    }
    let mut out = Vec::with_capacity(nodes.len());
    for (ip, list) in nodes {
        let objects = std::iter::once(NODE_PROFILE)
            .chain(list)
            .map(|eoj| ObjectInfo {
                eoj,
                maps: property_maps(client, ip, eoj),
            })
            .collect();
        out.push(NodeInfo {
            ip: ip.into(),
            objects,
        });
    }
    Ok(out)
}

/// Reads the three property maps of `eoj` at `ip` in one Get.
pub fn property_maps(client: &mut Client, ip: Ipv4Addr, eoj: Eoj) -> Result<PropertyMaps, String> {
    let frame = client
        .get(ip, eoj, &[STATUS_CHANGE_MAP, SET_MAP, GET_MAP])
        .map_err(|e| e.to_string())?;
    if !matches!(frame.esv, Esv::GetRes | Esv::GetSna) {
        return Err(format!("unexpected {}", frame.esv));
    }
    let map = |epc: u8| {
        frame
            .props
            .iter()
            .find(|p| p.epc == epc && !p.edt.is_empty())
            .and_then(|p| decode_property_map(&p.edt).ok())
    };
    Ok(PropertyMaps {
        status_change: map(STATUS_CHANGE_MAP),
        set: map(SET_MAP),
        get: map(GET_MAP),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::echonet::frame::Property;

    #[test]
    fn instance_lists_come_from_node_profiles_only() {
        let charger = Eoj::from_u32(0x02A101).unwrap();
        let list = Property::new(0xD6, [1, 0x02, 0xA1, 0x01]);
        let answer = Frame::new(
            1,
            NODE_PROFILE,
            NODE_PROFILE,
            Esv::GetRes,
            vec![list.clone()],
        );
        assert_eq!(instance_list(&answer), Some(Ok(vec![charger])));
        let from_device = Frame::new(1, charger, NODE_PROFILE, Esv::GetRes, vec![list]);
        assert_eq!(instance_list(&from_device), None);
        let refused = Frame::new(
            1,
            NODE_PROFILE,
            NODE_PROFILE,
            Esv::GetSna,
            vec![Property::empty(0xD6)],
        );
        assert_eq!(instance_list(&refused), None);
        let d5 = Frame::new(
            2,
            NODE_PROFILE,
            NODE_PROFILE,
            Esv::Inf,
            vec![Property::new(0xD5, [2])],
        );
        assert!(matches!(instance_list(&d5), Some(Err(_))));
    }

    #[test]
    fn the_first_charger_object_is_chosen() {
        let eojs: Vec<Eoj> = [0x013001, 0x027E02, 0x02A101]
            .into_iter()
            .filter_map(Eoj::from_u32)
            .collect();
        assert_eq!(first_charger(&eojs), Eoj::from_u32(0x027E02));
        assert_eq!(first_charger(&eojs[..1]), None);
    }
}
