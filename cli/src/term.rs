//! Text on its way to a terminal. Much of what the CLI prints came from a server: `scope`, the
//! issuer, client ids, JSON-RPC error messages, MCP results. Printed raw, an ESC or 8-bit CSI
//! sequence (ECMA-48 §5) in any of them lets the server's operator clear the screen, retitle
//! the window or forge output lines, and a bidirectional override (Unicode UAX #9) reorders
//! what the user reads. So every line goes out through [`text`] (stdout in
//! [`print_line`](crate::ui::print_line), stderr in [`note`]), and a server string put into a
//! human sentence through [`field`] first, which also keeps it on one line.
//!
//! The escape is `\uXXXX`: visible and inert on a terminal, and the JSON escape of the same
//! character, so `--json` output stays valid JSON that decodes to the server's exact string
//! (serde_json escapes C0 controls itself, but leaves DEL, C1 controls and bidi controls raw).

use std::fmt::Write as _;

/// Longest JSON-RPC error message `call` prints, in characters (MCP servers have sent 3 KB
/// stack traces there).
pub const MAX_RPC_MESSAGE: usize = 512;

/// Characters never written raw: C0 controls (ESC, BEL, CR, ...), DEL, C1 controls (U+0080 to
/// U+009F: 8-bit CSI, OSC), the Unicode bidirectional controls, and the line and paragraph
/// separators some terminals break lines at.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
                | '\u{2028}' | '\u{2029}'
        )
}

fn escape_into(out: &mut String, c: char) {
    // Every unsafe character is in the BMP, so four hex digits always suffice.
    let _ = write!(out, "\\u{:04x}", u32::from(c));
}

/// `s` with every unsafe character escaped, newlines kept: for whole output lines and blocks.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c != '\n' && is_unsafe(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// A server-supplied string for a human sentence: every unsafe character escaped, newlines and
/// tabs included, so it can neither move the cursor nor start a forged line.
pub fn field(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_unsafe(c) {
            escape_into(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// [`field`] of at most `max` characters of `s`, with `…` when it was longer.
pub fn capped_field(s: &str, max: usize) -> String {
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(max).collect();
    let mut out = field(&head);
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// Writes one line to stderr through [`text`].
pub fn note(line: &str) {
    eprintln!("{}", text(line));
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{7f}\u{202e}b\r\nc\td";

    #[test]
    fn nothing_unsafe_survives_and_newlines_only_in_text() {
        let t = text(HOSTILE);
        assert_eq!(
            t,
            "a\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u007f\\u202eb\\u000d\nc\\u0009d"
        );
        let f = field(HOSTILE);
        assert!(!f.contains('\n'), "{f}");
        assert!(f.chars().all(|c| !is_unsafe(c)), "{f}");
        assert_eq!(field("mcp:basic files:read é"), "mcp:basic files:read é");
    }

    #[test]
    fn escaped_json_stays_json_and_decodes_to_the_original() {
        let value = serde_json::json!({ "scope": HOSTILE });
        for json in [
            value.to_string(),
            serde_json::to_string_pretty(&value).expect("json"),
        ] {
            let shown = text(&json);
            assert!(shown.chars().all(|c| c == '\n' || !is_unsafe(c)), "{shown}");
            let back: serde_json::Value = serde_json::from_str(&shown).expect("still JSON");
            assert_eq!(back, value);
        }
    }

    #[test]
    fn capping_counts_characters_and_marks_the_cut() {
        assert_eq!(capped_field("abc", 3), "abc");
        assert_eq!(capped_field("abcd", 3), "abc…");
        assert_eq!(capped_field("ééééé", 2), "éé…");
        let long = format!("\u{1b}[2J{}", "x".repeat(3000));
        let shown = capped_field(&long, MAX_RPC_MESSAGE);
        assert!(shown.starts_with("\\u001b[2J"), "{shown}");
        assert_eq!(
            shown.chars().filter(|c| *c == 'x').count(),
            MAX_RPC_MESSAGE - 4
        );
        assert!(shown.ends_with('…'));
    }
}
