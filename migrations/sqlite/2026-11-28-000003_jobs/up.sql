-- Scheduled jobs: leases, the daily report, download statistics.

CREATE TABLE job_leases (
  name TEXT NOT NULL PRIMARY KEY,
  holder TEXT NOT NULL,
  expires_at TEXT NOT NULL
);

CREATE TABLE daily_reports (
  day TEXT NOT NULL PRIMARY KEY,
  downloads_total BIGINT NOT NULL,
  downloads_downloading BIGINT NOT NULL,
  downloads_completed BIGINT NOT NULL,
  downloads_failed BIGINT NOT NULL,
  downloads_expired BIGINT NOT NULL,
  completed_bytes BIGINT NOT NULL,
  new_favorites BIGINT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE music_download_stats (
  music_id TEXT NOT NULL PRIMARY KEY,
  downloads_7d BIGINT NOT NULL,
  downloads_30d BIGINT NOT NULL,
  refreshed_at TEXT NOT NULL
);
