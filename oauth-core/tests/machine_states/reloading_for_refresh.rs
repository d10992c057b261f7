use super::*;

#[test]
fn refresh_command_asks_for_the_stored_session() {
    let at = Scenario::new().reloading_for_refresh();
    assert_eq!(
        describe_all(&at.outputs),
        [status(AuthStatus::Working), "load-session".into()]
    );
    assert!(at.machine.is_busy());
}

#[test]
fn a_newer_valid_token_from_another_process_is_adopted_without_refreshing() {
    let mut at = Scenario::new().reloading_for_refresh();
    let mut theirs = at.store.clone().expect("stored");
    if let Some(t) = theirs.tokens.as_mut() {
        t.access_token = mcp_oauth_core::AccessToken::new("at-from-other-process");
        t.expires_at = Some(T0.wall + 7200);
    }
    let out = at.feed(Input::SessionLoaded(Some(theirs)));
    assert_eq!(
        describe_all(&out),
        [status(AuthStatus::Authorized), "authorized".into()]
    );
    assert_eq!(at.header(), "Bearer at-from-other-process");
    assert!(!at.machine.is_busy());
}

#[test]
fn the_same_token_is_refreshed_with_the_re_read_refresh_token() {
    let mut at = Scenario::new().reloading_for_refresh();
    let mut theirs = at.store.clone().expect("stored");
    if let Some(t) = theirs.tokens.as_mut() {
        t.refresh_token = Some(mcp_oauth_core::RefreshToken::new("rt-re-read"));
    }
    let out = at.feed(Input::SessionLoaded(Some(theirs)));
    assert_eq!(describe_all(&out), [post(Step::Refresh, TOKEN_URL)]);
    assert_eq!(
        form(&at, Step::Refresh)[1],
        ("refresh_token".into(), "rt-re-read".into())
    );
}
