//! Signatures of machine-to-machine requests (`/internal/…`, and the `json` alert
//! webhook): the header `X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<raw body bytes>")>`. A request is accepted when `t` is within the window of the
//! receiver's clock and one `v1` verifies (compared in constant time).

use ring::hmac;

/// How far `t` may be from the receiver's clock, either way, in seconds.
pub const WINDOW_SECS: i64 = 300;

/// The header's name.
pub const HEADER: &str = "X-Signature";

/// Signs and verifies with one shared secret.
#[derive(Clone)]
pub struct RequestSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestSigner(..)")
    }
}

fn message(t: i64, body: &[u8]) -> Vec<u8> {
    let mut m = format!("{t}.").into_bytes();
    m.extend_from_slice(body);
    m
}

impl RequestSigner {
    /// A signer with `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The header value for `body` sent at `t` (Unix seconds).
    pub fn sign(&self, t: i64, body: &[u8]) -> String {
        let tag = hmac::sign(&self.key, &message(t, body));
        format!("t={t},v1={}", crate::hex(tag.as_ref()))
    }

    /// Whether `header` signs `body` at a time within [`WINDOW_SECS`] of `now` (Unix
    /// seconds). A missing or malformed header, a stale or future `t`, or no `v1` that
    /// verifies: `false`.
    pub fn verify(&self, header: Option<&str>, body: &[u8], now: i64) -> bool {
        let Some(header) = header else {
            return false;
        };
        let mut t = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v))
                    if t.is_none() && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    t = v.parse::<i64>().ok();
                }
                Some(("v1", v)) => signatures.push(v),
                _ => return false,
            }
        }
        let Some(t) = t else {
            return false;
        };
        if (now - t).abs() > WINDOW_SECS || signatures.is_empty() {
            return false;
        }
        let message = message(t, body);
        signatures.into_iter().any(|s| {
            crate::decode_hex(s).is_some_and(|tag| hmac::verify(&self.key, &message, &tag).is_ok())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vector computed by an independent implementation (Python's `hmac`):
    /// `hmac.new(b"internal-secret", b"1764806400." + body, hashlib.sha256).hexdigest()`.
    const BODY: &[u8] =
        br#"{"subscription_type":"vip","has_premium_access":true,"status":"active"}"#;
    const VECTOR: &str =
        "t=1764806400,v1=29dc3ca0165f304f3a5512eea6b401c1936e933e35b3b91c68b155b694aff877";

    #[test]
    fn signs_and_verifies_within_the_window() {
        let s = RequestSigner::new(b"internal-secret");
        let now = 1_764_806_400;
        let header = s.sign(now, BODY);
        assert_eq!(header, VECTOR);
        assert!(s.verify(Some(&header), BODY, now));
        assert!(s.verify(Some(&header), BODY, now + 300));
        assert!(s.verify(Some(&header), BODY, now - 300));
        assert!(!s.verify(Some(&header), BODY, now + 301), "stale");
        assert!(!s.verify(Some(&header), BODY, now - 301), "from the future");
        assert!(!s.verify(None, BODY, now));
        let mut changed = BODY.to_vec();
        changed[3] ^= 1;
        assert!(!s.verify(Some(&header), &changed, now), "a changed byte");
        assert!(!RequestSigner::new(b"other").verify(Some(&header), BODY, now));
        for bad in [
            "",
            "t=,v1=00",
            "v1=00",
            &format!("t={now}"),
            &format!("t={now},v1=zz"),
            &format!("t=-{now},{}", &header[13..]),
            &format!("t={now},t={now},{}", &header[13..]),
            &format!("{header},x=1"),
        ] {
            assert!(!s.verify(Some(bad), BODY, now), "{bad:?}");
        }
        // Several v1: one that verifies is enough (secret rotation).
        let two = format!("t={now},v1={},{}", "0".repeat(64), &header[13..]);
        assert!(s.verify(Some(&two), BODY, now));
    }
}
