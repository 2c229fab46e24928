//! Hex digits read back into bytes, once: the checkpoint keys and seeds, the head hashes given
//! on a command line and the directory marker's acknowledged head are all fixed-size byte
//! arrays written as hex; they are parsed here with one rule (exact length, either case).

/// Parses exactly `2 * N` hex digits (either case) into `N` bytes: a key, a seed or a hash
/// given as text. `None` for any other length or a non-hex digit.
pub fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_parsed_to_exactly_n_bytes() {
        assert_eq!(parse_hex::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(parse_hex::<2>("0a"), None);
        assert_eq!(parse_hex::<2>("0aff00"), None);
        assert_eq!(parse_hex::<2>("0g00"), None);
    }
}
