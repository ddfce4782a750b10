//! The catalogue: audio qualities and where each file lives in storage.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::ValidationError;
use crate::ids::CatalogId;

/// The quality of a track's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quality {
    /// 128 kbit/s MP3.
    Standard,
    /// 320 kbit/s MP3.
    High,
    /// FLAC.
    Lossless,
}

impl Quality {
    /// Every quality, lowest first.
    pub const ALL: [Quality; 3] = [Quality::Standard, Quality::High, Quality::Lossless];

    /// The exact lowercase names; no value means `standard`.
    pub fn parse(raw: Option<&str>) -> Result<Self, ValidationError> {
        match raw {
            None => Ok(Quality::Standard),
            Some(raw) => Self::ALL
                .into_iter()
                .find(|q| q.as_str() == raw)
                .ok_or_else(|| {
                    ValidationError::new("quality", "必须是 standard、high 或 lossless")
                }),
        }
    }

    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Standard => "standard",
            Quality::High => "high",
            Quality::Lossless => "lossless",
        }
    }

    /// The suffix of the object key: `128k.mp3`, `320k.mp3`, `flac.flac`.
    fn key_suffix(self) -> &'static str {
        match self {
            Quality::Standard => "128k.mp3",
            Quality::High => "320k.mp3",
            Quality::Lossless => "flac.flac",
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Quality {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The storage key of a track's file: `music/{music_id}_128k.mp3`, `…_320k.mp3` or
/// `…_flac.flac`. The id is a checked [`CatalogId`], so the key never leaves `music/`.
///
/// ```
/// use soundshelf_domain::catalog::{object_key, Quality};
/// use soundshelf_domain::CatalogId;
///
/// let id = CatalogId::parse_field("music_id", "music_001").unwrap();
/// assert_eq!(object_key(&id, Quality::Lossless), "music/music_001_flac.flac");
/// ```
pub fn object_key(music_id: &CatalogId, quality: Quality) -> String {
    format!("music/{}_{}", music_id.as_str(), quality.key_suffix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names() {
        let id = CatalogId::parse_field("music_id", "m-1").unwrap();
        let keys: Vec<String> = Quality::ALL.iter().map(|q| object_key(&id, *q)).collect();
        assert_eq!(
            keys,
            [
                "music/m-1_128k.mp3",
                "music/m-1_320k.mp3",
                "music/m-1_flac.flac"
            ]
        );
        assert_eq!(Quality::parse(None).unwrap(), Quality::Standard);
        for q in Quality::ALL {
            assert_eq!(Quality::parse(Some(q.as_str())).unwrap(), q);
        }
        for bad in ["", "Standard", "flac", "320k"] {
            assert_eq!(Quality::parse(Some(bad)).unwrap_err().field, "quality");
        }
    }
}
