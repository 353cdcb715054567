//! ECHONET Lite frames, specified message format (format 1), sans-IO.
//!
//! ```text
//! EHD1 EHD2 TID(2) SEOJ(3) DEOJ(3) ESV OPC {EPC PDC EDT(PDC)}×OPC
//! SetGet family: ... ESV OPCSet {EPC PDC EDT}×OPCSet OPCGet {EPC PDC EDT}×OPCGet
//! ```
//! Multi-byte fields are big-endian.

use std::fmt;

use super::error::FrameError;

/// EHD1: the ECHONET Lite protocol.
pub const EHD1: u8 = 0x10;
/// EHD2: specified message format (format 1).
pub const EHD2_FORMAT1: u8 = 0x81;
/// Bytes before the first property: EHD1 EHD2 TID SEOJ DEOJ ESV OPC.
pub const HEADER_LEN: usize = 12;

/// An ECHONET object: class group, class and instance (e.g. 0x02A101, EV charger 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Eoj {
    /// Class group code (0x02 housing/facilities, 0x0E profiles, …).
    pub group: u8,
    /// Class code within the group.
    pub class: u8,
    /// Instance code; 0 addresses every instance of the class.
    pub instance: u8,
}

impl Eoj {
    /// The object from its 24-bit code; `None` above 0xFFFFFF.
    pub fn from_u32(code: u32) -> Option<Eoj> {
        let [zero, group, class, instance] = code.to_be_bytes();
        (zero == 0).then_some(Eoj {
            group,
            class,
            instance,
        })
    }

    /// The 24-bit code.
    pub fn as_u32(self) -> u32 {
        u32::from_be_bytes([0, self.group, self.class, self.instance])
    }

    /// The class group and class as one 16-bit code (e.g. 0x02A1).
    pub fn class_code(self) -> u16 {
        u16::from_be_bytes([self.group, self.class])
    }

    /// The three wire bytes.
    pub fn to_bytes(self) -> [u8; 3] {
        [self.group, self.class, self.instance]
    }

    /// The object of three wire bytes.
    pub fn from_bytes([group, class, instance]: [u8; 3]) -> Eoj {
        Eoj {
            group,
            class,
            instance,
        }
    }
}

impl fmt::Display for Eoj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:06X}", self.as_u32())
    }
}

/// An ECHONET Lite service code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Esv {
    /// 0x60 property write, no response required.
    SetI,
    /// 0x61 property write, response required.
    SetC,
    /// 0x62 property read.
    Get,
    /// 0x63 property notification request.
    InfReq,
    /// 0x6E property write and read.
    SetGet,
    /// 0x71 response to SetC.
    SetRes,
    /// 0x72 response to Get.
    GetRes,
    /// 0x73 property notification.
    Inf,
    /// 0x74 property notification that needs a response.
    InfC,
    /// 0x7A response to INFC.
    InfCRes,
    /// 0x7E response to SetGet.
    SetGetRes,
    /// 0x50 SetI refused.
    SetISna,
    /// 0x51 SetC refused.
    SetCSna,
    /// 0x52 Get refused.
    GetSna,
    /// 0x53 INF_REQ refused.
    InfSna,
    /// 0x5E SetGet refused.
    SetGetSna,
}

/// Every service with its code and specification name.
const ESVS: [(Esv, u8, &str); 16] = [
    (Esv::SetI, 0x60, "SetI"),
    (Esv::SetC, 0x61, "SetC"),
    (Esv::Get, 0x62, "Get"),
    (Esv::InfReq, 0x63, "INF_REQ"),
    (Esv::SetGet, 0x6E, "SetGet"),
    (Esv::SetRes, 0x71, "Set_Res"),
    (Esv::GetRes, 0x72, "Get_Res"),
    (Esv::Inf, 0x73, "INF"),
    (Esv::InfC, 0x74, "INFC"),
    (Esv::InfCRes, 0x7A, "INFC_Res"),
    (Esv::SetGetRes, 0x7E, "SetGet_Res"),
    (Esv::SetISna, 0x50, "SetI_SNA"),
    (Esv::SetCSna, 0x51, "SetC_SNA"),
    (Esv::GetSna, 0x52, "Get_SNA"),
    (Esv::InfSna, 0x53, "INF_SNA"),
    (Esv::SetGetSna, 0x5E, "SetGet_SNA"),
];

impl Esv {
    /// The service of a wire code, if the specification defines it.
    pub fn from_code(code: u8) -> Option<Esv> {
        ESVS.iter().find(|(_, c, _)| *c == code).map(|(e, _, _)| *e)
    }

    /// The wire code.
    pub fn code(self) -> u8 {
        ESVS.iter()
            .find(|(e, _, _)| *e == self)
            .map_or(0, |(_, c, _)| *c)
    }

    /// The specification's name (`Get_Res`, `SetC_SNA`, …).
    pub fn name(self) -> &'static str {
        ESVS.iter()
            .find(|(e, _, _)| *e == self)
            .map_or("?", |(_, _, n)| n)
    }

    /// Whether the frame carries two property lists (SetGet, SetGet_Res, SetGet_SNA).
    pub fn has_two_lists(self) -> bool {
        matches!(self, Esv::SetGet | Esv::SetGetRes | Esv::SetGetSna)
    }

    /// Whether this is a "response not possible" answer (0x5x).
    pub fn is_sna(self) -> bool {
        self.code() & 0xF0 == 0x50
    }

    /// Whether this is a request a node answers (0x6x).
    pub fn is_request(self) -> bool {
        self.code() & 0xF0 == 0x60
    }
}

impl fmt::Display for Esv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.name(), self.code())
    }
}

/// One property of a frame: code and value (empty in a Get, and in answers for refused or
/// accepted-without-value properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// Property code.
    pub epc: u8,
    /// Property value; its length is the PDC.
    pub edt: Vec<u8>,
}

impl Property {
    /// A property with a value.
    pub fn new(epc: u8, edt: impl Into<Vec<u8>>) -> Property {
        Property {
            epc,
            edt: edt.into(),
        }
    }

    /// A property without a value (PDC 0), as in a Get.
    pub fn empty(epc: u8) -> Property {
        Property {
            epc,
            edt: Vec::new(),
        }
    }
}

/// One ECHONET Lite frame. `props` is the only list, or the Set list of the SetGet family,
/// whose Get list is `get_props` (empty for every other service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Transaction id: an answer carries the id of its request.
    pub tid: u16,
    /// Source object.
    pub seoj: Eoj,
    /// Destination object.
    pub deoj: Eoj,
    /// Service.
    pub esv: Esv,
    /// The property list (the Set list of the SetGet family).
    pub props: Vec<Property>,
    /// The Get list of the SetGet family; empty otherwise.
    pub get_props: Vec<Property>,
}

impl Frame {
    /// A frame with one property list.
    pub fn new(tid: u16, seoj: Eoj, deoj: Eoj, esv: Esv, props: Vec<Property>) -> Frame {
        Frame {
            tid,
            seoj,
            deoj,
            esv,
            props,
            get_props: Vec::new(),
        }
    }

    /// A Get of `epcs`.
    pub fn get(tid: u16, seoj: Eoj, deoj: Eoj, epcs: &[u8]) -> Frame {
        let props = epcs.iter().map(|&epc| Property::empty(epc)).collect();
        Frame::new(tid, seoj, deoj, Esv::Get, props)
    }

    /// Parses one datagram.
    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        let header: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(FrameError::TooShort { len: bytes.len() })?;
        let [ehd1, ehd2, t0, t1, s0, s1, s2, d0, d1, d2, esv, opc] = *header;
        if ehd1 != EHD1 {
            return Err(FrameError::NotEchonetLite(ehd1));
        }
        if ehd2 != EHD2_FORMAT1 {
            return Err(FrameError::UnsupportedFormat(ehd2));
        }
        let esv = Esv::from_code(esv).ok_or(FrameError::UnknownEsv(esv))?;
        let mut reader = Reader {
            bytes,
            pos: HEADER_LEN,
            index: 0,
        };
        let props = reader.properties(opc)?;
        let get_props = if esv.has_two_lists() {
            let opc_get = reader.byte()?;
            reader.properties(opc_get)?
        } else {
            if props.is_empty() {
                return Err(FrameError::NoProperties(esv));
            }
            Vec::new()
        };
        let extra = bytes.len().saturating_sub(reader.pos);
        if extra > 0 {
            return Err(FrameError::TrailingBytes { extra });
        }
        Ok(Frame {
            tid: u16::from_be_bytes([t0, t1]),
            seoj: Eoj::from_bytes([s0, s1, s2]),
            deoj: Eoj::from_bytes([d0, d1, d2]),
            esv,
            props,
            get_props,
        })
    }

    /// The datagram of this frame.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        if !self.esv.has_two_lists() && !self.get_props.is_empty() {
            return Err(FrameError::SecondList(self.esv));
        }
        let mut out = Vec::with_capacity(HEADER_LEN + 4 * self.props.len());
        out.extend_from_slice(&[EHD1, EHD2_FORMAT1]);
        out.extend_from_slice(&self.tid.to_be_bytes());
        out.extend_from_slice(&self.seoj.to_bytes());
        out.extend_from_slice(&self.deoj.to_bytes());
        out.push(self.esv.code());
        write_properties(&mut out, &self.props)?;
        if self.esv.has_two_lists() {
            write_properties(&mut out, &self.get_props)?;
        }
        Ok(out)
    }
}

fn write_properties(out: &mut Vec<u8>, props: &[Property]) -> Result<(), FrameError> {
    let opc = u8::try_from(props.len()).map_err(|_| FrameError::TooManyProperties(props.len()))?;
    out.push(opc);
    for p in props {
        let pdc = u8::try_from(p.edt.len()).map_err(|_| FrameError::EdtTooLong {
            epc: p.epc,
            len: p.edt.len(),
        })?;
        out.push(p.epc);
        out.push(pdc);
        out.extend_from_slice(&p.edt);
    }
    Ok(())
}

/// A cursor over the property lists of a datagram.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Index of the next property, over both lists, for error messages.
    index: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, FrameError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or(FrameError::Truncated { index: self.index })?;
        self.pos += 1;
        Ok(b)
    }

    fn properties(&mut self, count: u8) -> Result<Vec<Property>, FrameError> {
        let mut props = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let epc = self.byte()?;
            let pdc = usize::from(self.byte()?);
            let edt = self
                .bytes
                .get(self.pos..self.pos + pdc)
                .ok_or(FrameError::Truncated { index: self.index })?;
            self.pos += pdc;
            self.index += 1;
            props.push(Property::new(epc, edt));
        }
        Ok(props)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTROLLER: Eoj = Eoj {
        group: 0x05,
        class: 0xFF,
        instance: 0x01,
    };
    const CHARGER: Eoj = Eoj {
        group: 0x02,
        class: 0xA1,
        instance: 0x01,
    };
    const PROFILE: Eoj = Eoj {
        group: 0x0E,
        class: 0xF0,
        instance: 0x01,
    };

    fn both_ways(bytes: &[u8], frame: &Frame) {
        assert_eq!(Frame::decode(bytes).as_ref(), Ok(frame));
        assert_eq!(frame.encode().as_deref(), Ok(bytes));
    }

    #[test]
    fn get_of_the_self_node_instance_list() {
        // Controller 05FF01 asks node profile 0EF001 for EPC 0xD6, TID 1.
        let bytes = [
            0x10, 0x81, 0x00, 0x01, 0x05, 0xFF, 0x01, 0x0E, 0xF0, 0x01, 0x62, 0x01, 0xD6, 0x00,
        ];
        both_ways(&bytes, &Frame::get(1, CONTROLLER, PROFILE, &[0xD6]));
    }

    #[test]
    fn get_res_with_values() {
        // Charger answers operation status ON and vehicle "connected, chargeable".
        let bytes = [
            0x10, 0x81, 0x12, 0x34, 0x02, 0xA1, 0x01, 0x05, 0xFF, 0x01, 0x72, 0x02, 0x80, 0x01,
            0x30, 0xC7, 0x01, 0x41,
        ];
        let frame = Frame::new(
            0x1234,
            CHARGER,
            CONTROLLER,
            Esv::GetRes,
            vec![Property::new(0x80, [0x30]), Property::new(0xC7, [0x41])],
        );
        both_ways(&bytes, &frame);
    }

    #[test]
    fn get_sna_marks_the_refused_property_with_pdc_zero() {
        let bytes = [
            0x10, 0x81, 0x00, 0x03, 0x02, 0xA1, 0x01, 0x05, 0xFF, 0x01, 0x52, 0x02, 0x80, 0x01,
            0x30, 0xE7, 0x00,
        ];
        let frame = Frame::decode(&bytes).unwrap();
        assert_eq!(frame.esv, Esv::GetSna);
        assert!(frame.esv.is_sna());
        assert_eq!(
            frame.props,
            vec![Property::new(0x80, [0x30]), Property::empty(0xE7)]
        );
    }

    #[test]
    fn setget_carries_two_lists() {
        // Set operation mode 0x42 (charging) and read operation status back.
        let bytes = [
            0x10, 0x81, 0x00, 0x02, 0x05, 0xFF, 0x01, 0x02, 0xA1, 0x01, 0x6E, 0x01, 0xDA, 0x01,
            0x42, 0x01, 0x80, 0x00,
        ];
        let frame = Frame {
            tid: 2,
            seoj: CONTROLLER,
            deoj: CHARGER,
            esv: Esv::SetGet,
            props: vec![Property::new(0xDA, [0x42])],
            get_props: vec![Property::empty(0x80)],
        };
        both_ways(&bytes, &frame);
        // SetGet_Res may accept the Set (PDC 0) and answer the Get.
        let res = [
            0x10, 0x81, 0x00, 0x02, 0x02, 0xA1, 0x01, 0x05, 0xFF, 0x01, 0x7E, 0x01, 0xDA, 0x00,
            0x01, 0x80, 0x01, 0x30,
        ];
        let frame = Frame::decode(&res).unwrap();
        assert_eq!(frame.props, vec![Property::empty(0xDA)]);
        assert_eq!(frame.get_props, vec![Property::new(0x80, [0x30])]);
        // An empty Set list is well-formed in the SetGet family.
        let empty_set = [
            0x10, 0x81, 0x00, 0x02, 0x05, 0xFF, 0x01, 0x02, 0xA1, 0x01, 0x6E, 0x00, 0x01, 0x80,
            0x00,
        ];
        assert!(Frame::decode(&empty_set).unwrap().props.is_empty());
    }

    #[test]
    fn infc_and_its_response() {
        let infc = [
            0x10, 0x81, 0x00, 0x07, 0x02, 0xA1, 0x01, 0x05, 0xFF, 0x01, 0x74, 0x01, 0xC7, 0x01,
            0x30,
        ];
        let res = [
            0x10, 0x81, 0x00, 0x07, 0x05, 0xFF, 0x01, 0x02, 0xA1, 0x01, 0x7A, 0x01, 0xC7, 0x00,
        ];
        assert_eq!(Frame::decode(&infc).unwrap().esv, Esv::InfC);
        both_ways(
            &res,
            &Frame::new(
                7,
                CONTROLLER,
                CHARGER,
                Esv::InfCRes,
                vec![Property::empty(0xC7)],
            ),
        );
    }

    #[test]
    fn every_esv_code_round_trips() {
        let codes = [
            0x60, 0x61, 0x62, 0x63, 0x6E, 0x71, 0x72, 0x73, 0x74, 0x7A, 0x7E, 0x50, 0x51, 0x52,
            0x53, 0x5E,
        ];
        for code in codes {
            let esv = Esv::from_code(code).unwrap();
            assert_eq!(esv.code(), code);
        }
        for code in [0x00, 0x64, 0x70, 0x7F, 0x54, 0xFF] {
            assert_eq!(Esv::from_code(code), None, "0x{code:02X}");
        }
        assert!(Esv::SetC.is_request() && !Esv::SetRes.is_request());
        assert_eq!(Esv::SetGetSna.name(), "SetGet_SNA");
    }

    #[test]
    fn malformed_frames_are_rejected() {
        let get = [
            0x10, 0x81, 0x00, 0x01, 0x05, 0xFF, 0x01, 0x0E, 0xF0, 0x01, 0x62, 0x01, 0xD6, 0x00,
        ];
        let with = |i: usize, b: u8| {
            let mut v = get.to_vec();
            v[i] = b;
            Frame::decode(&v)
        };
        assert_eq!(
            Frame::decode(&get[..11]),
            Err(FrameError::TooShort { len: 11 })
        );
        assert_eq!(Frame::decode(&[]), Err(FrameError::TooShort { len: 0 }));
        assert_eq!(with(0, 0x11), Err(FrameError::NotEchonetLite(0x11)));
        assert_eq!(with(1, 0x82), Err(FrameError::UnsupportedFormat(0x82)));
        assert_eq!(with(10, 0x65), Err(FrameError::UnknownEsv(0x65)));
        assert_eq!(with(11, 0x00), Err(FrameError::NoProperties(Esv::Get)));
        let mut trailing = get.to_vec();
        trailing.push(0x00);
        assert_eq!(
            Frame::decode(&trailing),
            Err(FrameError::TrailingBytes { extra: 1 })
        );
        assert_eq!(with(11, 0x02), Err(FrameError::Truncated { index: 1 }));
        // PDC says 5 bytes, none follow.
        assert_eq!(with(13, 0x05), Err(FrameError::Truncated { index: 0 }));
        assert_eq!(
            Frame::decode(&get[..12]),
            Err(FrameError::Truncated { index: 0 })
        );
        let mut no_props = get[..12].to_vec();
        no_props[11] = 0;
        assert_eq!(
            Frame::decode(&no_props),
            Err(FrameError::NoProperties(Esv::Get))
        );
        // SetGet without its Get-list count.
        let setget = [
            0x10, 0x81, 0x00, 0x02, 0x05, 0xFF, 0x01, 0x02, 0xA1, 0x01, 0x6E, 0x01, 0xDA, 0x01,
            0x42,
        ];
        assert_eq!(
            Frame::decode(&setget),
            Err(FrameError::Truncated { index: 1 })
        );
    }

    #[test]
    fn oversized_frames_do_not_encode() {
        let mut frame = Frame::get(1, CONTROLLER, CHARGER, &[0x80; 256]);
        assert_eq!(frame.encode(), Err(FrameError::TooManyProperties(256)));
        frame.props = vec![Property::new(0xDA, vec![0; 256])];
        assert_eq!(
            frame.encode(),
            Err(FrameError::EdtTooLong {
                epc: 0xDA,
                len: 256
            })
        );
        frame.props = vec![Property::empty(0x80)];
        frame.get_props = vec![Property::empty(0x80)];
        assert_eq!(frame.encode(), Err(FrameError::SecondList(Esv::Get)));
    }

    #[test]
    fn eoj_codes() {
        let eoj = Eoj::from_u32(0x02A101).unwrap();
        assert_eq!(eoj, CHARGER);
        assert_eq!(eoj.class_code(), 0x02A1);
        assert_eq!(eoj.as_u32(), 0x02A101);
        assert_eq!(eoj.to_string(), "0x02A101");
        assert_eq!(Eoj::from_u32(0x0102_A101), None);
    }
}
