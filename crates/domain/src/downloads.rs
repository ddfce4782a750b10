//! Downloads: plans and their quotas, the grant rules in the SPEC's order, record
//! statuses, and when a redemption uses up one of a token's uses.
//!
//! Everything here is pure, so another service can embed the download policy as it is:
//!
//! ```
//! use soundshelf_domain::downloads::{decide_grant, GrantDenied, Plans, Track, Usage};
//! use soundshelf_domain::{Plan, Quality, Role, User, UserId, UserStatus};
//!
//! let user = User {
//!     id: UserId::parse("u1").unwrap(),
//!     nickname: String::new(),
//!     status: UserStatus::Active,
//!     plan: Plan::Premium,
//!     has_premium_access: true,
//!     role: Role::User,
//!     created_at: time::OffsetDateTime::UNIX_EPOCH,
//! };
//! let track = Track::new("music_009", "深睡德尔塔波", true, [(Quality::Standard, 19_200_000), (Quality::Lossless, 135_000_000)]).unwrap();
//! let plans = Plans::default();
//!
//! let grant = decide_grant(&user, Some(&track), Quality::Standard, &plans, &Usage::default()).unwrap();
//! assert_eq!(grant.file_size, 19_200_000);
//! assert!(grant.counts_toward_daily_limit);
//! // Lossless needs the VIP plan.
//! assert_eq!(
//!     decide_grant(&user, Some(&track), Quality::Lossless, &plans, &Usage::default()),
//!     Err(GrantDenied::VipRequired)
//! );
//! ```

use crate::ValidationError;
use crate::catalog::{CatalogTrack, ObjectKey, Quality, object_key};
use crate::codes::ErrorCode;
use crate::ids::CatalogId;
use crate::users::{Plan, User};
use time::{Date, OffsetDateTime, UtcOffset};

/// Bytes in the MB of plan limits and statistics: 2^20.
pub const MB: u64 = 1 << 20;

/// The quotas of one plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    /// Distinct (track, quality) grants per day.
    pub daily_downloads: u32,
    /// Storage of completed downloads, in MB.
    pub storage_mb: u64,
}

impl PlanLimits {
    /// The storage limit in bytes.
    pub fn storage_bytes(&self) -> u64 {
        self.storage_mb.saturating_mul(MB)
    }
}

/// The quotas of every plan; `Default` is the SPEC's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plans {
    /// `free`.
    pub free: PlanLimits,
    /// `trial`.
    pub trial: PlanLimits,
    /// `premium`.
    pub premium: PlanLimits,
    /// `vip`.
    pub vip: PlanLimits,
}

impl Default for Plans {
    fn default() -> Self {
        let limits = |daily_downloads, storage_mb| PlanLimits {
            daily_downloads,
            storage_mb,
        };
        Self {
            free: limits(5, 100),
            trial: limits(20, 500),
            premium: limits(100, 2048),
            vip: limits(500, 10240),
        }
    }
}

impl Plans {
    /// The quotas of `plan`.
    pub fn limits(&self, plan: Plan) -> PlanLimits {
        match plan {
            Plan::Free => self.free,
            Plan::Trial => self.trial,
            Plan::Premium => self.premium,
            Plan::Vip => self.vip,
        }
    }

    /// The quotas of `plan`, to change.
    pub fn slot_mut(&mut self, plan: Plan) -> &mut PlanLimits {
        match plan {
            Plan::Free => &mut self.free,
            Plan::Trial => &mut self.trial,
            Plan::Premium => &mut self.premium,
            Plan::Vip => &mut self.vip,
        }
    }
}

/// A track as the grant rules see it: whether it needs premium access, and the size of
/// each quality it exists in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// Its checked id.
    pub id: CatalogId,
    /// Its title (for file names).
    pub title: String,
    /// Whether only users with premium access may download it.
    pub premium_required: bool,
    /// The qualities it exists in, with their sizes in bytes.
    pub files: Vec<(Quality, u64)>,
    /// Where each quality's file lives in storage.
    pub keys: Vec<(Quality, ObjectKey)>,
    /// Retired by an operator: kept (records and favorites keep its title) but shown and
    /// granted to no one.
    pub retired: bool,
}

impl Track {
    /// A track; the id is checked.
    pub fn new(
        id: &str,
        title: &str,
        premium_required: bool,
        files: impl IntoIterator<Item = (Quality, u64)>,
    ) -> Result<Self, ValidationError> {
        let id = CatalogId::parse_field("music_id", id)?;
        let files: Vec<(Quality, u64)> = files.into_iter().collect();
        let keys = files
            .iter()
            .map(|(q, _)| Ok((*q, ObjectKey::parse(&object_key(&id, *q))?)))
            .collect::<Result<_, ValidationError>>()?;
        Ok(Self {
            id,
            title: title.to_owned(),
            premium_required,
            files,
            keys,
            retired: false,
        })
    }

    /// Where the file of `quality` lives, if the track exists in it.
    pub fn object_key(&self, quality: Quality) -> Option<&ObjectKey> {
        self.keys
            .iter()
            .find(|(q, _)| *q == quality)
            .map(|(_, k)| k)
    }

    /// Whether the catalogue offers it: not retired.
    pub fn is_listed(&self) -> bool {
        !self.retired
    }

    /// The size of the file of `quality`, if the track exists in it.
    pub fn size(&self, quality: Quality) -> Option<u64> {
        self.files
            .iter()
            .find(|(q, _)| *q == quality)
            .map(|(_, size)| *size)
    }
}

impl From<&CatalogTrack> for Track {
    /// The grant rules' view of a catalogue track.
    fn from(t: &CatalogTrack) -> Self {
        Self {
            id: t.id.clone(),
            title: t.title.clone(),
            premium_required: t.premium_required,
            files: t.assets.iter().map(|a| (a.quality, a.file_size)).collect(),
            keys: t
                .assets
                .iter()
                .map(|a| (a.quality, a.object_key.clone()))
                .collect(),
            retired: t.retired,
        }
    }
}

/// Why a grant is refused, each with its SPEC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantDenied {
    /// `USER_INACTIVE`.
    UserInactive,
    /// `MUSIC_NOT_FOUND`.
    MusicNotFound,
    /// `QUALITY_NOT_AVAILABLE`.
    QualityNotAvailable,
    /// `PREMIUM_REQUIRED`: a premium track for a user without premium access.
    PremiumRequired,
    /// `VIP_REQUIRED`: lossless for a plan other than `vip`.
    VipRequired,
    /// `DAILY_LIMIT_REACHED`, with the plan's limit.
    DailyLimitReached {
        /// The plan's daily limit.
        limit: u32,
    },
    /// `STORAGE_FULL`.
    StorageFull,
}

impl GrantDenied {
    /// The stable code.
    pub fn code(self) -> ErrorCode {
        match self {
            GrantDenied::UserInactive => ErrorCode::UserInactive,
            GrantDenied::MusicNotFound => ErrorCode::MusicNotFound,
            GrantDenied::QualityNotAvailable => ErrorCode::QualityNotAvailable,
            GrantDenied::PremiumRequired => ErrorCode::PremiumRequired,
            GrantDenied::VipRequired => ErrorCode::VipRequired,
            GrantDenied::DailyLimitReached { .. } => ErrorCode::DailyLimitReached,
            GrantDenied::StorageFull => ErrorCode::StorageFull,
        }
    }
}

/// What a user has used of the quotas, as far as one grant is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Distinct (track, quality) pairs granted in the user's today.
    pub granted_today: u32,
    /// Whether this (track, quality) was already granted today (a repeat does not count).
    pub repeat_today: bool,
    /// Bytes of the user's completed downloads, this file excluded.
    pub storage_used: u64,
}

/// An allowed grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// The catalogue's size of the file.
    pub file_size: u64,
    /// Whether it takes one of today's grants (false for a same-day repeat).
    pub counts_toward_daily_limit: bool,
}

/// The rules that need no counts, in the SPEC's order: user active → track exists →
/// quality exists → premium track needs premium access → lossless needs `vip`. Returns
/// the file's size.
pub fn check_entitlement(
    user: &User,
    track: Option<&Track>,
    quality: Quality,
) -> Result<u64, GrantDenied> {
    if !user.is_active() {
        return Err(GrantDenied::UserInactive);
    }
    let size = file_size_of(track, quality)?;
    let premium_required = track.is_some_and(|t| t.premium_required);
    if premium_required && !user.has_premium_access {
        return Err(GrantDenied::PremiumRequired);
    }
    if !plan_allows_quality(user.plan, quality) {
        return Err(GrantDenied::VipRequired);
    }
    Ok(size)
}

/// The rules of a grant that do not depend on the user: the track is listed and exists in
/// `quality`. Returns the file's size. (A server checks them before its transaction; the
/// rest is decided in it, on the user as stored at that moment.)
pub fn file_size_of(track: Option<&Track>, quality: Quality) -> Result<u64, GrantDenied> {
    track
        .filter(|t| t.is_listed())
        .ok_or(GrantDenied::MusicNotFound)?
        .size(quality)
        .ok_or(GrantDenied::QualityNotAvailable)
}

/// Whether `plan` may ever download `quality`: lossless is for `vip` only.
pub fn plan_allows_quality(plan: Plan, quality: Quality) -> bool {
    quality != Quality::Lossless || plan == Plan::Vip
}

/// The qualities `plan` may ever download, lowest first.
pub fn plan_qualities(plan: Plan) -> Vec<Quality> {
    Quality::ALL
        .into_iter()
        .filter(|q| plan_allows_quality(plan, *q))
        .collect()
}

/// The daily limit: a same-day repeat is always served; otherwise the count must be
/// below the limit.
pub fn daily_allows(limits: &PlanLimits, usage: &Usage) -> Result<(), GrantDenied> {
    if usage.repeat_today || usage.granted_today < limits.daily_downloads {
        Ok(())
    } else {
        Err(GrantDenied::DailyLimitReached {
            limit: limits.daily_downloads,
        })
    }
}

/// The storage limit: refused when the completed downloads (this file excluded) plus
/// this file would pass the plan's storage.
pub fn storage_allows(limits: &PlanLimits, used: u64, file_size: u64) -> Result<(), GrantDenied> {
    if used.saturating_add(file_size) > limits.storage_bytes() {
        Err(GrantDenied::StorageFull)
    } else {
        Ok(())
    }
}

/// The quota rules of a grant, in the SPEC's order (daily limit, then storage), given
/// what the user has used. This is the decision a server makes inside its grant
/// transaction, under the user's lock, once the store has read the [`Usage`]: the store
/// writes only what it returns.
///
/// ```
/// use soundshelf_domain::downloads::{decide_quota, GrantDenied, Plans, Usage, MB};
/// use soundshelf_domain::Plan;
///
/// let free = Plans::default().limits(Plan::Free); // 5 a day, 100 MB
/// let usage = Usage { granted_today: 5, repeat_today: false, storage_used: 0 };
/// assert_eq!(decide_quota(&free, &usage, MB), Err(GrantDenied::DailyLimitReached { limit: 5 }));
/// // A same-day repeat of the same file is served and not counted again.
/// let repeat = decide_quota(&free, &Usage { repeat_today: true, ..usage }, MB).unwrap();
/// assert!(!repeat.counts_toward_daily_limit);
/// ```
pub fn decide_quota(
    limits: &PlanLimits,
    usage: &Usage,
    file_size: u64,
) -> Result<Grant, GrantDenied> {
    daily_allows(limits, usage)?;
    storage_allows(limits, usage.storage_used, file_size)?;
    Ok(Grant {
        file_size,
        counts_toward_daily_limit: !usage.repeat_today,
    })
}

/// Every rule of a grant (rate limiting aside), in the SPEC's order:
/// [`check_entitlement`], then [`decide_quota`]. A server that must hold the quotas
/// under concurrency calls the two apart: the first before its transaction, the second
/// inside it, on the usage read under the user's lock.
pub fn decide_grant(
    user: &User,
    track: Option<&Track>,
    quality: Quality,
    plans: &Plans,
    usage: &Usage,
) -> Result<Grant, GrantDenied> {
    let file_size = check_entitlement(user, track, quality)?;
    decide_quota(&plans.limits(user.plan), usage, file_size)
}

/// The user's "today" for the quotas: the calendar day of `now` at `timezone`
/// (`APP_TIMEZONE`).
pub fn quota_day(now: OffsetDateTime, timezone: UtcOffset) -> Date {
    now.to_offset(timezone).date()
}

/// When the day of [`quota_day`] ends: the next midnight at `timezone`, in that offset.
pub fn quota_resets_at(now: OffsetDateTime, timezone: UtcOffset) -> OffsetDateTime {
    let day = quota_day(now, timezone);
    day.next_day()
        .unwrap_or(day)
        .midnight()
        .assume_offset(timezone)
}

/// What a user has used of the quotas, as a store reads it: for a grant under the
/// user's lock, for `/api/me` and the catalogue's "may I have it" as a plain read. The
/// per-file [`Usage`] of any file asked about, and the figures the user is shown, are
/// derived from it, so what the user is shown is what a grant would see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageSnapshot {
    /// Distinct (track, quality) pairs granted in the user's today: the count the daily
    /// rule checks.
    pub granted_today: u32,
    /// Which of the files asked about were granted today.
    pub granted_files: Vec<(CatalogId, Quality)>,
    /// Bytes of all the user's completed downloads.
    pub storage_used: u64,
    /// The user's completed downloads among the files asked about, with their sizes.
    pub completed_files: Vec<(CatalogId, Quality, u64)>,
}

impl UsageSnapshot {
    /// The [`Usage`] a grant of (`music_id`, `quality`) sees: whether it is a repeat
    /// today, and the storage used by files other than this one (a file already
    /// completed does not count twice). `music_id` must be one of the files asked about.
    pub fn usage_for(&self, music_id: &CatalogId, quality: Quality) -> Usage {
        let this_file = self
            .completed_files
            .iter()
            .find(|(m, q, _)| m == music_id && *q == quality)
            .map_or(0, |(_, _, size)| *size);
        Usage {
            granted_today: self.granted_today,
            repeat_today: self
                .granted_files
                .iter()
                .any(|(m, q)| m == music_id && *q == quality),
            storage_used: self.storage_used.saturating_sub(this_file),
        }
    }
}

/// The quotas as a user is shown them (`/api/me`); remaining figures are never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// The plan's daily limit.
    pub daily_limit: u32,
    /// Today's count, exactly as the daily rule checks it.
    pub used_today: u32,
    /// How many new files may still be granted today.
    pub remaining_today: u32,
    /// When today's count starts again from zero.
    pub resets_at: OffsetDateTime,
    /// The plan's storage, in bytes.
    pub storage_limit: u64,
    /// Bytes of completed downloads, as the storage rule counts them.
    pub storage_used: u64,
    /// Bytes still free.
    pub storage_remaining: u64,
}

/// What `limits` leave of the quotas after `usage`, at `now`.
///
/// ```
/// use soundshelf_domain::downloads::{allowance, Plans, UsageSnapshot, MB};
/// use soundshelf_domain::Plan;
/// use time::macros::{datetime, offset};
///
/// let usage = UsageSnapshot { granted_today: 7, storage_used: 120 * MB, ..Default::default() };
/// let a = allowance(&Plans::default().limits(Plan::Free), &usage, datetime!(2026-03-01 20:00 UTC), offset!(+8));
/// assert_eq!((a.used_today, a.remaining_today, a.storage_remaining), (7, 0, 0));
/// assert_eq!(a.resets_at, datetime!(2026-03-03 00:00 +8));
/// ```
pub fn allowance(
    limits: &PlanLimits,
    usage: &UsageSnapshot,
    now: OffsetDateTime,
    timezone: UtcOffset,
) -> Allowance {
    let storage_limit = limits.storage_bytes();
    Allowance {
        daily_limit: limits.daily_downloads,
        used_today: usage.granted_today,
        remaining_today: limits.daily_downloads.saturating_sub(usage.granted_today),
        resets_at: quota_resets_at(now, timezone),
        storage_limit,
        storage_used: usage.storage_used,
        storage_remaining: storage_limit.saturating_sub(usage.storage_used),
    }
}

/// One quality of a track as offered to a user: its size and what a grant of it would
/// decide now (the rate limit aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// The quality.
    pub quality: Quality,
    /// The catalogue's size of its file.
    pub file_size: u64,
    /// The grant's decision: allowed, or the refusal a grant would get.
    pub decision: Result<Grant, GrantDenied>,
}

/// What a grant of each quality of `track` would decide for `user` now, lowest quality
/// first: [`decide_grant`] itself, on the usage each file would see.
pub fn offers(user: &User, track: &Track, plans: &Plans, usage: &UsageSnapshot) -> Vec<Offer> {
    Quality::ALL
        .into_iter()
        .filter_map(|quality| {
            let file_size = track.size(quality)?;
            let decision = decide_grant(
                user,
                Some(track),
                quality,
                plans,
                &usage.usage_for(&track.id, quality),
            );
            Some(Offer {
                quality,
                file_size,
                decision,
            })
        })
        .collect()
}

/// The status of a download record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DownloadStatus {
    /// Granted or in progress.
    Downloading,
    /// Finished: counts toward storage.
    Completed,
    /// Failed on the device.
    Failed,
    /// Its link expired before completion (set by the clean-up job).
    Expired,
}

impl DownloadStatus {
    /// Every status.
    pub const ALL: [DownloadStatus; 4] = [
        DownloadStatus::Downloading,
        DownloadStatus::Completed,
        DownloadStatus::Failed,
        DownloadStatus::Expired,
    ];

    /// The exact lowercase name; anything else is refused.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| {
                ValidationError::new("status", "必须是 downloading、completed、failed 或 expired")
            })
    }

    /// A status a client may report: `downloading`, `completed` or `failed`.
    pub fn parse_reported(raw: &str) -> Result<Self, ValidationError> {
        match Self::parse(raw) {
            Ok(DownloadStatus::Expired) | Err(_) => Err(ValidationError::new(
                "status",
                "必须是 downloading、completed 或 failed",
            )),
            Ok(s) => Ok(s),
        }
    }

    /// The name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            DownloadStatus::Downloading => "downloading",
            DownloadStatus::Completed => "completed",
            DownloadStatus::Failed => "failed",
            DownloadStatus::Expired => "expired",
        }
    }
}

/// Whether a download token is still valid at `now`: strictly before its expiry.
pub fn token_is_live(expires_at: time::OffsetDateTime, now: time::OffsetDateTime) -> bool {
    now < expires_at
}

/// Whether a download link (token) of `track` may still be redeemed at `now`: the token
/// is live and the track has not been retired since the grant (a retired track's links
/// have expired: 410).
pub fn link_is_live(
    expires_at: time::OffsetDateTime,
    now: time::OffsetDateTime,
    track: &Track,
) -> bool {
    token_is_live(expires_at, now) && track.is_listed()
}

/// When a CDN redirect made at `now` expires: `ttl` later, and never after the token.
pub fn redirect_expiry(
    now: time::OffsetDateTime,
    ttl: std::time::Duration,
    token_expires_at: time::OffsetDateTime,
) -> time::OffsetDateTime {
    (now + ttl).min(token_expires_at)
}

/// What a device's report stores: a completed download is at 100 %, any other at the
/// progress reported (0 when none); an error message is kept for a failure only.
pub fn reported_state(
    status: DownloadStatus,
    progress: Option<u8>,
    error_message: Option<String>,
) -> (u8, Option<String>) {
    let progress = match status {
        DownloadStatus::Completed => 100,
        _ => progress.unwrap_or(0).min(100),
    };
    let error_message = error_message.filter(|_| status == DownloadStatus::Failed);
    (progress, error_message)
}

/// Whether a redemption uses up one of the token's uses: a `GET` without `Range` or
/// from byte 0 does; a continuation (a range starting later) does not, once the token has
/// been used at least once; a `HEAD` never does.
pub fn redemption_uses_a_use(head: bool, range_start: Option<u64>, uses_so_far: u32) -> bool {
    if head {
        return false;
    }
    match range_start {
        None | Some(0) => true,
        Some(_) => uses_so_far == 0,
    }
}

/// One byte range of a `Range: bytes=…` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `first-last`, both inclusive.
    FromTo(u64, u64),
    /// `first-`: to the end.
    From(u64),
    /// `-n`: the last `n` bytes.
    Last(u64),
}

/// Parses a `Range` header. `None` means "serve the whole file": the header is not a
/// single well-formed byte range (several ranges, another unit, bad syntax), which a
/// server may ignore.
///
/// ```
/// use soundshelf_domain::downloads::{parse_range, ByteRange};
/// assert_eq!(parse_range("bytes=100-199"), Some(ByteRange::FromTo(100, 199)));
/// assert_eq!(parse_range("bytes=-50"), Some(ByteRange::Last(50)));
/// assert_eq!(parse_range("bytes=0-1,5-6"), None);
/// ```
pub fn parse_range(header: &str) -> Option<ByteRange> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.trim(), last.trim()) {
        ("", last) => number(last).map(ByteRange::Last),
        (first, "") => number(first).map(ByteRange::From),
        (first, last) => {
            let (first, last) = (number(first)?, number(last)?);
            (first <= last).then_some(ByteRange::FromTo(first, last))
        }
    }
}

impl ByteRange {
    /// The inclusive `(first, last)` bytes of a file of `len` bytes, or `None` when the
    /// range is unsatisfiable (416).
    pub fn resolve(self, len: u64) -> Option<(u64, u64)> {
        if len == 0 {
            return None;
        }
        match self {
            ByteRange::FromTo(first, last) if first < len => Some((first, last.min(len - 1))),
            ByteRange::From(first) if first < len => Some((first, len - 1)),
            ByteRange::Last(n) if n > 0 => Some((len - n.min(len), len - 1)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserId;
    use crate::users::{Role, UserStatus};

    fn user(plan: Plan, status: UserStatus) -> User {
        User {
            id: UserId::parse("u").unwrap(),
            nickname: String::new(),
            status,
            plan,
            has_premium_access: plan != Plan::Free,
            role: Role::User,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn track(premium: bool) -> Track {
        Track::new(
            "music_001",
            "t",
            premium,
            [
                (Quality::Standard, 10 * MB),
                (Quality::High, 20 * MB),
                (Quality::Lossless, 50 * MB),
            ],
        )
        .unwrap()
    }

    /// Every plan × premium/free track × quality, for an active user with no usage.
    #[test]
    fn every_plan_track_and_quality() {
        use GrantDenied::*;
        let plans = Plans::default();
        let cases: &[(Plan, bool, Quality, Result<u64, GrantDenied>)] = &[
            (Plan::Free, false, Quality::Standard, Ok(10 * MB)),
            (Plan::Free, false, Quality::High, Ok(20 * MB)),
            (Plan::Free, false, Quality::Lossless, Err(VipRequired)),
            (Plan::Free, true, Quality::Standard, Err(PremiumRequired)),
            (Plan::Free, true, Quality::High, Err(PremiumRequired)),
            (Plan::Free, true, Quality::Lossless, Err(PremiumRequired)),
            (Plan::Trial, false, Quality::Standard, Ok(10 * MB)),
            (Plan::Trial, false, Quality::High, Ok(20 * MB)),
            (Plan::Trial, false, Quality::Lossless, Err(VipRequired)),
            (Plan::Trial, true, Quality::Standard, Ok(10 * MB)),
            (Plan::Trial, true, Quality::High, Ok(20 * MB)),
            (Plan::Trial, true, Quality::Lossless, Err(VipRequired)),
            (Plan::Premium, false, Quality::Standard, Ok(10 * MB)),
            (Plan::Premium, false, Quality::High, Ok(20 * MB)),
            (Plan::Premium, false, Quality::Lossless, Err(VipRequired)),
            (Plan::Premium, true, Quality::Standard, Ok(10 * MB)),
            (Plan::Premium, true, Quality::High, Ok(20 * MB)),
            (Plan::Premium, true, Quality::Lossless, Err(VipRequired)),
            (Plan::Vip, false, Quality::Standard, Ok(10 * MB)),
            (Plan::Vip, false, Quality::High, Ok(20 * MB)),
            (Plan::Vip, false, Quality::Lossless, Ok(50 * MB)),
            (Plan::Vip, true, Quality::Standard, Ok(10 * MB)),
            (Plan::Vip, true, Quality::High, Ok(20 * MB)),
            (Plan::Vip, true, Quality::Lossless, Ok(50 * MB)),
        ];
        assert_eq!(cases.len(), 4 * 2 * 3);
        for (plan, premium, quality, want) in cases {
            let got = decide_grant(
                &user(*plan, UserStatus::Active),
                Some(&track(*premium)),
                *quality,
                &plans,
                &Usage::default(),
            )
            .map(|g| g.file_size);
            assert_eq!(got, *want, "{plan:?} premium={premium} {quality:?}");
        }
    }

    #[test]
    fn the_rules_apply_in_the_spec_order() {
        use GrantDenied::*;
        let plans = Plans::default();
        let free = user(Plan::Free, UserStatus::Active);
        let full = Usage {
            granted_today: 5,
            repeat_today: false,
            storage_used: 100 * MB,
        };
        // Inactive beats everything.
        assert_eq!(
            decide_grant(
                &user(Plan::Free, UserStatus::Disabled),
                None,
                Quality::Lossless,
                &plans,
                &full
            ),
            Err(UserInactive)
        );
        assert_eq!(
            decide_grant(&free, None, Quality::Lossless, &plans, &full),
            Err(MusicNotFound)
        );
        let standard_only = Track::new("m", "t", true, [(Quality::Standard, MB)]).unwrap();
        assert_eq!(
            decide_grant(
                &free,
                Some(&standard_only),
                Quality::Lossless,
                &plans,
                &full
            ),
            Err(QualityNotAvailable)
        );
        assert_eq!(
            decide_grant(&free, Some(&track(true)), Quality::Lossless, &plans, &full),
            Err(PremiumRequired)
        );
        assert_eq!(
            decide_grant(&free, Some(&track(false)), Quality::Lossless, &plans, &full),
            Err(VipRequired)
        );
        assert_eq!(
            decide_grant(&free, Some(&track(false)), Quality::Standard, &plans, &full),
            Err(DailyLimitReached { limit: 5 })
        );
        let daily_ok = Usage {
            granted_today: 4,
            ..full
        };
        assert_eq!(
            decide_grant(
                &free,
                Some(&track(false)),
                Quality::Standard,
                &plans,
                &daily_ok
            ),
            Err(StorageFull)
        );
    }

    #[test]
    fn quotas_per_plan() {
        let plans = Plans::default();
        for (plan, daily, mb) in [
            (Plan::Free, 5, 100),
            (Plan::Trial, 20, 500),
            (Plan::Premium, 100, 2048),
            (Plan::Vip, 500, 10240),
        ] {
            let limits = plans.limits(plan);
            assert_eq!((limits.daily_downloads, limits.storage_mb), (daily, mb));
            let u = user(plan, UserStatus::Active);
            let t = Track::new("m", "t", false, [(Quality::Standard, MB)]).unwrap();
            let at = |granted_today, repeat_today, storage_used| {
                decide_grant(
                    &u,
                    Some(&t),
                    Quality::Standard,
                    &plans,
                    &Usage {
                        granted_today,
                        repeat_today,
                        storage_used,
                    },
                )
            };
            assert!(at(daily - 1, false, 0).is_ok());
            assert_eq!(
                at(daily, false, 0),
                Err(GrantDenied::DailyLimitReached { limit: daily })
            );
            let repeat = at(daily, true, 0).unwrap();
            assert!(
                !repeat.counts_toward_daily_limit,
                "a same-day repeat is served and not counted"
            );
            assert!(
                at(0, false, mb * MB - MB).is_ok(),
                "exactly full is allowed"
            );
            assert_eq!(
                at(0, false, mb * MB - MB + 1),
                Err(GrantDenied::StorageFull)
            );
        }
    }

    #[test]
    fn the_usage_of_a_file_comes_from_the_snapshot() {
        let id = |s: &str| CatalogId::parse_field("music_id", s).unwrap();
        let snapshot = UsageSnapshot {
            granted_today: 3,
            granted_files: vec![(id("a"), Quality::High)],
            storage_used: 30 * MB,
            completed_files: vec![(id("a"), Quality::High, 20 * MB)],
        };
        assert_eq!(
            snapshot.usage_for(&id("a"), Quality::High),
            Usage {
                granted_today: 3,
                repeat_today: true,
                storage_used: 10 * MB
            }
        );
        assert_eq!(
            snapshot.usage_for(&id("a"), Quality::Standard),
            Usage {
                granted_today: 3,
                repeat_today: false,
                storage_used: 30 * MB
            }
        );
    }

    #[test]
    fn the_allowance_never_goes_negative_and_resets_at_local_midnight() {
        use time::macros::{datetime, offset};
        let free = Plans::default().limits(Plan::Free);
        let at = |granted_today, storage_used, now| {
            allowance(
                &free,
                &UsageSnapshot {
                    granted_today,
                    storage_used,
                    ..UsageSnapshot::default()
                },
                now,
                offset!(+8),
            )
        };
        let a = at(2, 40 * MB, datetime!(2026-03-01 15:59:59 UTC));
        assert_eq!((a.daily_limit, a.used_today, a.remaining_today), (5, 2, 3));
        assert_eq!(
            (a.storage_limit, a.storage_used, a.storage_remaining),
            (100 * MB, 40 * MB, 60 * MB)
        );
        assert_eq!(a.resets_at, datetime!(2026-03-02 00:00 +8));
        assert_eq!(
            at(0, 0, datetime!(2026-03-01 16:00 UTC)).resets_at,
            datetime!(2026-03-03 00:00 +8),
            "16:00 UTC is already the next day at +08:00"
        );
        let over = at(9, 500 * MB, datetime!(2026-03-01 00:00 UTC));
        assert_eq!((over.remaining_today, over.storage_remaining), (0, 0));
    }

    #[test]
    fn offers_are_the_grant_decision_per_quality() {
        use GrantDenied::*;
        let plans = Plans::default();
        let t = track(false);
        let codes = |user: &User, usage: &UsageSnapshot| -> Vec<(Quality, Option<GrantDenied>)> {
            offers(user, &t, &plans, usage)
                .into_iter()
                .map(|o| (o.quality, o.decision.err()))
                .collect()
        };
        let free = user(Plan::Free, UserStatus::Active);
        assert_eq!(
            codes(&free, &UsageSnapshot::default()),
            [
                (Quality::Standard, None),
                (Quality::High, None),
                (Quality::Lossless, Some(VipRequired))
            ]
        );
        let at_limit = UsageSnapshot {
            granted_today: 5,
            granted_files: vec![(t.id.clone(), Quality::High)],
            ..UsageSnapshot::default()
        };
        assert_eq!(
            codes(&free, &at_limit),
            [
                (Quality::Standard, Some(DailyLimitReached { limit: 5 })),
                (Quality::High, None),
                (Quality::Lossless, Some(VipRequired))
            ],
            "a repeat today is still allowed at the limit"
        );
        let full = UsageSnapshot {
            storage_used: 95 * MB,
            ..UsageSnapshot::default()
        };
        assert_eq!(
            codes(&free, &full),
            [
                (Quality::Standard, Some(StorageFull)),
                (Quality::High, Some(StorageFull)),
                (Quality::Lossless, Some(VipRequired))
            ]
        );
        assert_eq!(
            plan_qualities(Plan::Free),
            [Quality::Standard, Quality::High]
        );
        assert_eq!(plan_qualities(Plan::Vip), Quality::ALL);
        let mut retired = track(false);
        retired.retired = true;
        assert_eq!(
            decide_grant(
                &free,
                Some(&retired),
                Quality::Standard,
                &plans,
                &Usage::default()
            ),
            Err(MusicNotFound)
        );
    }

    #[test]
    fn statuses() {
        for s in DownloadStatus::ALL {
            assert_eq!(DownloadStatus::parse(s.as_str()).unwrap(), s);
        }
        assert!(DownloadStatus::parse_reported("expired").is_err());
        assert!(DownloadStatus::parse_reported("Completed").is_err());
        assert_eq!(
            DownloadStatus::parse_reported("failed").unwrap(),
            DownloadStatus::Failed
        );
    }

    #[test]
    fn ranges() {
        let cases: &[(&str, Option<ByteRange>)] = &[
            ("bytes=100-199", Some(ByteRange::FromTo(100, 199))),
            ("bytes=0-", Some(ByteRange::From(0))),
            ("bytes=-50", Some(ByteRange::Last(50))),
            (" bytes= 5 - 9 ", Some(ByteRange::FromTo(5, 9))),
            ("bytes=9-5", None),
            ("bytes=0-1,5-6", None),
            ("items=0-1", None),
            ("bytes=-", None),
            ("bytes=a-b", None),
            ("bytes=+1-2", None),
            ("bytes=99999999999999999999-", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(parse_range(header), *want, "{header:?}");
        }
        let len = 1000;
        assert_eq!(ByteRange::FromTo(100, 199).resolve(len), Some((100, 199)));
        assert_eq!(ByteRange::FromTo(900, 5000).resolve(len), Some((900, 999)));
        assert_eq!(ByteRange::From(999).resolve(len), Some((999, 999)));
        assert_eq!(ByteRange::Last(50).resolve(len), Some((950, 999)));
        assert_eq!(ByteRange::Last(5000).resolve(len), Some((0, 999)));
        assert_eq!(ByteRange::From(1000).resolve(len), None);
        assert_eq!(ByteRange::FromTo(1000, 1001).resolve(len), None);
        assert_eq!(ByteRange::Last(0).resolve(len), None);
        assert_eq!(ByteRange::From(0).resolve(0), None);
    }

    #[test]
    fn reports_tokens_and_redirects() {
        use time::macros::datetime;
        let t = datetime!(2026-06-01 12:00 UTC);
        assert!(token_is_live(t, t - time::Duration::SECOND));
        assert!(!token_is_live(t, t), "expired at its expiry");
        let ttl = std::time::Duration::from_secs(300);
        assert_eq!(redirect_expiry(t, ttl, t + time::Duration::HOUR), t + ttl);
        assert_eq!(
            redirect_expiry(t, ttl, t + time::Duration::MINUTE),
            t + time::Duration::MINUTE
        );
        let msg = || Some("disk full".to_owned());
        assert_eq!(
            reported_state(DownloadStatus::Completed, Some(3), msg()),
            (100, None)
        );
        assert_eq!(
            reported_state(DownloadStatus::Failed, Some(40), msg()),
            (40, msg())
        );
        assert_eq!(
            reported_state(DownloadStatus::Downloading, None, msg()),
            (0, None)
        );
    }

    #[test]
    fn which_redemptions_use_a_use() {
        assert!(redemption_uses_a_use(false, None, 0));
        assert!(redemption_uses_a_use(false, Some(0), 2));
        assert!(
            !redemption_uses_a_use(false, Some(100), 1),
            "a continuation"
        );
        assert!(
            redemption_uses_a_use(false, Some(100), 0),
            "no free ranges on a fresh token"
        );
        assert!(!redemption_uses_a_use(true, None, 0), "HEAD never");
    }
}
