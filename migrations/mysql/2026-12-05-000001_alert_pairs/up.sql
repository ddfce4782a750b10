-- When each (address, user) pair was last alerted as abnormal, so that the alerts job,
-- run every 5 minutes on whichever instance holds its lock, alerts a pair at most once
-- an hour. The retention job deletes rows older than a day.

CREATE TABLE alert_pairs (
  ip_address VARCHAR(45) NOT NULL,
  user_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '空串: 未知令牌',
  alerted_at DATETIME(6) NOT NULL,
  PRIMARY KEY (ip_address, user_id),
  KEY idx_alerted_at (alerted_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='异常告警的发送记录';
