//! The schemas of the OpenAPI document that describe values rather than derive from a
//! type of this crate: the error envelope's code (from the one table of codes), and the
//! response bodies built from domain values, which know no OpenAPI. Request bodies derive
//! their schemas from their real types (`bodies`).

#![expect(dead_code, reason = "response schemas describe values built elsewhere")]

use serde_json::Value;
use soundshelf_domain::ErrorCode;
use utoipa::ToSchema;

/// Every code an error envelope may carry: the codes of the one table in
/// `soundshelf_domain::codes`, described from it.
pub(crate) struct ErrorCodeSchema;

impl utoipa::PartialSchema for ErrorCodeSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some("Every code an error envelope may carry."))
            .into()
    }
}

impl ToSchema for ErrorCodeSchema {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ErrorCode")
    }
}

/// The failure envelope.
#[derive(ToSchema)]
pub(crate) struct ErrorBody {
    /// Always false.
    success: bool,
    /// A message for people (Chinese).
    error: String,
    /// The stable code to branch on.
    code: ErrorCodeSchema,
}

/// `{success, message}`, as delete routes answer.
#[derive(ToSchema)]
pub(crate) struct MessageBody {
    success: bool,
    message: String,
}

/// What a favorite points at.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum ItemType {
    Music,
    Assessment,
    Sequence,
}

/// The client's description of an item: ≤ 8 KiB of compact JSON; other keys are kept.
#[derive(ToSchema)]
pub(crate) struct ItemData {
    /// 1–200 characters, not blank.
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    #[schema(max_length = 2048)]
    cover: String,
    /// Seconds, ≥ 0.
    #[schema(minimum = 0)]
    duration: f64,
    #[schema(max_length = 2048)]
    category: Option<String>,
    metadata: Option<JsonObject>,
}

/// Any JSON object.
#[derive(ToSchema)]
#[schema(value_type = Object)]
pub(crate) struct JsonObject(Value);

/// A favorite.
#[derive(ToSchema)]
pub(crate) struct Favorite {
    /// `fav_` and a ULID.
    id: String,
    user_id: String,
    item_id: String,
    item_type: ItemType,
    item_data: ItemData,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
}

#[derive(ToSchema)]
pub(crate) struct FavoriteBody {
    success: bool,
    data: Favorite,
}

/// A page of favorites.
#[derive(ToSchema)]
pub(crate) struct FavoriteListBody {
    success: bool,
    data: Vec<Favorite>,
    total: u64,
    limit: u32,
    offset: u64,
    next_cursor: Option<String>,
}

/// `{ "<item_id>": true|false, … }`.
#[derive(ToSchema)]
pub(crate) struct ContainsBody {
    success: bool,
    #[schema(value_type = Object, additional_properties)]
    data: Value,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum SyncAction {
    Add,
    Remove,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum ServerState {
    Present,
    Removed,
}

#[derive(ToSchema)]
pub(crate) struct Conflict {
    item_id: String,
    local_action: SyncAction,
    server_state: ServerState,
    /// Always `server_wins`.
    resolution: String,
}

#[derive(ToSchema)]
pub(crate) struct Rejected {
    item_id: String,
    reason: String,
}

#[derive(ToSchema)]
pub(crate) struct SyncData {
    server_favorites: Vec<Favorite>,
    deleted_item_ids: Vec<String>,
    conflicts: Vec<Conflict>,
    rejected: Vec<Rejected>,
    #[schema(format = DateTime)]
    sync_time: String,
}

#[derive(ToSchema)]
pub(crate) struct SyncBody {
    success: bool,
    data: SyncData,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum Quality {
    Standard,
    High,
    Lossless,
}

#[derive(ToSchema)]
pub(crate) struct Grant {
    /// `{PUBLIC_BASE_URL}/files/{token}`.
    download_url: String,
    #[schema(format = DateTime)]
    expires_at: String,
    file_size: u64,
    /// 43 URL-safe characters; shown once.
    token: String,
    quality: Quality,
}

#[derive(ToSchema)]
pub(crate) struct GrantBody {
    success: bool,
    data: Grant,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum DownloadStatus {
    Downloading,
    Completed,
    Failed,
    Expired,
}

#[derive(ToSchema)]
pub(crate) struct MusicInfo {
    title: String,
    cover: String,
}

#[derive(ToSchema)]
pub(crate) struct DownloadRecord {
    /// `dl_` and a ULID.
    id: String,
    user_id: String,
    music_id: String,
    quality: Quality,
    status: DownloadStatus,
    progress: u8,
    file_size: u64,
    #[schema(format = DateTime)]
    download_time: String,
    #[schema(format = DateTime)]
    completed_time: Option<String>,
    #[schema(format = DateTime)]
    expires_at: Option<String>,
    error_message: Option<String>,
    music_info: MusicInfo,
}

#[derive(ToSchema)]
pub(crate) struct DownloadRecordBody {
    success: bool,
    data: DownloadRecord,
}

#[derive(ToSchema)]
pub(crate) struct DownloadStats {
    total_downloads: u64,
    completed: u64,
    downloading: u64,
    failed: u64,
    expired: u64,
    /// Completed bytes / 2^20, two decimals.
    total_size_mb: f64,
}

#[derive(ToSchema)]
pub(crate) struct DownloadListBody {
    success: bool,
    data: Vec<DownloadRecord>,
    total: u64,
    limit: u32,
    offset: u64,
    next_cursor: Option<String>,
    stats: DownloadStats,
}

/// A success envelope whose `data` is described in the route's text.
#[derive(ToSchema)]
pub(crate) struct DataBody {
    success: bool,
    data: JsonObject,
}

/// A success envelope whose `data` is a list of objects described in the route's text.
#[derive(ToSchema)]
pub(crate) struct DataListBody {
    success: bool,
    data: Vec<JsonObject>,
}

/// A success envelope whose `data` is one object or a list of them, as the route's text
/// says.
#[derive(ToSchema)]
pub(crate) struct DataOneOrListBody {
    success: bool,
    #[schema(value_type = Value)]
    data: Value,
}
