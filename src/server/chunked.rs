//! A `Transfer-Encoding: chunked` request body (RFC 9112 §7.1), decoded
//! incrementally and thrown away: we never need a request body, but an
//! HTTP/1.1 server must parse one to find where the next request starts.
//!
//! Strict where smuggling lives: hex sizes without sign, prefix or overflow,
//! every line ended by CRLF (a bare LF is malformed), data followed by CRLF.
//! Chunk extensions (`;name=value`) and trailer fields are skipped. Bounded:
//! at most [`MAX_BODY_BYTES`] of data, and the framing around it (size lines,
//! extensions, trailers) at most [`MAX_FRAMING_BYTES`], so a client cannot
//! make us read forever in one-byte chunks or endless extensions.

use super::http::MAX_BODY_BYTES;

/// Bytes of framing (size lines, extensions, trailers) allowed around the
/// data: the head's limit, since trailers are header fields.
pub const MAX_FRAMING_BYTES: u64 = super::http::MAX_HEAD_BYTES as u64;
/// More hex digits than this overflow any size we would accept.
const MAX_SIZE_DIGITS: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChunkError {
    /// Not a chunked body: 400 and close.
    Malformed(&'static str),
    /// Over [`MAX_BODY_BYTES`] of data or [`MAX_FRAMING_BYTES`] of framing: 413 and close.
    TooLarge,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Hex digits of a chunk size (`digits` so far).
    Size {
        digits: u32,
    },
    /// Whitespace after the size, before `;` or CR.
    SizeSpace,
    /// Inside `;ext=val` up to CR.
    Extension,
    /// CR seen at the end of a size line: LF next.
    SizeLf,
    /// Chunk data: this many bytes left.
    Data(u64),
    /// After the data: CR then LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (CR here = end of the body).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    TrailerLf,
    /// CR of the final empty line seen: LF next.
    FinalLf,
    Done,
}

/// The decoder's state between reads.
#[derive(Debug, Clone)]
pub struct Chunked {
    state: State,
    size: u64,
    data: u64,
    framing: u64,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked { state: State::Size { digits: 0 }, size: 0, data: 0, framing: 0 }
    }
}

impl Chunked {
    /// Consumes body bytes from `input`; returns how many belong to the body
    /// (the rest is the next request). `is_done` tells whether it ended.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if let State::Data(left) = self.state {
                let take = left.min((input.len() - i) as u64);
                i += take as usize;
                self.state = if take == left { State::DataCr } else { State::Data(left - take) };
                continue;
            }
            let b = input[i];
            i += 1;
            self.framing += 1;
            if self.framing > MAX_FRAMING_BYTES {
                return Err(ChunkError::TooLarge);
            }
            self.state = self.step(b)?;
        }
        Ok(i)
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn step(&mut self, b: u8) -> Result<State, ChunkError> {
        use ChunkError::Malformed;
        Ok(match self.state {
            State::Size { digits } => match (b as char).to_digit(16) {
                Some(d) if digits < MAX_SIZE_DIGITS => {
                    self.size = self.size * 16 + u64::from(d);
                    State::Size { digits: digits + 1 }
                }
                Some(_) => return Err(ChunkError::TooLarge),
                None if digits == 0 => return Err(Malformed("chunk size is not a hex number")),
                None => self.after_size(b)?,
            },
            State::SizeSpace => self.after_size(b)?,
            State::Extension => match b {
                b'\r' => State::SizeLf,
                b'\t' | b' '..=b'~' | 0x80..=0xff => State::Extension,
                _ => return Err(Malformed("control character in a chunk extension")),
            },
            State::SizeLf => {
                if b != b'\n' {
                    return Err(Malformed("chunk size line not ended by CRLF"));
                }
                self.data += self.size;
                if self.data > MAX_BODY_BYTES {
                    return Err(ChunkError::TooLarge);
                }
                let size = std::mem::take(&mut self.size);
                if size == 0 { State::TrailerStart } else { State::Data(size) }
            }
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataLf if b == b'\n' => State::Size { digits: 0 },
            State::DataCr | State::DataLf => return Err(Malformed("chunk data not followed by CRLF")),
            State::TrailerStart if b == b'\r' => State::FinalLf,
            State::TrailerStart | State::Trailer => match b {
                b'\r' => State::TrailerLf,
                b'\t' | b' '..=b'~' | 0x80..=0xff => State::Trailer,
                _ => return Err(Malformed("control character in a trailer field")),
            },
            State::TrailerLf if b == b'\n' => State::TrailerStart,
            State::TrailerLf => return Err(Malformed("trailer line not ended by CRLF")),
            State::FinalLf if b == b'\n' => State::Done,
            State::FinalLf => return Err(Malformed("chunked body not ended by CRLF")),
            State::Data(_) | State::Done => unreachable!("handled in feed"),
        })
    }

    /// After the size digits: optional whitespace, then `;` or CR.
    fn after_size(&self, b: u8) -> Result<State, ChunkError> {
        match b {
            b' ' | b'\t' => Ok(State::SizeSpace),
            b';' => Ok(State::Extension),
            b'\r' => Ok(State::SizeLf),
            _ => Err(ChunkError::Malformed("chunk size is not a hex number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `body` in pieces of `step` bytes; returns the bytes consumed.
    fn decode(body: &[u8], step: usize) -> Result<usize, ChunkError> {
        let mut c = Chunked::default();
        let mut used = 0;
        for piece in body.chunks(step) {
            used += c.feed(piece)?;
            if c.is_done() {
                return Ok(used);
            }
        }
        Err(ChunkError::Malformed("incomplete"))
    }

    #[test]
    fn valid_bodies_end_where_the_next_request_starts() {
        let next = b"GET /health HTTP/1.1\r\n\r\n";
        let bodies: &[&[u8]] = &[
            b"0\r\n\r\n",
            b"5\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            b"A\r\n0123456789\r\n000\r\n\r\n",
            b"5;name=value;flag\r\nhello\r\n0;last\r\n\r\n",
            b"5 ;ext=\"quoted; still ext\"\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\nExpires: never\r\n\r\n",
            b"3\r\n\r\n\r\r\n0\r\n\r\n", // data that is itself CR and LF
        ];
        for body in bodies {
            let with_next = [*body, next].concat();
            for step in [1, 2, 7, with_next.len()] {
                assert_eq!(decode(&with_next, step), Ok(body.len()), "{:?} by {step}", String::from_utf8_lossy(body));
            }
        }
    }

    #[test]
    fn malformed_framing_is_rejected() {
        let bad: &[&[u8]] = &[
            b"\r\n",
            b"x\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"5;a\0b\r\nhello\r\n0\r\n\r\n",
            b"0\r\nX: a\nY: b\r\n\r\n",
            b"0\r\n\rX",
        ];
        for body in bad {
            assert!(
                matches!(decode(body, 1), Err(ChunkError::Malformed(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(body),
                decode(body, 1)
            );
        }
    }

    #[test]
    fn data_and_framing_are_bounded() {
        let big = format!("{:x}\r\n", MAX_BODY_BYTES + 1);
        assert_eq!(decode(big.as_bytes(), 3), Err(ChunkError::TooLarge), "declared size over the limit");
        let mut many = Vec::new();
        for _ in 0..=MAX_BODY_BYTES / 1000 {
            many.extend_from_slice(format!("3e8\r\n{}\r\n", "x".repeat(1000)).as_bytes());
        }
        assert_eq!(decode(&many, 512), Err(ChunkError::TooLarge), "chunks adding up over the limit");
        assert_eq!(decode(b"123456789\r\n", 1), Err(ChunkError::TooLarge), "a size that would overflow");
        let ext = format!("1;{}\r\n", "e".repeat(MAX_FRAMING_BYTES as usize));
        assert_eq!(decode(ext.as_bytes(), 64), Err(ChunkError::TooLarge), "endless extension");
        let tiny = "1\r\nx\r\n".repeat(MAX_FRAMING_BYTES as usize / 4);
        assert_eq!(decode(tiny.as_bytes(), 64), Err(ChunkError::TooLarge), "one-byte chunks");
        let exact = format!("{:x}\r\n{}\r\n0\r\n\r\n", MAX_BODY_BYTES, "y".repeat(MAX_BODY_BYTES as usize));
        assert_eq!(decode(exact.as_bytes(), 1000), Ok(exact.len()), "exactly the limit is fine");
    }
}
