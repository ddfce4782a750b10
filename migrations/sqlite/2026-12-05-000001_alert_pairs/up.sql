-- When each (address, user) pair was last alerted as abnormal, so that the alerts job,
-- run every 5 minutes on whichever instance holds its lock, alerts a pair at most once
-- an hour. The retention job deletes rows older than a day.

CREATE TABLE alert_pairs (
  ip_address TEXT NOT NULL,
  user_id TEXT NOT NULL,
  alerted_at TEXT NOT NULL,
  PRIMARY KEY (ip_address, user_id)
);
CREATE INDEX idx_alert_pairs_alerted_at ON alert_pairs (alerted_at);
