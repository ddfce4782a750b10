//! Signed download URLs, byte-exact with each vendor's algorithm: Qiniu private download
//! URLs, Aliyun OSS presigned URLs (signature V1 and V4), and the local HMAC-SHA256 link.
//!
//! No I/O and no clock: every time is an argument, so a URL is a pure function of its
//! inputs. HMAC and hashes come from `ring`.
//!
//! The crate also holds the adapters of soundshelf's ports that sign or mint: the CDN
//! signers as `UrlSigner` ([`cdn`]) and download tokens as `TokenIssuer` ([`tokens`]).

pub mod cdn;
pub mod internal;
pub mod local;
pub mod oss;
pub mod qiniu;
pub mod tokens;

/// Percent-encodes `s` as RFC 3986 asks: everything but `A-Z a-z 0-9 - _ . ~` (and `/`
/// when `keep_slash`) becomes `%XX` of its UTF-8 bytes, upper-case hex.
pub fn percent_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The bytes of hex text (either case); `None` when it is not hex.
pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]])
        .map(|c| char::from(c.to_ascii_lowercase()))
        .collect()
}

/// The HTTP method a URL is signed for (OSS signs it; Qiniu does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(percent_encode("a b/c+d~_.-", false), "a%20b%2Fc%2Bd~_.-");
        assert_eq!(percent_encode("音乐/x y", true), "%E9%9F%B3%E4%B9%90/x%20y");
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
    }
}
