//! The tables, as diesel sees them. One schema serves both backends: enumerations are
//! text, times are `Timestamp` (MySQL `DATETIME(6)`, SQLite text), JSON is text.

diesel::table! {
    users (id) {
        id -> Text,
        nickname -> Text,
        status -> Text,
        subscription_type -> Text,
        has_premium_access -> Bool,
        role -> Text,
        created_at -> Timestamp,
        favorites_version -> BigInt,
    }
}

diesel::table! {
    music_files (id) {
        id -> Text,
        title -> Text,
        cover -> Text,
        duration -> Integer,
        category -> Nullable<Text>,
        premium_required -> Bool,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        target -> Text,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    music_assets (music_id, quality) {
        music_id -> Text,
        quality -> Text,
        object_key -> Text,
        file_size -> BigInt,
    }
}

diesel::table! {
    user_favorites (id) {
        id -> Text,
        user_id -> Text,
        item_id -> Text,
        item_type -> Text,
        item_data -> Text,
        search_title -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    favorite_tombstones (user_id, item_id) {
        user_id -> Text,
        item_id -> Text,
        removed_at -> Timestamp,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    user_downloads (id) {
        id -> Text,
        user_id -> Text,
        music_id -> Text,
        download_token -> Nullable<Text>,
        file_size -> BigInt,
        quality -> Text,
        status -> Text,
        progress -> Integer,
        download_time -> Timestamp,
        completed_time -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        error_message -> Nullable<Text>,
    }
}

diesel::table! {
    download_tokens (id) {
        id -> Text,
        user_id -> Text,
        music_id -> Text,
        token -> Text,
        download_url -> Text,
        quality -> Text,
        expires_at -> Timestamp,
        max_downloads -> Integer,
        download_count -> Integer,
        created_at -> Timestamp,
        last_accessed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    download_logs (id) {
        id -> Text,
        user_id -> Text,
        music_id -> Text,
        download_token -> Nullable<Text>,
        ip_address -> Text,
        user_agent -> Nullable<Text>,
        download_size -> BigInt,
        download_time -> Timestamp,
        status -> Text,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
    }
}

diesel::table! {
    download_grant_days (user_id, day, music_id, quality) {
        user_id -> Text,
        day -> Date,
        music_id -> Text,
        quality -> Text,
        granted_at -> Timestamp,
    }
}

diesel::table! {
    daily_grant_counters (user_id, day) {
        user_id -> Text,
        day -> Date,
        grants -> Integer,
    }
}

diesel::table! {
    alert_pairs (ip_address, user_id) {
        ip_address -> Text,
        user_id -> Text,
        alerted_at -> Timestamp,
    }
}

diesel::table! {
    job_leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    daily_reports (day) {
        day -> Date,
        downloads_total -> BigInt,
        downloads_downloading -> BigInt,
        downloads_completed -> BigInt,
        downloads_failed -> BigInt,
        downloads_expired -> BigInt,
        completed_bytes -> BigInt,
        new_favorites -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    music_download_stats (music_id) {
        music_id -> Text,
        downloads_7d -> BigInt,
        downloads_30d -> BigInt,
        refreshed_at -> Timestamp,
    }
}

diesel::joinable!(user_downloads -> music_files (music_id));
diesel::joinable!(user_favorites -> users (user_id));
diesel::joinable!(favorite_tombstones -> users (user_id));
diesel::joinable!(music_assets -> music_files (music_id));
diesel::allow_tables_to_appear_in_same_query!(
    alert_pairs,
    audit_log,
    users,
    music_files,
    music_assets,
    user_favorites,
    favorite_tombstones,
    user_downloads,
    download_tokens,
    download_logs,
    download_grant_days,
    daily_grant_counters,
    job_leases,
    daily_reports,
    music_download_stats
);
