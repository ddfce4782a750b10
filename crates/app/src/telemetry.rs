//! Logging: `tracing` to stdout, pretty in a terminal or JSON for collectors (with the
//! request's span, so its `request_id`, on every line), filtered by `LOG_LEVEL`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Settings};

/// Dependencies whose INFO lines are their own internals (the cron scheduler announces
/// each job it creates): at the default levels they speak from WARN up. A `LOG_LEVEL`
/// naming them (`tokio_cron_scheduler=debug`) still wins.
const QUIET_DEPENDENCIES: &[&str] = &["tokio_cron_scheduler=warn"];

/// The filter of `LOG_LEVEL`, with the quiet dependencies' directives first.
fn filter(log_level: &str) -> EnvFilter {
    let quiet = QUIET_DEPENDENCIES
        .iter()
        .filter(|d| {
            let target = d.split('=').next().unwrap_or_default();
            !log_level.contains(target)
        })
        .copied();
    let directives: Vec<&str> = quiet.chain(std::iter::once(log_level)).collect();
    EnvFilter::try_new(directives.join(","))
        .or_else(|_| EnvFilter::try_new(log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber (once per process; later calls do nothing).
pub fn init(settings: &Settings) {
    let filter = filter(&settings.log_level);
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_chatter_below_warn_is_filtered_unless_asked_for() {
        let f = filter("info").to_string();
        assert!(f.contains("tokio_cron_scheduler=warn"), "{f}");
        let f = filter("info,tokio_cron_scheduler=debug").to_string();
        assert!(!f.contains("tokio_cron_scheduler=warn"), "{f}");
    }
}
