//! The jobs' settings (SPEC §12): retention windows (`RETENTION_*`) and where alerts
//! go (`ALERT_*`, `SMTP_URL`).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use soundshelf_domain::alerts::WebhookFormat;
use soundshelf_domain::jobs::RetentionWindows;

use super::values::{ConfigError, bad, boolean, duration, number, positive_duration};

/// The shortest `ALERT_WEBHOOK_SECRET` accepted for the `json` format, in bytes.
pub const MIN_WEBHOOK_SECRET_BYTES: usize = 32;

/// Where alerts go, and how hard delivery tries.
#[derive(Debug, Clone, Default)]
pub struct AlertSettings {
    /// `ALERT_WEBHOOK_URLS`, comma-separated (they may hold a robot's key: secret).
    pub webhook_urls: Vec<SecretString>,
    /// `ALERT_WEBHOOK_FORMAT`: `json` (default), `wecom`, `dingtalk` or `feishu`.
    pub webhook_format: Option<WebhookFormat>,
    /// `ALERT_WEBHOOK_SECRET`: signs `json` deliveries (required for them, ≥ 32 bytes);
    /// the robot's signing secret for DingTalk and Feishu.
    pub webhook_secret: Option<SecretString>,
    /// `ALERT_EMAIL`, comma-separated recipients (needs `SMTP_URL`).
    pub email_to: Vec<String>,
    /// `SMTP_URL`: `smtp://[user:password@]host[:port]` or `smtps://…`.
    pub smtp_url: Option<SecretString>,
    /// `ALERT_EMAIL_FROM`, default `soundshelf@localhost`.
    pub email_from: String,
    /// `ALERT_AUTO_DISABLE` (default false): the alerts job also disables the users of
    /// the pairs it alerts.
    pub auto_disable: bool,
    /// `ALERT_RETRY_ATTEMPTS` (default 5, 1–20): attempts per alert and receiver.
    pub attempts: u32,
    /// `ALERT_RETRY_BACKOFF` (default 2s): the wait before the second attempt, doubled
    /// before each later one.
    pub backoff: Duration,
    /// `ALERT_TIMEOUT` (default 10s): how long one attempt may take.
    pub timeout: Duration,
}

/// Reads the `ALERT_*` variables and `SMTP_URL`.
pub(crate) fn alerts(get: &impl Fn(&str) -> Option<String>) -> Result<AlertSettings, ConfigError> {
    let list = |var: &str| -> Vec<String> {
        get(var)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let webhook_urls = list("ALERT_WEBHOOK_URLS");
    if webhook_urls
        .iter()
        .any(|u| !(u.starts_with("http://") || u.starts_with("https://")))
    {
        return Err(bad(
            "ALERT_WEBHOOK_URLS",
            "must be http:// or https:// URLs separated by commas",
        ));
    }
    let webhook_format = match get("ALERT_WEBHOOK_FORMAT") {
        None => WebhookFormat::Json,
        Some(raw) => WebhookFormat::parse(raw.trim()).ok_or_else(|| {
            bad(
                "ALERT_WEBHOOK_FORMAT",
                "must be json, wecom, dingtalk or feishu",
            )
        })?,
    };
    let webhook_secret = get("ALERT_WEBHOOK_SECRET").map(SecretString::from);
    if !webhook_urls.is_empty() && webhook_format == WebhookFormat::Json {
        match &webhook_secret {
            Some(s) if s.expose_secret().len() >= MIN_WEBHOOK_SECRET_BYTES => {}
            _ => {
                return Err(bad(
                    "ALERT_WEBHOOK_SECRET",
                    format!(
                        "is required with ALERT_WEBHOOK_FORMAT=json (at least {MIN_WEBHOOK_SECRET_BYTES} bytes): receivers verify the signature"
                    ),
                ));
            }
        }
    }
    let email_to = list("ALERT_EMAIL");
    if email_to.iter().any(|a| !a.contains('@')) {
        return Err(bad(
            "ALERT_EMAIL",
            "must be mail addresses separated by commas",
        ));
    }
    let smtp_url = get("SMTP_URL");
    if let Some(url) = &smtp_url
        && !(url.starts_with("smtp://") || url.starts_with("smtps://"))
    {
        return Err(bad("SMTP_URL", "must start with smtp:// or smtps://"));
    }
    if !email_to.is_empty() && smtp_url.is_none() {
        return Err(bad("SMTP_URL", "is required with ALERT_EMAIL"));
    }
    Ok(AlertSettings {
        webhook_format: (!webhook_urls.is_empty()).then_some(webhook_format),
        webhook_urls: webhook_urls.into_iter().map(SecretString::from).collect(),
        webhook_secret,
        email_to,
        smtp_url: smtp_url.map(SecretString::from),
        email_from: get("ALERT_EMAIL_FROM").unwrap_or_else(|| "soundshelf@localhost".to_owned()),
        auto_disable: boolean(get, "ALERT_AUTO_DISABLE", false)?,
        attempts: number(get, "ALERT_RETRY_ATTEMPTS", 5, 1, 20)?,
        backoff: positive_duration(get, "ALERT_RETRY_BACKOFF", Duration::from_secs(2))?,
        timeout: positive_duration(get, "ALERT_TIMEOUT", Duration::from_secs(10))?,
    })
}

const DAY: Duration = Duration::from_secs(86_400);

/// Reads `RETENTION_DOWNLOAD_LOGS` (90d; at least 30d, since the download statistics
/// read 30 days of logs), `RETENTION_GRANT_DAYS` (35d), `RETENTION_REPORTS` (400d) and
/// `RETENTION_EXPIRED_RECORDS` (30d), each at least a day.
pub(crate) fn retention(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<RetentionWindows, ConfigError> {
    let defaults = RetentionWindows::default();
    let window = |var: &'static str, default: time::Duration, least: Duration| {
        let d = duration(
            get,
            var,
            Duration::from_secs(default.whole_seconds().unsigned_abs()),
        )?;
        if d < least {
            return Err(bad(
                var,
                format!("must be at least {}", humantime::format_duration(least)),
            ));
        }
        time::Duration::try_from(d).map_err(|_| bad(var, "is too long"))
    };
    Ok(RetentionWindows {
        download_logs: window("RETENTION_DOWNLOAD_LOGS", defaults.download_logs, 30 * DAY)?,
        grant_days: window("RETENTION_GRANT_DAYS", defaults.grant_days, DAY)?,
        reports: window("RETENTION_REPORTS", defaults.reports, DAY)?,
        expired_records: window("RETENTION_EXPIRED_RECORDS", defaults.expired_records, DAY)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_alerts(vars: &[(&str, &str)]) -> Result<AlertSettings, ConfigError> {
        alerts(&|k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn alert_settings_are_checked_and_name_their_variable() {
        let none = read_alerts(&[]).unwrap();
        assert!(none.webhook_urls.is_empty() && none.email_to.is_empty() && !none.auto_disable);
        let robots = read_alerts(&[
            (
                "ALERT_WEBHOOK_URLS",
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k, http://127.0.0.1:9/x",
            ),
            ("ALERT_WEBHOOK_FORMAT", "wecom"),
            ("ALERT_EMAIL", "ops@example.com,oncall@example.com"),
            ("SMTP_URL", "smtp://127.0.0.1:2525"),
            ("ALERT_AUTO_DISABLE", "true"),
        ])
        .unwrap();
        assert_eq!(robots.webhook_urls.len(), 2);
        assert_eq!(robots.webhook_format, Some(WebhookFormat::WeCom));
        assert_eq!(robots.email_to.len(), 2);
        assert!(robots.auto_disable);
        for (vars, var) in [
            (
                vec![("ALERT_WEBHOOK_URLS", "ftp://x")],
                "ALERT_WEBHOOK_URLS",
            ),
            (
                vec![
                    ("ALERT_WEBHOOK_URLS", "https://x"),
                    ("ALERT_WEBHOOK_FORMAT", "slack"),
                ],
                "ALERT_WEBHOOK_FORMAT",
            ),
            (
                vec![("ALERT_WEBHOOK_URLS", "https://x")],
                "ALERT_WEBHOOK_SECRET",
            ),
            (
                vec![
                    ("ALERT_WEBHOOK_URLS", "https://x"),
                    ("ALERT_WEBHOOK_SECRET", "short"),
                ],
                "ALERT_WEBHOOK_SECRET",
            ),
            (vec![("ALERT_EMAIL", "ops@example.com")], "SMTP_URL"),
            (vec![("ALERT_EMAIL", "not-an-address")], "ALERT_EMAIL"),
            (vec![("SMTP_URL", "http://x")], "SMTP_URL"),
            (vec![("ALERT_RETRY_ATTEMPTS", "0")], "ALERT_RETRY_ATTEMPTS"),
            (vec![("ALERT_TIMEOUT", "0s")], "ALERT_TIMEOUT"),
        ] {
            let err = read_alerts(&vars).unwrap_err().to_string();
            assert!(err.contains(var), "{vars:?}: {err}");
            assert!(!err.contains("https://x"), "{err}");
        }
    }

    fn read(vars: &[(&str, &str)]) -> Result<RetentionWindows, ConfigError> {
        retention(&|k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_are_specs_and_each_window_is_checked() {
        assert_eq!(read(&[]).unwrap(), RetentionWindows::default());
        let w = read(&[("RETENTION_GRANT_DAYS", "7d"), ("RETENTION_REPORTS", "2y")]).unwrap();
        assert_eq!(w.grant_days, time::Duration::days(7));
        assert!(w.reports > time::Duration::days(700));
        for (var, value) in [
            ("RETENTION_DOWNLOAD_LOGS", "29d"),
            ("RETENTION_GRANT_DAYS", "23h"),
            ("RETENTION_REPORTS", "0s"),
            ("RETENTION_EXPIRED_RECORDS", "soon"),
        ] {
            let err = read(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
        }
    }
}
