//! Download tokens: 256 bits from the operating system's CSPRNG, base64url (43
//! characters); stored only as their SHA-256.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use soundshelf_ports::{BoxError, IssuedToken, TokenIssuer};

/// Tokens from `ring`'s system random generator.
#[derive(Debug)]
pub struct RingTokens {
    random: SystemRandom,
}

impl Default for RingTokens {
    fn default() -> Self {
        Self {
            random: SystemRandom::new(),
        }
    }
}

impl TokenIssuer for RingTokens {
    fn issue(&self) -> Result<IssuedToken, BoxError> {
        let mut bytes = [0u8; 32];
        self.random
            .fill(&mut bytes)
            .map_err(|_| "the operating system's random generator failed")?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let hash = self.hash(&token);
        Ok(IssuedToken { token, hash })
    }

    fn hash(&self, token: &str) -> String {
        digest(&SHA256, token.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_url_safe_distinct_and_hashed() {
        let tokens = RingTokens::default();
        let a = tokens.issue().unwrap();
        let b = tokens.issue().unwrap();
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.len(), 43);
        assert!(
            a.token
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(a.hash.len(), 64);
        assert_eq!(tokens.hash(&a.token), a.hash);
        assert_eq!(
            tokens.hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
