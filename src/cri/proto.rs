//! Hand-written protobuf for the two CRI messages we use (k8s.io/cri-api
//! `runtime/v1/api.proto`, identical field numbers in v1alpha2):
//!
//! ```proto
//! message StatusRequest    { bool verbose = 1; }
//! message StatusResponse   { RuntimeStatus status = 1; map<string,string> info = 2; ... }
//! message RuntimeStatus    { repeated RuntimeCondition conditions = 1; ... }
//! message RuntimeCondition { string type = 1; bool status = 2; string reason = 3; string message = 4; }
//! ```
//!
//! Unknown fields of every wire type are skipped (newer runtimes add
//! `runtime_handlers`, `features`, `resources`, ...). No protoc, no codegen.

/// One `RuntimeCondition`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    pub kind: String,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

/// `StatusResponse.status.conditions`: all we read of the response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeStatus {
    pub conditions: Vec<Condition>,
}

impl RuntimeStatus {
    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.conditions.iter().find(|c| c.kind == kind)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtoError {
    Truncated,
    BadVarint,
    BadWireType(u8),
    WrongWireType { field: u64 },
    TooDeep,
}

impl std::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtoError::Truncated => f.write_str("truncated protobuf message"),
            ProtoError::BadVarint => f.write_str("invalid protobuf varint"),
            ProtoError::BadWireType(w) => write!(f, "invalid protobuf wire type {w}"),
            ProtoError::WrongWireType { field } => write!(f, "protobuf field {field} has the wrong wire type"),
            ProtoError::TooDeep => f.write_str("protobuf groups nested too deeply"),
        }
    }
}

const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;
const SGROUP: u8 = 3;
const EGROUP: u8 = 4;
const I32: u8 = 5;

/// Nesting bound for (deprecated, proto2) groups we skip.
const MAX_GROUP_DEPTH: usize = 32;

/// Encodes `StatusRequest{verbose}`; proto3 omits the default `false`.
pub fn encode_status_request(verbose: bool) -> Vec<u8> {
    if verbose { vec![0x08, 0x01] } else { Vec::new() }
}

/// Decodes a `StatusResponse`, keeping only the runtime conditions.
pub fn decode_status_response(buf: &[u8]) -> Result<RuntimeStatus, ProtoError> {
    let mut status = RuntimeStatus::default();
    let mut r = Reader { buf, pos: 0 };
    while let Some((field, wire)) = r.key()? {
        match field {
            // A repeated occurrence of a singular message merges (proto3).
            1 => decode_runtime_status(expect_len(&mut r, field, wire)?, &mut status)?,
            _ => r.skip(wire, field, 0)?,
        }
    }
    Ok(status)
}

fn decode_runtime_status(buf: &[u8], status: &mut RuntimeStatus) -> Result<(), ProtoError> {
    let mut r = Reader { buf, pos: 0 };
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => status.conditions.push(decode_condition(expect_len(&mut r, field, wire)?)?),
            _ => r.skip(wire, field, 0)?,
        }
    }
    Ok(())
}

fn decode_condition(buf: &[u8]) -> Result<Condition, ProtoError> {
    let mut c = Condition::default();
    let mut r = Reader { buf, pos: 0 };
    while let Some((field, wire)) = r.key()? {
        match field {
            1 => c.kind = string(expect_len(&mut r, field, wire)?),
            2 if wire == VARINT => c.status = r.varint()? != 0,
            2 => return Err(ProtoError::WrongWireType { field }),
            3 => c.reason = string(expect_len(&mut r, field, wire)?),
            4 => c.message = string(expect_len(&mut r, field, wire)?),
            _ => r.skip(wire, field, 0)?,
        }
    }
    Ok(c)
}

/// Strings are UTF-8 by contract; a runtime that breaks it still gets read.
fn string(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn expect_len<'a>(r: &mut Reader<'a>, field: u64, wire: u8) -> Result<&'a [u8], ProtoError> {
    if wire != LEN {
        return Err(ProtoError::WrongWireType { field });
    }
    r.bytes()
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = *self.buf.get(self.pos).ok_or(ProtoError::Truncated)?;
            self.pos += 1;
            // The 10th byte may only carry the top bit of a u64.
            if i == 9 && b > 1 {
                return Err(ProtoError::BadVarint);
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtoError::BadVarint)
    }

    /// Next (field number, wire type), or `None` at the end of the buffer.
    fn key(&mut self) -> Result<Option<(u64, u8)>, ProtoError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire = (key & 7) as u8;
        Ok(Some((key >> 3, wire)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtoError> {
        let end = self.pos.checked_add(n).ok_or(ProtoError::Truncated)?;
        let b = self.buf.get(self.pos..end).ok_or(ProtoError::Truncated)?;
        self.pos = end;
        Ok(b)
    }

    fn bytes(&mut self) -> Result<&'a [u8], ProtoError> {
        let n = self.varint()?;
        self.take(usize::try_from(n).map_err(|_| ProtoError::Truncated)?)
    }

    /// Skips the value of an unknown field; a start-group skips through the
    /// matching end-group.
    fn skip(&mut self, wire: u8, field: u64, depth: usize) -> Result<(), ProtoError> {
        match wire {
            VARINT => self.varint().map(drop),
            I64 => self.take(8).map(drop),
            LEN => self.bytes().map(drop),
            I32 => self.take(4).map(drop),
            SGROUP => {
                if depth >= MAX_GROUP_DEPTH {
                    return Err(ProtoError::TooDeep);
                }
                loop {
                    match self.key()? {
                        None => return Err(ProtoError::Truncated),
                        Some((f, EGROUP)) if f == field => return Ok(()),
                        Some((_, EGROUP)) => return Err(ProtoError::BadWireType(EGROUP)),
                        Some((f, w)) => self.skip(w, f, depth + 1)?,
                    }
                }
            }
            w => Err(ProtoError::BadWireType(w)),
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn put_len(out: &mut Vec<u8>, field: u64, b: &[u8]) {
        put_varint(out, field << 3 | u64::from(LEN));
        put_varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }

    fn encode_condition(c: &Condition) -> Vec<u8> {
        let mut out = Vec::new();
        put_len(&mut out, 1, c.kind.as_bytes());
        if c.status {
            out.extend_from_slice(&[0x10, 0x01]);
        }
        put_len(&mut out, 3, c.reason.as_bytes());
        put_len(&mut out, 4, c.message.as_bytes());
        out
    }

    /// Test-side encoder of `StatusResponse`.
    pub fn encode_status_response(s: &RuntimeStatus) -> Vec<u8> {
        let mut status = Vec::new();
        for c in &s.conditions {
            put_len(&mut status, 1, &encode_condition(c));
        }
        let mut out = Vec::new();
        put_len(&mut out, 1, &status);
        out
    }

    fn sample() -> RuntimeStatus {
        RuntimeStatus {
            conditions: vec![
                Condition { kind: "RuntimeReady".into(), status: true, reason: "".into(), message: "".into() },
                Condition {
                    kind: "NetworkReady".into(),
                    status: false,
                    reason: "NetworkPluginNotReady".into(),
                    message: "Network plugin returns error: cni plugin not initialized".into(),
                },
            ],
        }
    }

    #[test]
    fn request_encoding() {
        assert_eq!(encode_status_request(false), b"");
        assert_eq!(encode_status_request(true), [0x08, 0x01]);
    }

    #[test]
    fn response_round_trip() {
        let s = sample();
        let got = decode_status_response(&encode_status_response(&s)).unwrap();
        assert_eq!(got, s);
        assert_eq!(got.condition("NetworkReady").unwrap().reason, "NetworkPluginNotReady");
        assert_eq!(decode_status_response(b"").unwrap(), RuntimeStatus::default());
    }

    #[test]
    fn unknown_fields_of_every_wire_type_are_skipped() {
        let mut cond = Vec::new();
        put_varint(&mut cond, 9 << 3); // varint field 9
        put_varint(&mut cond, u64::MAX);
        put_len(&mut cond, 1, b"RuntimeReady");
        cond.push(7 << 3 | I64);
        cond.extend_from_slice(&[1; 8]);
        cond.push(8 << 3 | I32);
        cond.extend_from_slice(&[2; 4]);
        cond.extend_from_slice(&[0x10, 0x01]);
        // A group 10 containing a varint and a nested group 11.
        cond.extend_from_slice(&[10 << 3 | SGROUP, 1 << 3, 5, 11 << 3 | SGROUP, 11 << 3 | EGROUP, 10 << 3 | EGROUP]);
        put_len(&mut cond, 12, b"future");

        let mut status = Vec::new();
        put_len(&mut status, 1, &cond);
        put_len(&mut status, 2, b"\x0a\x00"); // resources (newer cri-api)
        let mut resp = Vec::new();
        put_len(&mut resp, 2, b"\x0a\x01k\x12\x01v"); // info map entry
        put_len(&mut resp, 1, &status);
        put_len(&mut resp, 3, b"\x0a\x04runc"); // runtime_handlers
        let got = decode_status_response(&resp).unwrap();
        assert_eq!(got.conditions, vec![Condition { kind: "RuntimeReady".into(), status: true, ..Default::default() }]);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let good = encode_status_response(&sample());
        // Every truncation of a valid message fails cleanly or decodes a prefix.
        for n in 0..good.len() {
            let _ = decode_status_response(&good[..n]);
        }
        assert_eq!(decode_status_response(&[0x0a, 0x05, 0x00]), Err(ProtoError::Truncated));
        assert_eq!(decode_status_response(&[0x0a]), Err(ProtoError::Truncated));
        assert_eq!(decode_status_response(&[0x1e]), Err(ProtoError::BadWireType(6)));
        assert_eq!(decode_status_response(&[0x08, 0x01]), Err(ProtoError::WrongWireType { field: 1 }));
        assert_eq!(decode_status_response(&[0x80; 11]), Err(ProtoError::BadVarint));
        assert_eq!(decode_status_response(&[0x13, 0x0a, 0x00]), Err(ProtoError::Truncated));
        assert_eq!(decode_status_response(&[0x13, 0x1c]), Err(ProtoError::BadWireType(EGROUP)));
        let deep: Vec<u8> = std::iter::repeat_n(0x13, 100).collect();
        assert_eq!(decode_status_response(&deep), Err(ProtoError::TooDeep));
        // Length prefix far beyond the buffer.
        assert_eq!(decode_status_response(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), Err(ProtoError::Truncated));
    }
}
