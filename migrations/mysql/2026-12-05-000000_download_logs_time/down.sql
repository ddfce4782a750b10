ALTER TABLE download_logs DROP KEY idx_download_time;
