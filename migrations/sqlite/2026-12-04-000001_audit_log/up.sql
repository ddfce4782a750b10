-- The audit log: every change made through the admin API, /internal or a job to a
-- user's account or the catalogue, written in the change's own transaction.

CREATE TABLE audit_log (
  id TEXT NOT NULL PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  before_state TEXT NULL,
  after_state TEXT NULL,
  request_id TEXT NULL
);
CREATE INDEX idx_audit_at ON audit_log (at, id);
CREATE INDEX idx_audit_target ON audit_log (target, at, id);
