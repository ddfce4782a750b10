//! Favorites: what a favorite is, what its parts may hold, and how lists of them are
//! asked for (filters, search, limits, keyset cursors).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::ValidationError;
use crate::ids::{FavoriteId, ItemId, UserId};

/// The largest `item_data`, in bytes of its compact JSON.
pub const MAX_ITEM_DATA_BYTES: usize = 8 * 1024;
/// The longest `item_data.title`, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest `item_data.cover` and `item_data.category`, in characters.
pub const MAX_TEXT_CHARS: usize = 2048;
/// The longest search term, in characters.
pub const MAX_SEARCH_CHARS: usize = 100;
/// The most ids one `contains` question may name.
pub const MAX_CONTAINS_IDS: usize = 50;

/// What kind of thing a favorite points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemType {
    /// A track.
    Music,
    /// An assessment (questionnaire).
    Assessment,
    /// A long sequence of tracks.
    Sequence,
}

impl ItemType {
    /// Every item type, in the order the API documents them.
    pub const ALL: [ItemType; 3] = [ItemType::Music, ItemType::Assessment, ItemType::Sequence];

    /// The exact lowercase names `music`, `assessment`, `sequence`; anything else is refused.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| {
                ValidationError::new("item_type", "必须是 music、assessment 或 sequence")
            })
    }

    /// The type an id's prefix announces (`music_…`, `assessment_…`, `sequence_…`), if any.
    pub fn from_id_prefix(id: &ItemId) -> Option<Self> {
        Self::ALL.into_iter().find(|t| {
            id.as_str()
                .strip_prefix(t.as_str())
                .is_some_and(|rest| rest.starts_with('_'))
        })
    }

    /// The name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Music => "music",
            ItemType::Assessment => "assessment",
            ItemType::Sequence => "sequence",
        }
    }
}

impl fmt::Display for ItemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ItemType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The description of a favorited item that the client shows without asking the catalogue:
/// a JSON object with `title` (1–200 characters), `cover` (text), `duration` (seconds, a
/// number ≥ 0), and optionally `category` (text) and `metadata` (an object). Other keys are
/// kept as sent. The whole object is at most 8 KiB of compact JSON.
///
/// The object is kept as sent (key order and number forms are not rewritten), so what a
/// client stores is what it reads back.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemData {
    object: Map<String, Value>,
    compact: String,
}

impl ItemData {
    /// Validates a JSON value as item data.
    pub fn parse(value: Value) -> Result<Self, ValidationError> {
        const FIELD: &str = "item_data";
        let Value::Object(object) = value else {
            return Err(ValidationError::new(FIELD, "必须是 JSON 对象"));
        };
        let text = |key: &str, max: usize, required: bool| -> Result<(), ValidationError> {
            match object.get(key) {
                None | Some(Value::Null) if !required => Ok(()),
                None | Some(Value::Null) => Err(ValidationError::new(FIELD, format!("缺少 {key}"))),
                Some(Value::String(s)) if s.chars().count() > max => Err(ValidationError::new(
                    FIELD,
                    format!("{key} 不能超过 {max} 个字符"),
                )),
                Some(Value::String(_)) => Ok(()),
                Some(_) => Err(ValidationError::new(FIELD, format!("{key} 必须是字符串"))),
            }
        };
        text("title", MAX_TITLE_CHARS, true)?;
        if object
            .get("title")
            .and_then(Value::as_str)
            .is_some_and(|t| t.trim().is_empty())
        {
            return Err(ValidationError::new(FIELD, "title 不能为空"));
        }
        text("cover", MAX_TEXT_CHARS, true)?;
        text("category", MAX_TEXT_CHARS, false)?;
        match object.get("duration") {
            Some(Value::Number(n)) if n.as_f64().is_some_and(|d| d >= 0.0) => {}
            Some(Value::Number(_)) => {
                return Err(ValidationError::new(FIELD, "duration 不能为负数"));
            }
            None | Some(Value::Null) => {
                return Err(ValidationError::new(FIELD, "缺少 duration"));
            }
            Some(_) => return Err(ValidationError::new(FIELD, "duration 必须是数字")),
        }
        match object.get("metadata") {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(_) => return Err(ValidationError::new(FIELD, "metadata 必须是 JSON 对象")),
        }
        let compact = Value::Object(object.clone()).to_string();
        if compact.len() > MAX_ITEM_DATA_BYTES {
            return Err(ValidationError::new(
                FIELD,
                format!("不能超过 {MAX_ITEM_DATA_BYTES} 字节"),
            ));
        }
        Ok(Self { object, compact })
    }

    /// Reads back what [`ItemData::to_json_string`] wrote.
    pub fn from_json_str(text: &str) -> Result<Self, ValidationError> {
        let value = serde_json::from_str(text)
            .map_err(|_| ValidationError::new("item_data", "不是有效的 JSON"))?;
        Self::parse(value)
    }

    /// The title, as sent.
    pub fn title(&self) -> &str {
        self.object
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The `item_type` the data announces, if it carries a valid one (used by sync).
    pub fn item_type(&self) -> Option<ItemType> {
        self.object
            .get("item_type")
            .and_then(Value::as_str)
            .and_then(|t| ItemType::parse(t).ok())
    }

    /// The compact JSON text, as stored.
    pub fn to_json_string(&self) -> &str {
        &self.compact
    }

    /// The key the title is searched by: see [`search_key`].
    pub fn search_key(&self) -> String {
        search_key(self.title())
    }
}

impl Serialize for ItemData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.object.serialize(s)
    }
}

/// The form in which titles are stored for search and search terms are compared:
/// Unicode lowercase. Matching is then an exact substring test on these keys, which is
/// case-insensitive for every script with case and exact for CJK and emoji.
pub fn search_key(text: &str) -> String {
    text.to_lowercase()
}

/// A favorite: a user's mark on an item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Favorite {
    /// `fav_` and a ULID.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: FavoriteId,
    /// The owner.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub user_id: UserId,
    /// What is favorited.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub item_id: ItemId,
    /// Its kind.
    pub item_type: ItemType,
    /// Its description.
    pub item_data: ItemData,
    /// When it was favorited.
    #[serde(with = "crate::time::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "crate::time::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: OffsetDateTime,
}

/// A page size: 1 to 100, 50 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    /// The most rows one page may hold.
    pub const MAX: u32 = 100;

    /// Parses the `limit` query parameter.
    pub fn parse(raw: Option<&str>) -> Result<Self, ValidationError> {
        let Some(raw) = raw else {
            return Ok(Self::default());
        };
        match raw.parse::<u32>() {
            Ok(n @ 1..=Self::MAX) => Ok(Self(n)),
            _ => Err(ValidationError::new(
                "limit",
                format!("必须是 1 到 {} 之间的整数", Self::MAX),
            )),
        }
    }

    /// The size.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(50)
    }
}

/// Where a page starts: after `offset` rows, or after the row a cursor names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    /// Skip this many rows.
    Offset(u64),
    /// Continue after this row.
    After(Cursor),
}

/// A page of a list: its size and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// The page size.
    pub limit: Limit,
    /// The start.
    pub start: PageStart,
}

impl PageRequest {
    /// Parses `limit`, `offset` and `cursor`; `offset` and `cursor` exclude each other.
    pub fn parse(
        limit: Option<&str>,
        offset: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Self, ValidationError> {
        let limit = Limit::parse(limit)?;
        let start = match (offset, cursor) {
            (Some(_), Some(_)) => {
                return Err(ValidationError::new("cursor", "不能与 offset 同时使用"));
            }
            (_, Some(c)) => PageStart::After(Cursor::decode(c)?),
            (Some(o), None) => PageStart::Offset(
                o.parse::<u64>()
                    .ok()
                    .filter(|o| *o <= i64::MAX as u64)
                    .ok_or_else(|| ValidationError::new("offset", "必须是不小于 0 的整数"))?,
            ),
            (None, None) => PageStart::Offset(0),
        };
        Ok(Self { limit, start })
    }

    /// The offset this page starts at, or 0 for a cursor page.
    pub fn offset(&self) -> u64 {
        match self.start {
            PageStart::Offset(o) => o,
            PageStart::After(_) => 0,
        }
    }
}

/// An opaque keyset position in a newest-first list: the time and id of the last row
/// seen (`created_at` for favorites, `download_time` for downloads). Clients get it as
/// `next_cursor` and hand it back as `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The time of the last row seen, in whole microseconds since the epoch.
    pub created_at_micros: i64,
    /// Its id (checked like every id: `^[A-Za-z0-9_-]{1,36}$`).
    pub id: String,
}

impl Cursor {
    /// The position of a row with time `at` and id `id`.
    pub fn new(at: OffsetDateTime, id: impl fmt::Display) -> Self {
        let micros = at.unix_timestamp_nanos() / 1_000;
        Self {
            created_at_micros: i64::try_from(micros).unwrap_or(i64::MAX),
            id: id.to_string(),
        }
    }

    /// The cursor positioned after `favorite`.
    pub fn after(favorite: &Favorite) -> Self {
        Self::new(favorite.created_at, favorite.id)
    }

    /// The `created_at` instant of the position.
    pub fn created_at(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.created_at_micros) * 1_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.created_at_micros, self.id))
    }

    /// Parses the text form; anything not made by [`Cursor::encode`] is refused.
    pub fn decode(raw: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::new("cursor", "无效的游标");
        if raw.len() > 128 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
        let (micros, id) = text.split_once('.').ok_or_else(bad)?;
        let created_at_micros: i64 = micros.parse().map_err(|_| bad())?;
        let id = crate::CatalogId::parse_field("cursor", id).map_err(|_| bad())?;
        let cursor = Self {
            created_at_micros,
            id: id.as_str().to_owned(),
        };
        // Refuse instants outside what `OffsetDateTime` represents.
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(created_at_micros) * 1_000)
            .map_err(|_| bad())?;
        Ok(cursor)
    }
}

/// A search term: a case-insensitive substring of the title, 1–100 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm(String);

impl SearchTerm {
    /// Parses the `search` query parameter: empty or blank means no search.
    pub fn parse(raw: Option<&str>) -> Result<Option<Self>, ValidationError> {
        let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        if raw.chars().count() > MAX_SEARCH_CHARS {
            return Err(ValidationError::new(
                "search",
                format!("不能超过 {MAX_SEARCH_CHARS} 个字符"),
            ));
        }
        Ok(Some(Self(search_key(raw))))
    }

    /// The normalized term, to be found in stored search keys.
    pub fn key(&self) -> &str {
        &self.0
    }
}

/// What a favorites list is narrowed to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FavoriteFilter {
    /// Only this type.
    pub item_type: Option<ItemType>,
    /// Only titles containing this.
    pub search: Option<SearchTerm>,
}

/// The ids of a `contains` question: 1–50 valid ids, comma-separated, duplicates folded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemIdList(Vec<ItemId>);

impl ItemIdList {
    /// Parses `a,b,c`.
    pub fn parse(raw: Option<&str>) -> Result<Self, ValidationError> {
        let ids = crate::ids::parse_id_list("item_ids", raw, MAX_CONTAINS_IDS)?;
        Ok(Self(ids.into_iter().map(ItemId::from).collect()))
    }

    /// The ids, in the order first named.
    pub fn ids(&self) -> &[ItemId] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use ulid::Ulid;

    fn data(v: Value) -> Result<ItemData, ValidationError> {
        ItemData::parse(v)
    }

    #[test]
    fn item_types_are_exact_lowercase() {
        assert_eq!(ItemType::parse("music").unwrap(), ItemType::Music);
        assert_eq!(ItemType::parse("assessment").unwrap(), ItemType::Assessment);
        assert_eq!(ItemType::parse("sequence").unwrap(), ItemType::Sequence);
        for bad in ["Music", "MUSIC", "", "video", " music"] {
            assert!(ItemType::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn item_type_from_prefix() {
        let t = |s: &str| ItemType::from_id_prefix(&ItemId::parse(s).unwrap());
        assert_eq!(t("music_001"), Some(ItemType::Music));
        assert_eq!(t("assessment_x"), Some(ItemType::Assessment));
        assert_eq!(t("sequence_9"), Some(ItemType::Sequence));
        assert_eq!(t("musical_1"), None);
        assert_eq!(t("music"), None);
        assert_eq!(t("x_music_1"), None);
    }

    #[test]
    fn item_data_rules() {
        let ok = json!({"title": "深度放松 🎵", "cover": "/c.jpg", "duration": 360});
        let parsed = data(ok.clone()).unwrap();
        assert_eq!(parsed.title(), "深度放松 🎵");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), ok);
        assert!(data(json!({"title": "t", "cover": "", "duration": 1.5, "category": "冥想", "metadata": {"a": 1}})).is_ok());
        assert!(data(json!({"title": "t", "cover": "c", "duration": 0, "extra": [1, 2]})).is_ok());

        let bad = [
            json!([]),
            json!("x"),
            json!({"cover": "c", "duration": 1}),
            json!({"title": "", "cover": "c", "duration": 1}),
            json!({"title": "   ", "cover": "c", "duration": 1}),
            json!({"title": 5, "cover": "c", "duration": 1}),
            json!({"title": "t", "duration": 1}),
            json!({"title": "t", "cover": "c"}),
            json!({"title": "t", "cover": "c", "duration": "360"}),
            json!({"title": "t", "cover": "c", "duration": -1}),
            json!({"title": "t", "cover": "c", "duration": 1, "category": 3}),
            json!({"title": "t", "cover": "c", "duration": 1, "metadata": "m"}),
            json!({"title": "x".repeat(201), "cover": "c", "duration": 1}),
        ];
        for b in bad {
            let err = data(b.clone()).unwrap_err();
            assert_eq!(err.field, "item_data", "{b}");
        }
    }

    #[test]
    fn item_data_size_is_compact_json_bytes() {
        let base = json!({"title": "t", "cover": "c", "duration": 1, "metadata": {"p": ""}});
        let overhead = base.to_string().len();
        let fits = {
            let mut v = base.clone();
            v["metadata"]["p"] = json!("a".repeat(MAX_ITEM_DATA_BYTES - overhead));
            v
        };
        assert_eq!(fits.to_string().len(), MAX_ITEM_DATA_BYTES);
        assert!(data(fits).is_ok());
        let too_big = {
            let mut v = base;
            v["metadata"]["p"] = json!("a".repeat(MAX_ITEM_DATA_BYTES - overhead + 1));
            v
        };
        assert!(data(too_big).is_err());
    }

    #[test]
    fn item_data_item_type() {
        let d = data(json!({"title": "t", "cover": "c", "duration": 1, "item_type": "sequence"}));
        assert_eq!(d.unwrap().item_type(), Some(ItemType::Sequence));
        let d = data(json!({"title": "t", "cover": "c", "duration": 1, "item_type": "x"}));
        assert_eq!(d.unwrap().item_type(), None);
    }

    #[test]
    fn limits() {
        assert_eq!(Limit::parse(None).unwrap().get(), 50);
        assert_eq!(Limit::parse(Some("1")).unwrap().get(), 1);
        assert_eq!(Limit::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "abc", "-1", "", "1.5", " 5"] {
            assert_eq!(
                Limit::parse(Some(bad)).unwrap_err().field,
                "limit",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pages() {
        let p = PageRequest::parse(None, None, None).unwrap();
        assert_eq!(p.start, PageStart::Offset(0));
        assert_eq!(
            PageRequest::parse(None, Some("7"), None).unwrap().offset(),
            7
        );
        for bad in ["-1", "x", "1e3", "99999999999999999999"] {
            assert_eq!(
                PageRequest::parse(None, Some(bad), None).unwrap_err().field,
                "offset"
            );
        }
        assert_eq!(
            PageRequest::parse(None, Some("0"), Some("abc"))
                .unwrap_err()
                .field,
            "cursor"
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let c = Cursor {
            created_at_micros: 1_700_000_000_123_456,
            id: FavoriteId::from_ulid(Ulid::from_parts(1, 2)).to_string(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        // "MTIzLi4v" is "123../": an id that is no id.
        for bad in ["", "abc", "!!!", &"A".repeat(200), "MTIzLi4v"] {
            assert!(Cursor::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn search_terms() {
        assert_eq!(SearchTerm::parse(None).unwrap(), None);
        assert_eq!(SearchTerm::parse(Some("  ")).unwrap(), None);
        assert_eq!(
            SearchTerm::parse(Some("Deep")).unwrap().unwrap().key(),
            "deep"
        );
        assert_eq!(
            SearchTerm::parse(Some("放松😀")).unwrap().unwrap().key(),
            "放松😀"
        );
        assert_eq!(
            SearchTerm::parse(Some("ÉTÉ")).unwrap().unwrap().key(),
            "été"
        );
        assert!(SearchTerm::parse(Some(&"x".repeat(101))).is_err());
    }

    #[test]
    fn contains_lists() {
        let l = ItemIdList::parse(Some("a,b,a")).unwrap();
        assert_eq!(l.ids().len(), 2);
        assert!(ItemIdList::parse(None).is_err());
        assert!(ItemIdList::parse(Some("")).is_err());
        assert!(ItemIdList::parse(Some("a,,b")).is_err());
        assert!(ItemIdList::parse(Some("a,../b")).is_err());
        let fifty: Vec<String> = (0..50).map(|i| format!("id{i}")).collect();
        assert!(ItemIdList::parse(Some(&fifty.join(","))).is_ok());
        let fifty_one: Vec<String> = (0..51).map(|i| format!("id{i}")).collect();
        assert!(ItemIdList::parse(Some(&fifty_one.join(","))).is_err());
    }

    proptest! {
        #[test]
        fn cursor_decode_never_panics(s in "\\PC{0,80}") {
            let _ = Cursor::decode(&s);
        }

        #[test]
        fn a_title_is_found_by_any_part_in_any_ascii_case(
            a in "[a-zA-Z ]{0,8}", b in "[a-zA-Z]{1,8}", c in "[a-zA-Z ]{0,8}"
        ) {
            let title = format!("{a}{b}{c}");
            let term = SearchTerm::parse(Some(&b.to_uppercase())).unwrap().unwrap();
            prop_assert!(search_key(&title).contains(term.key()));
        }
    }
}
