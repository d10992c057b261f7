//! The smallest HTTP/1.1 server side the testbed needs (RFC 9112): read one request from a
//! connection (request line, headers, a `Content-Length` or chunked body), write one response with
//! `Content-Length`. Persistent connections are the HTTP/1.1 default (RFC 9112 §9.3) because the
//! adapters' HTTP clients pool connections; `Connection: close` or HTTP/1.0 ends them.
//!
//! Malformed input never panics: it gets a 4xx and the connection is closed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use mcp_oauth_core::{HttpRequest, HttpResponse, Method};

/// Largest request body accepted (413 above).
pub const MAX_BODY: usize = 1024 * 1024;
/// Largest request head (request line plus headers) accepted (431 above).
const MAX_HEAD: usize = 64 * 1024;

/// One parsed request, before it becomes an [`HttpRequest`].
#[derive(Debug)]
pub(crate) struct RawRequest {
    pub method: String,
    pub target: String,
    http11: bool,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection stays open after the answer (RFC 9112 §9.3).
    pub fn keep_alive(&self) -> bool {
        if self.http11 {
            !self.connection_has("close")
        } else {
            self.connection_has("keep-alive")
        }
    }

    /// The request as the testbed sees it: `origin` + origin-form target, or an absolute-form
    /// target as is. `Err` is the answer for what the testbed cannot represent.
    pub fn into_http_request(self, origin: &str) -> Result<HttpRequest, HttpResponse> {
        let method = match self.method.as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            _ => return Err(HttpResponse::status(405).with_header("Allow", "GET, POST")),
        };
        let url = if self.target.starts_with('/') {
            format!("{origin}{}", self.target)
        } else if self.target.starts_with("http://") || self.target.starts_with("https://") {
            self.target
        } else {
            return Err(HttpResponse::status(400));
        };
        Ok(HttpRequest {
            method,
            url,
            headers: self.headers,
            body: self.body,
        })
    }
}

/// What reading a connection gave.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    /// A complete request.
    Request(RawRequest),
    /// The peer closed, went idle past the read timeout, or the socket failed: just close.
    Closed,
    /// The request is malformed: answer this status and close.
    Bad(u16),
}

enum Line {
    Text(String),
    Eof,
    TooLong,
    NotUtf8,
}

/// Reads one line (LF or CRLF terminated) of at most `limit` bytes, without the terminator.
fn read_line(reader: &mut BufReader<TcpStream>, limit: usize) -> io::Result<Line> {
    let mut buf = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let n = reader.by_ref().take(cap).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(Line::Eof);
    }
    if buf.last() != Some(&b'\n') {
        return Ok(if n > limit { Line::TooLong } else { Line::Eof });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(String::from_utf8(buf).map_or(Line::NotUtf8, Line::Text))
}

/// Reads the next request of a connection. Writes `100 Continue` itself when asked
/// (RFC 9110 §10.1.1), since curl waits for it before sending larger bodies.
pub(crate) fn read_request(reader: &mut BufReader<TcpStream>) -> ReadOutcome {
    match read_request_inner(reader) {
        Ok(outcome) => outcome,
        Err(_) => ReadOutcome::Closed,
    }
}

fn read_request_inner(reader: &mut BufReader<TcpStream>) -> io::Result<ReadOutcome> {
    let mut budget = MAX_HEAD;
    // RFC 9112 §2.2: a server should ignore empty lines before the request line.
    let request_line = loop {
        match read_line(reader, budget)? {
            Line::Eof => return Ok(ReadOutcome::Closed),
            Line::TooLong => return Ok(ReadOutcome::Bad(431)),
            Line::NotUtf8 => return Ok(ReadOutcome::Bad(400)),
            Line::Text(l) if l.is_empty() => budget = budget.saturating_sub(2),
            Line::Text(l) => break l,
        }
    };
    budget = budget.saturating_sub(request_line.len());
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Ok(ReadOutcome::Bad(400));
    };
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Ok(ReadOutcome::Bad(505)),
    };
    if method.is_empty() || target.is_empty() {
        return Ok(ReadOutcome::Bad(400));
    }
    let mut headers = Vec::new();
    loop {
        let line = match read_line(reader, budget)? {
            Line::Eof => return Ok(ReadOutcome::Closed),
            Line::TooLong => return Ok(ReadOutcome::Bad(431)),
            Line::NotUtf8 => return Ok(ReadOutcome::Bad(400)),
            Line::Text(l) => l,
        };
        if line.is_empty() {
            break;
        }
        budget = budget.saturating_sub(line.len() + 2);
        // Obsolete line folding (leading whitespace) is rejected (RFC 9112 §5.2).
        let Some((name, value)) = line.split_once(':') else {
            return Ok(ReadOutcome::Bad(400));
        };
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Ok(ReadOutcome::Bad(400));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let mut req = RawRequest {
        method: method.to_string(),
        target: target.to_string(),
        http11,
        headers,
        body: Vec::new(),
    };
    let chunked = match req.header("transfer-encoding") {
        None => false,
        Some(te) if te.trim().eq_ignore_ascii_case("chunked") => true,
        Some(_) => return Ok(ReadOutcome::Bad(501)),
    };
    let length = if chunked {
        None
    } else {
        match content_length(&req) {
            Ok(n) => n,
            Err(status) => return Ok(ReadOutcome::Bad(status)),
        }
    };
    let expects_body = chunked || length.is_some_and(|n| n > 0);
    let wants_continue = req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    if expects_body && wants_continue {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    if chunked {
        match read_chunked(reader)? {
            Ok(body) => req.body = body,
            Err(status) => return Ok(ReadOutcome::Bad(status)),
        }
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        reader.read_exact(&mut body)?;
        req.body = body;
    }
    Ok(ReadOutcome::Request(req))
}

/// The `Content-Length` (RFC 9112 §6.3): one value, or repeated equal values; 413 above
/// [`MAX_BODY`].
fn content_length(req: &RawRequest) -> Result<Option<usize>, u16> {
    let mut found: Option<usize> = None;
    for (_, v) in req
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        for part in v.split(',') {
            let part = part.trim();
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(400);
            }
            let n: usize = part.parse().map_err(|_| 413u16)?;
            if found.is_some_and(|f| f != n) {
                return Err(400);
            }
            found = Some(n);
        }
    }
    match found {
        Some(n) if n > MAX_BODY => Err(413),
        other => Ok(other),
    }
}

/// A chunked body (RFC 9112 §7.1); trailers are read and dropped. The inner `Err` is a status.
fn read_chunked(reader: &mut BufReader<TcpStream>) -> io::Result<Result<Vec<u8>, u16>> {
    let mut body = Vec::new();
    loop {
        let Line::Text(line) = read_line(reader, 1024)? else {
            return Ok(Err(400));
        };
        let size_text = line.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return Ok(Err(400));
        };
        if size == 0 {
            loop {
                match read_line(reader, MAX_HEAD)? {
                    Line::Text(t) if t.is_empty() => return Ok(Ok(body)),
                    Line::Text(_) => {}
                    _ => return Ok(Err(400)),
                }
            }
        }
        if body.len().saturating_add(size) > MAX_BODY {
            return Ok(Err(413));
        }
        let start = body.len();
        body.resize(start + size, 0);
        if let Some(chunk) = body.get_mut(start..) {
            reader.read_exact(chunk)?;
        }
        match read_line(reader, 2)? {
            Line::Text(t) if t.is_empty() => {}
            _ => return Ok(Err(400)),
        }
    }
}

/// The reason phrase of the statuses the testbed and this server produce.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

/// Serializes a response. Framing headers are this server's (any from `resp` are dropped), and
/// CR/LF in names or values are removed so no answer can split the header block.
pub(crate) fn encode_response(resp: &HttpResponse, keep_alive: bool) -> Vec<u8> {
    let clean = |s: &str| s.replace(['\r', '\n'], "");
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        let framing = ["content-length", "transfer-encoding", "connection"]
            .iter()
            .any(|f| k.eq_ignore_ascii_case(f));
        if !framing {
            head.push_str(&format!("{}: {}\r\n", clean(k), clean(v)));
        }
    }
    // RFC 9110 §8.6: no Content-Length and no body on 1xx, 204 and 304.
    let bodiless = resp.status < 200 || resp.status == 204 || resp.status == 304;
    if !bodiless {
        head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    head.push_str(&format!("Connection: {connection}\r\n\r\n"));
    let mut out = head.into_bytes();
    if !bodiless {
        out.extend_from_slice(&resp.body);
    }
    out
}
