//! ASCII armor: the strict PEM form of an age file (spec: `spec/age.md`
//! §Armor).
//!
//! ```text
//! -----BEGIN AGE ENCRYPTED FILE-----
//! base64 with padding, 64 columns per line, the last line 1–64 columns
//! -----END AGE ENCRYPTED FILE-----
//! ```
//!
//! The reader accepts exactly the encodings the writer could produce, plus
//! the two freedoms the age spec allows: whitespace (space, tab, CR, LF)
//! before the begin line and after the end line, and CRLF line endings
//! instead of LF — used consistently, as chosen by the begin line. Both
//! sides stream, holding at most a few kilobytes.

use std::io::{self, BufRead, Read, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The armor's first line.
pub const BEGIN_LINE: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
/// The armor's last line.
pub const END_LINE: &[u8] = b"-----END AGE ENCRYPTED FILE-----";
/// Base64 characters per full line.
const COLUMNS: usize = 64;
/// Bytes encoded by one full line.
const BYTES_PER_LINE: usize = 48;
/// Lines the reader decodes per refill of its buffer.
const LINES_PER_FILL: usize = 64;
/// Lines the writer encodes per `write` call.
const LINES_PER_WRITE: usize = 64;

/// Why armored input was rejected. Every variant is an "armor failure" in
/// the age test-vector classification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArmorError {
    /// The input does not start (after whitespace) with the exact begin
    /// line.
    #[error("missing age armor begin line")]
    MissingBegin,
    /// A line is longer than 64 columns.
    #[error("age armor line is too long")]
    LineTooLong,
    /// An empty line, or a line after the short (or padded) last line.
    #[error("age armor has a misplaced or empty line")]
    InvalidLine,
    /// A line is not canonical padded base64.
    #[error("age armor has invalid base64")]
    InvalidBase64,
    /// A line does not end the way the begin line did.
    #[error("age armor has inconsistent line endings")]
    InvalidLineEnding,
    /// The input ends before the end line.
    #[error("missing age armor end line")]
    MissingEnd,
    /// Something other than whitespace follows the end line.
    #[error("data after the age armor end line")]
    TrailingData,
}

impl From<ArmorError> for io::Error {
    fn from(e: ArmorError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Armors everything written to it. Call [`Self::finish`] to write the last
/// line and the end line.
pub struct ArmoredWriter<W: Write> {
    inner: W,
    begun: bool,
    pending: [u8; BYTES_PER_LINE],
    pending_len: usize,
    scratch: Vec<u8>,
}

impl<W: Write> ArmoredWriter<W> {
    /// Wraps `inner`. Output uses LF line endings.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            begun: false,
            pending: [0; BYTES_PER_LINE],
            pending_len: 0,
            scratch: Vec::new(),
        }
    }

    fn begin(&mut self) {
        if !self.begun {
            self.scratch.extend_from_slice(BEGIN_LINE);
            self.scratch.push(b'\n');
            self.begun = true;
        }
    }

    fn push_line(scratch: &mut Vec<u8>, bytes: &[u8]) {
        let start = scratch.len();
        let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
        scratch.resize(start + len, 0);
        if let Some(out) = scratch.get_mut(start..) {
            // `out` is exactly the encoded length.
            let _ = STANDARD.encode_slice(bytes, out);
        }
        scratch.push(b'\n');
    }

    /// Writes the final line and the end line, flushes, and returns the
    /// inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.begin();
        if let Some(rest) = self
            .pending
            .get(..self.pending_len)
            .filter(|r| !r.is_empty())
        {
            Self::push_line(&mut self.scratch, rest);
        }
        self.scratch.extend_from_slice(END_LINE);
        self.scratch.push(b'\n');
        self.inner.write_all(&self.scratch)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ArmoredWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.scratch.clear();
        self.begin();
        let mut consumed = 0;
        let mut lines = 0;
        while lines < LINES_PER_WRITE && consumed < data.len() {
            let room = BYTES_PER_LINE - self.pending_len;
            let take = room.min(data.len() - consumed);
            let src = data.get(consumed..consumed + take).unwrap_or_default();
            if let Some(dst) = self
                .pending
                .get_mut(self.pending_len..self.pending_len + take)
            {
                dst.copy_from_slice(src);
            }
            self.pending_len += take;
            consumed += take;
            if self.pending_len == BYTES_PER_LINE {
                Self::push_line(&mut self.scratch, &self.pending);
                self.pending_len = 0;
                lines += 1;
            }
        }
        self.inner.write_all(&self.scratch)?;
        self.scratch.clear();
        Ok(consumed)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> core::fmt::Debug for ArmoredWriter<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ArmoredWriter").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Begin,
    Body,
    Done,
    Failed(ArmorError),
}

/// Removes the armor from a [`BufRead`], yielding the binary age file.
///
/// Errors are `io::Error`s of kind `InvalidData` whose inner error is an
/// [`ArmorError`]; once one is returned, every later read returns it again.
/// Each line is validated before any of its bytes are released.
pub struct ArmoredReader<R: BufRead> {
    inner: R,
    state: State,
    crlf: bool,
    /// The previous line was short or padded, so only the end line may
    /// follow.
    last_line_seen: bool,
    line: Vec<u8>,
    decoded: Vec<u8>,
    pos: usize,
}

impl<R: BufRead> ArmoredReader<R> {
    /// Wraps `inner`, which must hold an armored age file.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            state: State::Begin,
            crlf: false,
            last_line_seen: false,
            line: Vec::with_capacity(COLUMNS + 1),
            decoded: Vec::with_capacity(LINES_PER_FILL * BYTES_PER_LINE),
            pos: 0,
        }
    }

    /// Reads one line into `self.line`, without its LF; returns whether an
    /// LF ended it (rather than the end of input).
    fn read_line(&mut self) -> Result<bool, io::Error> {
        self.line.clear();
        loop {
            let available = match self.inner.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(false);
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let content = newline.unwrap_or(available.len());
            // 64 columns and a CR.
            if self.line.len() + content > COLUMNS + 1 {
                return Err(ArmorError::LineTooLong.into());
            }
            self.line
                .extend_from_slice(available.get(..content).unwrap_or_default());
            self.inner.consume(newline.map_or(content, |i| i + 1));
            if newline.is_some() {
                return Ok(true);
            }
        }
    }

    /// Skips leading whitespace and reads the begin line, which fixes the
    /// line ending.
    fn read_begin(&mut self) -> io::Result<()> {
        loop {
            let available = match self.inner.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let skip = available.iter().take_while(|&&b| is_whitespace(b)).count();
            let done = skip < available.len() || available.is_empty();
            self.inner.consume(skip);
            if done {
                break;
            }
        }
        let terminated = match self.read_line() {
            Ok(terminated) => terminated,
            Err(e) if armor_error(&e).is_some() => return Err(ArmorError::MissingBegin.into()),
            Err(e) => return Err(e),
        };
        if terminated && self.line == BEGIN_LINE {
            self.crlf = false;
        } else if terminated && self.line.strip_suffix(b"\r") == Some(BEGIN_LINE) {
            self.crlf = true;
        } else {
            return Err(ArmorError::MissingBegin.into());
        }
        Ok(())
    }

    /// Decodes lines into `self.decoded` until it is nearly full or the end
    /// line is reached.
    fn fill_decoded(&mut self) -> io::Result<()> {
        self.decoded.clear();
        self.pos = 0;
        for _ in 0..LINES_PER_FILL {
            let terminated = self.read_line()?;
            if terminated && self.crlf && self.line.pop() != Some(b'\r') {
                return Err(ArmorError::InvalidLineEnding.into());
            }
            if self.line == END_LINE {
                self.read_trailing()?;
                self.state = State::Done;
                return Ok(());
            }
            if !terminated {
                return Err(ArmorError::MissingEnd.into());
            }
            if self.last_line_seen || self.line.is_empty() {
                return Err(ArmorError::InvalidLine.into());
            }
            if self.line.len() > COLUMNS {
                return Err(ArmorError::LineTooLong.into());
            }
            let start = self.decoded.len();
            self.decoded.resize(start + BYTES_PER_LINE, 0);
            let out = self.decoded.get_mut(start..).unwrap_or_default();
            let n = STANDARD
                .decode_slice(&self.line, out)
                .map_err(|_| ArmorError::InvalidBase64)?;
            self.decoded.truncate(start + n);
            if self.line.len() < COLUMNS || self.line.last() == Some(&b'=') {
                self.last_line_seen = true;
            }
        }
        Ok(())
    }

    /// After the end line: only whitespace, to the end of input.
    fn read_trailing(&mut self) -> io::Result<()> {
        loop {
            let available = match self.inner.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(());
            }
            if !available.iter().all(|&b| is_whitespace(b)) {
                return Err(ArmorError::TrailingData.into());
            }
            let n = available.len();
            self.inner.consume(n);
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        if self.state == State::Begin {
            self.read_begin()?;
            self.state = State::Body;
        }
        while self.state == State::Body && self.pos >= self.decoded.len() {
            self.fill_decoded()?;
        }
        Ok(())
    }
}

/// The [`ArmorError`] inside an I/O error, if there is one.
pub(crate) fn armor_error(e: &io::Error) -> Option<ArmorError> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<ArmorError>())
        .copied()
}

impl<R: BufRead> BufRead for ArmoredReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.decoded.len() {
            if let State::Failed(e) = self.state {
                return Err(e.into());
            }
            if let Err(e) = self.refill() {
                if let Some(armor) = armor_error(&e) {
                    self.state = State::Failed(armor);
                }
                return Err(e);
            }
        }
        Ok(self.decoded.get(self.pos..).unwrap_or_default())
    }

    fn consume(&mut self, amount: usize) {
        self.pos = self.pos.saturating_add(amount).min(self.decoded.len());
    }
}

impl<R: BufRead> Read for ArmoredReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(available.get(..n).unwrap_or_default());
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> core::fmt::Debug for ArmoredReader<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ArmoredReader").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;

    fn armor(data: &[u8], write_size: usize) -> Vec<u8> {
        let mut w = ArmoredWriter::new(Vec::new());
        for piece in data.chunks(write_size.max(1)) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap()
    }

    fn dearmor(text: &[u8]) -> Result<Vec<u8>, ArmorError> {
        let mut out = Vec::new();
        ArmoredReader::new(text)
            .read_to_end(&mut out)
            .map(|_| out)
            .map_err(|e| armor_error(&e).unwrap())
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 256) as u8).collect()
    }

    #[test]
    fn round_trips() {
        for len in [
            0,
            1,
            2,
            3,
            47,
            48,
            49,
            95,
            96,
            97,
            1000,
            48 * 64,
            48 * 64 + 1,
            10_000,
        ] {
            let bytes = data(len);
            let text = armor(&bytes, 7);
            assert_eq!(text, armor(&bytes, usize::MAX), "len {len}");
            assert_eq!(dearmor(&text).unwrap(), bytes, "len {len}");
            let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
            assert_eq!(lines[0], BEGIN_LINE);
            assert!(lines[1..lines.len() - 2].iter().all(|l| l.len() <= COLUMNS));
            assert_eq!(lines[lines.len() - 2], END_LINE);
            // CRLF throughout is accepted too.
            let crlf: Vec<u8> = String::from_utf8(text.clone())
                .unwrap()
                .replace('\n', "\r\n")
                .into_bytes();
            assert_eq!(dearmor(&crlf).unwrap(), bytes, "crlf len {len}");
        }
        assert_eq!(
            armor(&[], 1),
            b"-----BEGIN AGE ENCRYPTED FILE-----\n-----END AGE ENCRYPTED FILE-----\n"
        );
    }

    #[test]
    fn whitespace_outside_is_allowed() {
        let text = armor(&data(100), 100);
        let mut padded = b" \t\r\n\n".to_vec();
        padded.extend_from_slice(&text);
        padded.extend_from_slice(b"\r\n \t");
        assert_eq!(dearmor(&padded).unwrap(), data(100));
        // No final LF.
        assert_eq!(dearmor(&text[..text.len() - 1]).unwrap(), data(100));
    }

    #[test]
    fn rejects_non_canonical_armor() {
        let text = String::from_utf8(armor(&data(100), 100)).unwrap();
        let cases: Vec<(String, ArmorError)> = vec![
            (format!("x{text}"), ArmorError::MissingBegin),
            (
                text.replace("BEGIN AGE", "BEGIN age"),
                ArmorError::MissingBegin,
            ),
            (
                text.replace("-----END AGE ENCRYPTED FILE-----\n", ""),
                ArmorError::MissingEnd,
            ),
            (format!("{text}x"), ArmorError::TrailingData),
            (text.replacen('\n', "\n\n", 1), ArmorError::InvalidLine),
            (
                text.replacen('\n', "\r\n", 1),
                ArmorError::InvalidLineEnding,
            ),
            (text.replace("==\n", "\n"), ArmorError::InvalidBase64),
            (text.replace("==\n", "=\n=\n"), ArmorError::InvalidBase64),
            (text.replacen("\n", "\nA", 2), ArmorError::LineTooLong),
        ];
        for (case, expected) in cases {
            assert_eq!(dearmor(case.as_bytes()), Err(expected), "{case}");
        }
        // Non-zero padding bits.
        let short = String::from_utf8(armor(&[0xff], 1)).unwrap();
        assert!(short.contains("/w==\n"));
        assert_eq!(
            dearmor(short.replace("/w==", "/x==").as_bytes()),
            Err(ArmorError::InvalidBase64)
        );
        // A short line that is not the last.
        let long = String::from_utf8(armor(&data(200), 200)).unwrap();
        let mut lines: Vec<&str> = long.lines().collect();
        let split = lines[1].split_at(32);
        lines.splice(1..2, [split.0, split.1]);
        assert_eq!(
            dearmor(lines.join("\n").as_bytes()),
            Err(ArmorError::InvalidLine)
        );
    }

    #[test]
    fn errors_repeat() {
        let mut r = ArmoredReader::new(b"nope".as_slice());
        assert!(r.read(&mut [0; 4]).is_err());
        let e = r.read(&mut [0; 4]).unwrap_err();
        assert_eq!(armor_error(&e), Some(ArmorError::MissingBegin));
    }
}
