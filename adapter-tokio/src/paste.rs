//! The paste fallback: a headless user copies the URL the browser was redirected to and pastes
//! it on stdin (SSH sessions, containers and WSL have no browser the loopback redirect reaches).
//!
//! A read of stdin cannot be cancelled, and a blocking read parked on tokio's blocking pool would
//! hold up runtime shutdown and swallow the line meant for the next login. So one dedicated
//! thread, started the first time pasting is needed, reads lines for the life of the process and
//! broadcasts them; a login listens only while it waits, and lines typed while nobody waits are
//! dropped. Hosts that speak a protocol on stdin turn pasting off (`Options::paste_from_stdin`).
//! Lines are read with a bound (`mcp_oauth_store::paste_line`), so a huge paste is dropped
//! as it streams past, never buffered.

use std::io::BufRead;
use std::sync::OnceLock;

use mcp_oauth_store::paste_line::{read_bounded_line, too_long_notice, PastedLine, MAX_PASTE_LINE};
use tokio::sync::broadcast;

fn lines() -> &'static broadcast::Sender<String> {
    static LINES: OnceLock<broadcast::Sender<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        let (tx, _) = broadcast::channel(4);
        let sender = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("mcp-oauth-stdin".into())
            .spawn(move || pump(&mut std::io::stdin().lock(), &sender, |n| eprintln!("{n}")));
        if spawned.is_err() {
            eprintln!("mcp-oauth: cannot read stdin for a pasted redirect URL");
        }
        tx
    })
}

/// Broadcasts every line of `input` until it ends or fails; an oversized line is dropped with
/// `notice` (the reading goes on). No receiver (nobody waiting) is fine: the line is dropped.
fn pump(input: &mut dyn BufRead, sender: &broadcast::Sender<String>, notice: impl Fn(&str)) {
    let mut buf = Vec::new();
    while let Ok(Some(line)) = read_bounded_line(input, MAX_PASTE_LINE, &mut buf) {
        match line {
            PastedLine::Line(line) => {
                let _ = sender.send(line);
            }
            PastedLine::TooLong => notice(&too_long_notice()),
        }
    }
}

/// Subscribes to pasted lines, starting the stdin reader on first use.
pub(crate) fn subscribe() -> broadcast::Receiver<String> {
    lines().subscribe()
}

/// The next line that could be a redirect URL (trimmed, non-empty, not oversized); `None` when
/// the source has ended.
pub(crate) async fn next_paste(rx: &mut broadcast::Receiver<String>) -> Option<String> {
    loop {
        match rx.recv().await {
            Ok(line) => {
                let line = line.trim();
                if !line.is_empty() && line.len() <= MAX_PASTE_LINE {
                    return Some(line.to_owned());
                }
            }
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return None,
        }
    }
}

/// The prompt shown when the browser could not be opened and pasting is on.
pub(crate) fn prompt(reason: &str) {
    eprintln!(
        "Could not open a browser ({reason}). After authorizing, paste the URL your browser was \
         redirected to (it starts with http://127.0.0.1) and press Enter:"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn skips_blank_and_oversized_lines_and_trims() {
        let (tx, mut rx) = broadcast::channel(8);
        tx.send("   ".to_owned()).unwrap();
        tx.send("x".repeat(MAX_PASTE_LINE + 1)).unwrap();
        tx.send("  http://127.0.0.1:5/callback?code=c&state=s \r".to_owned())
            .unwrap();
        assert_eq!(
            next_paste(&mut rx).await.as_deref(),
            Some("http://127.0.0.1:5/callback?code=c&state=s")
        );
        drop(tx);
        assert_eq!(next_paste(&mut rx).await, None);
    }

    #[tokio::test]
    async fn a_huge_paste_is_dropped_with_a_notice_and_the_next_line_delivered() {
        let (tx, mut rx) = broadcast::channel(8);
        let mut input = vec![b'x'; 2 * 1024 * 1024];
        input.extend_from_slice(b"\nhttp://127.0.0.1:5/callback?code=c&state=s\n");
        let notices = std::sync::Mutex::new(Vec::new());
        pump(&mut std::io::Cursor::new(input), &tx, |n| {
            notices.lock().unwrap().push(n.to_owned())
        });
        drop(tx);
        assert_eq!(
            next_paste(&mut rx).await.as_deref(),
            Some("http://127.0.0.1:5/callback?code=c&state=s")
        );
        assert_eq!(next_paste(&mut rx).await, None);
        assert_eq!(notices.into_inner().unwrap(), [too_long_notice()]);
    }
}
