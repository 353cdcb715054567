//! The errors of the ECHONET Lite codecs and of a blocking request.

use std::io;

use super::frame::Esv;

/// Why bytes are not a well-formed ECHONET Lite frame (format 1), or a frame cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the fixed header and one property count.
    #[error("{len} bytes is shorter than an ECHONET Lite header (12 bytes)")]
    TooShort { len: usize },
    /// EHD1 is not 0x10 (not ECHONET Lite).
    #[error("EHD1 0x{0:02X} is not ECHONET Lite (0x10)")]
    NotEchonetLite(u8),
    /// EHD2 is not 0x81; 0x82 (arbitrary message format) is not supported.
    #[error("EHD2 0x{0:02X} is not the specified message format (0x81)")]
    UnsupportedFormat(u8),
    /// ESV is not a service code the specification defines.
    #[error("unknown ESV 0x{0:02X}")]
    UnknownEsv(u8),
    /// OPC is zero in a service that needs at least one property.
    #[error("{0} with no property (OPC 0)")]
    NoProperties(Esv),
    /// The bytes end inside property `index` (counted from 0 over both lists of SetGet).
    #[error("frame ends inside property {index}")]
    Truncated { index: usize },
    /// Bytes follow the last property the counts announce.
    #[error("{extra} byte(s) after the last property")]
    TrailingBytes { extra: usize },
    /// A property list longer than OPC can count.
    #[error("{0} properties do not fit in one frame (at most 255)")]
    TooManyProperties(usize),
    /// A property value longer than PDC can count.
    #[error("EPC 0x{epc:02X}: {len} bytes do not fit in one property (at most 255)")]
    EdtTooLong { epc: u8, len: usize },
    /// A second property list given for a service other than SetGet.
    #[error("{0} carries one property list, not two")]
    SecondList(Esv),
}

/// Why a property-map or instance-list value (EDT) does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertyError {
    /// The value is empty: not even a count.
    #[error("empty value")]
    Empty,
    /// The length does not match what the leading count announces.
    #[error("count {count} needs {expected} bytes, got {len}")]
    Length {
        count: usize,
        expected: usize,
        len: usize,
    },
    /// A bitmap-form map whose count differs from the bits that are set.
    #[error("count {count} but {bits} bit(s) set")]
    CountMismatch { count: usize, bits: usize },
    /// A list-form property map naming an EPC below 0x80, which no property has.
    #[error("0x{0:02X} is not a property code")]
    NotAnEpc(u8),
    /// A value whose length differs from the one its property defines.
    #[error("EPC 0x{epc:02X} is {expected} byte(s), got {len}")]
    Size {
        epc: u8,
        expected: usize,
        len: usize,
    },
    /// More entries than the encoding can count.
    #[error("{0} entries do not fit")]
    TooMany(usize),
}

/// Why a blocking ECHONET Lite request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Binding, sending or receiving failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The request could not be encoded.
    #[error("encode: {0}")]
    Frame(#[from] FrameError),
    /// No answer within the timeout, after every try.
    #[error("no answer from {node} after {tries} tries")]
    Timeout { node: String, tries: u32 },
}
