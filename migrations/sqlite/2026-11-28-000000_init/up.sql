-- The model of migrations/mysql in SQLite's types. Times are UTC text
-- ('YYYY-MM-DD HH:MM:SS[.ffffff]'), which sorts in time order.

CREATE TABLE users (
  id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 36),
  nickname TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'banned')),
  subscription_type TEXT NOT NULL DEFAULT 'free' CHECK (subscription_type IN ('free', 'trial', 'premium', 'vip')),
  has_premium_access BOOLEAN NOT NULL DEFAULT 0,
  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE music_files (
  id TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 36),
  title TEXT NOT NULL,
  cover TEXT NOT NULL DEFAULT '',
  duration INTEGER NOT NULL DEFAULT 0,
  category TEXT NULL,
  premium_required BOOLEAN NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE music_assets (
  music_id TEXT NOT NULL REFERENCES music_files (id) ON DELETE CASCADE,
  quality TEXT NOT NULL CHECK (quality IN ('standard', 'high', 'lossless')),
  object_key TEXT NOT NULL,
  file_size BIGINT NOT NULL,
  PRIMARY KEY (music_id, quality)
);

CREATE TABLE user_favorites (
  id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  item_id TEXT NOT NULL CHECK (length(item_id) BETWEEN 1 AND 36),
  item_type TEXT NOT NULL CHECK (item_type IN ('music', 'assessment', 'sequence')),
  item_data TEXT NOT NULL CHECK (json_valid(item_data)),
  search_title TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  UNIQUE (user_id, item_id)
);
CREATE INDEX idx_user_favorites_user_type ON user_favorites (user_id, item_type);
CREATE INDEX idx_user_favorites_user_created ON user_favorites (user_id, created_at, id);
CREATE INDEX idx_user_favorites_created_at ON user_favorites (created_at);

CREATE TABLE user_downloads (
  id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  music_id TEXT NOT NULL REFERENCES music_files (id) ON DELETE CASCADE,
  download_token TEXT NULL,
  file_size BIGINT NOT NULL DEFAULT 0,
  quality TEXT NOT NULL DEFAULT 'standard' CHECK (quality IN ('standard', 'high', 'lossless')),
  status TEXT NOT NULL DEFAULT 'downloading' CHECK (status IN ('downloading', 'completed', 'failed', 'expired')),
  progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  download_time TEXT NOT NULL,
  completed_time TEXT NULL,
  expires_at TEXT NULL,
  error_message TEXT NULL,
  UNIQUE (user_id, music_id, quality)
);
CREATE INDEX idx_user_downloads_user_status ON user_downloads (user_id, status);
CREATE INDEX idx_user_downloads_download_time ON user_downloads (download_time);
CREATE INDEX idx_user_downloads_expires_at ON user_downloads (expires_at);

CREATE TABLE download_tokens (
  id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  music_id TEXT NOT NULL REFERENCES music_files (id) ON DELETE CASCADE,
  token TEXT NOT NULL UNIQUE,
  download_url TEXT NOT NULL,
  quality TEXT NOT NULL DEFAULT 'standard' CHECK (quality IN ('standard', 'high', 'lossless')),
  expires_at TEXT NOT NULL,
  max_downloads INTEGER NOT NULL DEFAULT 3,
  download_count INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  last_accessed_at TEXT NULL
);
CREATE INDEX idx_download_tokens_expires ON download_tokens (expires_at);
CREATE INDEX idx_download_tokens_user_music ON download_tokens (user_id, music_id);

CREATE TABLE download_logs (
  id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL,
  music_id TEXT NOT NULL,
  download_token TEXT NULL,
  ip_address TEXT NOT NULL,
  user_agent TEXT NULL,
  download_size BIGINT NOT NULL DEFAULT 0,
  download_time TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'started' CHECK (status IN ('started', 'completed', 'failed', 'cancelled')),
  error_code TEXT NULL,
  error_message TEXT NULL
);
CREATE INDEX idx_download_logs_user_time ON download_logs (user_id, download_time);
CREATE INDEX idx_download_logs_music_time ON download_logs (music_id, download_time);
CREATE INDEX idx_download_logs_ip_time ON download_logs (ip_address, download_time);
CREATE INDEX idx_download_logs_status ON download_logs (status);
