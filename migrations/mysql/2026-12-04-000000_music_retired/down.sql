ALTER TABLE music_files DROP COLUMN retired_at;
