//! The paste fallback: a headless user copies the URL the browser was redirected to and pastes
//! it on stdin (ecosystem.md: SSH sessions, containers and WSL need it).
//!
//! A read of stdin cannot be cancelled, and a blocking read parked on tokio's blocking pool would
//! hold up runtime shutdown and swallow the line meant for the next login. So one dedicated
//! thread, started the first time pasting is needed, reads lines for the life of the process and
//! broadcasts them; a login listens only while it waits, and lines typed while nobody waits are
//! dropped. Hosts that speak a protocol on stdin turn pasting off (`Options::paste_from_stdin`).

use std::io::BufRead;
use std::sync::OnceLock;

use tokio::sync::broadcast;

/// Lines longer than this are not redirect URLs (the core's callback parser caps far lower).
const MAX_LINE: usize = 16 * 1024;

fn lines() -> &'static broadcast::Sender<String> {
    static LINES: OnceLock<broadcast::Sender<String>> = OnceLock::new();
    LINES.get_or_init(|| {
        let (tx, _) = broadcast::channel(4);
        let sender = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("mcp-oauth-stdin".into())
            .spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { return };
                    // No receiver (nobody waiting) is fine: the line is dropped.
                    let _ = sender.send(line);
                }
            });
        if spawned.is_err() {
            eprintln!("mcp-oauth: cannot read stdin for a pasted redirect URL");
        }
        tx
    })
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
                if !line.is_empty() && line.len() <= MAX_LINE {
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
        tx.send("x".repeat(MAX_LINE + 1)).unwrap();
        tx.send("  http://127.0.0.1:5/callback?code=c&state=s \r".to_owned())
            .unwrap();
        assert_eq!(
            next_paste(&mut rx).await.as_deref(),
            Some("http://127.0.0.1:5/callback?code=c&state=s")
        );
        drop(tx);
        assert_eq!(next_paste(&mut rx).await, None);
    }
}
