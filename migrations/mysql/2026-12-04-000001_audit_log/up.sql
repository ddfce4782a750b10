-- The audit log: every change made through the admin API, /internal or a job to a
-- user's account or the catalogue, written in the change's own transaction.

CREATE TABLE audit_log (
  id VARCHAR(30) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  at DATETIME(6) NOT NULL,
  actor VARCHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT '管理员用户 id、internal 或 system',
  action VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  target VARCHAR(48) CHARACTER SET ascii COLLATE ascii_bin NOT NULL COMMENT 'user:<id> 或 music:<id>',
  before_state MEDIUMTEXT NULL COMMENT '变更前(JSON)',
  after_state MEDIUMTEXT NULL COMMENT '变更后(JSON)',
  request_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
  PRIMARY KEY (id),
  KEY idx_audit_at (at, id),
  KEY idx_audit_target (target, at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='审计日志';
