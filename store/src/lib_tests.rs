use super::*;

#[test]
fn keys_are_validated_uniformly() {
    assert!(validate_key("https://mcp.example.com/mcp").is_ok());
    assert!(validate_key(&format!("https://e.com/{}", "a".repeat(MAX_KEY_LEN - 14))).is_ok());
    let reason = |k: &str| match validate_key(k) {
        Err(StoreError::InvalidKey { reason, .. }) => reason,
        other => panic!("expected InvalidKey for {k:?}, got {other:?}"),
    };
    assert_eq!(reason(""), "empty");
    assert_eq!(reason("https://e.com/#frag"), "contains '#'");
    assert_eq!(reason("https://e.com/\n"), "contains control characters");
    assert_eq!(
        reason(&format!("https://e.com/{}", "a".repeat(MAX_KEY_LEN))),
        "longer than 480 bytes"
    );
}

#[test]
fn invalid_key_error_truncates_a_long_key() {
    let key = "é".repeat(600); // multi-byte: truncation must respect char boundaries
    let Err(StoreError::InvalidKey { key: shown, .. }) = validate_key(&key) else {
        panic!("expected InvalidKey");
    };
    assert_eq!(shown.chars().count(), 80);
}

#[test]
fn corrupt_detail_never_quotes_stored_values() {
    // A wrong type next to a token: serde's own message would quote "SECRET-TOKEN-VALUE".
    let json = r#"{"version":1,"server":"s","issuer":"i","token_endpoint":"t",
        "client":{"kind":"dynamic","issuer":"i","client_id":"c","auth_method":"none"},
        "tokens":{"access_token":"a","token_type":"Bearer","expires_at":"SECRET-TOKEN-VALUE"}}"#;
    let err = decode_session(json, || "here".to_owned()).expect_err("must fail");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("SECRET-TOKEN-VALUE"), "{text}");
    match err {
        StoreError::Corrupt { location, detail } => {
            assert_eq!(location, "here");
            assert!(
                detail.starts_with("unexpected or missing field at line 3"),
                "{detail}"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn decode_maps_versions_and_syntax() {
    let newer = r#"{"version":7}"#;
    assert!(matches!(
        decode_session(newer, String::new),
        Err(StoreError::UnsupportedVersion(7))
    ));
    match decode_session("{\"version\":1,", String::new) {
        Err(StoreError::Corrupt { detail, .. }) => {
            assert_eq!(detail, "truncated JSON at line 1 column 13")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn open_store_memory_and_file() {
    let store = open_store(StoreChoice::Memory).expect("memory store");
    assert_eq!(store.kind(), StoreKind::Memory);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("state");
    let store = open_store(StoreChoice::File(Some(path.clone()))).expect("file store");
    assert_eq!(store.kind(), StoreKind::File);
    assert!(path.is_dir());
    assert_eq!(StoreKind::Keychain.as_str(), "keychain");
}

#[test]
fn hex_sha256_is_lowercase_hex() {
    assert_eq!(
        hex_sha256(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn store_lock_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<StoreLock>();
    fn assert_store<T: SessionStore>() {}
    assert_store::<MemoryStore>();
    assert_store::<FileStore>();
    assert_store::<KeychainStore>();
}
