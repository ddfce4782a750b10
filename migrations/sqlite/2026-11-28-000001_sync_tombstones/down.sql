DROP TABLE favorite_tombstones;
ALTER TABLE users DROP COLUMN favorites_version;
