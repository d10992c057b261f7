//! The paste fallback: a headless user copies the URL the browser was redirected to and pastes
//! it on stdin (SSH sessions, containers and WSL have no browser the loopback redirect reaches).
//!
//! A blocking read of stdin cannot be cancelled, so one dedicated thread, started the first
//! time pasting is needed, reads lines for the life of the process and hands each to whoever is
//! subscribed at that moment (a waiting login sends it over the same channel as loopback
//! callbacks); lines typed while nobody waits are dropped. Hosts that speak a protocol on stdin
//! turn pasting off (`Options::paste_from_stdin`). Lines are read with a bound
//! ([`crate::paste_line`]), so a huge paste is dropped as it streams past, never buffered.

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock, PoisonError};

use crate::paste_line::{read_bounded_line, too_long_notice, PastedLine, MAX_PASTE_LINE};

type Subscriber = Box<dyn Fn(String) + Send>;

/// Subscribers of pasted lines.
#[derive(Default)]
pub(crate) struct Hub {
    subscribers: Mutex<Vec<(u64, Subscriber)>>,
    next_id: AtomicU64,
}

impl Hub {
    /// Delivers a cleaned line to every current subscriber.
    pub(crate) fn publish(&self, line: &str) {
        let Some(line) = clean_line(line) else {
            return;
        };
        let subs = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (_, deliver) in subs.iter() {
            deliver(line.clone());
        }
    }

    /// Registers `deliver` until the returned guard drops.
    pub(crate) fn subscribe(
        &'static self,
        deliver: impl Fn(String) + Send + 'static,
    ) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id, Box::new(deliver)));
        Subscription { hub: self, id }
    }
}

/// Receives pasted lines until dropped.
pub(crate) struct Subscription {
    hub: &'static Hub,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(id, _)| *id != self.id);
    }
}

/// Subscribes to lines pasted on stdin, starting the reader thread on first use.
///
/// The subscription is registered before the reader starts, and callers prompt only after
/// this returns, so a line pasted right after the prompt always has a receiver.
pub(crate) fn subscribe_stdin(deliver: impl Fn(String) + Send + 'static) -> Subscription {
    static HUB: OnceLock<Hub> = OnceLock::new();
    static READER: Once = Once::new();
    let hub = HUB.get_or_init(Hub::default);
    let subscription = hub.subscribe(deliver);
    READER.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("mcp-oauth-stdin".into())
            .spawn(move || pump(&mut std::io::stdin().lock(), hub, |n| eprintln!("{n}")));
        if spawned.is_err() {
            eprintln!("mcp-oauth: cannot read stdin for a pasted redirect URL");
        }
    });
    subscription
}

/// Publishes every line of `input` until it ends or fails; an oversized line is dropped with
/// `notice` (the reading goes on).
fn pump(input: &mut dyn BufRead, hub: &Hub, notice: impl Fn(&str)) {
    let mut buf = Vec::new();
    while let Ok(Some(line)) = read_bounded_line(input, MAX_PASTE_LINE, &mut buf) {
        match line {
            PastedLine::Line(line) => hub.publish(&line),
            PastedLine::TooLong => notice(&too_long_notice()),
        }
    }
}

/// The line as a candidate redirect URL: trimmed, non-empty, not oversized.
pub(crate) fn clean_line(line: &str) -> Option<String> {
    let line = line.trim();
    (!line.is_empty() && line.len() <= MAX_PASTE_LINE).then(|| line.to_owned())
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
    use std::sync::mpsc;

    #[test]
    fn cleans_lines() {
        assert_eq!(clean_line("   \r\n"), None);
        assert_eq!(clean_line(&"x".repeat(MAX_PASTE_LINE + 1)), None);
        assert_eq!(
            clean_line("  http://127.0.0.1:5/callback?code=c&state=s \r\n").as_deref(),
            Some("http://127.0.0.1:5/callback?code=c&state=s")
        );
    }

    #[test]
    fn a_huge_paste_is_dropped_with_a_notice_and_the_next_line_delivered() {
        let hub: &'static Hub = Box::leak(Box::default());
        let (tx, rx) = mpsc::channel();
        let _sub = hub.subscribe(move |l| tx.send(l).unwrap());
        let mut input = vec![b'x'; 2 * 1024 * 1024];
        input.extend_from_slice(b"\nhttp://127.0.0.1:5/callback?code=c&state=s\n");
        let notices = Mutex::new(Vec::new());
        pump(&mut std::io::Cursor::new(input), hub, |n| {
            notices.lock().unwrap().push(n.to_owned())
        });
        assert_eq!(
            rx.try_recv().unwrap(),
            "http://127.0.0.1:5/callback?code=c&state=s"
        );
        assert!(rx.try_recv().is_err(), "the huge line is never delivered");
        assert_eq!(notices.into_inner().unwrap(), [too_long_notice()]);
    }

    #[test]
    fn delivers_to_current_subscribers_only() {
        let hub: &'static Hub = Box::leak(Box::default());
        let (tx, rx) = mpsc::channel();
        let sub = hub.subscribe(move |l| tx.send(l).unwrap());
        hub.publish("http://127.0.0.1:5/callback?state=a\n");
        hub.publish("   ");
        assert_eq!(
            rx.try_recv().unwrap(),
            "http://127.0.0.1:5/callback?state=a"
        );
        assert!(rx.try_recv().is_err());
        drop(sub);
        hub.publish("after");
        // The sender lived inside the subscription: gone, so the channel is closed.
        assert!(matches!(
            rx.try_recv(),
            Err(mpsc::TryRecvError::Disconnected)
        ));
    }
}
