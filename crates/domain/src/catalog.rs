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

/// The longest object key, in bytes.
pub const MAX_OBJECT_KEY_LEN: usize = 255;
/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// Where a file lives in storage: 1–255 printable ASCII characters, without `..` and not
/// starting with `/` or `\`, so that joined to a storage root it stays inside it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Checks `raw`.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let bad = |reason: &str| Err(ValidationError::new("object_key", reason));
        if raw.is_empty() || raw.len() > MAX_OBJECT_KEY_LEN {
            return bad("长度必须在 1 到 255 之间");
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return bad("只能包含可打印的 ASCII 字符（不含空格）");
        }
        if raw.contains("..") || raw.starts_with('/') || raw.starts_with('\\') {
            return bad("不能包含 ..，也不能以 / 或 \\ 开头");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for ObjectKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// One file of a track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Asset {
    /// Its quality.
    pub quality: Quality,
    /// Where it lives.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub object_key: ObjectKey,
    /// Its size in bytes (> 0).
    pub file_size: u64,
}

/// A track as the catalogue keeps it and operators manage it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CatalogTrack {
    /// Its id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CatalogId,
    /// 1–200 characters.
    pub title: String,
    /// Its cover image (may be empty).
    pub cover: String,
    /// Its length in seconds.
    pub duration: u32,
    /// Its category, if any.
    pub category: Option<String>,
    /// Whether only users with premium access may download it.
    pub premium_required: bool,
    /// Its files, at most one per quality, lowest quality first.
    pub assets: Vec<Asset>,
    /// Retired: kept, but shown and granted to no one.
    pub retired: bool,
}

impl CatalogTrack {
    /// A live track, checked: title 1–200 characters and not blank, cover ≤ 2048 and
    /// category ≤ 64 characters, at most one asset per quality (sorted lowest first),
    /// every size > 0.
    pub fn new(
        id: CatalogId,
        title: &str,
        cover: &str,
        duration: u32,
        category: Option<&str>,
        premium_required: bool,
        mut assets: Vec<Asset>,
    ) -> Result<Self, ValidationError> {
        let chars = title.chars().count();
        if chars == 0 || chars > MAX_TITLE_CHARS || title.trim().is_empty() {
            return Err(ValidationError::new(
                "title",
                "必须是 1 到 200 个字符且不能为空白",
            ));
        }
        if cover.chars().count() > 2048 {
            return Err(ValidationError::new("cover", "不能超过 2048 个字符"));
        }
        if category.is_some_and(|c| c.chars().count() > 64) {
            return Err(ValidationError::new("category", "不能超过 64 个字符"));
        }
        if assets
            .iter()
            .any(|a| a.file_size == 0 || a.file_size > i64::MAX as u64)
        {
            return Err(ValidationError::new("file_size", "必须大于 0"));
        }
        assets.sort_by_key(|a| Quality::ALL.iter().position(|q| *q == a.quality));
        if assets.windows(2).any(|w| w[0].quality == w[1].quality) {
            return Err(ValidationError::new("assets", "每种音质最多一个文件"));
        }
        Ok(Self {
            id,
            title: title.to_owned(),
            cover: cover.to_owned(),
            duration,
            category: category.map(str::to_owned),
            premium_required,
            assets,
            retired: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_stay_inside_the_storage_root() {
        for good in ["music/a_128k.mp3", "x", "a/b/c.flac", "A-Z_0.9~!"] {
            assert!(ObjectKey::parse(good).is_ok(), "{good}");
        }
        let long = "a".repeat(256);
        for bad in [
            "",
            "/abs",
            "\\abs",
            "a/../b",
            "..",
            "a b",
            "a\tb",
            "é",
            long.as_str(),
        ] {
            assert_eq!(
                ObjectKey::parse(bad).unwrap_err().field,
                "object_key",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn tracks_are_checked() {
        let id = CatalogId::parse_field("music_id", "m").unwrap();
        let asset = |q, n| Asset {
            quality: q,
            object_key: ObjectKey::parse("k").unwrap(),
            file_size: n,
        };
        let t = CatalogTrack::new(
            id.clone(),
            "t",
            "",
            1,
            None,
            false,
            vec![asset(Quality::Lossless, 3), asset(Quality::Standard, 1)],
        )
        .unwrap();
        assert_eq!(t.assets[0].quality, Quality::Standard, "sorted");
        let make =
            |title: &str, assets| CatalogTrack::new(id.clone(), title, "", 1, None, false, assets);
        assert_eq!(make("", vec![]).unwrap_err().field, "title");
        assert_eq!(make(" ", vec![]).unwrap_err().field, "title");
        assert_eq!(make(&"t".repeat(201), vec![]).unwrap_err().field, "title");
        assert_eq!(
            make("t", vec![asset(Quality::High, 0)]).unwrap_err().field,
            "file_size"
        );
        assert_eq!(
            make("t", vec![asset(Quality::High, 1), asset(Quality::High, 2)])
                .unwrap_err()
                .field,
            "assets"
        );
    }

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
