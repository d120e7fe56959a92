//! HPACK Huffman decoding (RFC 7541 §5.2, code table in Appendix B).
//!
//! The RFC's code is canonical: codes of one length are consecutive and
//! ordered by symbol, and each length continues where the shorter one ended.
//! So the table is fully described by the code *length* of each symbol; the
//! codes themselves are derived (and checked against the RFC in the tests).

/// Code length in bits of symbols 0..=255 and EOS (256), RFC 7541 Appendix B.
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, // 0
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, // 16
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, // 32 ' '
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, // 48 '0'
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // 64 '@'
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, // 80 'P'
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, // 96 '`'
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, // 112 'p'
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240
    30, // EOS
];

const MAX_LEN: usize = 30;
const EOS: u16 = 256;

/// Canonical-code decoding tables, built once at compile time.
struct Canonical {
    /// First code of each length.
    first: [u32; MAX_LEN + 1],
    /// Number of codes of each length.
    count: [u32; MAX_LEN + 1],
    /// Index into `symbols` of the first symbol of each length.
    offset: [u16; MAX_LEN + 1],
    /// Symbols ordered by (length, symbol).
    symbols: [u16; 257],
}

const fn build() -> Canonical {
    let mut c =
        Canonical { first: [0; MAX_LEN + 1], count: [0; MAX_LEN + 1], offset: [0; MAX_LEN + 1], symbols: [0; 257] };
    let mut s = 0;
    while s < 257 {
        c.count[LENGTHS[s] as usize] += 1;
        s += 1;
    }
    let mut code = 0u32;
    let mut idx = 0u16;
    let mut len = 1;
    while len <= MAX_LEN {
        c.first[len] = code;
        c.offset[len] = idx;
        // Symbols of this length in symbol order.
        let mut s = 0;
        while s < 257 {
            if LENGTHS[s] as usize == len {
                c.symbols[idx as usize] = s as u16;
                idx += 1;
            }
            s += 1;
        }
        code = (code + c.count[len]) << 1;
        len += 1;
    }
    c
}

static TABLE: Canonical = build();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HuffmanError {
    /// A bit sequence that is no code, or the EOS symbol inside the string.
    InvalidCode,
    /// Padding longer than 7 bits or not a prefix of EOS (all ones).
    BadPadding,
}

/// Decodes a Huffman-coded string into `out`.
pub fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    let mut code = 0u32;
    let mut len = 0usize;
    // True while every bit of the current partial code is 1 (an EOS prefix).
    let mut all_ones = true;
    for &byte in input {
        for shift in (0..8).rev() {
            let bit = u32::from((byte >> shift) & 1);
            code = (code << 1) | bit;
            len += 1;
            all_ones &= bit == 1;
            if len > MAX_LEN {
                return Err(HuffmanError::InvalidCode);
            }
            let rel = code.wrapping_sub(TABLE.first[len]);
            if code >= TABLE.first[len] && rel < TABLE.count[len] {
                let sym = TABLE.symbols[usize::from(TABLE.offset[len]) + rel as usize];
                if sym == EOS {
                    return Err(HuffmanError::InvalidCode);
                }
                out.push(sym as u8);
                code = 0;
                len = 0;
                all_ones = true;
            }
        }
    }
    if len > 7 || !all_ones {
        return Err(HuffmanError::BadPadding);
    }
    Ok(())
}

/// Huffman-encodes `input` (EOS-padded). Only the tests and test servers
/// need it: our own requests send plain literals.
#[cfg(test)]
pub fn encode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc = 0u64;
    let mut bits = 0u32;
    for &b in input {
        let (code, len) = code_of(u16::from(b));
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        let pad = 8 - bits;
        out.push(((acc << pad) | ((1 << pad) - 1)) as u8);
    }
    out
}

/// The (code, length) of a symbol, derived from the canonical tables.
#[cfg(test)]
fn code_of(sym: u16) -> (u32, u8) {
    let len = LENGTHS[usize::from(sym)];
    let l = usize::from(len);
    let start = usize::from(TABLE.offset[l]);
    let pos = TABLE.symbols[start..start + TABLE.count[l] as usize].iter().position(|&s| s == sym).unwrap();
    (TABLE.first[l] + pos as u32, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_complete() {
        // Kraft sum of a complete prefix code is exactly 1.
        let sum: u64 = LENGTHS.iter().map(|&l| 1u64 << (MAX_LEN - usize::from(l))).sum();
        assert_eq!(sum, 1u64 << MAX_LEN);
    }

    #[test]
    fn derived_codes_match_rfc_appendix_b() {
        // Spot checks across every length group, copied from Appendix B.
        let cases: &[(u16, u32, u8)] = &[
            (0, 0x1ff8, 13),
            (1, 0x7fffd8, 23),
            (2, 0xfffffe2, 28),
            (9, 0xffffea, 24),
            (10, 0x3ffffffc, 30),
            (22, 0x3ffffffe, 30),
            (b' ' as u16, 0x14, 6),
            (b'!' as u16, 0x3f8, 10),
            (b'0' as u16, 0x0, 5),
            (b':' as u16, 0x5c, 7),
            (b'<' as u16, 0x7ffc, 15),
            (b'\\' as u16, 0x7fff0, 19),
            (b'a' as u16, 0x3, 5),
            (b'z' as u16, 0x7b, 7),
            (b'~' as u16, 0x1ffd, 13),
            (127, 0xffffffc, 28),
            (128, 0xfffe6, 20),
            (153, 0x1fffdc, 21),
            (199, 0x1ffffec, 25),
            (203, 0x7ffffde, 27),
            (220, 0xffffffd, 28),
            (249, 0xffffffe, 28),
            (254, 0x7fffff0, 27),
            (255, 0x3ffffee, 26),
            (EOS, 0x3fffffff, 30),
        ];
        for &(sym, code, len) in cases {
            assert_eq!(code_of(sym), (code, len), "symbol {sym}");
        }
    }

    #[test]
    fn round_trip_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let mut out = Vec::new();
        decode(&encode(&all), &mut out).unwrap();
        assert_eq!(out, all);
    }

    #[test]
    fn rfc_c4_string() {
        // "www.example.com" from RFC 7541 C.4.1.
        let coded = [0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff];
        assert_eq!(encode(b"www.example.com"), coded);
        let mut out = Vec::new();
        decode(&coded, &mut out).unwrap();
        assert_eq!(out, b"www.example.com");
    }

    #[test]
    fn rejects_bad_padding_and_eos() {
        let mut out = Vec::new();
        // 'a' (00011) padded with zeros instead of ones.
        assert_eq!(decode(&[0b0001_1000], &mut out), Err(HuffmanError::BadPadding));
        // A whole byte of padding (> 7 bits) after '0' (00000) + 111.
        assert_eq!(decode(&[0b0000_0111, 0xff], &mut out), Err(HuffmanError::BadPadding));
        // Explicit EOS (30 ones).
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff], &mut out), Err(HuffmanError::InvalidCode));
        assert_eq!(decode(&[], &mut out), Ok(()));
    }
}
