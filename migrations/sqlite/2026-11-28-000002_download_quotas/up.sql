-- Daily download quotas: distinct grants per day, and a counter raised conditionally.

CREATE TABLE download_grant_days (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  day TEXT NOT NULL,
  music_id TEXT NOT NULL,
  quality TEXT NOT NULL CHECK (quality IN ('standard', 'high', 'lossless')),
  granted_at TEXT NOT NULL,
  PRIMARY KEY (user_id, day, music_id, quality)
);
CREATE INDEX idx_download_grant_days_day ON download_grant_days (day);

CREATE TABLE daily_grant_counters (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  day TEXT NOT NULL,
  grants INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day)
);
CREATE INDEX idx_daily_grant_counters_day ON daily_grant_counters (day);
