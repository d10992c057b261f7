//! The loopback listener's HTTP logic: `loopback::head_progress`, `route`, `response`
//! (RFC 8252 §7.3, §8.3).

use mcp_oauth_core::callback::parse_callback;
use mcp_oauth_core::loopback::MAX_HEAD_BYTES;
use mcp_oauth_core::loopback::{
    callback_path, head_progress, response, route, HeadProgress, Route,
};
use mcp_oauth_core::StateToken;

const STATE: &str = "expected-state";
const PREFIXES: &[&[u8]] = &[
    b"",
    b"GET /callback?state=expected-state&code=",
    b"GET /callback?",
    b"GET http://127.0.0.1:5555/callback?state=expected-state",
    b"POST /callback ",
    b"GET /favicon.ico HTTP/1.1\r\n",
];

/// Byte 0 picks a request prefix; the rest are the bytes read from the socket.
pub fn run(data: &[u8]) {
    let prefix = data
        .first()
        .map_or(&b""[..], |&b| PREFIXES[usize::from(b) % PREFIXES.len()]);
    let mut buf = prefix.to_vec();
    buf.extend_from_slice(data.get(1..).unwrap_or_default());
    let expected = StateToken::new(STATE);
    let r = match head_progress(&buf) {
        HeadProgress::Complete { head_len } => {
            assert!(head_len <= buf.len() && head_len <= MAX_HEAD_BYTES);
            let head = buf.get(..head_len).expect("head_len within the buffer");
            assert!(head.ends_with(b"\n\n") || head.ends_with(b"\r\n\r\n"));
            route(head, "/callback", &expected)
        }
        HeadProgress::TooLarge => {
            assert!(buf.len() >= MAX_HEAD_BYTES);
            Route::HeadTooLarge
        }
        HeadProgress::Incomplete => {
            assert!(buf.len() < MAX_HEAD_BYTES);
            route(&buf, "/callback", &expected) // what a half-read head would give: no panic
        }
    };
    if let Route::Callback { query } = &r {
        let p = parse_callback(query).expect("a routed callback parses");
        assert_eq!(p.state.as_deref(), Some(STATE));
        // Pages never echo the request: the answer depends on the route kind only.
        let fixed = Route::Callback {
            query: String::new(),
        };
        assert_eq!(response(&r), response(&fixed));
        assert!(!format!("{r:?}").contains(STATE));
    }
    let page = response(&r);
    let text = String::from_utf8(page).expect("responses are UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    assert!(head.starts_with("HTTP/1.1 "));
    assert!(head.contains(&format!("Content-Length: {}", body.len())));
    let _ = callback_path(&crate::text(data));
}
