//! The local backend's signed link: `HMAC-SHA256(DOWNLOAD_SECRET, "{path}\n{expires}")` in
//! hex, for links the server itself checks (no vendor involved).

use ring::hmac;

/// Signs and checks local links with one secret.
pub struct LocalSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalSigner(secret hidden)")
    }
}

impl LocalSigner {
    /// A signer with `secret`.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The signature of `path` until `expires` (Unix seconds).
    pub fn sign(&self, path: &str, expires: i64) -> String {
        let tag = hmac::sign(&self.key, format!("{path}\n{expires}").as_bytes());
        crate::hex(tag.as_ref())
    }

    /// Whether `signature` is the signature of `path` until `expires`, in constant time.
    pub fn verify(&self, path: &str, expires: i64, signature: &str) -> bool {
        let Some(bytes) = crate::decode_hex(signature) else {
            return false;
        };
        hmac::verify(&self.key, format!("{path}\n{expires}").as_bytes(), &bytes).is_ok()
    }

    /// `path?expires=…&signature=…`.
    pub fn signed_path(&self, path: &str, expires: i64) -> String {
        format!(
            "{path}?expires={expires}&signature={}",
            self.sign(path, expires)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_of_path_and_expiry() {
        // RFC 4231 test case 2 checks the primitive: key "Jefe".
        let s = LocalSigner::new(b"Jefe");
        let tag = hmac::sign(&s.key, b"what do ya want for nothing?");
        assert_eq!(
            crate::hex(tag.as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sig = s.sign("/files/abc", 1_700_000_000);
        assert_eq!(sig.len(), 64);
        assert!(s.verify("/files/abc", 1_700_000_000, &sig));
        assert!(!s.verify("/files/abd", 1_700_000_000, &sig));
        assert!(!s.verify("/files/abc", 1_700_000_001, &sig));
        assert!(!LocalSigner::new(b"other").verify("/files/abc", 1_700_000_000, &sig));
        assert!(!s.verify("/files/abc", 1_700_000_000, "zz"));
        assert!(
            s.signed_path("/f", 5)
                .starts_with("/f?expires=5&signature=")
        );
    }
}
