//! Replays every file under `fuzz/regressions/<target>/` and a few hand-made seeds through the
//! target bodies on stable (`cargo test` in `fuzz/`), so a fixed crash stays fixed.

use std::path::Path;

type Body = fn(&[u8]);

const TARGETS: &[(&str, Body)] = &[
    ("www_authenticate", crate::www_authenticate::run),
    ("resource_metadata", crate::resource_metadata::run),
    ("server_metadata", crate::server_metadata::run),
    ("dcr_response", crate::dcr_response::run),
    ("token_response", crate::token_response::run),
    ("callback_query", crate::callback_query::run),
    ("callback_request_line", crate::callback_request_line::run),
    ("machine", crate::machine::run),
];

const SEEDS: &[&[u8]] = &[
    b"",
    b"\x00",
    b"Bearer resource_metadata=\"https://mcp.example.com/prm\", scope=\"a b\"\nBasic realm=x",
    br#"{"resource":"https://mcp.example.com/mcp","authorization_servers":["https://as.example.com"]}"#,
    b"https://as.example.com/tenant\n{\"issuer\":\"https://as.example.com/tenant\"}",
    b"\x00\x00\x00{\"client_id\":\"c\",\"client_secret\":\"s\"}",
    b"\x00\x00{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":\"5250\"}",
    b"\x01code=abc&iss=https%3A%2F%2Fas.example.com",
    b"\x01x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
];

#[test]
fn seeds_and_regressions_replay() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut replayed = 0;
    for (name, body) in TARGETS {
        for seed in SEEDS {
            body(seed);
        }
        let dir = root.join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).expect("readable regression input");
            body(&data);
            replayed += 1;
        }
    }
    println!("replayed {replayed} regression inputs");
}

#[test]
fn machine_harness_smoke_on_pseudo_random_input() {
    // A cheap smoke run: xorshift bytes of many lengths through the machine harness.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for len in (0..4096).step_by(97) {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        crate::machine::run(&data);
    }
}

#[test]
fn forged_sessions_still_deserialize() {
    // The machine generator builds sessions through serde; a schema change must fail here,
    // not silently turn every forged session into `None`.
    let data: Vec<u8> = (0u8..=255).cycle().take(4096).collect();
    let mut u = arbitrary::Unstructured::new(&data);
    let mut w = crate::machine::World::new("https://mcp.example.com/mcp".into());
    let mut forged = 0;
    for _ in 0..64 {
        let tokens = crate::machine_gen::token_set(&mut u, &mut w).expect("enough data");
        assert!(
            tokens.is_some(),
            "TokenSet no longer deserializes from the forged JSON"
        );
        if crate::machine_gen::forged_session(&mut u, &mut w)
            .expect("enough data")
            .is_some()
        {
            forged += 1;
        }
    }
    assert_eq!(
        forged, 64,
        "Session no longer deserializes from the forged JSON"
    );
}
