//! Telling every instance that a user changed: a `PUBLISH` on the channel
//! `{prefix}users:changed` with the user's id, and a subscriber per instance that makes
//! its auth cache forget the user. An instance that misses a message (Redis away, its
//! subscriber reconnecting) still forgets the user when its cache entry expires
//! (`AUTH_CACHE_TTL`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use soundshelf_domain::UserId;
use soundshelf_ports::UserEvents;

use crate::Redis;

/// How long the subscriber waits before reconnecting after losing Redis.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The [`UserEvents`] of a deployment with Redis.
#[derive(Debug, Clone)]
pub struct RedisUserEvents(pub Redis);

impl Redis {
    fn users_channel(&self) -> String {
        self.key("users:changed")
    }

    /// Runs, until the returned task is aborted, a subscriber that calls `forget` with
    /// every user id published on the users channel (by any instance, this one
    /// included), reconnecting after a loss of Redis.
    pub fn subscribe_user_changes(
        &self,
        forget: Arc<dyn Fn(&UserId) + Send + Sync>,
    ) -> tokio::task::JoinHandle<()> {
        let (url, channel) = (self.url.clone(), self.users_channel());
        self.runtime.spawn(async move {
            loop {
                match listen(&url, &channel, forget.as_ref()).await {
                    Ok(()) => tracing::warn!("redis subscription ended; resubscribing"),
                    Err(e) => tracing::warn!(error = %e, "redis subscription lost; resubscribing"),
                }
                tokio::time::sleep(RECONNECT_AFTER).await;
            }
        })
    }
}

async fn listen(
    url: &str,
    channel: &str,
    forget: &(dyn Fn(&UserId) + Send + Sync),
) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let Ok(raw) = message.get_payload::<String>() else {
            continue;
        };
        // Only well-formed ids: anything else on the channel is ignored.
        if let Ok(id) = UserId::parse(&raw) {
            forget(&id);
        }
    }
    Ok(())
}

#[async_trait]
impl UserEvents for RedisUserEvents {
    async fn user_changed(&self, id: &UserId) {
        let (channel, id) = (self.0.users_channel(), id.as_str().to_owned());
        let sent = self
            .0
            .run(move |mut c| async move {
                redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(&id)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "could not tell other instances that a user changed");
        }
    }
}
