//! Identifiers: catalogue ids checked against the SPEC pattern, and prefixed ULIDs made
//! by the server.

use std::fmt;

use serde::{Serialize, Serializer};
use ulid::Ulid;

use crate::ValidationError;

/// The longest id any table column holds.
pub const MAX_ID_LEN: usize = 36;

/// An id from the catalogue or the user directory: `^[A-Za-z0-9_-]{1,36}$`.
///
/// Such an id can be placed in a query, a file name or an object key: it holds no `/`,
/// no `.`, no whitespace and nothing outside ASCII.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CatalogId(String);

impl CatalogId {
    /// Checks `raw` against the catalogue id pattern; `field` names it in the error.
    pub fn parse_field(field: &'static str, raw: &str) -> Result<Self, ValidationError> {
        if raw.is_empty() {
            return Err(ValidationError::new(field, "不能为空"));
        }
        if raw.len() > MAX_ID_LEN {
            return Err(ValidationError::new(
                field,
                format!("长度不能超过 {MAX_ID_LEN} 个字符"),
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ValidationError::new(
                field,
                "只能包含字母、数字、下划线和连字符",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for CatalogId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Ids named in a query as `a,b,c`: 1–`max` valid ids, duplicates folded, in the order
/// first named; `field` names the parameter in errors.
///
/// ```
/// use soundshelf_domain::parse_id_list;
/// let ids = parse_id_list("ids", Some("b,a,b"), 50).unwrap();
/// assert_eq!(ids.iter().map(|i| i.as_str()).collect::<Vec<_>>(), ["b", "a"]);
/// assert!(parse_id_list("ids", Some("a,../b"), 50).is_err());
/// assert!(parse_id_list("ids", Some("a,b,c"), 2).is_err());
/// assert!(parse_id_list("ids", None, 50).is_err());
/// ```
pub fn parse_id_list(
    field: &'static str,
    raw: Option<&str>,
    max: usize,
) -> Result<Vec<CatalogId>, ValidationError> {
    let raw = raw
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ValidationError::new(field, "缺少必要参数"))?;
    let mut ids: Vec<CatalogId> = Vec::new();
    for part in raw.split(',') {
        let id = CatalogId::parse_field(field, part)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
        if ids.len() > max {
            return Err(ValidationError::new(field, format!("最多 {max} 个")));
        }
    }
    Ok(ids)
}

macro_rules! catalog_newtype {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(CatalogId);

        impl $name {
            /// Checks `raw` against `^[A-Za-z0-9_-]{1,36}$`.
            pub fn parse(raw: &str) -> Result<Self, ValidationError> {
                CatalogId::parse_field($field, raw).map(Self)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl From<CatalogId> for $name {
            fn from(id: CatalogId) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

catalog_newtype!(
    /// The id of a favorited item (a track, an assessment, a sequence).
    ItemId,
    "item_id"
);
catalog_newtype!(
    /// The id of a user, as carried by the `sub` (or `id`) claim of a token.
    UserId,
    "user_id"
);

macro_rules! prefixed_ulid {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// The text every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// The id for a freshly generated ULID.
            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }

            /// Parses `prefix` followed by a 26-character Crockford base32 ULID in its
            /// canonical spelling (upper case, first character 0–7).
            pub fn parse(raw: &str) -> Result<Self, ValidationError> {
                let body = raw.strip_prefix($prefix).ok_or_else(|| {
                    ValidationError::new($field, concat!("必须以 ", $prefix, " 开头"))
                })?;
                if body.len() != ulid::ULID_LEN {
                    return Err(ValidationError::new($field, "格式无效"));
                }
                // Only the canonical spelling: the decoder also takes lower case, the
                // aliases I, L, O and a first character above 7 (whose extra bits it
                // drops), so without this check several texts would name one id.
                Ulid::from_string(body)
                    .ok()
                    .filter(|ulid| ulid.to_string() == body)
                    .map(Self)
                    .ok_or_else(|| ValidationError::new($field, "格式无效"))
            }

            /// The ULID inside.
            pub fn ulid(&self) -> Ulid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

prefixed_ulid!(
    /// The id of a favorite record: `fav_` and a ULID (30 characters).
    FavoriteId,
    "fav_",
    "favorite_id"
);

prefixed_ulid!(
    /// The id of a download record: `dl_` and a ULID.
    DownloadId,
    "dl_",
    "download_id"
);
prefixed_ulid!(
    /// The id of a download token's row: `tok_` and a ULID (the token itself is secret).
    TokenId,
    "tok_",
    "token_id"
);
prefixed_ulid!(
    /// The id of an audit entry: `aud_` and a ULID.
    AuditId,
    "aud_",
    "audit_id"
);

prefixed_ulid!(
    /// The id of a download log entry: `log_` and a ULID.
    LogId,
    "log_",
    "log_id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_ids_follow_the_pattern() {
        let cases: &[(&str, bool)] = &[
            ("music_001", true),
            ("a", true),
            ("A-b_9", true),
            (&"x".repeat(36), true),
            (&"x".repeat(37), false),
            ("", false),
            ("a/b", false),
            ("..", false),
            ("../etc", false),
            ("a b", false),
            ("a.mp3", false),
            ("音乐", false),
            ("a%2f", false),
            ("a\0", false),
            ("a\n", false),
        ];
        for (raw, ok) in cases {
            assert_eq!(ItemId::parse(raw).is_ok(), *ok, "{raw:?}");
            assert_eq!(UserId::parse(raw).is_ok(), *ok, "{raw:?}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(ItemId::parse("").unwrap_err().field, "item_id");
        assert_eq!(UserId::parse("").unwrap_err().field, "user_id");
        assert_eq!(FavoriteId::parse("x").unwrap_err().field, "favorite_id");
    }

    #[test]
    fn favorite_ids_round_trip() {
        let id = FavoriteId::from_ulid(Ulid::from_parts(1_700_000_000_000, 42));
        let text = id.to_string();
        assert!(text.starts_with("fav_"));
        assert_eq!(text.len(), 30);
        assert!(text.len() <= MAX_ID_LEN);
        assert_eq!(FavoriteId::parse(&text).unwrap(), id);
    }

    /// Found by the `ids` fuzz target: the ULID decoder takes other spellings of one id
    /// (lower case, the aliases I/L/O, a first character above 7 whose extra bits it
    /// drops), so `dl_xkzj…` parsed as `dl_5KZJ…`. Only the canonical spelling is an id.
    #[test]
    fn prefixed_ids_have_one_spelling() {
        for raw in [
            "dl_xkzjzzzzzzzzjzzzzjzzzzzzzz",
            "dl_01hv0000000000000000000000",
            "dl_8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "dl_ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "dl_01HV000000000000000000000O",
            "dl_01HV000000000000000000000I",
            "dl_01HV000000000000000000000L",
        ] {
            assert!(DownloadId::parse(raw).is_err(), "{raw}");
        }
        for raw in [
            "dl_7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
            "dl_01HV0000000000000000000000",
        ] {
            assert_eq!(DownloadId::parse(raw).unwrap().to_string(), raw);
        }
    }

    #[test]
    fn favorite_ids_refuse_other_shapes() {
        for raw in [
            "",
            "fav_",
            "dl_01HV0000000000000000000000",
            "fav_01HV000000000000000000000",
            "fav_01HV00000000000000000000000",
            "fav_01HV000000000000000000000U",
            "fav_../../../../etc/passwd0000",
            "FAV_01HV0000000000000000000000",
        ] {
            assert!(FavoriteId::parse(raw).is_err(), "{raw:?}");
        }
    }
}
