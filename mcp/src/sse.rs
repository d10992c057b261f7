//! Server-sent events parsing (WHATWG HTML §9.2.6, "Interpreting an event stream"), enough for
//! Streamable HTTP responses: `event`, multi-line `data`, comments, and CRLF, LF or CR line ends.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event` field (`"message"` when absent, as the spec defaults it).
    pub event: String,
    /// The `data` lines joined with `\n`.
    pub data: String,
}

/// Splits on CRLF, LF or CR (each a line end in SSE).
fn lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        out.push(rest.get(..i).unwrap_or(""));
        let skip = if rest.get(i..i + 2) == Some("\r\n") {
            2
        } else {
            1
        };
        rest = rest.get(i + skip..).unwrap_or("");
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Parses a whole event stream. Events without data are dropped (as the spec says); unlike the
/// spec, a last event lacking its closing blank line is still dispatched, since a response body
/// is complete when the adapter hands it over.
pub fn parse_events(body: &str) -> Vec<SseEvent> {
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    let mut events = Vec::new();
    let mut event = String::new();
    let mut data: Option<String> = None;
    let mut dispatch = |event: &mut String, data: &mut Option<String>| {
        if let Some(d) = data.take() {
            let name = if event.is_empty() {
                "message"
            } else {
                event.as_str()
            };
            events.push(SseEvent {
                event: name.to_string(),
                data: d,
            });
        }
        event.clear();
    };
    for line in lines(body) {
        if line.is_empty() {
            dispatch(&mut event, &mut data);
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_string()),
            },
            "event" => event = value.to_string(),
            // `id` and `retry` matter for reconnection only, which a finished body never needs.
            _ => {}
        }
    }
    dispatch(&mut event, &mut data);
    events
}
