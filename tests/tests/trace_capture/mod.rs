//! A `tracing` subscriber that keeps every span and event, at every level, as text: what a
//! host's subscriber would be handed, for the diagnostics tests to search.

pub mod secrets;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as SpanValues};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

/// One captured span creation, span field update or event.
#[derive(Debug, Clone)]
pub struct Record {
    /// `"span"` or `"event"`.
    pub kind: &'static str,
    /// The callsite's target (a module path).
    pub target: String,
    /// The span's name, or the event's callsite name.
    pub name: String,
    /// Every field, the event's `message` included, as `(name, value)`.
    pub fields: Vec<(String, String)>,
}

impl Record {
    /// The value of field `name`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The event's message.
    pub fn message(&self) -> &str {
        self.field("message").unwrap_or("")
    }

    /// Everything a subscriber could print for this record.
    pub fn text(&self) -> String {
        let mut s = format!("{} {} {}", self.kind, self.target, self.name);
        for (k, v) in &self.fields {
            s.push_str(&format!(" {k}={v}"));
        }
        s
    }
}

struct Capture {
    next_id: AtomicU64,
}

fn records() -> &'static Mutex<Vec<Record>> {
    static RECORDS: OnceLock<Mutex<Vec<Record>>> = OnceLock::new();
    RECORDS.get_or_init(|| Mutex::new(Vec::new()))
}

fn push(record: Record) {
    records()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(record);
}

/// Installs the capture as the process-wide subscriber (once; later calls do nothing), so
/// events from every thread and task are kept.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let capture = Capture {
            next_id: AtomicU64::new(1),
        };
        tracing::subscriber::set_global_default(capture).expect("no other global subscriber");
    });
}

/// Everything captured so far.
pub fn captured() -> Vec<Record> {
    records()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

fn record(kind: &'static str, meta: &Metadata<'_>, fields: Fields) -> Record {
    Record {
        kind,
        target: meta.target().to_owned(),
        name: meta.name().to_owned(),
        fields: fields.0,
    }
}

impl Subscriber for Capture {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut fields = Fields::default();
        span.record(&mut fields);
        push(record("span", span.metadata(), fields));
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &Id, values: &SpanValues<'_>) {
        let mut fields = Fields::default();
        values.record(&mut fields);
        push(Record {
            kind: "span",
            target: String::new(),
            name: "(recorded)".into(),
            fields: fields.0,
        });
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        push(record("event", event.metadata(), fields));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
