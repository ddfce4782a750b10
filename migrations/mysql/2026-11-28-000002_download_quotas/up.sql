-- Daily download quotas, decided in the database: one row per distinct (track, quality)
-- granted on a day (a same-day repeat finds its row and does not count again), and one
-- counter per user and day, raised only by a conditional UPDATE below the plan's limit.

CREATE TABLE download_grant_days (
  user_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  day DATE NOT NULL COMMENT 'APP_TIMEZONE 的日期',
  music_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  quality ENUM('standard', 'high', 'lossless') NOT NULL,
  granted_at DATETIME(6) NOT NULL,
  PRIMARY KEY (user_id, day, music_id, quality),
  KEY idx_day (day),
  CONSTRAINT fk_download_grant_days_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='每日已授权的下载(去重)';

CREATE TABLE daily_grant_counters (
  user_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  day DATE NOT NULL,
  grants INT NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day),
  KEY idx_day (day),
  CONSTRAINT fk_daily_grant_counters_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='每日下载授权计数';
