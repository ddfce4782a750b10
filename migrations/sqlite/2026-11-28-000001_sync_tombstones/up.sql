-- Offline sync: a tombstone for every removal, and a per-user version of the favorites.

ALTER TABLE users ADD COLUMN favorites_version BIGINT NOT NULL DEFAULT 0;

CREATE TABLE favorite_tombstones (
  user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  item_id TEXT NOT NULL,
  removed_at TEXT NOT NULL,
  recorded_at TEXT NOT NULL,
  PRIMARY KEY (user_id, item_id)
);
CREATE INDEX idx_favorite_tombstones_user_recorded ON favorite_tombstones (user_id, recorded_at);
CREATE INDEX idx_favorite_tombstones_recorded_at ON favorite_tombstones (recorded_at);
