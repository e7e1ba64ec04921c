//! Making untrusted text safe to print on a terminal.
//!
//! File names, archive member names, image references, build commands and
//! error messages all come from the input, and any of them may hold an ESC
//! sequence (clearing the screen, recolouring, retitling the terminal) or a
//! newline that forges a line of the report (`0 findings…`). Every
//! human-facing output passes such text through [`printable`], which writes
//! control and other invisible characters as escapes. JSON needs none of
//! this: serde escapes control characters, and values there stay as found.

use std::{borrow::Cow, fmt::Write};

/// `text` with every control character (C0, DEL, C1) and every invisible
/// formatting character (bidirectional overrides, zero-width characters,
/// the BOM) written as an escape: `\n`, `\r`, `\t`, `\x1b`, `\u{202e}`.
/// Text without any is returned as it is.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_borrowed() {
        assert!(matches!(printable("app/.env ünïcode ok"), Cow::Borrowed(_)));
        assert_eq!(
            printable("a\x1b[2J\n0 findings\tx\r\x7f\u{85}"),
            "a\\x1b[2J\\n0 findings\\tx\\r\\x7f\\u{85}"
        );
        assert_eq!(printable("evil\u{202e}txt.exe"), "evil\\u{202e}txt.exe");
        assert_eq!(printable("zero\u{200b}width"), "zero\\u{200b}width");
    }
}
