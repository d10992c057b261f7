//! Reading pasted lines with a bound: the paste fallback (both adapters) reads stdin, where a
//! stray 300 MB paste or a binary piped in by mistake must not be buffered whole before it is
//! judged. A line longer than [`MAX_PASTE_LINE`] is consumed and dropped as it streams past,
//! holding at most that many bytes, and reading goes on with the next line.

use std::io::{BufRead, ErrorKind};

/// Longest pasted line kept, in bytes. A redirect URL is far shorter (the core's callback
/// parser caps it lower still); anything longer is not one.
pub const MAX_PASTE_LINE: usize = 64 * 1024;

/// One line read by [`read_bounded_line`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PastedLine {
    /// A line within the bound, without its `\n`, decoded lossily as UTF-8.
    Line(String),
    /// A line longer than the bound; its bytes were discarded.
    TooLong,
}

/// The next line of `reader`, keeping at most `max` bytes of it in `buf` (reused between calls
/// so a long session of pastes allocates once). `Ok(None)` at the end of input.
///
/// ```
/// use mcp_oauth_store::paste_line::{read_bounded_line, PastedLine};
///
/// let mut input = std::io::Cursor::new(b"xxxxxxxx\nhttp://127.0.0.1:5/callback?code=c\n".to_vec());
/// let mut buf = Vec::new();
/// assert_eq!(read_bounded_line(&mut input, 32, &mut buf)?, Some(PastedLine::Line("xxxxxxxx".into())));
/// assert_eq!(read_bounded_line(&mut input, 32, &mut buf)?, Some(PastedLine::TooLong));
/// assert_eq!(read_bounded_line(&mut input, 32, &mut buf)?, None);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn read_bounded_line<R: BufRead + ?Sized>(
    reader: &mut R,
    max: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<PastedLine>> {
    buf.clear();
    let mut too_long = false;
    let mut read_any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(read_any.then(|| finish(buf, too_long)));
        }
        read_any = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let part = &available[..newline.unwrap_or(available.len())];
        if !too_long {
            if buf.len() + part.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        let used = newline.map_or(available.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(Some(finish(buf, too_long)));
        }
    }
}

fn finish(buf: &[u8], too_long: bool) -> PastedLine {
    if too_long {
        PastedLine::TooLong
    } else {
        PastedLine::Line(String::from_utf8_lossy(buf).into_owned())
    }
}

/// The message shown when a pasted line is dropped for its length.
pub fn too_long_notice() -> String {
    format!(
        "mcp-oauth: ignored a pasted line longer than {} KiB (not a redirect URL); paste the URL \
         your browser was redirected to",
        MAX_PASTE_LINE / 1024
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    #[test]
    fn a_huge_line_is_dropped_while_streaming_and_reading_continues() {
        let mut input = vec![b'x'; 2 * 1024 * 1024];
        input.extend_from_slice(b"\nhttp://127.0.0.1:5/callback?code=c&state=s\r\nlast");
        let mut reader = BufReader::with_capacity(8 * 1024, Cursor::new(input));
        let mut buf = Vec::new();
        let mut next = || read_bounded_line(&mut reader, MAX_PASTE_LINE, &mut buf).expect("read");
        assert_eq!(next(), Some(PastedLine::TooLong));
        assert_eq!(
            next(),
            Some(PastedLine::Line(
                "http://127.0.0.1:5/callback?code=c&state=s\r".into()
            ))
        );
        assert_eq!(next(), Some(PastedLine::Line("last".into())));
        assert_eq!(next(), None);
        // What was held never exceeded the bound (plus the growth slack of a Vec).
        assert!(buf.capacity() <= 2 * MAX_PASTE_LINE, "{}", buf.capacity());
    }

    #[test]
    fn bounds_are_exact_and_a_long_last_line_is_dropped_too() {
        let mut buf = Vec::new();
        let mut exact = Cursor::new(b"abcd\nabcde\n".to_vec());
        assert_eq!(
            read_bounded_line(&mut exact, 4, &mut buf).expect("read"),
            Some(PastedLine::Line("abcd".into()))
        );
        assert_eq!(
            read_bounded_line(&mut exact, 4, &mut buf).expect("read"),
            Some(PastedLine::TooLong)
        );
        let mut unterminated = Cursor::new(b"abcdef".to_vec());
        assert_eq!(
            read_bounded_line(&mut unterminated, 4, &mut buf).expect("read"),
            Some(PastedLine::TooLong)
        );
        assert_eq!(
            read_bounded_line(&mut unterminated, 4, &mut buf).expect("read"),
            None
        );
        assert!(too_long_notice().contains("64 KiB"));
    }
}
