//! Blocking adapter (filled by the adapters issue).
