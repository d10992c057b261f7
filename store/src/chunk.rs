//! Splitting values too large for one keychain entry (pure; the IO is in `keychain.rs`).
//!
//! The Windows Credential Manager rejects secrets over 2560 bytes, and MCP clients broke on it
//! (ARCHITECTURE.md §6; apify/mcpc#409). Every platform applies the same rule so a session
//! saved on Linux behaves like one saved on Windows: a value over [`CHUNK_LIMIT`] bytes is stored
//! as chunks `<user>#0..n`, each valid UTF-8 (some Secret Service back ends, such as KDE Wallet,
//! store only text), plus a manifest under `<user>` giving the count, total length and SHA-256 of
//! the whole. A missing or mismatched chunk makes the value read as absent.

use serde::{Deserialize, Serialize};

use super::hex_sha256;

/// Largest value stored in a single entry, in bytes (Windows `CRED_MAX_CREDENTIAL_BLOB_SIZE`).
pub(crate) const CHUNK_LIMIT: usize = 2560;

/// More chunks than this (6.4 MB) means a damaged or hostile manifest, not one we wrote.
pub(crate) const MAX_CHUNKS: usize = 2500;

/// The manifest stored in place of a chunked value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// Marker field: no session or index JSON has it, so a manifest is never mistaken for data.
    mcp_oauth_chunked: u32,
    /// Number of chunk entries.
    pub(crate) chunks: usize,
    /// Total length of the reassembled value in bytes.
    len: usize,
    /// Lowercase hex SHA-256 of the reassembled value.
    sha256: String,
}

/// How to store one value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan<'a> {
    /// Small enough for one entry.
    Single(&'a str),
    /// The manifest JSON for the main entry and the chunks for `<user>#i`.
    Chunked {
        manifest: String,
        chunks: Vec<&'a str>,
    },
}

/// Decides how to store `value`.
pub(crate) fn plan(value: &str) -> Plan<'_> {
    if value.len() <= CHUNK_LIMIT {
        return Plan::Single(value);
    }
    let chunks = split(value, CHUNK_LIMIT);
    let manifest = Manifest {
        mcp_oauth_chunked: 1,
        chunks: chunks.len(),
        len: value.len(),
        sha256: hex_sha256(value.as_bytes()),
    };
    // A struct of integers and a hex string always serializes.
    let manifest = serde_json::to_string(&manifest).unwrap_or_default();
    Plan::Chunked { manifest, chunks }
}

/// Splits on char boundaries into pieces of at most `limit` bytes (`limit` >= 4).
fn split(value: &str, limit: usize) -> Vec<&str> {
    let mut out = Vec::with_capacity(value.len() / limit + 1);
    let mut rest = value;
    while !rest.is_empty() {
        let mut end = rest.len().min(limit);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (head, tail) = rest.split_at(end);
        out.push(head);
        rest = tail;
    }
    out
}

/// The manifest in `stored`, if it is one we wrote and its chunk count is plausible.
pub(crate) fn parse_manifest(stored: &[u8]) -> Option<Manifest> {
    let manifest: Manifest = serde_json::from_slice(stored).ok()?;
    let plausible = manifest.mcp_oauth_chunked == 1
        && manifest.chunks > 0
        && manifest.chunks <= MAX_CHUNKS
        && manifest.len <= manifest.chunks.saturating_mul(CHUNK_LIMIT);
    plausible.then_some(manifest)
}

/// Reassembles chunks read in order; `None` unless length and digest match the manifest.
pub(crate) fn assemble(manifest: &Manifest, chunks: &[Vec<u8>]) -> Option<Vec<u8>> {
    if chunks.len() != manifest.chunks {
        return None;
    }
    let whole = chunks.concat();
    let ok = whole.len() == manifest.len && hex_sha256(&whole) == manifest.sha256;
    ok.then_some(whole)
}

/// The entry name of chunk `i` of `user`.
pub(crate) fn chunk_user(user: &str, i: usize) -> String {
    format!("{user}#{i}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_single() {
        let v = "x".repeat(CHUNK_LIMIT);
        assert_eq!(plan(&v), Plan::Single(&v));
    }

    #[test]
    fn large_values_split_on_char_boundaries_and_reassemble() {
        // 'é' is two bytes, '€' three: boundaries fall mid-char unless split() backs off.
        let v = format!("a{}", "é€".repeat(2000));
        let Plan::Chunked { manifest, chunks } = plan(&v) else {
            panic!("expected chunked plan");
        };
        assert!(chunks
            .iter()
            .all(|c| c.len() <= CHUNK_LIMIT && !c.is_empty()));
        assert_eq!(chunks.concat(), v);
        let m = parse_manifest(manifest.as_bytes()).expect("manifest parses");
        assert_eq!(m.chunks, chunks.len());
        let bytes: Vec<Vec<u8>> = chunks.iter().map(|c| c.as_bytes().to_vec()).collect();
        assert_eq!(assemble(&m, &bytes).as_deref(), Some(v.as_bytes()));
    }

    #[test]
    fn missing_or_altered_chunks_do_not_assemble() {
        let v = "z".repeat(CHUNK_LIMIT * 2 + 10);
        let Plan::Chunked { manifest, chunks } = plan(&v) else {
            panic!("expected chunked plan");
        };
        let m = parse_manifest(manifest.as_bytes()).expect("manifest parses");
        let mut bytes: Vec<Vec<u8>> = chunks.iter().map(|c| c.as_bytes().to_vec()).collect();
        assert_eq!(assemble(&m, &bytes[..2]), None);
        bytes[1][0] = b'y';
        assert_eq!(assemble(&m, &bytes), None);
    }

    #[test]
    fn sessions_and_garbage_are_not_manifests() {
        assert_eq!(parse_manifest(br#"{"version":1,"server":"x"}"#), None);
        assert_eq!(parse_manifest(b"\xff\xfe"), None);
        let huge = r#"{"mcp_oauth_chunked":1,"chunks":99999999,"len":1,"sha256":"00"}"#;
        assert_eq!(parse_manifest(huge.as_bytes()), None);
    }
}
