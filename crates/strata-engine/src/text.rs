//! Text encodings the engine sees through. Rules are ASCII, so UTF-8 and
//! Latin-1 text match as they are; UTF-16 text (which puts a NUL between
//! ASCII bytes) is decoded to UTF-8 first when it announces itself with a
//! byte-order mark.

/// The byte order of a UTF-16 text, from its BOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf16 {
    Le,
    Be,
}

/// Recognises a UTF-16 byte-order mark at the start of `head`.
pub fn sniff_utf16_bom(head: &[u8]) -> Option<Utf16> {
    match head {
        [0xFF, 0xFE, ..] => Some(Utf16::Le),
        [0xFE, 0xFF, ..] => Some(Utf16::Be),
        _ => None,
    }
}

/// Decodes UTF-16 `bytes` (BOM included or not) to UTF-8, replacing
/// unpaired surrogates with U+FFFD. A trailing odd byte is dropped.
pub fn decode_utf16(bytes: &[u8], order: Utf16) -> Vec<u8> {
    let body = match (order, bytes) {
        (Utf16::Le, [0xFF, 0xFE, rest @ ..]) | (Utf16::Be, [0xFE, 0xFF, rest @ ..]) => rest,
        _ => bytes,
    };
    let units = body.chunks_exact(2).map(|pair| match order {
        Utf16::Le => u16::from_le_bytes([pair[0], pair[1]]),
        Utf16::Be => u16::from_be_bytes([pair[0], pair[1]]),
    });
    let mut out = String::with_capacity(body.len() / 2);
    out.extend(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)));
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_byte_orders() {
        let text = "key=ghp_abc\r\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            le.extend_from_slice(&unit.to_le_bytes());
            be.extend_from_slice(&unit.to_be_bytes());
        }
        assert_eq!(sniff_utf16_bom(&le), Some(Utf16::Le));
        assert_eq!(sniff_utf16_bom(&be), Some(Utf16::Be));
        assert_eq!(decode_utf16(&le, Utf16::Le), text.as_bytes());
        assert_eq!(decode_utf16(&be, Utf16::Be), text.as_bytes());
        assert_eq!(sniff_utf16_bom(b"plain"), None);
    }
}
