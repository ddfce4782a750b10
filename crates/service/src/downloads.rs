//! Downloads: grants under rate limits and quotas, redemption of tokens, and the
//! user's download records.

use std::sync::Arc;
use std::time::Duration;

use soundshelf_domain::catalog::{CatalogTrack, ObjectKey};
use soundshelf_domain::downloads::{
    Allowance, ByteRange, DownloadStatus, GrantDenied, Offer, Plans, Track, Usage, allowance,
    decide_grant, file_size_of, link_is_live, offers, quota_day, redemption_uses_a_use,
    redirect_expiry, reported_state, token_is_live,
};
use soundshelf_domain::time::to_storage_precision;
use soundshelf_domain::{
    CatalogId, Cursor, DownloadId, ErrorCode, LogId, PageRequest, Quality, TokenId, User, UserId,
};
use soundshelf_ports::{
    CatalogStore, Clock, DownloadCounts, DownloadLogEntry, DownloadRecord, DownloadStore,
    GrantDecider, GrantRequest, IdGenerator, RandomIds, RateDecision, RateLimiter, RecordReport,
    StoreError, TokenIssuer, TokenRecord, UrlSigner,
};
use time::{OffsetDateTime, UtcOffset};

use crate::InfraError;

/// The settings downloads follow.
#[derive(Debug, Clone, PartialEq)]
pub struct DownloadPolicy {
    /// The quotas of each plan.
    pub plans: Plans,
    /// How long a token is valid.
    pub token_ttl: Duration,
    /// How many redemptions a token allows.
    pub max_uses: u32,
    /// The URL clients reach the server at; links are `{public_base_url}/files/{token}`.
    pub public_base_url: String,
    /// The offset that defines "today".
    pub timezone: UtcOffset,
    /// How long a CDN redirect is valid (never past the token's own expiry).
    pub redirect_ttl: Duration,
    /// Grants per minute per user (shown to the user; the limiter enforces it).
    pub rate_limit_per_minute: u32,
}

/// A catalogue entry with what a grant of each of its qualities would decide for the
/// user now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MusicOffer {
    /// The track as the catalogue keeps it.
    pub entry: CatalogTrack,
    /// Its qualities, lowest first, each with the grant's decision.
    pub offers: Vec<Offer>,
}

/// A granted download link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedLink {
    /// `{PUBLIC_BASE_URL}/files/{token}`.
    pub download_url: String,
    /// When the token expires.
    pub expires_at: OffsetDateTime,
    /// The catalogue's size of the file.
    pub file_size: u64,
    /// The token (shown once; only its hash is stored).
    pub token: String,
    /// The quality.
    pub quality: Quality,
}

/// Who is redeeming, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address.
    pub ip: String,
    /// Its `User-Agent`.
    pub user_agent: Option<String>,
}

/// A redemption that may be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    /// The token's row (after this use).
    pub token: TokenRecord,
    /// Where the file lives in storage.
    pub object_key: ObjectKey,
    /// The track's title, for the file name.
    pub title: String,
    /// The size of the whole file.
    pub file_size: u64,
    /// The inclusive byte range to send, when one was asked for.
    pub range: Option<(u64, u64)>,
    /// With a CDN backend: the signed URL to redirect to.
    pub redirect: Option<String>,
}

/// A device's report on a download, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The track.
    pub music_id: CatalogId,
    /// The quality.
    pub quality: Quality,
    /// `downloading`, `completed` or `failed`.
    pub status: DownloadStatus,
    /// 0–100.
    pub progress: Option<u8>,
    /// The device's error message.
    pub error_message: Option<String>,
}

/// A page of download records with the user's counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordList {
    /// The records, newest first.
    pub items: Vec<DownloadRecord>,
    /// How many match in all.
    pub total: u64,
    /// The cursor of the next page.
    pub next_cursor: Option<Cursor>,
    /// Counts by status.
    pub counts: DownloadCounts,
}

/// Why a downloads use case failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadsError {
    /// Too many grants; retry after the given time.
    #[error("rate limited")]
    RateLimited {
        /// The time until the next grant can pass.
        retry_after: Duration,
    },
    /// A grant rule refused.
    #[error("grant denied: {0:?}")]
    Denied(GrantDenied),
    /// No such record of this user.
    #[error("download record not found")]
    RecordNotFound,
    /// No such token.
    #[error("token not found")]
    TokenNotFound,
    /// The token has expired.
    #[error("token expired")]
    TokenExpired,
    /// The token has no uses left.
    #[error("token uses exceeded")]
    UsesExceeded,
    /// The range asked for lies outside the file of this length.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The file's length.
        len: u64,
    },
    /// The infrastructure failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for DownloadsError {
    fn from(e: StoreError) -> Self {
        Self::Infra(InfraError::from_store(e))
    }
}

/// The downloads use cases.
#[derive(Clone)]
pub struct DownloadsService {
    store: Arc<dyn DownloadStore>,
    catalog: Arc<dyn CatalogStore>,
    limiter: Arc<dyn RateLimiter>,
    tokens: Arc<dyn TokenIssuer>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    policy: DownloadPolicy,
    cdn: Option<Arc<dyn UrlSigner>>,
}

impl std::fmt::Debug for DownloadsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadsService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl DownloadsService {
    /// The use cases over their ports.
    pub fn new(
        store: Arc<dyn DownloadStore>,
        catalog: Arc<dyn CatalogStore>,
        limiter: Arc<dyn RateLimiter>,
        tokens: Arc<dyn TokenIssuer>,
        clock: Arc<dyn Clock>,
        policy: DownloadPolicy,
    ) -> Self {
        Self {
            store,
            catalog,
            limiter,
            tokens,
            clock,
            ids: Arc::new(RandomIds),
            policy,
            cdn: None,
        }
    }

    /// The use cases making ids with `ids` (the default draws from the system).
    pub fn with_ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.ids = ids;
        self
    }

    /// The use cases redirecting redemptions to CDN URLs signed by `signer`.
    pub fn with_cdn(mut self, signer: Arc<dyn UrlSigner>) -> Self {
        self.cdn = Some(signer);
        self
    }

    /// Grants `user` a download of `music_id` at `quality`, checking in the SPEC's
    /// order: rate limit, user, track, quality, premium, lossless, daily limit, storage.
    #[tracing::instrument(skip(self, user), fields(user = %user.id))]
    pub async fn grant(
        &self,
        user: &User,
        music_id: &CatalogId,
        quality: Quality,
    ) -> Result<GrantedLink, DownloadsError> {
        let key = format!("grant:{}", user.id);
        if let RateDecision::Limited { retry_after } = self.limiter.check(&key).await {
            return Err(DownloadsError::RateLimited { retry_after });
        }
        let track = self.catalog.track(music_id).await?;
        // What does not depend on the user is checked now; the rest (status, premium,
        // lossless, quotas) in the store's transaction, on the user as stored then.
        let file_size = file_size_of(track.as_ref(), quality).map_err(DownloadsError::Denied)?;
        let now = to_storage_precision(self.clock.now());
        let expires_at = now + self.policy.token_ttl;
        let issued = self
            .tokens
            .issue()
            .map_err(|e| DownloadsError::Infra(InfraError::Internal(e)))?;
        let base = &self.policy.public_base_url;
        let request = GrantRequest {
            user_id: user.id.clone(),
            music_id: music_id.clone(),
            quality,
            file_size,
            day: quota_day(now, self.policy.timezone),
            now,
            token_id: TokenId::from_ulid(self.ids.ulid(now)),
            token_hash: issued.hash,
            expires_at,
            max_uses: self.policy.max_uses,
            download_url: format!("{base}/files/{{token}}"),
            download_id: DownloadId::from_ulid(self.ids.ulid(now)),
        };
        // The quota rule is the domain's, decided by the store under the user's lock.
        let plans = self.policy.plans;
        let decide: GrantDecider = Box::new(move |user: &User, usage: &Usage| {
            decide_grant(user, track.as_ref(), quality, &plans, usage)
        });
        self.store
            .grant(&request, decide)
            .await?
            .map_err(DownloadsError::Denied)?;
        Ok(GrantedLink {
            download_url: format!("{base}/files/{}", issued.token),
            expires_at,
            file_size,
            token: issued.token,
            quality,
        })
    }

    /// The grants a user may ask for per minute.
    pub fn rate_limit_per_minute(&self) -> u32 {
        self.policy.rate_limit_per_minute
    }

    /// `user`'s quotas now (`/api/me`): the plan's limits after the usage the store
    /// reads as a grant reads it. Consumes no rate limit and writes nothing.
    pub async fn allowance(&self, user: &User) -> Result<Allowance, DownloadsError> {
        let now = self.clock.now();
        let day = quota_day(now, self.policy.timezone);
        let usage = self.store.usage(&user.id, day, &[]).await?;
        Ok(allowance(
            &self.policy.plans.limits(user.plan),
            &usage,
            now,
            self.policy.timezone,
        ))
    }

    /// The listed tracks among `ids`, in the order asked, each with what a grant of each
    /// quality would decide for `user` now (the domain's grant decision on the usage a
    /// grant would read). Unknown and retired ids are left out. Consumes no rate limit
    /// and writes nothing.
    pub async fn offers(
        &self,
        user: &User,
        ids: &[CatalogId],
    ) -> Result<Vec<MusicOffer>, DownloadsError> {
        let mut entries: Vec<(CatalogTrack, Track)> = self
            .catalog
            .entries(ids)
            .await?
            .into_iter()
            .map(|entry| {
                let track = Track::from(&entry);
                (entry, track)
            })
            .filter(|(_, track)| track.is_listed())
            .collect();
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let day = quota_day(self.clock.now(), self.policy.timezone);
        let listed: Vec<CatalogId> = entries.iter().map(|(e, _)| e.id.clone()).collect();
        let usage = self.store.usage(&user.id, day, &listed).await?;
        let mut found = Vec::with_capacity(entries.len());
        for id in ids {
            if let Some(at) = entries.iter().position(|(e, _)| &e.id == id) {
                let (entry, track) = entries.swap_remove(at);
                let offers = offers(user, &track, &self.policy.plans, &usage);
                found.push(MusicOffer { entry, offers });
            }
        }
        Ok(found)
    }

    /// Redeems `token`: checks it, counts a use when this request starts a download
    /// (not for `HEAD` or a continuation range), and logs the attempt, whatever its end.
    #[tracing::instrument(skip_all, fields(head))]
    pub async fn redeem(
        &self,
        token: &str,
        head: bool,
        range: Option<ByteRange>,
        client: &ClientInfo,
    ) -> Result<Redemption, DownloadsError> {
        let hash = self.tokens.hash(token);
        let now = self.clock.now();
        let found = self.store.find_token(&hash).await?;
        let result = self
            .check_redemption(found.as_ref(), head, range, now)
            .await;
        let (status, code, size) = match &result {
            Ok(r) => {
                let sent = match (head, r.range) {
                    (true, _) => 0,
                    (false, Some((first, last))) => last - first + 1,
                    (false, None) => r.file_size,
                };
                ("started", None, sent)
            }
            Err(e) => ("failed", Some(e.code().as_str()), 0),
        };
        let entry = DownloadLogEntry {
            id: LogId::from_ulid(self.ids.ulid(now)),
            user_id: found
                .as_ref()
                .map(|t| t.user_id.to_string())
                .unwrap_or_default(),
            music_id: found
                .as_ref()
                .map(|t| t.music_id.as_str().to_owned())
                .unwrap_or_default(),
            token_hash: hash,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            download_size: size,
            at: now,
            status,
            error_code: code,
        };
        self.store.log_download(&entry).await?;
        result
    }

    async fn check_redemption(
        &self,
        found: Option<&TokenRecord>,
        head: bool,
        range: Option<ByteRange>,
        now: OffsetDateTime,
    ) -> Result<Redemption, DownloadsError> {
        let token = found.ok_or(DownloadsError::TokenNotFound)?;
        if !token_is_live(token.expires_at, now) {
            return Err(DownloadsError::TokenExpired);
        }
        let track = self
            .catalog
            .track(&token.music_id)
            .await?
            .ok_or(DownloadsError::TokenNotFound)?;
        if !link_is_live(token.expires_at, now, &track) {
            return Err(DownloadsError::TokenExpired);
        }
        let file_size = track
            .size(token.quality)
            .ok_or(DownloadsError::TokenNotFound)?;
        let object_key = track
            .object_key(token.quality)
            .ok_or(DownloadsError::TokenNotFound)?
            .clone();
        let range = match range {
            None => None,
            Some(r) => Some(
                r.resolve(file_size)
                    .ok_or(DownloadsError::RangeNotSatisfiable { len: file_size })?,
            ),
        };
        let mut token = token.clone();
        if redemption_uses_a_use(head, range.map(|(first, _)| first), token.uses) {
            if !self.store.use_token(&token.id, now).await? {
                return Err(if token_is_live(token.expires_at, self.clock.now()) {
                    DownloadsError::UsesExceeded
                } else {
                    DownloadsError::TokenExpired
                });
            }
            token.uses += 1;
        }
        // The redirect lives `redirect_ttl`, and never past the token itself.
        let redirect = self.cdn.as_ref().map(|signer| {
            let expires_at = redirect_expiry(now, self.policy.redirect_ttl, token.expires_at);
            signer.sign(object_key.as_str(), head, now, expires_at)
        });
        Ok(Redemption {
            token,
            object_key,
            title: track.title,
            file_size,
            range,
            redirect,
        })
    }

    /// Creates or updates `user`'s record of a download from the device's report; the
    /// size is the catalogue's.
    #[tracing::instrument(skip(self))]
    pub async fn report(
        &self,
        user: &UserId,
        report: Report,
    ) -> Result<DownloadRecord, DownloadsError> {
        let track = self
            .catalog
            .track(&report.music_id)
            .await?
            .ok_or(DownloadsError::Denied(GrantDenied::MusicNotFound))?;
        let file_size = track
            .size(report.quality)
            .ok_or(DownloadsError::Denied(GrantDenied::QualityNotAvailable))?;
        let (progress, error_message) =
            reported_state(report.status, report.progress, report.error_message);
        let now = to_storage_precision(self.clock.now());
        let record = self
            .store
            .report(&RecordReport {
                user_id: user.clone(),
                music_id: report.music_id,
                quality: report.quality,
                status: report.status,
                progress,
                error_message,
                file_size,
                now,
                new_id: DownloadId::from_ulid(self.ids.ulid(now)),
            })
            .await?;
        Ok(record)
    }

    /// A page of `user`'s records, with counts by status.
    #[tracing::instrument(skip(self))]
    pub async fn records(
        &self,
        user: &UserId,
        status: Option<DownloadStatus>,
        page: &PageRequest,
    ) -> Result<RecordList, DownloadsError> {
        let found = self.store.records(user, status, page).await?;
        let counts = self.store.counts(user).await?;
        let next_cursor = if found.has_more {
            found
                .items
                .last()
                .map(|r| Cursor::new(r.download_time, r.id))
        } else {
            None
        };
        Ok(RecordList {
            items: found.items,
            total: found.total,
            next_cursor,
            counts,
        })
    }

    /// Deletes `user`'s record `id` (it frees its storage; it never refunds a grant).
    #[tracing::instrument(skip(self))]
    pub async fn delete(&self, user: &UserId, id: &DownloadId) -> Result<(), DownloadsError> {
        if self.store.delete_record(user, id).await? {
            Ok(())
        } else {
            Err(DownloadsError::RecordNotFound)
        }
    }
}

impl DownloadsError {
    /// The code of this failure, as logged for a refused redemption and answered.
    pub fn code(&self) -> ErrorCode {
        match self {
            DownloadsError::TokenNotFound => ErrorCode::TokenNotFound,
            DownloadsError::TokenExpired => ErrorCode::DownloadLinkExpired,
            DownloadsError::UsesExceeded => ErrorCode::DownloadUsesExceeded,
            DownloadsError::RangeNotSatisfiable { .. } => ErrorCode::RangeNotSatisfiable,
            DownloadsError::Denied(d) => d.code(),
            DownloadsError::RateLimited { .. } => ErrorCode::RateLimited,
            DownloadsError::RecordNotFound => ErrorCode::DownloadNotFound,
            DownloadsError::Infra(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use soundshelf_domain::downloads::Track;
    use soundshelf_domain::{Plan, Role, UserStatus};
    use soundshelf_ports::{
        IssuedToken, MockCatalogStore, MockClock, MockDownloadStore, MockRateLimiter,
        MockTokenIssuer,
    };
    use time::macros::{datetime, offset};
    use ulid::Ulid;

    const NOW: OffsetDateTime = datetime!(2026-06-01 16:30 UTC);

    fn user(plan: Plan) -> User {
        User {
            id: UserId::parse("u1").unwrap(),
            nickname: String::new(),
            status: UserStatus::Active,
            plan,
            has_premium_access: plan != Plan::Free,
            role: Role::User,
            created_at: NOW,
        }
    }

    fn music() -> CatalogId {
        CatalogId::parse_field("music_id", "music_001").unwrap()
    }

    fn track() -> Track {
        Track::new("music_001", "t", false, [(Quality::Standard, 1000)]).unwrap()
    }

    fn policy() -> DownloadPolicy {
        DownloadPolicy {
            plans: Plans::default(),
            token_ttl: Duration::from_secs(3600),
            max_uses: 3,
            public_base_url: "https://dl.example".into(),
            timezone: offset!(+8),
            redirect_ttl: Duration::from_secs(300),
            rate_limit_per_minute: 5,
        }
    }

    struct Mocks {
        store: MockDownloadStore,
        catalog: MockCatalogStore,
        limiter: MockRateLimiter,
        tokens: MockTokenIssuer,
    }

    impl Mocks {
        fn new() -> Self {
            let mut tokens = MockTokenIssuer::new();
            tokens.expect_issue().returning(|| {
                Ok(IssuedToken {
                    token: "T".repeat(43),
                    hash: "h".repeat(64),
                })
            });
            tokens.expect_hash().returning(|_| "h".repeat(64));
            let mut catalog = MockCatalogStore::new();
            catalog.expect_track().returning(|_| Ok(Some(track())));
            let mut limiter = MockRateLimiter::new();
            limiter.expect_check().returning(|_| RateDecision::Allowed);
            Self {
                store: MockDownloadStore::new(),
                catalog,
                limiter,
                tokens,
            }
        }

        fn service(self) -> DownloadsService {
            let mut clock = MockClock::new();
            clock.expect_now().return_const(NOW);
            DownloadsService::new(
                Arc::new(self.store),
                Arc::new(self.catalog),
                Arc::new(self.limiter),
                Arc::new(self.tokens),
                Arc::new(clock),
                policy(),
            )
        }
    }

    #[tokio::test]
    async fn a_grant_stores_only_the_hash_on_the_local_day() {
        let mut m = Mocks::new();
        m.store
            .expect_grant()
            .withf(|r, _| {
                r.token_hash == "h".repeat(64)
                    && !r.download_url.contains(&"T".repeat(43))
                    && r.day == time::macros::date!(2026 - 06 - 02)
                    && r.expires_at == NOW + time::Duration::hours(1)
            })
            .times(1)
            .returning(|_, decide| {
                // The decision handed to the store is the free plan's: 5 a day, 100 MB.
                let full = Usage {
                    storage_used: 100 * 1024 * 1024 - 999,
                    ..Usage::default()
                };
                assert_eq!(
                    decide(&user(Plan::Free), &full),
                    Err(GrantDenied::StorageFull)
                );
                Ok(Ok(soundshelf_domain::downloads::Grant {
                    file_size: 1000,
                    counts_toward_daily_limit: true,
                }))
            });
        let link = m
            .service()
            .grant(&user(Plan::Free), &music(), Quality::Standard)
            .await
            .unwrap();
        assert_eq!(
            link.download_url,
            format!("https://dl.example/files/{}", "T".repeat(43))
        );
        assert_eq!(link.file_size, 1000);
    }

    #[tokio::test]
    async fn offers_and_the_allowance_read_without_the_limiter_or_a_write() {
        use soundshelf_domain::downloads::UsageSnapshot;
        let mut m = Mocks::new();
        // Neither may consult the limiter nor grant: a mock with no expectation panics.
        m.limiter = MockRateLimiter::new();
        let entry = |id: &str, retired: bool| {
            let asset = soundshelf_domain::catalog::Asset {
                quality: Quality::Standard,
                object_key: ObjectKey::parse("k").unwrap(),
                file_size: 1000,
            };
            let id = CatalogId::parse_field("music_id", id).unwrap();
            let mut track = CatalogTrack::new(id, "t", "c", 60, None, false, vec![asset]).unwrap();
            track.retired = retired;
            track
        };
        m.catalog.expect_entries().returning(move |_| {
            Ok(vec![
                entry("music_002", false),
                entry("music_003", true),
                entry("music_001", false),
            ])
        });
        m.store
            .expect_usage()
            .withf(|_, day, files| {
                *day == time::macros::date!(2026 - 06 - 02)
                    && (files.is_empty() || files.len() == 2)
            })
            .returning(|_, _, _| {
                Ok(UsageSnapshot {
                    granted_today: 5,
                    ..UsageSnapshot::default()
                })
            });
        let svc = m.service();
        let ids: Vec<CatalogId> = ["music_001", "music_003", "music_404", "music_002"]
            .iter()
            .map(|s| CatalogId::parse_field("music_id", s).unwrap())
            .collect();
        let found = svc.offers(&user(Plan::Free), &ids).await.unwrap();
        let order: Vec<&str> = found.iter().map(|f| f.entry.id.as_str()).collect();
        assert_eq!(
            order,
            ["music_001", "music_002"],
            "asked order, retired and unknown left out"
        );
        assert_eq!(
            found[0].offers[0].decision,
            Err(GrantDenied::DailyLimitReached { limit: 5 })
        );
        let a = svc.allowance(&user(Plan::Free)).await.unwrap();
        assert_eq!((a.used_today, a.remaining_today), (5, 0));
    }

    #[tokio::test]
    async fn rate_limited_and_refused_grants_write_nothing() {
        let mut m = Mocks::new();
        m.limiter = MockRateLimiter::new();
        m.limiter
            .expect_check()
            .times(1)
            .returning(|_| RateDecision::Limited {
                retry_after: Duration::from_secs(7),
            });
        let err = m
            .service()
            .grant(&user(Plan::Vip), &music(), Quality::Standard)
            .await
            .unwrap_err();
        assert!(
            matches!(err, DownloadsError::RateLimited { retry_after } if retry_after.as_secs() == 7)
        );

        // Lossless does not exist for this track: refused before the store.
        let m = Mocks::new();
        let err = m
            .service()
            .grant(&user(Plan::Vip), &music(), Quality::Lossless)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            DownloadsError::Denied(GrantDenied::QualityNotAvailable)
        ));
    }

    /// The user-dependent rules are decided in the store's transaction on the user as
    /// stored: a user cached as `free` but stored as `vip` gets lossless, and a user
    /// cached as `vip` but stored as `free` is refused.
    #[tokio::test]
    async fn a_grant_is_judged_by_the_user_as_stored_not_as_cached() {
        for (cached, stored, allowed) in [
            (Plan::Free, Plan::Vip, true),
            (Plan::Vip, Plan::Free, false),
        ] {
            let mut m = Mocks::new();
            m.catalog = MockCatalogStore::new();
            m.catalog.expect_track().returning(|_| {
                Ok(Some(
                    Track::new("music_001", "t", false, [(Quality::Lossless, 1000)]).unwrap(),
                ))
            });
            m.store
                .expect_grant()
                .returning(move |_, decide| Ok(decide(&user(stored), &Usage::default())));
            let got = m
                .service()
                .grant(&user(cached), &music(), Quality::Lossless)
                .await;
            if allowed {
                assert_eq!(got.unwrap().quality, Quality::Lossless);
            } else {
                assert!(matches!(
                    got,
                    Err(DownloadsError::Denied(GrantDenied::VipRequired))
                ));
            }
        }
    }

    #[tokio::test]
    async fn store_refusals_carry_the_plan_limit() {
        let mut m = Mocks::new();
        m.store.expect_grant().returning(|_, decide| {
            Ok(decide(
                &user(Plan::Trial),
                &Usage {
                    granted_today: 20,
                    ..Usage::default()
                },
            ))
        });
        let err = m
            .service()
            .grant(&user(Plan::Trial), &music(), Quality::Standard)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            DownloadsError::Denied(GrantDenied::DailyLimitReached { limit: 20 })
        ));
    }

    fn token_record(expires_at: OffsetDateTime, uses: u32) -> TokenRecord {
        TokenRecord {
            id: TokenId::from_ulid(Ulid::from_parts(1, 1)),
            user_id: UserId::parse("u1").unwrap(),
            music_id: music(),
            quality: Quality::Standard,
            expires_at,
            max_uses: 3,
            uses,
        }
    }

    fn client() -> ClientInfo {
        ClientInfo {
            ip: "203.0.113.1".into(),
            user_agent: Some("ua".into()),
        }
    }

    #[tokio::test]
    async fn every_redemption_attempt_is_logged() {
        // Unknown, expired, exhausted, unsatisfiable, then served.
        /// The token found, whether a use can be counted, the range, the code logged.
        type Case = (
            Option<TokenRecord>,
            bool,
            Option<ByteRange>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (None, true, None, Some(ErrorCode::TokenNotFound.as_str())),
            (
                Some(token_record(NOW, 0)),
                true,
                None,
                Some(ErrorCode::DownloadLinkExpired.as_str()),
            ),
            (
                Some(token_record(NOW + time::Duration::hours(1), 3)),
                false,
                None,
                Some(ErrorCode::DownloadUsesExceeded.as_str()),
            ),
            (
                Some(token_record(NOW + time::Duration::hours(1), 1)),
                true,
                Some(ByteRange::From(1000)),
                Some(ErrorCode::RangeNotSatisfiable.as_str()),
            ),
            (
                Some(token_record(NOW + time::Duration::hours(1), 0)),
                true,
                Some(ByteRange::FromTo(0, 9)),
                None,
            ),
        ];
        for (found, use_ok, range, code) in cases {
            let mut m = Mocks::new();
            m.store
                .expect_find_token()
                .returning(move |_| Ok(found.clone()));
            m.store.expect_use_token().returning(move |_, _| Ok(use_ok));
            m.store
                .expect_log_download()
                .withf(move |e| {
                    e.error_code == code
                        && e.ip == "203.0.113.1"
                        && e.status == if code.is_some() { "failed" } else { "started" }
                        && (code.is_some() || e.download_size == 10)
                })
                .times(1)
                .returning(|_| Ok(()));
            let result = m.service().redeem("T", false, range, &client()).await;
            assert_eq!(result.is_ok(), code.is_none(), "{code:?}");
        }
    }

    #[tokio::test]
    async fn cdn_redirects_expire_with_the_ttl_but_never_after_the_token() {
        for (token_left, want) in [(3600, 300), (60, 60)] {
            let mut m = Mocks::new();
            m.store.expect_find_token().returning(move |_| {
                Ok(Some(token_record(
                    NOW + time::Duration::seconds(token_left),
                    0,
                )))
            });
            m.store.expect_use_token().returning(|_, _| Ok(true));
            m.store.expect_log_download().returning(|_| Ok(()));
            let mut signer = soundshelf_ports::MockUrlSigner::new();
            signer
                .expect_sign()
                .withf(move |key, head, now, expires_at| {
                    key == "music/music_001_128k.mp3"
                        && !*head
                        && *now == NOW
                        && *expires_at == NOW + time::Duration::seconds(want)
                })
                .times(1)
                .returning(|_, _, _, _| "https://cdn.example/signed".into());
            let svc = m.service().with_cdn(Arc::new(signer));
            let r = svc.redeem("T", false, None, &client()).await.unwrap();
            assert_eq!(r.redirect.as_deref(), Some("https://cdn.example/signed"));
        }
    }

    #[tokio::test]
    async fn continuations_and_head_use_nothing() {
        for (head, range) in [(true, None), (false, Some(ByteRange::From(500)))] {
            let mut m = Mocks::new();
            m.store
                .expect_find_token()
                .returning(|_| Ok(Some(token_record(NOW + time::Duration::hours(1), 1))));
            m.store.expect_use_token().never();
            m.store.expect_log_download().returning(|_| Ok(()));
            let r = m
                .service()
                .redeem("T", head, range, &client())
                .await
                .unwrap();
            assert_eq!(r.token.uses, 1);
        }
    }
}
