//! What downloads follow: plan quotas, tokens, the rate limit, trusted proxies and the
//! storage backend with its credentials.

use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;
use soundshelf_domain::Plan;
use soundshelf_domain::downloads::Plans;

use super::values::{ConfigError, bad, duration, number, positive_duration};

/// What downloads follow (SPEC §4, §8).
#[derive(Debug, Clone)]
pub struct DownloadSettings {
    /// Quotas per plan (`PLAN_<PLAN>_DAILY_DOWNLOADS`, `PLAN_<PLAN>_STORAGE_MB`).
    pub plans: Plans,
    /// How long a token is valid (`DOWNLOAD_TOKEN_EXPIRES`, default `6h`).
    pub token_ttl: Duration,
    /// Redemptions per token (`DOWNLOAD_MAX_USES`, default 3).
    pub max_uses: u32,
    /// Grants per minute per user (`RATE_LIMIT_DOWNLOADS_PER_MINUTE`, default 5).
    pub rate_limit_per_minute: u32,
    /// Peers whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, CIDRs or addresses).
    pub trusted_proxies: Vec<IpNet>,
    /// Where files are served from (`STORAGE_BACKEND`, default `local`).
    pub backend: StorageBackend,
    /// How long a CDN redirect is valid (`DOWNLOAD_REDIRECT_TTL`, default `300s`).
    pub redirect_ttl: Duration,
}

pub use soundshelf_signers::cdn::OssVersion;

/// Where download files live.
#[derive(Debug, Clone)]
pub enum StorageBackend {
    /// Files under `LOCAL_STORAGE_DIR`, streamed by the server.
    Local,
    /// A private Qiniu bucket behind its domain; redemptions redirect to signed URLs.
    Qiniu {
        /// `QINIU_ACCESS_KEY`.
        access_key: String,
        /// `QINIU_SECRET_KEY`.
        secret_key: SecretString,
        /// `QINIU_BUCKET`.
        bucket: String,
        /// `QINIU_DOMAIN`, with its scheme.
        domain: String,
    },
    /// A private Aliyun OSS bucket; redemptions redirect to presigned URLs.
    Oss {
        /// `OSS_ACCESS_KEY_ID`.
        access_key_id: String,
        /// `OSS_ACCESS_KEY_SECRET`.
        access_key_secret: SecretString,
        /// `OSS_BUCKET`.
        bucket: String,
        /// `OSS_REGION`, like `oss-cn-hangzhou`.
        region: String,
        /// `OSS_ENDPOINT`, default `https://{bucket}.{region}.aliyuncs.com`.
        endpoint: String,
        /// `OSS_SIGNATURE_VERSION`, default `v4`.
        version: OssVersion,
    },
}

fn storage_backend(get: &impl Fn(&str) -> Option<String>) -> Result<StorageBackend, ConfigError> {
    let required = |var: &'static str, backend: &str| {
        get(var).ok_or_else(|| bad(var, format!("is required with STORAGE_BACKEND={backend}")))
    };
    let url = |var: &'static str, value: String| {
        if value.starts_with("http://") || value.starts_with("https://") {
            Ok(value.trim_end_matches('/').to_owned())
        } else {
            Err(bad(var, "must start with http:// or https://"))
        }
    };
    match get("STORAGE_BACKEND").as_deref() {
        None | Some("local") => Ok(StorageBackend::Local),
        Some("qiniu") => Ok(StorageBackend::Qiniu {
            access_key: required("QINIU_ACCESS_KEY", "qiniu")?,
            secret_key: SecretString::from(required("QINIU_SECRET_KEY", "qiniu")?),
            bucket: required("QINIU_BUCKET", "qiniu")?,
            domain: url("QINIU_DOMAIN", required("QINIU_DOMAIN", "qiniu")?)?,
        }),
        Some("oss") => {
            let access_key_id = required("OSS_ACCESS_KEY_ID", "oss")?;
            let access_key_secret = SecretString::from(required("OSS_ACCESS_KEY_SECRET", "oss")?);
            let bucket = required("OSS_BUCKET", "oss")?;
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_bucket {
                return Err(bad(
                    "OSS_BUCKET",
                    "must be 3-63 characters of a-z, 0-9 and -",
                ));
            }
            let region = required("OSS_REGION", "oss")?;
            if !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(bad("OSS_REGION", "must be a region like oss-cn-hangzhou"));
            }
            let host_region = if region.starts_with("oss-") {
                region.clone()
            } else {
                format!("oss-{region}")
            };
            let endpoint = match get("OSS_ENDPOINT") {
                Some(e) => url("OSS_ENDPOINT", e)?,
                None => format!("https://{bucket}.{host_region}.aliyuncs.com"),
            };
            let version = match get("OSS_SIGNATURE_VERSION").as_deref() {
                None | Some("v4") => OssVersion::V4,
                Some("v1") => OssVersion::V1,
                Some(_) => return Err(bad("OSS_SIGNATURE_VERSION", "must be v1 or v4")),
            };
            Ok(StorageBackend::Oss {
                access_key_id,
                access_key_secret,
                bucket,
                region,
                endpoint,
                version,
            })
        }
        Some(_) => Err(bad("STORAGE_BACKEND", "must be local, qiniu or oss")),
    }
}

impl DownloadSettings {
    /// Reads the download variables through `get`.
    pub(crate) fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut plans = Plans::default();
        for (plan, daily_var, storage_var) in [
            (
                Plan::Free,
                "PLAN_FREE_DAILY_DOWNLOADS",
                "PLAN_FREE_STORAGE_MB",
            ),
            (
                Plan::Trial,
                "PLAN_TRIAL_DAILY_DOWNLOADS",
                "PLAN_TRIAL_STORAGE_MB",
            ),
            (
                Plan::Premium,
                "PLAN_PREMIUM_DAILY_DOWNLOADS",
                "PLAN_PREMIUM_STORAGE_MB",
            ),
            (Plan::Vip, "PLAN_VIP_DAILY_DOWNLOADS", "PLAN_VIP_STORAGE_MB"),
        ] {
            let limits = plans.slot_mut(plan);
            limits.daily_downloads = number(get, daily_var, limits.daily_downloads, 0, 1_000_000)?;
            limits.storage_mb = number(get, storage_var, limits.storage_mb, 0, 1 << 30)?;
        }
        let token_ttl =
            positive_duration(get, "DOWNLOAD_TOKEN_EXPIRES", Duration::from_secs(6 * 3600))?;
        let trusted_proxies = match get("TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            bad(
                                "TRUSTED_PROXIES",
                                "must be a comma-separated list of addresses or CIDRs",
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let redirect_ttl = duration(get, "DOWNLOAD_REDIRECT_TTL", Duration::from_secs(300))?;
        if redirect_ttl.is_zero() || redirect_ttl > Duration::from_secs(7 * 86_400) {
            return Err(bad("DOWNLOAD_REDIRECT_TTL", "must be between 1s and 7d"));
        }
        Ok(Self {
            plans,
            token_ttl,
            max_uses: number(get, "DOWNLOAD_MAX_USES", 3, 1, 1000)?,
            rate_limit_per_minute: number(get, "RATE_LIMIT_DOWNLOADS_PER_MINUTE", 5, 1, 1_000_000)?,
            trusted_proxies,
            backend: storage_backend(get)?,
            redirect_ttl,
        })
    }
}
