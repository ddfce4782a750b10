DROP TABLE daily_grant_counters;
DROP TABLE download_grant_days;
