//! `soundshelf catalog import FILE`: reading a catalogue file — CSV with a header row, or
//! a JSON array — into checked tracks. Every row is checked before anything is written,
//! by the rules of `PUT /api/admin/music/{music_id}` (each row becomes that body), and
//! each bad row is named with its number and the field at fault.
//!
//! CSV columns: `id`, `title`, `cover`, `duration`, `category`, `premium_required`
//! (`true`/`false`/`1`/`0`), then `standard_key`, `standard_size`, `high_key`,
//! `high_size`, `lossless_key`, `lossless_size` (a quality with both cells empty is
//! absent). JSON: `[{"id", "title", "cover"?, "duration", "category"?,
//! "premium_required", "assets": [{"quality", "object_key", "file_size"}]}, …]`.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value, json};
use soundshelf_domain::catalog::CatalogTrack;
use soundshelf_domain::{CatalogId, Quality};

use crate::bodies::{Object, PutMusicBody};

/// A bad row: its number (the first data row is 1; a CSV header is not counted) and
/// what is wrong, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based.
    pub row: usize,
    /// The message, naming the field.
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}: {}", self.row, self.message)
    }
}

/// Reads `path` (`.csv`, or `.json`; otherwise by its first character) into tracks, or
/// every bad row. `Err` with row 0 when the file itself cannot be read.
pub fn read(path: &Path) -> Result<Vec<CatalogTrack>, Vec<RowError>> {
    let whole = |message: String| vec![RowError { row: 0, message }];
    let text = std::fs::read_to_string(path).map_err(|e| whole(format!("cannot read: {e}")))?;
    let is_json = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("csv") => false,
        _ => text.trim_start().starts_with('['),
    };
    let rows = if is_json {
        json_rows(&text).map_err(whole)?
    } else {
        csv_rows(&text).map_err(whole)?
    };
    check(rows)
}

fn json_rows(text: &str) -> Result<Vec<Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(rows)) => Ok(rows),
        Ok(_) => Err("a JSON catalogue must be an array of tracks".into()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

/// Each CSV record as the JSON body of a put: numbers and booleans where they parse
/// (else kept as text, which the body's rules then name as invalid).
fn csv_rows(text: &str) -> Result<Vec<Value>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| format!("bad CSV header: {e}"))?
        .clone();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("row {}: bad CSV: {e}", i + 1))?;
        let cell = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|at| record.get(at))
                .filter(|v| !v.is_empty())
        };
        let number = |v: &str| v.parse::<u64>().map_or_else(|_| json!(v), |n| json!(n));
        let mut row = Map::new();
        for (name, value) in [
            ("id", cell("id").map(|v| json!(v))),
            ("title", cell("title").map(|v| json!(v))),
            ("cover", cell("cover").map(|v| json!(v))),
            ("duration", cell("duration").map(number)),
            ("category", cell("category").map(|v| json!(v))),
            (
                "premium_required",
                cell("premium_required").map(|v| match v {
                    "true" | "1" => json!(true),
                    "false" | "0" => json!(false),
                    other => json!(other),
                }),
            ),
        ] {
            if let Some(value) = value {
                row.insert(name.to_owned(), value);
            }
        }
        let mut assets = Vec::new();
        for q in Quality::ALL {
            let key = cell(&format!("{}_key", q.as_str()));
            let size = cell(&format!("{}_size", q.as_str()));
            if key.is_none() && size.is_none() {
                continue;
            }
            let mut asset = Map::new();
            asset.insert("quality".into(), json!(q.as_str()));
            if let Some(k) = key {
                asset.insert("object_key".into(), json!(k));
            }
            if let Some(n) = size {
                asset.insert("file_size".into(), number(n));
            }
            assets.push(Value::Object(asset));
        }
        row.insert("assets".into(), Value::Array(assets));
        rows.push(Value::Object(row));
    }
    Ok(rows)
}

/// Checks every row; all tracks, or every bad row.
fn check(rows: Vec<Value>) -> Result<Vec<CatalogTrack>, Vec<RowError>> {
    let mut tracks = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    let mut first_row: HashMap<String, usize> = HashMap::new();
    for (i, mut value) in rows.into_iter().enumerate() {
        let row = i + 1;
        let mut fail = |message: String| errors.push(RowError { row, message });
        let Some(fields) = value.as_object_mut() else {
            fail("必须是 JSON 对象".into());
            continue;
        };
        let id = match fields.remove("id").or_else(|| fields.remove("music_id")) {
            Some(Value::String(id)) => id,
            Some(_) => {
                fail("参数 id 无效：必须是字符串".into());
                continue;
            }
            None => {
                fail("缺少必要参数：id".into());
                continue;
            }
        };
        let id = match CatalogId::parse_field("id", &id) {
            Ok(id) => id,
            Err(e) => {
                fail(format!("参数 id 无效：{}", e.reason));
                continue;
            }
        };
        if let Some(first) = first_row.insert(id.as_str().to_owned(), row) {
            fail(format!("参数 id 无效：与第 {first} 行重复"));
            continue;
        }
        let parsed = serde_json::from_value::<Object<PutMusicBody>>(value)
            .map_err(|e| crate::error::json_body_error(&e))
            .and_then(|Object(body)| body.into_track(id));
        match parsed {
            Ok(track) => tracks.push(track),
            Err(e) => fail(e.message().into_owned()),
        }
    }
    if errors.is_empty() {
        Ok(tracks)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn csv_and_json_give_the_same_tracks() {
        let csv = "id,title,cover,duration,category,premium_required,standard_key,standard_size,high_key,high_size,lossless_key,lossless_size\n\
                   t1,曲一,/c.jpg,60,冥想,false,music/t1_128k.mp3,960000,,,music/t1.flac,6750000\n";
        let json = r#"[{"id":"t1","title":"曲一","cover":"/c.jpg","duration":60,"category":"冥想","premium_required":false,
                        "assets":[{"quality":"lossless","object_key":"music/t1.flac","file_size":6750000},
                                  {"quality":"standard","object_key":"music/t1_128k.mp3","file_size":960000}]}]"#;
        let (_a, c) = file("c.csv", csv);
        let (_b, j) = file("c.json", json);
        let from_csv = read(&c).unwrap();
        assert_eq!(from_csv, read(&j).unwrap());
        assert_eq!(from_csv[0].assets.len(), 2);
    }

    #[test]
    fn every_bad_row_is_named_with_its_field() {
        let csv = "id,title,duration,premium_required,standard_key,standard_size\n\
                   ok1,好,60,false,music/a.mp3,1\n\
                   bad/id,坏,60,false,music/b.mp3,1\n\
                   ok2,,60,false,music/c.mp3,1\n\
                   ok3,好,-5,false,music/d.mp3,1\n\
                   ok4,好,60,maybe,music/e.mp3,1\n\
                   ok5,好,60,false,../x,1\n\
                   ok6,好,60,false,music/f.mp3,0\n\
                   ok1,again,60,false,music/g.mp3,1\n";
        let (_d, path) = file("c.csv", csv);
        let errors = read(&path).unwrap_err();
        let got: Vec<(usize, bool)> = errors
            .iter()
            .map(|e| (e.row, !e.message.is_empty()))
            .collect();
        assert_eq!(got.len(), 7, "{errors:?}");
        let named = |row: usize, field: &str| {
            errors
                .iter()
                .any(|e| e.row == row && e.message.contains(field))
        };
        assert!(named(2, "id"));
        assert!(named(3, "title"));
        assert!(named(4, "duration"));
        assert!(named(5, "premium_required"));
        assert!(named(6, "object_key"));
        assert!(named(7, "file_size"));
        assert!(named(8, "id"), "a repeated id");
    }
}
