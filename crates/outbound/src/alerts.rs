//! Alert delivery (SPEC §12): each alert goes to every configured receiver — webhooks
//! in the `json` shape (signed like `/internal` requests) or a WeCom, DingTalk or Feishu
//! group robot's, and mail through SMTP — on background tasks, each with a timeout per
//! attempt and a bounded number of attempts with doubling back-off. Sending returns at
//! once; a slow or dead receiver costs only its own task. Outcomes are counted in
//! `/metrics` as `alert_deliveries_total{receiver,outcome}` (`delivered`, `retried`,
//! `failed`, `dropped`). Receiver URLs are never logged: robots carry their key in it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use ring::hmac;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use soundshelf_domain::alerts::{Alert, WebhookFormat};
use soundshelf_ports::{AlertSink, BoxError};
use soundshelf_signers::internal::{HEADER, RequestSigner};
use tokio::sync::Notify;

/// A webhook receiver.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Where to `POST` (robots: with their key or token in it).
    pub url: SecretString,
    /// The message shape.
    pub format: WebhookFormat,
    /// `json`: the key of `X-Signature`; DingTalk and Feishu: the robot's signing secret
    /// (their "加签"); WeCom: unused.
    pub secret: Option<SecretString>,
}

/// Mail through an SMTP server.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `smtp://[user:password@]host[:port]` or `smtps://…` (lettre's URL form).
    pub smtp_url: SecretString,
    /// The sender address.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Retries {
    /// Attempts per alert and receiver, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles before each later one.
    pub backoff: Duration,
    /// How long one attempt may take, connecting included.
    pub timeout: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            attempts: 5,
            backoff: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Deliveries queued or under way beyond which new ones are dropped (and counted): a
/// receiver that is down for long must not make the queue grow without bound.
const MAX_PENDING: usize = 1_000;

#[derive(Debug, Clone)]
enum Receiver {
    Webhook { index: usize, hook: Webhook },
    Mail(Mail),
}

impl Receiver {
    /// How it is named in logs and metrics: `webhook1/wecom`, `mail`.
    fn label(&self) -> String {
        match self {
            Receiver::Webhook { index, hook } => {
                format!("webhook{}/{}", index + 1, hook.format.as_str())
            }
            Receiver::Mail(_) => "mail".to_owned(),
        }
    }
}

#[derive(Debug, Default)]
struct Pending {
    count: AtomicUsize,
    idle: Notify,
}

impl Pending {
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// The alert receivers, as the [`AlertSink`] port.
#[derive(Clone)]
pub struct AlertDispatcher {
    receivers: Arc<Vec<Receiver>>,
    retries: Retries,
    client: reqwest::Client,
    mailer: Option<AsyncSmtpTransport<Tokio1Executor>>,
    runtime: tokio::runtime::Handle,
    pending: Arc<Pending>,
}

impl std::fmt::Debug for AlertDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertDispatcher")
            .field(
                "receivers",
                &self
                    .receivers
                    .iter()
                    .map(Receiver::label)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AlertDispatcher {
    /// Delivers to `webhooks` and `mail` on the current Tokio runtime. An error when the
    /// SMTP URL cannot be used.
    pub fn start(
        webhooks: Vec<Webhook>,
        mail: Option<Mail>,
        retries: Retries,
    ) -> Result<Self, BoxError> {
        let client = crate::http::client_builder()
            .timeout(retries.timeout)
            .connect_timeout(retries.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Box::new(e.without_url()))?;
        let mailer = match &mail {
            Some(m) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(m.smtp_url.expose_secret())
                    .map_err(|_| "SMTP_URL is not an smtp:// or smtps:// URL lettre can use")?
                    .timeout(Some(retries.timeout))
                    .build(),
            ),
            None => None,
        };
        let mut receivers: Vec<Receiver> = webhooks
            .into_iter()
            .enumerate()
            .map(|(index, hook)| Receiver::Webhook { index, hook })
            .collect();
        receivers.extend(mail.map(Receiver::Mail));
        // Every series exists from the start, so `increase()` sees the first failure.
        for receiver in &receivers {
            for outcome in ["delivered", "retried", "failed", "dropped"] {
                count_by(&receiver.label(), outcome, 0);
            }
        }
        Ok(Self {
            receivers: Arc::new(receivers),
            retries,
            client,
            mailer,
            runtime: tokio::runtime::Handle::try_current()?,
            pending: Arc::default(),
        })
    }

    async fn deliver(&self, receiver: &Receiver, alert: &Alert) {
        let label = receiver.label();
        let mut wait = self.retries.backoff;
        for attempt in 1..=self.retries.attempts.max(1) {
            let result = match receiver {
                Receiver::Webhook { hook, .. } => self.post(hook, alert).await,
                Receiver::Mail(mail) => self.mail(mail, alert).await,
            };
            match result {
                Ok(()) => {
                    count(&label, "delivered");
                    return;
                }
                Err(why) if attempt < self.retries.attempts => {
                    count(&label, "retried");
                    tracing::info!(receiver = %label, attempt, %why, "alert not delivered; retrying");
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                Err(why) => {
                    count(&label, "failed");
                    tracing::warn!(receiver = %label, attempt, %why, kind = alert.kind(), "alert not delivered; giving up");
                }
            }
        }
    }

    async fn post(&self, hook: &Webhook, alert: &Alert) -> Result<(), String> {
        let now = time::OffsetDateTime::now_utc();
        let mut url = hook.url.expose_secret().to_owned();
        let secret = hook.secret.as_ref().map(|s| s.expose_secret().as_bytes());
        let text = format!("{}\n{}", alert.title(), alert.text());
        let body: Value = match hook.format {
            WebhookFormat::Json => alert.payload(),
            WebhookFormat::WeCom => json!({"msgtype": "text", "text": {"content": text}}),
            WebhookFormat::DingTalk => {
                if let Some(secret) = secret {
                    let ms = now.unix_timestamp() * 1000 + i64::from(now.millisecond());
                    let sign = hmac_base64(secret, format!("{ms}\n").as_bytes(), secret);
                    let sign = percent_encoding::utf8_percent_encode(
                        &sign,
                        percent_encoding::NON_ALPHANUMERIC,
                    );
                    url.push(if url.contains('?') { '&' } else { '?' });
                    url.push_str(&format!("timestamp={ms}&sign={sign}"));
                }
                json!({"msgtype": "text", "text": {"content": text}})
            }
            WebhookFormat::Feishu => {
                let mut body = json!({"msg_type": "text", "content": {"text": text}});
                if let Some(secret) = secret {
                    let t = now.unix_timestamp();
                    // Feishu keys the HMAC with "timestamp\nsecret" and signs nothing.
                    let key = [format!("{t}\n").as_bytes(), secret].concat();
                    body["timestamp"] = json!(t.to_string());
                    body["sign"] = json!(hmac_base64(&key, b"", b""));
                }
                body
            }
        };
        let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let (WebhookFormat::Json, Some(secret)) = (hook.format, secret) {
            request = request.header(
                HEADER,
                RequestSigner::new(secret).sign(now.unix_timestamp(), &bytes),
            );
        }
        let answer = request
            .body(bytes)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = answer.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        // The robots answer 200 with an error code in the body (a wrong key, a rate
        // limit); a body that is not JSON is taken as accepted.
        let reply: Value = answer.json().await.unwrap_or(Value::Null);
        let code = match hook.format {
            WebhookFormat::Json => None,
            WebhookFormat::WeCom | WebhookFormat::DingTalk => reply.get("errcode"),
            WebhookFormat::Feishu => reply.get("code").or_else(|| reply.get("StatusCode")),
        };
        match code.and_then(Value::as_i64) {
            Some(0) | None => Ok(()),
            Some(code) => Err(format!("answered error code {code}")),
        }
    }

    async fn mail(&self, mail: &Mail, alert: &Alert) -> Result<(), String> {
        let mailer = self.mailer.as_ref().ok_or("no mailer")?;
        let mut message = Message::builder()
            .from(mail.from.parse().map_err(|e| format!("sender: {e}"))?)
            .subject(alert.title())
            .header(ContentType::TEXT_PLAIN);
        for to in &mail.to {
            message = message.to(to.parse().map_err(|e| format!("recipient: {e}"))?);
        }
        let message = message.body(alert.text()).map_err(|e| e.to_string())?;
        mailer
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }
}

/// base64 of HMAC-SHA256 under `key` of `a` then `b`.
fn hmac_base64(key: &[u8], a: &[u8], b: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, key));
    ctx.update(a);
    ctx.update(b);
    STANDARD.encode(ctx.sign().as_ref())
}

fn count(receiver: &str, outcome: &'static str) {
    count_by(receiver, outcome, 1);
}

fn count_by(receiver: &str, outcome: &'static str, n: u64) {
    metrics::counter!(
        "alert_deliveries_total",
        "receiver" => receiver.to_owned(),
        "outcome" => outcome
    )
    .increment(n);
}

#[async_trait]
impl AlertSink for AlertDispatcher {
    fn send(&self, alert: Alert) {
        for receiver in self.receivers.iter() {
            if self.pending.count.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING {
                self.pending.done();
                count(&receiver.label(), "dropped");
                tracing::warn!(receiver = %receiver.label(), "alert dropped: too many deliveries pending");
                continue;
            }
            let (this, receiver, alert) = (self.clone(), receiver.clone(), alert.clone());
            self.runtime.spawn(async move {
                this.deliver(&receiver, &alert).await;
                this.pending.done();
            });
        }
    }

    async fn flush(&self, within: Duration) -> bool {
        tokio::time::timeout(within, async {
            loop {
                let idle = self.pending.idle.notified();
                if self.pending.count.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        })
        .await
        .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The robots' "加签": DingTalk signs `"{timestamp_ms}\n{secret}"` with the secret,
    /// Feishu signs nothing with the key `"{timestamp_s}\n{secret}"`; both HMAC-SHA256 in
    /// base64. Vectors from Python's `hmac` (an independent implementation).
    #[test]
    fn robot_signatures_match_an_independent_implementation() {
        let secret = b"SEC-robot-secret";
        assert_eq!(
            hmac_base64(secret, b"1700000000000\n", secret),
            "bClpvpB2Gj/FOaJJeMcab/Q0RvRnBQ12fYYY6+OXL8c="
        );
        let key = [b"1700000000\n".as_slice(), secret].concat();
        assert_eq!(
            hmac_base64(&key, b"", b""),
            "2xl3o6y8RygdV6/XsUjpBM8L9EcwZg6APB93aTvXzEY="
        );
    }
}
