-- A track an operator retires stays in the catalogue (records and favorites keep its
-- title) but is shown and granted to no one. Expand only: older instances ignore it.

ALTER TABLE music_files ADD COLUMN retired_at TEXT NULL;
