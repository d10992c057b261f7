//! Tokio adapter (filled by the adapters issue).
