DROP TABLE download_logs;
DROP TABLE download_tokens;
DROP TABLE user_downloads;
DROP TABLE user_favorites;
DROP TABLE music_assets;
DROP TABLE music_files;
DROP TABLE users;
