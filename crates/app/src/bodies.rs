//! The request bodies, typed. Each deserializes leniently (a field of the wrong JSON type
//! is kept as such, so that the refusal can name it) and becomes the use case's input
//! through `TryFrom`, refusing with a message that names the bad field. Handlers never
//! walk JSON by hand.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use soundshelf_domain::catalog::{Asset, CatalogTrack, ObjectKey};
use soundshelf_domain::downloads::DownloadStatus;
use soundshelf_domain::sync::{self, LocalChange, MAX_CHANGES, Malformed};
use soundshelf_domain::time::parse_rfc3339;
use soundshelf_domain::users::UserChange;
use soundshelf_domain::{CatalogId, ItemData, ItemId, ItemType, Plan, Quality, Role, UserStatus};
use soundshelf_service::{AddFavorite, Report, SyncRequest};
use utoipa::ToSchema;

use crate::error::ApiError;

/// The longest `error_message` a device may report, in characters.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 1000;

/// A body that must be a JSON object; any other JSON value is refused with
/// [`crate::error::NOT_AN_OBJECT`] (through the JSON error handler: it is a data error,
/// not a syntax one).
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Only<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Only<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Only(PhantomData)).map(Object)
    }
}

/// One field of a body: absent, `null`, of another JSON type than `T`, or a `T`.
#[derive(Debug, Default)]
pub enum Field<T> {
    /// Not sent.
    #[default]
    Absent,
    /// Sent as `null`.
    Null,
    /// Sent, but not a `T`.
    Invalid,
    /// Sent as a `T`.
    Given(T),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Null => Field::Null,
            v => T::deserialize(v).map_or(Field::Invalid, Field::Given),
        })
    }
}

impl<T> Field<T> {
    /// The value, `None` when absent or `null`; another type is refused naming `name`
    /// and `expected`.
    fn optional(self, name: &str, expected: &str) -> Result<Option<T>, ApiError> {
        match self {
            Field::Absent | Field::Null => Ok(None),
            Field::Invalid => Err(ApiError::InvalidRequest(format!(
                "参数 {name} 无效：{expected}"
            ))),
            Field::Given(v) => Ok(Some(v)),
        }
    }

    /// The value; absent or `null` is refused as missing.
    fn required(self, name: &str, expected: &str) -> Result<T, ApiError> {
        self.optional(name, expected)?
            .ok_or_else(|| ApiError::missing(name))
    }
}

const A_STRING: &str = "必须是字符串";

/// `POST /api/favorites`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = AddFavorite)]
pub struct AddFavoriteBody {
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "music_001", pattern = "^[A-Za-z0-9_-]{1,36}$")]
    item_id: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = soundshelf_domain::ItemType)]
    item_type: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = soundshelf_domain::ItemData)]
    item_data: Field<Value>,
    /// If sent, must be the caller's.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    user_id: Field<Value>,
}

impl AddFavoriteBody {
    /// The `user_id` the client claims, if any; one that is not a string can never be
    /// the caller's, and is refused with 403.
    pub fn claimed_user(&self) -> Result<Option<&str>, ApiError> {
        match &self.user_id {
            Field::Absent | Field::Null => Ok(None),
            Field::Given(Value::String(s)) => Ok(Some(s)),
            _ => Err(ApiError::FORBIDDEN),
        }
    }
}

impl TryFrom<AddFavoriteBody> for AddFavorite {
    type Error = ApiError;

    fn try_from(b: AddFavoriteBody) -> Result<Self, ApiError> {
        Ok(AddFavorite {
            item_id: ItemId::parse(&b.item_id.required("item_id", A_STRING)?)?,
            item_type: ItemType::parse(&b.item_type.required("item_type", A_STRING)?)?,
            item_data: ItemData::parse(b.item_data.required("item_data", A_STRING)?)?,
        })
    }
}

/// One offline change, as documented (the schema only: entries are read one by one,
/// see [`ChangeEntry`]).
#[derive(Debug, ToSchema)]
#[schema(as = LocalChange)]
pub struct ChangeBody {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,36}$")]
    pub item_id: String,
    pub action: soundshelf_domain::sync::Action,
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub item_type: Option<soundshelf_domain::ItemType>,
    pub item_data: Option<soundshelf_domain::ItemData>,
}

/// One entry of `local_changes`, kept as sent so that a bad entry is rejected on its own
/// (by [`sync::read_change`]) instead of failing the request. A field sent twice in one
/// entry is noted: JSON does not say which of the two counts, so the entry is rejected.
#[derive(Debug)]
pub struct ChangeEntry {
    value: Value,
    repeated: Option<String>,
}

impl<'de> Deserialize<'de> for ChangeEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> Visitor<'de> for Entry {
            type Value = ChangeEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChangeEntry, A::Error> {
                let mut fields = serde_json::Map::new();
                let mut repeated = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: Value = map.next_value()?;
                    if fields.contains_key(&key) {
                        repeated.get_or_insert(key);
                    } else {
                        fields.insert(key, value);
                    }
                }
                Ok(ChangeEntry {
                    value: Value::Object(fields),
                    repeated,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ChangeEntry, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ChangeEntry::other(Value::Array(Vec::new())))
            }
            fn visit_unit<E>(self) -> Result<ChangeEntry, E> {
                Ok(ChangeEntry::other(Value::Null))
            }
            fn visit_bool<E>(self, v: bool) -> Result<ChangeEntry, E> {
                Ok(ChangeEntry::other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<ChangeEntry, E> {
                Ok(ChangeEntry::other(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ChangeEntry, E> {
                Ok(ChangeEntry::other(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ChangeEntry, E> {
                Ok(ChangeEntry::other(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<ChangeEntry, E> {
                Ok(ChangeEntry::other(v.into()))
            }
        }
        d.deserialize_any(Entry)
    }
}

impl ChangeEntry {
    fn other(value: Value) -> Self {
        Self {
            value,
            repeated: None,
        }
    }

    /// The change, or why it is not one.
    fn read(self) -> Result<LocalChange, Malformed> {
        match self.repeated {
            Some(key) => Err(Malformed {
                item_id: self
                    .value
                    .get("item_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                reason: format!("{key} 无效：字段重复"),
            }),
            None => sync::read_change(&self.value),
        }
    }
}

/// `local_changes` as sent: read straight from the body (not through a `Value`, which
/// would lose a field sent twice in an entry).
#[derive(Debug, Default)]
pub enum ChangeList {
    /// Absent or `null`.
    #[default]
    Missing,
    /// Not an array.
    Invalid,
    /// The entries.
    Given(Vec<ChangeEntry>),
}

impl<'de> Deserialize<'de> for ChangeList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct List;
        impl<'de> Visitor<'de> for List {
            type Value = ChangeList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ChangeList, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = seq.next_element::<ChangeEntry>()? {
                    entries.push(entry);
                }
                Ok(ChangeList::Given(entries))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ChangeList, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ChangeList::Invalid)
            }
            fn visit_unit<E>(self) -> Result<ChangeList, E> {
                Ok(ChangeList::Missing)
            }
            fn visit_bool<E>(self, _: bool) -> Result<ChangeList, E> {
                Ok(ChangeList::Invalid)
            }
            fn visit_i64<E>(self, _: i64) -> Result<ChangeList, E> {
                Ok(ChangeList::Invalid)
            }
            fn visit_u64<E>(self, _: u64) -> Result<ChangeList, E> {
                Ok(ChangeList::Invalid)
            }
            fn visit_f64<E>(self, _: f64) -> Result<ChangeList, E> {
                Ok(ChangeList::Invalid)
            }
            fn visit_str<E>(self, _: &str) -> Result<ChangeList, E> {
                Ok(ChangeList::Invalid)
            }
        }
        d.deserialize_any(List)
    }
}

/// `PUT /api/favorites/sync`: at most 500 changes.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = SyncRequest)]
pub struct SyncRequestBody {
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    last_sync_time: Field<String>,
    /// At most 500 (more: 413). Not stated as `maxItems`: Schemathesis cannot build a
    /// body of that size within its budget and reports its own error instead.
    #[serde(default)]
    #[schema(required = true, value_type = Vec<ChangeBody>)]
    local_changes: ChangeList,
    #[serde(default)]
    #[schema(ignore)]
    user_id: Field<Value>,
}

impl SyncRequestBody {
    /// The `user_id` the client claims, if it sent one as a string.
    pub fn claimed_user(&self) -> Option<&str> {
        match &self.user_id {
            Field::Given(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

impl TryFrom<SyncRequestBody> for SyncRequest {
    type Error = ApiError;

    fn try_from(b: SyncRequestBody) -> Result<Self, ApiError> {
        let last_sync_time = b
            .last_sync_time
            .optional("last_sync_time", "必须是 RFC 3339 时间或 null")?
            .map(|s| parse_rfc3339("last_sync_time", &s))
            .transpose()?;
        let entries = match b.local_changes {
            ChangeList::Given(entries) => entries,
            ChangeList::Missing => return Err(ApiError::missing("local_changes")),
            ChangeList::Invalid => {
                return Err(ApiError::InvalidRequest(
                    "参数 local_changes 无效：必须是数组".into(),
                ));
            }
        };
        if entries.len() > MAX_CHANGES {
            return Err(ApiError::PAYLOAD_TOO_LARGE);
        }
        let changes = entries.into_iter().map(ChangeEntry::read).collect();
        Ok(SyncRequest {
            last_sync_time,
            changes,
        })
    }
}

/// `PATCH /api/admin/users/{user_id}`: any of the fields, at least one.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PatchUser)]
pub struct PatchUserBody {
    #[serde(default)]
    #[schema(value_type = Option<soundshelf_domain::Plan>)]
    subscription_type: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    has_premium_access: Field<bool>,
    #[serde(default)]
    #[schema(value_type = Option<soundshelf_domain::UserStatus>)]
    status: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<soundshelf_domain::Role>)]
    role: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 64)]
    nickname: Field<String>,
}

impl TryFrom<PatchUserBody> for UserChange {
    type Error = ApiError;

    fn try_from(b: PatchUserBody) -> Result<Self, ApiError> {
        let change = UserChange {
            plan: b
                .subscription_type
                .optional("subscription_type", A_STRING)?
                .map(|s| Plan::parse(&s))
                .transpose()?,
            has_premium_access: b
                .has_premium_access
                .optional("has_premium_access", "必须是 true 或 false")?,
            status: b
                .status
                .optional("status", A_STRING)?
                .map(|s| UserStatus::parse(&s))
                .transpose()?,
            role: b
                .role
                .optional("role", A_STRING)?
                .map(|s| Role::parse(&s))
                .transpose()?,
            nickname: b
                .nickname
                .optional("nickname", A_STRING)?
                .map(|s| UserChange::nickname(&s))
                .transpose()?,
        };
        if change.is_empty() {
            return Err(ApiError::InvalidRequest(
                "缺少必要参数：subscription_type、has_premium_access、status、role 或 nickname 至少一项"
                    .into(),
            ));
        }
        Ok(change)
    }
}

/// `PUT /internal/users/{user_id}`: the main backend's view of a user.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = InternalUser)]
pub struct InternalUserBody {
    #[serde(default)]
    #[schema(required = true, value_type = soundshelf_domain::Plan)]
    subscription_type: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = bool)]
    has_premium_access: Field<bool>,
    #[serde(default)]
    #[schema(required = true, value_type = soundshelf_domain::UserStatus)]
    status: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 64)]
    nickname: Field<String>,
}

impl TryFrom<InternalUserBody> for UserChange {
    type Error = ApiError;

    fn try_from(b: InternalUserBody) -> Result<Self, ApiError> {
        Ok(UserChange {
            plan: Some(Plan::parse(
                &b.subscription_type
                    .required("subscription_type", A_STRING)?,
            )?),
            has_premium_access: Some(
                b.has_premium_access
                    .required("has_premium_access", "必须是 true 或 false")?,
            ),
            status: Some(UserStatus::parse(&b.status.required("status", A_STRING)?)?),
            role: None,
            nickname: b
                .nickname
                .optional("nickname", A_STRING)?
                .map(|s| UserChange::nickname(&s))
                .transpose()?,
        })
    }
}

/// One asset of `PUT /api/admin/music/{music_id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PutAsset)]
pub struct AssetBody {
    #[serde(default)]
    #[schema(required = true, value_type = soundshelf_domain::Quality)]
    quality: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = String, max_length = 255)]
    object_key: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = u64, minimum = 1)]
    file_size: Field<u64>,
}

/// `PUT /api/admin/music/{music_id}`: the whole track with its assets.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PutMusic)]
pub struct PutMusicBody {
    #[serde(default)]
    #[schema(required = true, value_type = String, min_length = 1, max_length = 200)]
    title: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2048)]
    cover: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = u32)]
    duration: Field<u32>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 64)]
    category: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = bool)]
    premium_required: Field<bool>,
    #[serde(default)]
    #[schema(required = true, value_type = Vec<AssetBody>)]
    assets: Field<Vec<Object<AssetBody>>>,
}

impl PutMusicBody {
    /// The track `id` this body describes.
    pub fn into_track(self, id: CatalogId) -> Result<CatalogTrack, ApiError> {
        let assets = self
            .assets
            .required("assets", "必须是数组")?
            .into_iter()
            .enumerate()
            .map(|(i, Object(a))| {
                let field = |name: &str| format!("assets[{i}].{name}");
                let quality = a.quality.required(&field("quality"), A_STRING)?;
                let key = a.object_key.required(&field("object_key"), A_STRING)?;
                Ok(Asset {
                    quality: Quality::parse(Some(&quality))?,
                    object_key: ObjectKey::parse(&key)?,
                    file_size: a
                        .file_size
                        .required(&field("file_size"), "必须是大于 0 的整数")?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(CatalogTrack::new(
            id,
            &self.title.required("title", A_STRING)?,
            &self.cover.optional("cover", A_STRING)?.unwrap_or_default(),
            self.duration
                .required("duration", "必须是不小于 0 的整数")?,
            self.category.optional("category", A_STRING)?.as_deref(),
            self.premium_required
                .required("premium_required", "必须是 true 或 false")?,
            assets,
        )?)
    }
}

/// `POST /api/downloads` (status `expired` is the server's only).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ReportDownload)]
pub struct ReportBody {
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "music_001", pattern = "^[A-Za-z0-9_-]{1,36}$")]
    music_id: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<soundshelf_domain::Quality>)]
    quality: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = soundshelf_domain::downloads::DownloadStatus)]
    status: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<u8>, minimum = 0, maximum = 100)]
    progress: Field<u8>,
    /// Kept for `failed`.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 1000)]
    error_message: Field<String>,
    /// Ignored: the size is the catalogue's.
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    file_size: Field<u64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    user_id: Field<String>,
}

impl ReportBody {
    /// The `user_id` the client claims, if any; not a string is refused.
    pub fn claimed_user(&mut self) -> Result<Option<String>, ApiError> {
        std::mem::take(&mut self.user_id).optional("user_id", A_STRING)
    }
}

impl TryFrom<ReportBody> for Report {
    type Error = ApiError;

    fn try_from(b: ReportBody) -> Result<Self, ApiError> {
        let music_id = b.music_id.required("music_id", A_STRING)?;
        let status = b.status.required("status", A_STRING)?;
        let progress = match b.progress {
            Field::Given(p) if p <= 100 => Some(p),
            Field::Absent | Field::Null => None,
            _ => {
                return Err(ApiError::InvalidRequest(
                    "参数 progress 无效：必须是 0 到 100 之间的整数".into(),
                ));
            }
        };
        let error_message = b.error_message.optional("error_message", A_STRING)?;
        if error_message
            .as_ref()
            .is_some_and(|m| m.chars().count() > MAX_ERROR_MESSAGE_CHARS)
        {
            return Err(ApiError::InvalidRequest(format!(
                "参数 error_message 无效：不能超过 {MAX_ERROR_MESSAGE_CHARS} 个字符"
            )));
        }
        b.file_size.optional("file_size", "必须是不小于 0 的整数")?;
        Ok(Report {
            music_id: CatalogId::parse_field("music_id", &music_id)?,
            quality: Quality::parse(b.quality.optional("quality", A_STRING)?.as_deref())?,
            status: DownloadStatus::parse_reported(&status)?,
            progress,
            error_message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: ApiError) -> String {
        e.message().into_owned()
    }

    fn add(json: &str) -> Result<AddFavorite, ApiError> {
        let Object(body) = serde_json::from_str::<Object<AddFavoriteBody>>(json).unwrap();
        body.try_into()
    }

    #[test]
    fn fields_are_named_when_missing_or_of_another_type() {
        let e = add(r#"{"item_type":"music","item_data":{}}"#).unwrap_err();
        assert_eq!(message(e), "缺少必要参数：item_id");
        let e = add(r#"{"item_id":7,"item_type":"music","item_data":{}}"#).unwrap_err();
        assert_eq!(message(e), "参数 item_id 无效：必须是字符串");
        let e = add(r#"{"item_id":"m1","item_type":null,"item_data":{}}"#).unwrap_err();
        assert_eq!(message(e), "缺少必要参数：item_type");
    }

    #[test]
    fn only_objects_are_bodies_and_fields_come_once() {
        let array = serde_json::from_str::<Object<AddFavoriteBody>>("[1, 2]").unwrap_err();
        assert!(array.is_data());
        let twice =
            serde_json::from_str::<Object<AddFavoriteBody>>(r#"{"item_id":"a","item_id":"b"}"#)
                .unwrap_err();
        assert!(twice.to_string().starts_with("duplicate field"), "{twice}");
    }

    #[test]
    fn sync_entries_are_read_one_by_one() {
        let sync = |json: &str| -> Result<SyncRequest, ApiError> {
            let Object(body) = serde_json::from_str::<Object<SyncRequestBody>>(json).unwrap();
            body.try_into()
        };
        let ok = sync(
            r#"{"last_sync_time":null,"local_changes":[{"item_id":"a","action":"remove","timestamp":"2026-01-01T00:00:00Z","item_type":null}, 3, [1, {"x": 2}], null, {"item_id":"b","item_id":"c","action":"remove","timestamp":"2026-01-01T00:00:00Z"}]}"#,
        )
        .unwrap();
        let change = ok.changes[0].as_ref().unwrap();
        assert_eq!(change.item_type, Some(Value::Null), "null is kept as sent");
        assert_eq!(change.item_data, None, "absent stays absent");
        for i in 1..=3 {
            let bad = ok.changes[i].as_ref().unwrap_err();
            assert_eq!(bad.item_id, None);
            assert_eq!(bad.reason, "变更必须是 JSON 对象");
        }
        let twice = ok.changes[4].as_ref().unwrap_err();
        assert_eq!(twice.reason, "item_id 无效：字段重复");
        assert_eq!(twice.item_id.as_deref(), Some("b"), "the first as sent");
        let e = sync(r#"{"local_changes":{}}"#).unwrap_err();
        assert_eq!(message(e), "参数 local_changes 无效：必须是数组");
        let e = sync(r#"{"local_changes":[],"last_sync_time":"yesterday"}"#).unwrap_err();
        assert!(message(e).starts_with("参数 last_sync_time 无效"));
    }
}
