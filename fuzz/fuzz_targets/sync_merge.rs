//! The sync merge, on a server state and a batch of changes read from the input bytes:
//! it never panics, answers every change, writes each item at most once and never more
//! than the allowed skew after now, a replay of the batch writes nothing, and the order of the batch does not
//! change the result; malformed entries among the changes are rejected at their index
//! and change nothing else.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use soundshelf_domain::ItemId;
use soundshelf_domain::favorites::ItemData;
use soundshelf_domain::sync::{
    Action, LocalChange, Malformed, ServerState, Write, merge, merge_entries, read_change,
};
use time::{Duration, OffsetDateTime};

const IDS: [&str; 5] = ["music_a", "music_b", "assessment_c", "sequence_d", "x_e"];

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("a valid instant")
}

/// Minutes around now, some more than five minutes in the future.
fn at(byte: u8) -> OffsetDateTime {
    now() + Duration::minutes(i64::from(byte) - 200)
}

fn data(byte: u8) -> Option<Value> {
    match byte % 6 {
        0 => None,
        1 => Some(json!({"title": "a", "cover": "c", "duration": 1})),
        2 => Some(json!({"title": "b", "cover": "c", "duration": 1})),
        3 => Some(json!({"title": "longer", "cover": "c", "duration": 2, "item_type": "music"})),
        4 => Some(json!({"title": " ", "cover": "c", "duration": 1})),
        _ => Some(json!([1, 2])),
    }
}

fn item_type(byte: u8) -> Option<Value> {
    match byte % 5 {
        0 | 1 => None,
        2 => Some(json!("music")),
        3 => Some(json!("bad")),
        _ => Some(json!(7)),
    }
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&n, rest)) = bytes.split_first() else {
        return;
    };
    let id = |b: u8| ItemId::parse(IDS[usize::from(b) % IDS.len()]).expect("a valid id");
    let (server_bytes, change_bytes) = rest.split_at((usize::from(n % 6) * 3).min(rest.len()));
    let mut server = HashMap::new();
    for e in server_bytes.chunks_exact(3) {
        let state = if e[1] % 2 == 0 {
            ServerState::Removed {
                removed_at: at(e[2].min(200)),
            }
        } else {
            let value = data(e[1] / 2 % 3 + 1).expect("valid data");
            ServerState::Present {
                changed_at: at(e[2].min(200)),
                item_data: ItemData::parse(value).expect("valid data"),
            }
        };
        server.insert(id(e[0]), state);
    }
    let changes: Vec<LocalChange> = change_bytes
        .chunks_exact(4)
        .take(500)
        .map(|c| LocalChange {
            item_id: id(c[0]),
            action: if c[1] % 2 == 0 {
                Action::Add
            } else {
                Action::Remove
            },
            timestamp: at(c[2]),
            item_type: item_type(c[3]),
            item_data: data(c[3] / 5),
        })
        .collect();

    let plan = merge(&server, &changes, now());
    assert_eq!(plan.outcomes.len(), changes.len());
    let mut written = std::collections::HashSet::new();
    for w in &plan.writes {
        let (item, time) = match w {
            Write::Put {
                item_id,
                changed_at,
                ..
            } => (item_id, changed_at),
            Write::Remove {
                item_id,
                removed_at,
            } => (item_id, removed_at),
        };
        assert!(written.insert(item.clone()), "two writes for {item:?}");
        assert!(changes.iter().any(|c| &c.item_id == item));
        // Clock skew of up to five minutes is believed; more is clamped to now.
        assert!(
            *time <= now() + Duration::minutes(5),
            "a write too far in the future"
        );
    }
    let after = plan.applied_to(&server);
    let replay = merge(&after, &changes, now());
    assert!(
        replay.writes.is_empty(),
        "a replay wrote {:?}",
        replay.writes
    );

    let reversed: Vec<LocalChange> = changes.iter().rev().cloned().collect();
    let other = merge(&server, &reversed, now()).applied_to(&server);
    assert_eq!(after, other, "the order of the batch changed the result");

    // Malformed entries among them (one after each change whose first byte asks for
    // it) are rejected at their index; the good ones merge exactly as they did alone.
    let mut entries: Vec<Result<LocalChange, Malformed>> = Vec::new();
    for (c, change) in change_bytes.chunks_exact(4).zip(&changes) {
        entries.push(Ok(change.clone()));
        if c[0] % 3 == 0 {
            let bad = match c[3] % 4 {
                0 => json!(c[2]),
                1 => {
                    json!({"item_id": "a/b", "action": "add", "timestamp": "2026-01-01T00:00:00Z"})
                }
                2 => {
                    json!({"item_id": "music_a", "action": "keep", "timestamp": "2026-01-01T00:00:00Z"})
                }
                _ => json!({"item_id": "music_a", "action": "remove", "timestamp": c[2]}),
            };
            entries.push(read_change(&bad));
        }
    }
    let mixed = merge_entries(&server, &entries, now());
    assert_eq!(
        mixed.writes, plan.writes,
        "a malformed entry changed the writes"
    );
    assert_eq!(mixed.conflicts, plan.conflicts);
    for (index, entry) in entries.iter().enumerate() {
        if let Err(bad) = entry {
            assert!(
                mixed
                    .rejected
                    .iter()
                    .any(|r| r.index == index && r.reason == bad.reason),
                "malformed entry {index} not rejected"
            );
        }
    }
});
