//! `ocpp-gw diag …`: diagnostics for the serial console and SSH. Talk to one device or the
//! CSMS directly, next to a running daemon, and say in plain words what failed.

pub mod csms;
pub mod el;
mod el_format;
pub mod modbus;

/// Console width the diagnostics fit.
pub const WIDTH: usize = 80;

/// `prefix` then `text` word-wrapped to `width` columns, continuation lines indented to line
/// up under the text. A word longer than a line stays whole on its own line.
pub fn wrap(prefix: &str, text: &str, width: usize) -> String {
    let indent = prefix.chars().count();
    let mut out = String::with_capacity(prefix.len() + text.len() + 16);
    out.push_str(prefix);
    let mut column = indent;
    let mut first = true;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if !first && column + 1 + len > width {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            column = indent;
        } else if !first {
            out.push(' ');
            column += 1;
        }
        out.push_str(word);
        column += len;
        first = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_word_boundaries() {
        assert_eq!(wrap("x ", "aa bb cc", 7), "x aa bb\n  cc");
        assert_eq!(wrap("  ", "short", 80), "  short");
        assert_eq!(wrap("", "a verylongword b", 6), "a\nverylongword\nb");
        let long = "word ".repeat(50);
        assert!(wrap(&" ".repeat(21), &long, 80)
            .lines()
            .all(|l| l.len() <= 80));
    }
}
