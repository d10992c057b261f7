//! Tests for `challenge`: the RFC 9110 §11.6.1 grammar's hard cases (several challenges, quoted
//! escapes, any parameter order and case, `token68`) and the conformance suite's headers.

use super::*;
use proptest::prelude::*;

fn p(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

const PRM: &str = "http://localhost:3000/.well-known/oauth-protected-resource/mcp";

#[test]
fn conformance_missing_authorization_header() {
    let h = format!(
        r#"Bearer error="invalid_token", error_description="Missing Authorization header", resource_metadata="{PRM}""#
    );
    let cs = parse_www_authenticate(&[&h]);
    assert_eq!(
        cs,
        vec![Challenge {
            scheme: "Bearer".into(),
            token68: None,
            params: vec![
                p("error", "invalid_token"),
                p("error_description", "Missing Authorization header"),
                p("resource_metadata", PRM),
            ],
        }]
    );
    assert_eq!(
        auth_challenge(&[&h]),
        AuthChallenge {
            scheme: Some(ChallengeScheme::Bearer),
            error: Some("invalid_token".into()),
            error_description: Some("Missing Authorization header".into()),
            scope: None,
            resource_metadata: Some(PRM.into()),
            offered: vec![ChallengeScheme::Bearer],
            dpop_algs: None,
        }
    );
}

#[test]
fn conformance_insufficient_scope() {
    let h = format!(
        r#"Bearer error="insufficient_scope", scope="mcp:basic mcp:write", resource_metadata="{PRM}""#
    );
    let a = auth_challenge(&[&h]);
    assert_eq!(a.scheme, Some(ChallengeScheme::Bearer));
    assert_eq!(a.error.as_deref(), Some("insufficient_scope"));
    assert_eq!(
        a.scope,
        Some(vec!["mcp:basic".to_owned(), "mcp:write".to_owned()])
    );
    assert_eq!(a.resource_metadata.as_deref(), Some(PRM));
    assert_eq!(a.error_description, None);
}

#[test]
fn conformance_scope_first_order() {
    // Custom middlewares put the parameters in another order (seen in the conformance suite's
    // scenarios).
    let h = format!(
        r#"Bearer scope="mcp:write", resource_metadata="{PRM}", error="insufficient_scope""#
    );
    let a = auth_challenge(&[&h]);
    assert_eq!(a.error.as_deref(), Some("insufficient_scope"));
    assert_eq!(a.scope, Some(vec!["mcp:write".to_owned()]));
    assert_eq!(a.resource_metadata.as_deref(), Some(PRM));
}

#[test]
fn conformance_dpop() {
    let h = format!(r#"DPoP resource_metadata="{PRM}", algs="ES256""#);
    let a = auth_challenge(&[&h]);
    assert_eq!(a.scheme, Some(ChallengeScheme::DPoP));
    assert_eq!(a.resource_metadata.as_deref(), Some(PRM));
    assert_eq!(a.error, None);
    let cs = parse_www_authenticate(&[&h]);
    assert_eq!(cs[0].param("algs"), Some("ES256"));

    let nonce = format!(r#"DPoP error="use_dpop_nonce", resource_metadata="{PRM}""#);
    let a = auth_challenge(&[&nonce]);
    assert_eq!(a.error.as_deref(), Some("use_dpop_nonce"));
    assert_eq!(a.resource_metadata.as_deref(), Some(PRM));
}

#[test]
fn basic_then_bearer_in_one_field() {
    let h = r#"Basic realm="x", Bearer scope="a""#;
    let cs = parse_www_authenticate(&[h]);
    assert_eq!(cs.len(), 2);
    assert!(cs[0].is_scheme("basic"));
    assert_eq!(cs[0].params, vec![p("realm", "x")]);
    assert!(cs[1].is_scheme("BEARER"));
    assert_eq!(cs[1].params, vec![p("scope", "a")]);
    let a = auth_challenge(&[h]);
    assert_eq!(a.scheme, Some(ChallengeScheme::Bearer));
    assert_eq!(a.scope, Some(vec!["a".to_owned()]));
}

#[test]
fn challenges_across_repeated_fields() {
    let cs = parse_www_authenticate(&[
        r#"Basic realm="one""#,
        r#"Negotiate"#,
        r#"Bearer realm="two", error="invalid_token""#,
    ]);
    let schemes: Vec<&str> = cs.iter().map(|c| c.scheme.as_str()).collect();
    assert_eq!(schemes, ["Basic", "Negotiate", "Bearer"]);
    assert_eq!(cs[2].param("realm"), Some("two"));
    assert_eq!(
        auth_challenge(&[r#"Basic realm="one""#, r#"Bearer error="invalid_token""#]).error,
        Some("invalid_token".into())
    );
}

#[test]
fn unterminated_quote_does_not_swallow_next_field() {
    let cs = parse_www_authenticate(&[r#"Basic realm="broken"#, r#"Bearer scope="a""#]);
    let schemes: Vec<&str> = cs.iter().map(|c| c.scheme.as_str()).collect();
    assert_eq!(schemes, ["Basic", "Bearer"]);
    assert!(cs[0].params.is_empty());
    assert_eq!(cs[1].param("scope"), Some("a"));
}

#[test]
fn quoted_escapes_and_comma_inside_quotes() {
    let h = r#"Bearer error_description="say \"hi\", then \\ go", realm="a,b", error="x""#;
    let cs = parse_www_authenticate(&[h]);
    assert_eq!(cs.len(), 1);
    assert_eq!(
        cs[0].params,
        vec![
            p("error_description", r#"say "hi", then \ go"#),
            p("realm", "a,b"),
            p("error", "x"),
        ]
    );
}

#[test]
fn whitespace_around_equals_and_tabs() {
    let h = "Bearer   error = \"invalid_token\" ,\tscope\t=\t\"a b\"";
    let cs = parse_www_authenticate(&[h]);
    assert_eq!(
        cs[0].params,
        vec![p("error", "invalid_token"), p("scope", "a b")]
    );
}

#[test]
fn mixed_case_scheme_and_param_names() {
    let h = format!(r#"bearer Resource_Metadata="{PRM}", SCOPE="x""#);
    let a = auth_challenge(&[&h]);
    assert_eq!(a.scheme, Some(ChallengeScheme::Bearer));
    assert_eq!(a.resource_metadata.as_deref(), Some(PRM));
    assert_eq!(a.scope, Some(vec!["x".to_owned()]));
    let cs = parse_www_authenticate(&[&h]);
    assert_eq!(cs[0].scheme, "bearer");
    assert_eq!(cs[0].params[0].0, "resource_metadata");
    assert_eq!(cs[0].param("RESOURCE_METADATA"), Some(PRM));
    assert_eq!(
        auth_challenge(&["dpop algs=ES256"]).scheme,
        Some(ChallengeScheme::DPoP)
    );
}

#[test]
fn duplicate_parameters_first_wins() {
    let h = r#"Bearer scope="first", scope="second", SCOPE=third"#;
    let cs = parse_www_authenticate(&[h]);
    assert_eq!(cs[0].params.len(), 3);
    assert_eq!(cs[0].param("scope"), Some("first"));
    assert_eq!(auth_challenge(&[h]).scope, Some(vec!["first".to_owned()]));
}

#[test]
fn token68_challenges() {
    let cs = parse_www_authenticate(&[
        "Negotiate abc==, Bearer realm=\"r\"",
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
    ]);
    assert_eq!(cs.len(), 3);
    assert_eq!(cs[0].scheme, "Negotiate");
    assert_eq!(cs[0].token68.as_deref(), Some("abc=="));
    assert!(cs[0].params.is_empty());
    assert_eq!(cs[1].param("realm"), Some("r"));
    assert_eq!(cs[1].token68, None);
    assert_eq!(cs[2].token68.as_deref(), Some("YWxhZGRpbjpvcGVuc2VzYW1l"));
}

#[test]
fn scheme_without_parameters() {
    let cs = parse_www_authenticate(&["Bearer"]);
    assert_eq!(cs.len(), 1);
    assert!(cs[0].params.is_empty() && cs[0].token68.is_none());
    let a = auth_challenge(&["Bearer"]);
    assert_eq!(a.scheme, Some(ChallengeScheme::Bearer));
    assert_eq!(
        a,
        AuthChallenge {
            scheme: Some(ChallengeScheme::Bearer),
            offered: vec![ChallengeScheme::Bearer],
            ..Default::default()
        }
    );
    let cs = parse_www_authenticate(&["Negotiate, Bearer"]);
    assert_eq!(cs.len(), 2);
}

#[test]
fn empty_and_missing_header() {
    assert!(parse_www_authenticate(&[]).is_empty());
    assert!(parse_www_authenticate(&[""]).is_empty());
    assert!(parse_www_authenticate(&["  ,  , "]).is_empty());
    assert_eq!(auth_challenge(&[]), AuthChallenge::default());
    assert_eq!(auth_challenge(&[""]), AuthChallenge::default());
}

#[test]
fn no_bearer_or_dpop_gives_default() {
    let a = auth_challenge(&[r#"Basic realm="x", Negotiate abc=="#]);
    assert_eq!(a, AuthChallenge::default());
}

#[test]
fn unquoted_token_values() {
    let h = "Bearer error=invalid_token, resource_metadata=https://rs.example.com/.well-known/oauth-protected-resource, scope=mcp";
    let a = auth_challenge(&[h]);
    assert_eq!(a.error.as_deref(), Some("invalid_token"));
    assert_eq!(
        a.resource_metadata.as_deref(),
        Some("https://rs.example.com/.well-known/oauth-protected-resource")
    );
    assert_eq!(a.scope, Some(vec!["mcp".to_owned()]));
}

#[test]
fn first_bearer_only_no_merging() {
    let h =
        r#"Bearer error="invalid_token", DPoP resource_metadata="https://x/prm", Bearer scope="s""#;
    let a = auth_challenge(&[h]);
    assert_eq!(a.scheme, Some(ChallengeScheme::Bearer));
    assert_eq!(a.error.as_deref(), Some("invalid_token"));
    assert_eq!(a.resource_metadata, None);
    assert_eq!(a.scope, None);
}

#[test]
fn scope_splitting() {
    assert_eq!(
        auth_challenge(&[r#"Bearer scope="  a   b c ""#]).scope,
        Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()])
    );
    assert_eq!(auth_challenge(&[r#"Bearer scope="""#]).scope, None);
    assert_eq!(auth_challenge(&[r#"Bearer scope="   ""#]).scope, None);
    // Case is preserved (RFC 6750 §3: scope values are case-sensitive).
    assert_eq!(
        auth_challenge(&["Bearer scope=MCP:Read"]).scope,
        Some(vec!["MCP:Read".to_owned()])
    );
}

#[test]
fn error_description_kept_raw() {
    let a = auth_challenge(&["Bearer error_description=\"line\\\"\u{1b}[31m\""]);
    assert_eq!(a.error_description.as_deref(), Some("line\"\u{1b}[31m"));
}

#[test]
fn garbage_is_skipped() {
    let cs =
        parse_www_authenticate(&[r#"=== "x", Bearer"y", @@, Bearer realm="ok" junk junk2, Basic"#]);
    let schemes: Vec<&str> = cs.iter().map(|c| c.scheme.as_str()).collect();
    assert_eq!(schemes, ["Bearer", "Basic"]);
    assert_eq!(cs[0].param("realm"), Some("ok"));
    assert!(parse_www_authenticate(&["\"unterminated"]).is_empty());
    assert!(parse_www_authenticate(&["\u{e9}\u{e9}, \u{1F600}"]).is_empty());
    let cs = parse_www_authenticate(&["Bearer realm=\"caf\u{e9} \\\u{e9}\""]);
    assert_eq!(cs[0].param("realm"), Some("caf\u{e9} \u{e9}"));
}

proptest! {
    // Fixed seed, no regression files: the run is deterministic.
    #![proptest_config(ProptestConfig {
        cases: 2000,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x6d63_705f_6f61),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_strings_never_panic(a in any::<String>(), b in any::<String>()) {
        let _ = parse_www_authenticate(&[&a, &b]);
        let _ = auth_challenge(&[&a]);
    }

    #[test]
    fn header_like_strings_never_panic(s in r#"[A-Za-z =",\\\t!#~/+é]{0,60}"#) {
        for c in parse_www_authenticate(&[&s]) {
            prop_assert!(!c.scheme.is_empty());
            for (name, _) in &c.params {
                prop_assert_eq!(name.clone(), name.to_ascii_lowercase());
            }
        }
        let _ = auth_challenge(&[&s]);
    }
}

#[test]
fn offered_schemes_and_dpop_algs() {
    // RFC 9449 §7.1: a server taking both schemes sends both challenges; `algs` lists the JWS
    // algorithms it accepts in proofs.
    let a =
        auth_challenge(&[r#"Bearer realm="mcp", DPoP algs="ES256 PS256", error="invalid_token""#]);
    assert_eq!(a.scheme, Some(ChallengeScheme::Bearer));
    assert_eq!(a.offered, [ChallengeScheme::Bearer, ChallengeScheme::DPoP]);
    assert!(a.offers(ChallengeScheme::DPoP));
    assert_eq!(a.dpop_algs, Some(vec!["ES256".into(), "PS256".into()]));
    let bearer_only = auth_challenge(&["Negotiate abc==", r#"bearer error="invalid_token""#]);
    assert_eq!(bearer_only.offered, [ChallengeScheme::Bearer]);
    assert!(!bearer_only.offers(ChallengeScheme::DPoP));
    let dpop = auth_challenge(&[r#"DPoP algs="", resource_metadata="x""#, "DPoP"]);
    assert_eq!(dpop.offered, [ChallengeScheme::DPoP]);
    assert_eq!(dpop.dpop_algs, None, "an empty algs is no list");
    assert!(auth_challenge(&["Basic realm=x"]).offered.is_empty());
}
