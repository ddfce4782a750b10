-- Offline sync: a tombstone for every removal, and a per-user version of the favorites
-- whose row is also the lock that serializes one user's favorites writes.

ALTER TABLE users
  ADD COLUMN favorites_version BIGINT NOT NULL DEFAULT 0 COMMENT '收藏版本(每次收藏写入加一)';

CREATE TABLE favorite_tombstones (
  user_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '用户ID',
  item_id VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '被取消收藏的项目ID',
  removed_at DATETIME(6) NOT NULL COMMENT '取消收藏的时间(变更时间)',
  recorded_at DATETIME(6) NOT NULL COMMENT '服务器记录的时间',
  PRIMARY KEY (user_id, item_id),
  KEY idx_user_recorded (user_id, recorded_at),
  KEY idx_recorded_at (recorded_at),
  CONSTRAINT fk_favorite_tombstones_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='收藏删除记录(同步用)';
