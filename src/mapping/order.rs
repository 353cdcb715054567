//! Word and byte order of multi-register Modbus values.

/// Where the bytes of a value sit in its registers, named after a 32-bit value whose bytes are
/// `A B C D`, most significant first. `CD` and `DC` orders put the least significant register
/// first (for 64-bit values: all four registers reversed); `BA` orders swap the two bytes of
/// every register. A 16-bit value has one register, so only the byte swap applies to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Order {
    /// Big-endian: most significant register first, high byte first.
    #[default]
    Abcd,
    /// Registers reversed ("word swap"), bytes big-endian within each.
    Cdab,
    /// Registers in order, bytes swapped within each ("byte swap").
    Badc,
    /// Little-endian: registers reversed and bytes swapped.
    Dcba,
}

/// Template spellings, in the order error messages list them.
const NAMES: &[(&str, Order)] = &[
    ("ABCD", Order::Abcd),
    ("CDAB", Order::Cdab),
    ("BADC", Order::Badc),
    ("DCBA", Order::Dcba),
];

impl Order {
    /// Parses the template spelling (`ABCD`, `CDAB`, `BADC`, `DCBA`).
    pub fn from_name(name: &str) -> Option<Order> {
        NAMES.iter().find(|(n, _)| *n == name).map(|(_, o)| *o)
    }

    /// Every template spelling, for error messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        NAMES.iter().map(|(n, _)| *n)
    }

    /// The template spelling.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(n, _)| *n)
    }

    /// Whether the least significant register comes first.
    pub fn swaps_words(self) -> bool {
        matches!(self, Order::Cdab | Order::Dcba)
    }

    /// Whether the two bytes of each register are swapped.
    pub fn swaps_bytes(self) -> bool {
        matches!(self, Order::Badc | Order::Dcba)
    }

    /// The value's bytes, most significant first, from its registers as the device sent them.
    pub fn words_to_bytes(self, words: &[u16]) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(words.len() * 2);
        let mut push = |w: &u16| {
            let [hi, lo] = w.to_be_bytes();
            if self.swaps_bytes() {
                bytes.extend([lo, hi]);
            } else {
                bytes.extend([hi, lo]);
            }
        };
        if self.swaps_words() {
            words.iter().rev().for_each(&mut push);
        } else {
            words.iter().for_each(&mut push);
        }
        bytes
    }

    /// The registers to send for a value whose bytes are given most significant first; an odd
    /// trailing byte is padded with zero.
    pub fn bytes_to_words(self, bytes: &[u8]) -> Vec<u16> {
        let mut words: Vec<u16> = bytes
            .chunks(2)
            .map(|pair| {
                let (hi, lo) = match pair {
                    [hi, lo] => (*hi, *lo),
                    [hi] => (*hi, 0),
                    _ => (0, 0),
                };
                if self.swaps_bytes() {
                    u16::from_be_bytes([lo, hi])
                } else {
                    u16::from_be_bytes([hi, lo])
                }
            })
            .collect();
        if self.swaps_words() {
            words.reverse();
        }
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: [u8; 4] = [0xA1, 0xB2, 0xC3, 0xD4];

    #[test]
    fn thirty_two_bits_in_every_order() {
        let cases = [
            (Order::Abcd, [0xA1B2, 0xC3D4]),
            (Order::Cdab, [0xC3D4, 0xA1B2]),
            (Order::Badc, [0xB2A1, 0xD4C3]),
            (Order::Dcba, [0xD4C3, 0xB2A1]),
        ];
        for (order, words) in cases {
            assert_eq!(order.words_to_bytes(&words), VALUE, "{}", order.name());
            assert_eq!(order.bytes_to_words(&VALUE), words, "{}", order.name());
        }
    }

    #[test]
    fn sixty_four_bits_reverse_all_four_registers() {
        let bytes = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(
            Order::Cdab.bytes_to_words(&bytes),
            [0x0708, 0x0506, 0x0304, 0x0102]
        );
        assert_eq!(
            Order::Dcba.bytes_to_words(&bytes),
            [0x0807, 0x0605, 0x0403, 0x0201]
        );
        for order in [Order::Abcd, Order::Cdab, Order::Badc, Order::Dcba] {
            assert_eq!(order.words_to_bytes(&order.bytes_to_words(&bytes)), bytes);
        }
    }

    #[test]
    fn sixteen_bits_only_swap_bytes() {
        assert_eq!(Order::Abcd.words_to_bytes(&[0x1234]), [0x12, 0x34]);
        assert_eq!(Order::Cdab.words_to_bytes(&[0x1234]), [0x12, 0x34]);
        assert_eq!(Order::Badc.words_to_bytes(&[0x1234]), [0x34, 0x12]);
        assert_eq!(Order::Dcba.words_to_bytes(&[0x1234]), [0x34, 0x12]);
        assert_eq!(Order::Abcd.bytes_to_words(&[0x41]), [0x4100]);
    }

    #[test]
    fn names_round_trip() {
        for name in Order::names() {
            assert_eq!(Order::from_name(name).map(Order::name), Some(name));
        }
        assert_eq!(Order::from_name("abcd"), None);
        assert_eq!(Order::default(), Order::Abcd);
    }
}
