//! Qiniu private download URLs: `{url}?e={deadline}&token={AK}:{urlsafe_base64(HMAC-SHA1(SK, url?e=deadline))}`,
//! with keys escaped as Qiniu's SDKs do.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use ring::hmac;

use crate::percent_encode;

/// Signs download URLs of one Qiniu bucket domain.
pub struct QiniuSigner {
    access_key: String,
    key: hmac::Key,
    domain: String,
}

impl std::fmt::Debug for QiniuSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QiniuSigner")
            .field("access_key", &self.access_key)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl QiniuSigner {
    /// A signer for `domain` (`https://cdn.example.com`; a trailing `/` is ignored).
    pub fn new(access_key: &str, secret_key: &str, domain: &str) -> Self {
        Self {
            access_key: access_key.to_owned(),
            key: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret_key.as_bytes()),
            domain: domain.trim_end_matches('/').to_owned(),
        }
    }

    /// `AK:urlsafe_base64(HMAC-SHA1(SK, data))`, Qiniu's access token of `data`.
    pub fn sign(&self, data: &[u8]) -> String {
        let digest = hmac::sign(&self.key, data);
        format!("{}:{}", self.access_key, URL_SAFE.encode(digest.as_ref()))
    }

    /// The private download URL of a full `url` (already escaped), valid until `deadline`
    /// (Unix seconds).
    pub fn private_url(&self, url: &str, deadline: i64) -> String {
        let separator = if url.contains('?') { '&' } else { '?' };
        let to_sign = format!("{url}{separator}e={deadline}");
        let token = self.sign(to_sign.as_bytes());
        format!("{to_sign}&token={token}")
    }

    /// The private download URL of object `key`, with `attname` (the file name a browser
    /// saves it as) when given.
    pub fn object_url(&self, key: &str, attname: Option<&str>, deadline: i64) -> String {
        let mut url = format!("{}/{}", self.domain, escape_key(key));
        if let Some(name) = attname {
            url.push_str("?attname=");
            url.push_str(&percent_encode(name, false));
        }
        self.private_url(&url, deadline)
    }
}

/// Escapes an object key as Qiniu's SDKs do: percent-encoding of everything but
/// unreserved characters, keeping `/` and `|`.
pub fn escape_key(key: &str) -> String {
    percent_encode(key, true).replace("%7C", "|")
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "abcdefghklmnopq";
    const SK: &str = "1234567890";

    /// The signing primitive, from the official Rust SDK's documented examples.
    #[test]
    fn the_access_token_matches_the_sdk() {
        let s = QiniuSigner::new(AK, SK, "http://x");
        assert_eq!(
            s.sign(b"hello"),
            "abcdefghklmnopq:b84KVc-LroDiz0ebUANfdzSRxa0="
        );
        assert_eq!(
            s.sign(b"world"),
            "abcdefghklmnopq:VjgXt0P_nCxHuaTfiFz-UjDJ1AQ="
        );
        assert_eq!(
            s.sign(b"-test"),
            "abcdefghklmnopq:vYKRLUoXRlNHfpMEQeewG0zylaw="
        );
    }

    /// Private URLs, byte for byte as the official SDKs make them (sources in
    /// `docs/signers.md`).
    #[test]
    fn private_urls_match_the_sdks() {
        let s = QiniuSigner::new(AK, SK, "https://cdn.example.com/");
        assert_eq!(
            s.private_url("http://www.qiniu.com/?go=1", 1_234_571_490),
            "http://www.qiniu.com/?go=1&e=1234571490&token=abcdefghklmnopq:KjQtlGAkEOhSwtFjJfYtYa2-reE="
        );
        assert_eq!(
            s.object_url("music/music_001_128k.mp3", None, 1_700_000_000),
            "https://cdn.example.com/music/music_001_128k.mp3?e=1700000000&token=abcdefghklmnopq:HU0e2PdMOK6xN2iuq6lIMiYECoQ="
        );
        assert_eq!(
            s.object_url("音乐/深度 放松 冥想.mp3", None, 1_700_000_300),
            "https://cdn.example.com/%E9%9F%B3%E4%B9%90/%E6%B7%B1%E5%BA%A6%20%E6%94%BE%E6%9D%BE%20%E5%86%A5%E6%83%B3.mp3?e=1700000300&token=abcdefghklmnopq:ub5qEkLja6T6BIMX602hszARYEM="
        );
        let other = QiniuSigner::new("ak-test", "sk-test-0123456789", "http://dl.example.org");
        assert_eq!(
            other.object_url("a+b&c=d?#x|y.flac", None, 2_000_000_000),
            "http://dl.example.org/a%2Bb%26c%3Dd%3F%23x|y.flac?e=2000000000&token=ak-test:AU7tpAEAJkP58Qux6qNUzBksUco="
        );
    }

    #[test]
    fn every_input_changes_the_signature() {
        let base =
            QiniuSigner::new(AK, SK, "https://cdn.example.com").object_url("k.mp3", None, 100);
        let variants = [
            QiniuSigner::new("other", SK, "https://cdn.example.com").object_url("k.mp3", None, 100),
            QiniuSigner::new(AK, "other", "https://cdn.example.com").object_url("k.mp3", None, 100),
            QiniuSigner::new(AK, SK, "https://cdn.example.com").object_url("j.mp3", None, 100),
            QiniuSigner::new(AK, SK, "https://cdn.example.com").object_url("k.mp3", None, 101),
            QiniuSigner::new(AK, SK, "https://cdn.example.com").object_url(
                "k.mp3",
                Some("a.mp3"),
                100,
            ),
        ];
        // The whole token: the access key is its first part, the signature the second.
        let token = |u: &str| u.rsplit_once("token=").map(|(_, t)| t.to_owned());
        for v in variants {
            assert_ne!(token(&v), token(&base), "{v}");
        }
    }
}
