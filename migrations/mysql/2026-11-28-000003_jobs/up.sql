-- Scheduled jobs: leases (the job lock without Redis), the daily report, and the
-- download statistics the six-hourly job refreshes.

CREATE TABLE job_leases (
  name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  holder VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='定时任务租约';

CREATE TABLE daily_reports (
  day DATE NOT NULL COMMENT 'APP_TIMEZONE 的日期',
  downloads_total BIGINT NOT NULL,
  downloads_downloading BIGINT NOT NULL,
  downloads_completed BIGINT NOT NULL,
  downloads_failed BIGINT NOT NULL,
  downloads_expired BIGINT NOT NULL,
  completed_bytes BIGINT NOT NULL,
  new_favorites BIGINT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='每日报告';

CREATE TABLE music_download_stats (
  music_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  downloads_7d BIGINT NOT NULL,
  downloads_30d BIGINT NOT NULL,
  refreshed_at DATETIME(6) NOT NULL,
  PRIMARY KEY (music_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='下载统计(缓存)';
