DROP TABLE music_download_stats;
DROP TABLE daily_reports;
DROP TABLE job_leases;
