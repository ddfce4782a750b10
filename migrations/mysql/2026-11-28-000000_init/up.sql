-- Users, catalogue, favorites and downloads (SPEC §6). Ids are ASCII and compared
-- byte for byte; text that people write is utf8mb4.

CREATE TABLE users (
  id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  nickname VARCHAR(64) NOT NULL DEFAULT '',
  status ENUM('active', 'disabled', 'banned') NOT NULL DEFAULT 'active',
  subscription_type ENUM('free', 'trial', 'premium', 'vip') NOT NULL DEFAULT 'free',
  has_premium_access BOOLEAN NOT NULL DEFAULT FALSE,
  role ENUM('user', 'admin') NOT NULL DEFAULT 'user',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='用户表';

CREATE TABLE music_files (
  id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  title VARCHAR(200) NOT NULL,
  cover VARCHAR(2048) NOT NULL DEFAULT '',
  duration INT NOT NULL DEFAULT 0 COMMENT '时长(秒)',
  category VARCHAR(64) NULL,
  premium_required BOOLEAN NOT NULL DEFAULT FALSE,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='音乐目录';

CREATE TABLE music_assets (
  music_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  quality ENUM('standard', 'high', 'lossless') NOT NULL,
  object_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  file_size BIGINT NOT NULL COMMENT '文件大小(字节)',
  PRIMARY KEY (music_id, quality),
  CONSTRAINT fk_music_assets_music FOREIGN KEY (music_id) REFERENCES music_files (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='音乐文件(各音质)';

CREATE TABLE user_favorites (
  id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '收藏记录ID',
  user_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '用户ID',
  item_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '收藏项目ID',
  item_type ENUM('music', 'assessment', 'sequence') NOT NULL COMMENT '收藏类型',
  item_data JSON NOT NULL COMMENT '项目详细信息',
  search_title VARCHAR(400) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL COMMENT '小写标题(搜索用)',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) COMMENT '收藏时间',
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) COMMENT '更新时间',
  PRIMARY KEY (id),
  UNIQUE KEY unique_user_item (user_id, item_id),
  KEY idx_user_type (user_id, item_type),
  KEY idx_user_created (user_id, created_at, id),
  KEY idx_created_at (created_at),
  CONSTRAINT fk_user_favorites_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='用户收藏表';

CREATE TABLE user_downloads (
  id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '下载记录ID',
  user_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '用户ID',
  music_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '音乐ID',
  download_token VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT '下载令牌(哈希)',
  file_size BIGINT NOT NULL DEFAULT 0 COMMENT '文件大小(字节)',
  quality ENUM('standard', 'high', 'lossless') NOT NULL DEFAULT 'standard' COMMENT '音质',
  status ENUM('downloading', 'completed', 'failed', 'expired') NOT NULL DEFAULT 'downloading' COMMENT '下载状态',
  progress TINYINT NOT NULL DEFAULT 0 COMMENT '下载进度(0-100)',
  download_time DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) COMMENT '开始下载时间',
  completed_time DATETIME(6) NULL COMMENT '完成时间',
  expires_at DATETIME(6) NULL COMMENT '下载链接过期时间',
  error_message TEXT NULL COMMENT '错误信息',
  PRIMARY KEY (id),
  UNIQUE KEY unique_user_music_quality (user_id, music_id, quality),
  KEY idx_user_status (user_id, status),
  KEY idx_download_time (download_time),
  KEY idx_expires_at (expires_at),
  CONSTRAINT fk_user_downloads_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_user_downloads_music FOREIGN KEY (music_id) REFERENCES music_files (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='用户下载记录表';

CREATE TABLE download_tokens (
  id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '令牌ID',
  user_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '用户ID',
  music_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '音乐ID',
  token VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '下载令牌的 SHA-256',
  download_url TEXT NOT NULL COMMENT '下载链接',
  quality ENUM('standard', 'high', 'lossless') NOT NULL DEFAULT 'standard' COMMENT '音质',
  expires_at DATETIME(6) NOT NULL COMMENT '过期时间',
  max_downloads INT NOT NULL DEFAULT 3 COMMENT '最大下载次数',
  download_count INT NOT NULL DEFAULT 0 COMMENT '已下载次数',
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) COMMENT '创建时间',
  last_accessed_at DATETIME(6) NULL COMMENT '最后访问时间',
  PRIMARY KEY (id),
  UNIQUE KEY unique_token (token),
  KEY idx_expires (expires_at),
  KEY idx_user_music (user_id, music_id),
  CONSTRAINT fk_download_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
  CONSTRAINT fk_download_tokens_music FOREIGN KEY (music_id) REFERENCES music_files (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='下载令牌表';

CREATE TABLE download_logs (
  id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '日志ID',
  user_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '用户ID',
  music_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '音乐ID',
  download_token VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL COMMENT '使用的令牌(哈希)',
  ip_address VARCHAR(45) NOT NULL COMMENT 'IP地址',
  user_agent TEXT NULL COMMENT '用户代理',
  download_size BIGINT NOT NULL DEFAULT 0 COMMENT '下载字节数',
  download_time DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) COMMENT '下载时间',
  status ENUM('started', 'completed', 'failed', 'cancelled') NOT NULL DEFAULT 'started' COMMENT '下载状态',
  error_code VARCHAR(32) NULL COMMENT '错误代码',
  error_message TEXT NULL COMMENT '错误信息',
  PRIMARY KEY (id),
  KEY idx_user_time (user_id, download_time),
  KEY idx_music_time (music_id, download_time),
  KEY idx_ip_time (ip_address, download_time),
  KEY idx_status (status)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='下载访问日志表';
