-- The retention job deletes download logs by age, 1,000 at a time: without an index
-- that starts with the time, each batch would scan the table. Expand only.

CREATE INDEX idx_download_logs_download_time ON download_logs (download_time);
