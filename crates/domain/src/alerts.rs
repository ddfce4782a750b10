//! What the server tells a person, and when (SPEC §12): an (address, user) pair newly
//! over the abnormal threshold (at most once an hour per pair), and each daily report
//! when it is written. Rendered here once, as a title, text lines and a JSON payload;
//! the delivery adapters put them into each receiver's message shape.

use serde_json::{Value, json};
use time::{Date, Duration, OffsetDateTime};

/// The same pair is alerted at most once in this long.
pub const ALERT_QUIET_PERIOD: Duration = Duration::hours(1);

/// An alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// More redemption attempts in the last hour from one address and user than the
    /// threshold allows.
    Abnormal {
        /// The client address.
        ip_address: String,
        /// The user (empty for attempts with unknown tokens).
        user_id: String,
        /// Attempts in the last hour.
        attempts: u64,
        /// `ABNORMAL_ATTEMPTS_PER_HOUR`.
        threshold: u64,
        /// When the job found it.
        at: OffsetDateTime,
        /// Whether the user was disabled for it (`ALERT_AUTO_DISABLE`).
        user_disabled: bool,
    },
    /// A daily report, as written.
    DailyReport {
        /// The day (in `APP_TIMEZONE`).
        day: Date,
        /// Records started that day.
        downloads: u64,
        /// … `completed`.
        completed: u64,
        /// … `failed`.
        failed: u64,
        /// … `expired`.
        expired: u64,
        /// … still `downloading`.
        downloading: u64,
        /// Catalogue bytes of those completed.
        completed_bytes: u64,
        /// Favorites created that day.
        new_favorites: u64,
    },
}

impl Alert {
    /// `abnormal_activity` or `daily_report`.
    pub fn kind(&self) -> &'static str {
        match self {
            Alert::Abnormal { .. } => "abnormal_activity",
            Alert::DailyReport { .. } => "daily_report",
        }
    }

    /// A one-line title.
    pub fn title(&self) -> String {
        match self {
            Alert::Abnormal { .. } => "soundshelf 异常下载告警".to_owned(),
            Alert::DailyReport { day, .. } => format!("soundshelf 下载日报 {day}"),
        }
    }

    /// The body, a few lines of text (the title not included).
    pub fn text(&self) -> String {
        match self {
            Alert::Abnormal {
                ip_address,
                user_id,
                attempts,
                threshold,
                at,
                user_disabled,
            } => {
                let user = if user_id.is_empty() {
                    "（未知令牌）"
                } else {
                    user_id
                };
                let mut text = format!(
                    "地址 {ip_address} 与用户 {user} 在最近一小时内请求下载 {attempts} 次（阈值 {threshold}）。\n发现时间：{}",
                    crate::time::format_rfc3339(*at)
                );
                if *user_disabled {
                    text.push_str("\n该用户已被自动停用（ALERT_AUTO_DISABLE）。");
                }
                text
            }
            Alert::DailyReport {
                downloads,
                completed,
                failed,
                expired,
                downloading,
                completed_bytes,
                new_favorites,
                ..
            } => format!(
                "下载 {downloads} 次：完成 {completed}，失败 {failed}，过期 {expired}，进行中 {downloading}\n完成字节：{completed_bytes}\n新增收藏：{new_favorites}"
            ),
        }
    }

    /// The machine-readable form: `{"kind", "title", "text", "data"}`.
    pub fn payload(&self) -> Value {
        let data = match self {
            Alert::Abnormal {
                ip_address,
                user_id,
                attempts,
                threshold,
                at,
                user_disabled,
            } => json!({
                "ip_address": ip_address,
                "user_id": user_id,
                "attempts": attempts,
                "threshold": threshold,
                "window": "1h",
                "at": crate::time::format_rfc3339(*at),
                "user_disabled": user_disabled,
            }),
            Alert::DailyReport {
                day,
                downloads,
                completed,
                failed,
                expired,
                downloading,
                completed_bytes,
                new_favorites,
            } => json!({
                "date": day.to_string(),
                "downloads": {
                    "total": downloads,
                    "completed": completed,
                    "failed": failed,
                    "expired": expired,
                    "downloading": downloading,
                },
                "completed_bytes": completed_bytes,
                "new_favorites": new_favorites,
            }),
        };
        json!({
            "kind": self.kind(),
            "title": self.title(),
            "text": self.text(),
            "data": data,
        })
    }
}

/// Whether a pair last alerted at `last` may be alerted again at `now`.
pub fn may_alert_again(last: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    last.is_none_or(|last| now - last >= ALERT_QUIET_PERIOD)
}

/// The message shape a webhook receiver takes (`ALERT_WEBHOOK_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// [`Alert::payload`], signed with `ALERT_WEBHOOK_SECRET` like `/internal` requests.
    Json,
    /// A WeCom (企业微信) group robot.
    WeCom,
    /// A DingTalk (钉钉) group robot.
    DingTalk,
    /// A Feishu (飞书) group robot.
    Feishu,
}

impl WebhookFormat {
    /// `json`, `wecom`, `dingtalk` or `feishu`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "json" => Some(Self::Json),
            "wecom" => Some(Self::WeCom),
            "dingtalk" => Some(Self::DingTalk),
            "feishu" => Some(Self::Feishu),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::WeCom => "wecom",
            Self::DingTalk => "dingtalk",
            Self::Feishu => "feishu",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn a_pair_is_alerted_at_most_once_an_hour() {
        let now = datetime!(2026-06-10 12:00 UTC);
        assert!(may_alert_again(None, now));
        assert!(!may_alert_again(Some(now - Duration::minutes(59)), now));
        assert!(may_alert_again(Some(now - Duration::hours(1)), now));
    }

    #[test]
    fn alerts_name_the_pair_and_the_count() {
        let a = Alert::Abnormal {
            ip_address: "203.0.113.7".into(),
            user_id: "user_free".into(),
            attempts: 55,
            threshold: 50,
            at: datetime!(2026-06-10 12:00 UTC),
            user_disabled: true,
        };
        let text = a.text();
        for part in ["203.0.113.7", "user_free", "55", "50", "自动停用"] {
            assert!(text.contains(part), "{text}");
        }
        assert_eq!(a.payload()["data"]["attempts"], 55);
        let r = Alert::DailyReport {
            day: date!(2026 - 06 - 09),
            downloads: 10,
            completed: 7,
            failed: 1,
            expired: 1,
            downloading: 1,
            completed_bytes: 1234,
            new_favorites: 3,
        };
        assert!(r.title().contains("2026-06-09"));
        assert_eq!(r.payload()["data"]["downloads"]["completed"], 7);
    }
}
