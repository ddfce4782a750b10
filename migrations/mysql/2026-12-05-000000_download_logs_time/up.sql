-- The retention job deletes download logs by age, 1,000 at a time: without an index
-- that starts with the time, each batch would scan the table. Expand only.

ALTER TABLE download_logs ADD KEY idx_download_time (download_time);
