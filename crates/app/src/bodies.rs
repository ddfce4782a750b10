//! The request bodies, typed. Each deserializes leniently (a field of the wrong JSON type
//! is kept as such, so that the refusal can name it) and becomes the use case's input
//! through `TryFrom`, refusing with a message that names the bad field. Handlers never
//! walk JSON by hand.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use soundshelf_domain::downloads::DownloadStatus;
use soundshelf_domain::sync::{Action, LocalChange, MAX_CHANGES};
use soundshelf_domain::time::parse_rfc3339;
use soundshelf_domain::{CatalogId, ItemData, ItemId, ItemType, Quality};
use soundshelf_service::{AddFavorite, Report, SyncRequest};
use utoipa::ToSchema;

use crate::error::ApiError;

/// What the JSON error handler answers for a body that is not an object.
pub const NOT_AN_OBJECT: &str = "请求体必须是 JSON 对象";

/// The longest `error_message` a device may report, in characters.
pub const MAX_ERROR_MESSAGE_CHARS: usize = 1000;

/// A body that must be a JSON object; any other JSON value is refused with
/// [`NOT_AN_OBJECT`] (through the JSON error handler: it is a data error, not a syntax one).
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

    /// The value as sent, `null` included (`None` only when absent).
    fn into_sent(self) -> Option<Value>
    where
        T: Into<Value>,
    {
        match self {
            Field::Absent | Field::Invalid => None,
            Field::Null => Some(Value::Null),
            Field::Given(v) => Some(v.into()),
        }
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

/// One offline change.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = LocalChange)]
pub struct ChangeBody {
    #[serde(default)]
    #[schema(required = true, value_type = String, pattern = "^[A-Za-z0-9_-]{1,36}$")]
    item_id: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = soundshelf_domain::sync::Action)]
    action: Field<String>,
    #[serde(default)]
    #[schema(required = true, value_type = String, format = DateTime)]
    timestamp: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<soundshelf_domain::ItemType>)]
    item_type: Field<Value>,
    #[serde(default)]
    #[schema(value_type = Option<soundshelf_domain::ItemData>)]
    item_data: Field<Value>,
}

impl ChangeBody {
    /// Change `index` of the batch. Its shape (a valid `item_id`, `action` and
    /// `timestamp`) is checked here; `item_type` and `item_data` are judged by the merge.
    fn into_change(self, index: usize) -> Result<LocalChange, ApiError> {
        let bad = |name: &str, reason: &str| {
            ApiError::InvalidRequest(format!("参数 local_changes[{index}].{name} 无效：{reason}"))
        };
        let text = |field: Field<String>, name: &str| -> Result<String, ApiError> {
            match field {
                Field::Given(s) => Ok(s),
                Field::Absent | Field::Null => {
                    Err(ApiError::missing(&format!("local_changes[{index}].{name}")))
                }
                Field::Invalid => Err(bad(name, A_STRING)),
            }
        };
        let item_id = ItemId::parse(&text(self.item_id, "item_id")?)
            .map_err(|e| bad("item_id", &e.reason))?;
        let action = Action::parse(&text(self.action, "action")?)
            .ok_or_else(|| bad("action", "必须是 add 或 remove"))?;
        let timestamp = parse_rfc3339("timestamp", &text(self.timestamp, "timestamp")?)
            .map_err(|e| bad("timestamp", &e.reason))?;
        Ok(LocalChange {
            item_id,
            action,
            timestamp,
            item_type: self.item_type.into_sent(),
            item_data: self.item_data.into_sent(),
        })
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
    local_changes: Field<Vec<Field<Object<ChangeBody>>>>,
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
        let entries = b.local_changes.required("local_changes", "必须是数组")?;
        if entries.len() > MAX_CHANGES {
            return Err(ApiError::PAYLOAD_TOO_LARGE);
        }
        let changes = entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| match entry {
                Field::Given(Object(change)) => change.into_change(index),
                _ => Err(ApiError::InvalidRequest(format!(
                    "参数 local_changes[{index}] 无效：必须是 JSON 对象"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SyncRequest {
            last_sync_time,
            changes,
        })
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
    fn sync_entries_are_judged_one_by_one_in_order() {
        let sync = |json: &str| -> Result<SyncRequest, ApiError> {
            let Object(body) = serde_json::from_str::<Object<SyncRequestBody>>(json).unwrap();
            body.try_into()
        };
        let e = sync(r#"{"local_changes":[{"item_id":"a","action":"add","timestamp":"2026-01-01T00:00:00Z"}, 3]}"#)
            .unwrap_err();
        assert_eq!(message(e), "参数 local_changes[1] 无效：必须是 JSON 对象");
        let e = sync(r#"{"local_changes":[{"item_id":"a","action":"keep","timestamp":"2026-01-01T00:00:00Z"}]}"#)
            .unwrap_err();
        assert_eq!(
            message(e),
            "参数 local_changes[0].action 无效：必须是 add 或 remove"
        );
        let e = sync(r#"{"local_changes":{}}"#).unwrap_err();
        assert_eq!(message(e), "参数 local_changes 无效：必须是数组");
        let ok = sync(
            r#"{"last_sync_time":null,"local_changes":[{"item_id":"a","action":"remove","timestamp":"2026-01-01T00:00:00Z","item_type":null}]}"#,
        )
        .unwrap();
        assert_eq!(
            ok.changes[0].item_type,
            Some(Value::Null),
            "null is kept as sent"
        );
        assert_eq!(ok.changes[0].item_data, None, "absent stays absent");
    }
}
