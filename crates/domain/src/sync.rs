//! The offline sync merge: what a batch of changes made on a device does to the server's
//! favorites.
//!
//! Per item, the last writer wins. Every change and every server state carries a time;
//! they are ordered by [`Stamp`]: later time first, then a removal over an add at the same
//! time (so a tie never resurrects an item), then, between two adds at the same time, the
//! larger compact JSON of `item_data` (any fixed rule would do; this one does not depend on
//! the order the changes arrive in). The server keeps a tombstone for every removal, so a
//! removal is a state with a time like any other and an older add can never undo it.
//!
//! [`merge`] is pure: the caller reads the server state of the touched items, calls it,
//! and writes what it returns, all in one transaction.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::favorites::{ItemData, ItemType};
use crate::ids::ItemId;

/// The most changes one sync request may carry.
pub const MAX_CHANGES: usize = 500;

/// How far in the future a change time may lie before it is taken as the server's now.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// What a device did to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = SyncAction))]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Favorited it.
    Add,
    /// Removed it.
    Remove,
}

impl Action {
    /// `add` or `remove`; anything else is refused.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "add" => Some(Self::Add),
            "remove" => Some(Self::Remove),
            _ => None,
        }
    }
}

/// One change made on a device, as sent. `item_type` and `item_data` are checked by the
/// merge, which rejects an add whose fields are invalid rather than the whole batch.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalChange {
    /// The item.
    pub item_id: ItemId,
    /// Add or remove.
    pub action: Action,
    /// When the device made the change.
    pub timestamp: OffsetDateTime,
    /// The `item_type` field as sent, if any.
    pub item_type: Option<Value>,
    /// The `item_data` field as sent, if any.
    pub item_data: Option<Value>,
}

/// The server's state of an item: present since a time, or removed at a time.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerState {
    /// Favorited; `changed_at` is the time of the add that set it.
    Present {
        /// Time of the state.
        changed_at: OffsetDateTime,
        /// Its data (part of the tie-break between adds).
        item_data: ItemData,
    },
    /// Removed at `removed_at` (a tombstone).
    Removed {
        /// Time of the removal.
        removed_at: OffsetDateTime,
    },
}

impl ServerState {
    fn stamp(&self) -> Stamp<'_> {
        match self {
            ServerState::Present {
                changed_at,
                item_data,
            } => Stamp::add(*changed_at, item_data),
            ServerState::Removed { removed_at } => Stamp::remove(*removed_at),
        }
    }

    fn kind(&self) -> StateKind {
        match self {
            ServerState::Present { .. } => StateKind::Present,
            ServerState::Removed { .. } => StateKind::Removed,
        }
    }
}

/// The order of writes to one item: the greater stamp wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp<'a> {
    at: OffsetDateTime,
    /// 0 for an add, 1 for a removal: a removal wins a tie.
    rank: u8,
    /// The compact JSON of an add's data; empty for a removal.
    data: &'a str,
}

impl<'a> Stamp<'a> {
    fn add(at: OffsetDateTime, data: &'a ItemData) -> Self {
        Self {
            at,
            rank: 0,
            data: data.to_json_string(),
        }
    }

    fn remove(at: OffsetDateTime) -> Self {
        Self {
            at,
            rank: 1,
            data: "",
        }
    }
}

/// Present or removed, as reported in a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ServerState))]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    /// The item is favorited on the server.
    Present,
    /// The item is removed on the server.
    Removed,
}

/// A change the server's newer state overrode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conflict {
    /// The item.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub item_id: ItemId,
    /// What the device did.
    pub local_action: Action,
    /// What the server has, and keeps.
    pub server_state: StateKind,
    /// Always `server_wins`.
    pub resolution: &'static str,
}

/// A change that was not applied because it is malformed or invalid.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rejected {
    /// Its position in `local_changes`.
    pub index: usize,
    /// Its `item_id` as sent, when that is a string (valid or not); else `null`.
    pub item_id: Option<String>,
    /// Why, in words for people, naming the field.
    pub reason: String,
}

/// An entry of `local_changes` that is not a change at all: not an object, or its
/// `item_id`, `action` or `timestamp` missing or invalid. It is rejected on its own; the
/// rest of the batch still applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Its `item_id` as sent, when that is a string.
    pub item_id: Option<String>,
    /// Why, naming the field.
    pub reason: String,
}

impl Malformed {
    fn new(entry: &Value, reason: impl Into<String>) -> Self {
        Self {
            item_id: entry
                .get("item_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            reason: reason.into(),
        }
    }
}

/// The reason text of a refused field: `<field> 无效：<reason>`.
fn invalid(e: &crate::ValidationError) -> String {
    format!("{} 无效：{}", e.field, e.reason)
}

/// Reads one entry of `local_changes` as sent: an object with a valid `item_id`, an
/// `action` of `add` or `remove` and an RFC 3339 `timestamp`. `item_type` and
/// `item_data` are taken as sent and judged by the merge (an add with invalid ones is
/// rejected there). Fields other than these are ignored.
///
/// ```
/// use soundshelf_domain::sync::read_change;
/// use serde_json::json;
///
/// let change = read_change(&json!({"item_id": "music_001", "action": "remove", "timestamp": "2026-01-01T00:00:00Z"})).unwrap();
/// assert_eq!(change.item_id.as_str(), "music_001");
/// let bad = read_change(&json!({"item_id": "../etc", "action": "remove", "timestamp": "2026-01-01T00:00:00Z"})).unwrap_err();
/// assert_eq!(bad.item_id.as_deref(), Some("../etc"));
/// assert!(bad.reason.starts_with("item_id"));
/// ```
pub fn read_change(entry: &Value) -> Result<LocalChange, Malformed> {
    let Some(fields) = entry.as_object() else {
        return Err(Malformed::new(entry, "变更必须是 JSON 对象"));
    };
    let text = |name: &'static str| -> Result<&str, Malformed> {
        match fields.get(name) {
            None | Some(Value::Null) => Err(Malformed::new(entry, format!("缺少 {name}"))),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(Malformed::new(entry, format!("{name} 无效：必须是字符串"))),
        }
    };
    let item_id =
        ItemId::parse(text("item_id")?).map_err(|e| Malformed::new(entry, invalid(&e)))?;
    let action = Action::parse(text("action")?)
        .ok_or_else(|| Malformed::new(entry, "action 无效：必须是 add 或 remove"))?;
    let timestamp = crate::time::parse_rfc3339("timestamp", text("timestamp")?)
        .map_err(|e| Malformed::new(entry, invalid(&e)))?;
    Ok(LocalChange {
        item_id,
        action,
        timestamp,
        item_type: fields.get("item_type").cloned(),
        item_data: fields.get("item_data").cloned(),
    })
}

/// What became of one input change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Merged: it is the item's new state, or it was already the state, or a later change
    /// of the same batch superseded it.
    Applied,
    /// The server's state is newer and stays (listed in `conflicts`).
    Conflict,
    /// Invalid, not applied (listed in `rejected`).
    Rejected,
}

/// A write the merge asks for: the item's new state.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Make the item present with this type and data, as of `changed_at`.
    Put {
        /// The item.
        item_id: ItemId,
        /// Its type.
        item_type: ItemType,
        /// Its data.
        item_data: ItemData,
        /// The (clamped) time of the winning add.
        changed_at: OffsetDateTime,
    },
    /// Remove the item and keep a tombstone at `removed_at`.
    Remove {
        /// The item.
        item_id: ItemId,
        /// The (clamped) time of the winning removal.
        removed_at: OffsetDateTime,
    },
}

impl Write {
    /// The item written.
    pub fn item_id(&self) -> &ItemId {
        match self {
            Write::Put { item_id, .. } | Write::Remove { item_id, .. } => item_id,
        }
    }
}

/// The result of a merge.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MergePlan {
    /// One write per item whose state changes, in the order the items first appear.
    pub writes: Vec<Write>,
    /// The changes the server's state overrode, in input order.
    pub conflicts: Vec<Conflict>,
    /// The invalid changes, in input order.
    pub rejected: Vec<Rejected>,
    /// What became of each input change, by index.
    pub outcomes: Vec<Outcome>,
}

impl MergePlan {
    /// The server's states once this plan is written over `server`: what a store holds
    /// after applying it (tests and fuzzing check the merge's properties with it).
    pub fn applied_to(
        &self,
        server: &HashMap<ItemId, ServerState>,
    ) -> HashMap<ItemId, ServerState> {
        let mut next = server.clone();
        for write in &self.writes {
            match write {
                Write::Put {
                    item_id,
                    item_data,
                    changed_at,
                    ..
                } => {
                    next.insert(
                        item_id.clone(),
                        ServerState::Present {
                            changed_at: *changed_at,
                            item_data: item_data.clone(),
                        },
                    );
                }
                Write::Remove {
                    item_id,
                    removed_at,
                } => {
                    next.insert(
                        item_id.clone(),
                        ServerState::Removed {
                            removed_at: *removed_at,
                        },
                    );
                }
            }
        }
        next
    }
}

/// A change that passed validation, with its effective time.
#[derive(Debug)]
struct Valid {
    index: usize,
    action: Action,
    at: OffsetDateTime,
    item_type: Option<ItemType>,
    item_data: Option<ItemData>,
}

impl Valid {
    fn stamp(&self) -> Stamp<'_> {
        match &self.item_data {
            Some(data) => Stamp::add(self.at, data),
            None => Stamp::remove(self.at),
        }
    }
}

/// Checks one change; an add needs valid `item_data` and a type (from the change, else
/// `item_data.item_type`, else the id's prefix). The reason names the field.
fn validate(
    change: &LocalChange,
    now: OffsetDateTime,
) -> Result<(OffsetDateTime, Option<ItemType>, Option<ItemData>), String> {
    let at = if change.timestamp > now + MAX_CLOCK_SKEW {
        now
    } else {
        change.timestamp
    };
    if change.action == Action::Remove {
        return Ok((at, None, None));
    }
    let data = match &change.item_data {
        None | Some(Value::Null) => return Err("缺少 item_data".to_owned()),
        Some(v) => ItemData::parse(v.clone()).map_err(|e| invalid(&e))?,
    };
    let item_type = match &change.item_type {
        None | Some(Value::Null) => data
            .item_type()
            .or_else(|| ItemType::from_id_prefix(&change.item_id))
            .ok_or_else(|| "缺少 item_type（item_data 与 item_id 的前缀也无法确定）".to_owned())?,
        Some(Value::String(t)) => ItemType::parse(t).map_err(|e| invalid(&e))?,
        Some(_) => return Err("item_type 无效：必须是字符串".to_owned()),
    };
    Ok((at, Some(item_type), Some(data)))
}

/// Merges `changes` into the server's `server` states (of the touched items; an item
/// absent from the map has never existed), at the server's `now`.
///
/// Every change is accounted for in `outcomes`: applied, a conflict or rejected.
///
/// ```
/// use soundshelf_domain::sync::{merge, Action, LocalChange, ServerState, Write};
/// use soundshelf_domain::ItemId;
/// use std::collections::HashMap;
/// use time::macros::datetime;
///
/// let item = ItemId::parse("music_001").unwrap();
/// // Removed on the tablet at 10:00 …
/// let server = HashMap::from([(item.clone(), ServerState::Removed { removed_at: datetime!(2026-01-01 10:00 UTC) })]);
/// // … and the phone replays an add it made at 09:00.
/// let add = LocalChange {
///     item_id: item.clone(),
///     action: Action::Add,
///     timestamp: datetime!(2026-01-01 09:00 UTC),
///     item_type: None,
///     item_data: Some(serde_json::json!({"title": "t", "cover": "c", "duration": 1})),
/// };
/// let plan = merge(&server, &[add], datetime!(2026-01-01 12:00 UTC));
/// assert!(plan.writes.is_empty(), "still removed");
/// assert_eq!(plan.conflicts.len(), 1);
/// ```
pub fn merge(
    server: &HashMap<ItemId, ServerState>,
    changes: &[LocalChange],
    now: OffsetDateTime,
) -> MergePlan {
    merge_iter(server, changes.iter().map(Ok), changes.len(), now)
}

/// [`merge`] of a batch as sent, whose entries may be [`Malformed`] (read by
/// [`read_change`]): a malformed entry is rejected at its index and the well-formed ones
/// merge exactly as they would alone.
///
/// ```
/// use soundshelf_domain::sync::{merge_entries, read_change};
/// use serde_json::json;
/// use std::collections::HashMap;
/// use time::macros::datetime;
///
/// let sent = [
///     json!(42),
///     json!({"item_id": "music_001", "action": "remove", "timestamp": "2026-01-01T00:00:00Z"}),
///     json!({"item_id": "music_002", "action": "keep", "timestamp": "2026-01-01T00:00:00Z"}),
/// ];
/// let entries: Vec<_> = sent.iter().map(read_change).collect();
/// let plan = merge_entries(&HashMap::new(), &entries, datetime!(2026-01-01 12:00 UTC));
/// assert_eq!(plan.writes.len(), 1);
/// let rejected: Vec<usize> = plan.rejected.iter().map(|r| r.index).collect();
/// assert_eq!(rejected, [0, 2]);
/// ```
pub fn merge_entries(
    server: &HashMap<ItemId, ServerState>,
    entries: &[Result<LocalChange, Malformed>],
    now: OffsetDateTime,
) -> MergePlan {
    merge_iter(
        server,
        entries.iter().map(Result::as_ref),
        entries.len(),
        now,
    )
}

fn merge_iter<'a>(
    server: &HashMap<ItemId, ServerState>,
    entries: impl Iterator<Item = Result<&'a LocalChange, &'a Malformed>>,
    len: usize,
    now: OffsetDateTime,
) -> MergePlan {
    let mut plan = MergePlan {
        outcomes: vec![Outcome::Applied; len],
        ..MergePlan::default()
    };
    // Valid changes grouped by item, items in order of first appearance.
    let mut order: Vec<&ItemId> = Vec::new();
    let mut by_item: HashMap<&ItemId, Vec<Valid>> = HashMap::new();
    for (index, entry) in entries.enumerate() {
        let change = match entry {
            Ok(change) => change,
            Err(malformed) => {
                plan.outcomes[index] = Outcome::Rejected;
                plan.rejected.push(Rejected {
                    index,
                    item_id: malformed.item_id.clone(),
                    reason: malformed.reason.clone(),
                });
                continue;
            }
        };
        match validate(change, now) {
            Ok((at, item_type, item_data)) => {
                let group = by_item.entry(&change.item_id).or_insert_with(|| {
                    order.push(&change.item_id);
                    Vec::new()
                });
                group.push(Valid {
                    index,
                    action: change.action,
                    at,
                    item_type,
                    item_data,
                });
            }
            Err(reason) => {
                plan.outcomes[index] = Outcome::Rejected;
                plan.rejected.push(Rejected {
                    index,
                    item_id: Some(change.item_id.as_str().to_owned()),
                    reason,
                });
            }
        }
    }
    let mut conflicts: Vec<(usize, Conflict)> = Vec::new();
    for item in order {
        let group = &by_item[item];
        let current = server.get(item);
        for change in group {
            if let Some(state) = current
                && state.stamp() > change.stamp()
            {
                plan.outcomes[change.index] = Outcome::Conflict;
                conflicts.push((
                    change.index,
                    Conflict {
                        item_id: item.clone(),
                        local_action: change.action,
                        server_state: state.kind(),
                        resolution: "server_wins",
                    },
                ));
            }
        }
        let Some(winner) = group.iter().max_by(|a, b| a.stamp().cmp(&b.stamp())) else {
            continue;
        };
        let unchanged = current.is_some_and(|s| s.stamp().cmp(&winner.stamp()) != Ordering::Less);
        if unchanged {
            continue;
        }
        plan.writes
            .push(match (&winner.item_data, winner.item_type) {
                (Some(data), Some(item_type)) => Write::Put {
                    item_id: item.clone(),
                    item_type,
                    item_data: data.clone(),
                    changed_at: winner.at,
                },
                _ => Write::Remove {
                    item_id: item.clone(),
                    removed_at: winner.at,
                },
            });
    }
    conflicts.sort_by_key(|(index, _)| *index);
    plan.conflicts = conflicts.into_iter().map(|(_, c)| c).collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::collections::BTreeMap;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

    fn id(s: &str) -> ItemId {
        ItemId::parse(s).unwrap()
    }

    fn data(title: &str) -> Value {
        json!({"title": title, "cover": "c", "duration": 1})
    }

    fn add(item: &str, minute: i64, title: &str) -> LocalChange {
        LocalChange {
            item_id: id(item),
            action: Action::Add,
            timestamp: NOW - Duration::hours(1) + Duration::minutes(minute),
            item_type: None,
            item_data: Some(data(title)),
        }
    }

    fn remove(item: &str, minute: i64) -> LocalChange {
        LocalChange {
            item_id: id(item),
            action: Action::Remove,
            timestamp: NOW - Duration::hours(1) + Duration::minutes(minute),
            item_type: None,
            item_data: None,
        }
    }

    fn at(minute: i64) -> OffsetDateTime {
        NOW - Duration::hours(1) + Duration::minutes(minute)
    }

    fn present(minute: i64, title: &str) -> ServerState {
        ServerState::Present {
            changed_at: at(minute),
            item_data: ItemData::parse(data(title)).unwrap(),
        }
    }

    #[test]
    fn an_add_on_an_empty_server_is_written() {
        let plan = merge(&HashMap::new(), &[add("music_1", 0, "a")], NOW);
        assert_eq!(plan.writes.len(), 1);
        let Write::Put { item_type, .. } = &plan.writes[0] else {
            panic!("a put")
        };
        assert_eq!(*item_type, ItemType::Music, "from the prefix");
        assert!(plan.conflicts.is_empty() && plan.rejected.is_empty());
    }

    #[test]
    fn an_older_add_does_not_undo_a_removal_and_is_a_conflict() {
        let server = HashMap::from([(id("music_1"), ServerState::Removed { removed_at: at(10) })]);
        let plan = merge(&server, &[add("music_1", 5, "a")], NOW);
        assert!(plan.writes.is_empty());
        assert_eq!(
            plan.conflicts,
            vec![Conflict {
                item_id: id("music_1"),
                local_action: Action::Add,
                server_state: StateKind::Removed,
                resolution: "server_wins"
            }]
        );
        assert_eq!(plan.outcomes, vec![Outcome::Conflict]);
    }

    #[test]
    fn a_newer_add_brings_an_item_back() {
        let server = HashMap::from([(id("music_1"), ServerState::Removed { removed_at: at(10) })]);
        let plan = merge(&server, &[add("music_1", 20, "a")], NOW);
        assert_eq!(plan.writes.len(), 1);
        assert!(plan.conflicts.is_empty());
    }

    #[test]
    fn a_removal_wins_a_tie() {
        let server = HashMap::from([(id("music_1"), present(10, "a"))]);
        let plan = merge(&server, &[remove("music_1", 10)], NOW);
        assert!(matches!(plan.writes[..], [Write::Remove { .. }]));
        let server = HashMap::from([(id("music_1"), ServerState::Removed { removed_at: at(10) })]);
        let plan = merge(&server, &[add("music_1", 10, "a")], NOW);
        assert!(plan.writes.is_empty());
        assert_eq!(plan.outcomes, vec![Outcome::Conflict]);
    }

    #[test]
    fn a_removal_of_an_unknown_item_leaves_a_tombstone() {
        let plan = merge(&HashMap::new(), &[remove("x", 1)], NOW);
        assert!(matches!(plan.writes[..], [Write::Remove { .. }]));
    }

    #[test]
    fn future_times_are_clamped_to_now() {
        let mut change = add("music_1", 0, "a");
        change.timestamp = NOW + Duration::minutes(6);
        let plan = merge(&HashMap::new(), &[change.clone()], NOW);
        assert!(matches!(&plan.writes[0], Write::Put { changed_at, .. } if *changed_at == NOW));
        change.timestamp = NOW + Duration::minutes(5);
        let plan = merge(&HashMap::new(), &[change], NOW);
        assert!(
            matches!(&plan.writes[0], Write::Put { changed_at, .. } if *changed_at == NOW + Duration::minutes(5))
        );
    }

    #[test]
    fn item_type_comes_from_the_change_then_the_data_then_the_prefix() {
        let mut c = add("x_1", 0, "a");
        c.item_type = Some(json!("sequence"));
        c.item_data =
            Some(json!({"title": "t", "cover": "c", "duration": 1, "item_type": "assessment"}));
        let plan = merge(&HashMap::new(), &[c.clone()], NOW);
        assert!(matches!(
            &plan.writes[0],
            Write::Put {
                item_type: ItemType::Sequence,
                ..
            }
        ));
        c.item_type = None;
        let plan = merge(&HashMap::new(), &[c.clone()], NOW);
        assert!(matches!(
            &plan.writes[0],
            Write::Put {
                item_type: ItemType::Assessment,
                ..
            }
        ));
        c.item_data = Some(data("t"));
        let plan = merge(&HashMap::new(), &[c], NOW);
        assert_eq!(plan.writes.len(), 0);
        assert_eq!(plan.rejected[0].item_id.as_deref(), Some("x_1"));
        assert_eq!(plan.rejected[0].index, 0);
        assert_eq!(plan.outcomes, vec![Outcome::Rejected]);
    }

    #[test]
    fn invalid_adds_are_rejected_and_the_rest_applies() {
        let mut bad_type = add("music_2", 0, "a");
        bad_type.item_type = Some(json!("video"));
        let mut bad_data = add("music_3", 0, "a");
        bad_data.item_data = Some(json!({"title": 5}));
        let mut no_data = add("music_4", 0, "a");
        no_data.item_data = None;
        let changes = [
            add("music_1", 0, "a"),
            bad_type,
            bad_data,
            no_data,
            remove("music_5", 1),
        ];
        let plan = merge(&HashMap::new(), &changes, NOW);
        assert_eq!(plan.rejected.len(), 3);
        assert_eq!(plan.writes.len(), 2);
        assert_eq!(
            plan.outcomes,
            vec![
                Outcome::Applied,
                Outcome::Rejected,
                Outcome::Rejected,
                Outcome::Rejected,
                Outcome::Applied
            ]
        );
    }

    #[test]
    fn the_latest_change_of_a_batch_wins_and_replays_change_nothing() {
        let changes = [add("m", 1, "a"), remove("m", 3), add("m", 2, "b")];
        let plan = merge(&HashMap::new(), &changes, NOW);
        assert!(
            matches!(&plan.writes[..], [Write::Remove { removed_at, .. }] if *removed_at == at(3))
        );
        let server = plan.applied_to(&HashMap::new());
        let again = merge(&server, &changes, NOW);
        assert!(again.writes.is_empty());
        assert!(again.conflicts.is_empty(), "{:?}", again.conflicts);
    }

    #[test]
    fn malformed_entries_name_the_field_and_keep_a_string_item_id() {
        let ts = "2026-01-01T00:00:00Z";
        let long = "a".repeat(37);
        let cases: Vec<(Value, Option<&str>, &str)> = vec![
            (json!(3), None, "变更"),
            (json!("music_1"), None, "变更"),
            (json!([1]), None, "变更"),
            (json!(null), None, "变更"),
            (
                json!({"action": "add", "timestamp": ts}),
                None,
                "缺少 item_id",
            ),
            (
                json!({"item_id": null, "action": "add", "timestamp": ts}),
                None,
                "缺少 item_id",
            ),
            (
                json!({"item_id": 7, "action": "add", "timestamp": ts}),
                None,
                "item_id 无效",
            ),
            (
                json!({"item_id": "a/b", "action": "add", "timestamp": ts}),
                Some("a/b"),
                "item_id 无效",
            ),
            (
                json!({"item_id": "..", "action": "add", "timestamp": ts}),
                Some(".."),
                "item_id 无效",
            ),
            (
                json!({"item_id": long, "action": "add", "timestamp": ts}),
                Some(long.as_str()),
                "item_id 无效",
            ),
            (
                json!({"item_id": "", "action": "add", "timestamp": ts}),
                Some(""),
                "item_id 无效",
            ),
            (
                json!({"item_id": "m", "timestamp": ts}),
                Some("m"),
                "缺少 action",
            ),
            (
                json!({"item_id": "m", "action": "keep", "timestamp": ts}),
                Some("m"),
                "action 无效",
            ),
            (
                json!({"item_id": "m", "action": "ADD", "timestamp": ts}),
                Some("m"),
                "action 无效",
            ),
            (
                json!({"item_id": "m", "action": true, "timestamp": ts}),
                Some("m"),
                "action 无效",
            ),
            (
                json!({"item_id": "m", "action": "add"}),
                Some("m"),
                "缺少 timestamp",
            ),
            (
                json!({"item_id": "m", "action": "add", "timestamp": "yesterday"}),
                Some("m"),
                "timestamp 无效",
            ),
            (
                json!({"item_id": "m", "action": "add", "timestamp": 1_700_000_000}),
                Some("m"),
                "timestamp 无效",
            ),
        ];
        for (entry, item_id, reason) in cases {
            let bad = read_change(&entry).unwrap_err();
            assert_eq!(bad.item_id.as_deref(), item_id, "{entry}");
            assert!(bad.reason.starts_with(reason), "{entry}: {}", bad.reason);
        }
        let good = read_change(&json!({"item_id": "m", "action": "add", "timestamp": ts, "item_data": {"title": "t"}, "extra": 1})).unwrap();
        assert_eq!(good.item_data, Some(json!({"title": "t"})));
        assert_eq!(good.item_type, None);
    }

    #[test]
    fn invalid_adds_name_the_field() {
        let mut bad_type = add("music_2", 0, "a");
        bad_type.item_type = Some(json!("video"));
        let mut bad_data = add("music_3", 0, "a");
        bad_data.item_data = Some(json!({"title": 5}));
        let mut no_data = add("music_4", 0, "a");
        no_data.item_data = None;
        let plan = merge(&HashMap::new(), &[bad_type, bad_data, no_data], NOW);
        let reasons: Vec<&str> = plan.rejected.iter().map(|r| r.reason.as_str()).collect();
        assert!(reasons[0].starts_with("item_type 无效"), "{reasons:?}");
        assert!(reasons[1].starts_with("item_data 无效"), "{reasons:?}");
        assert_eq!(reasons[2], "缺少 item_data");
        let indexes: Vec<usize> = plan.rejected.iter().map(|r| r.index).collect();
        assert_eq!(indexes, [0, 1, 2]);
    }

    fn sorted_state(s: &HashMap<ItemId, ServerState>) -> BTreeMap<String, String> {
        s.iter()
            .map(|(k, v)| (k.as_str().to_owned(), format!("{v:?}")))
            .collect()
    }

    fn arb_change() -> impl Strategy<Value = LocalChange> {
        (
            0..4usize,
            any::<bool>(),
            0..6i64,
            0..3usize,
            prop::option::of(0..4usize),
        )
            .prop_map(|(item, is_add, minute, title, kind)| {
                let item_id = ["music_a", "sequence_b", "c", "d"][item];
                let mut c = if is_add {
                    add(item_id, minute, ["x", "y", "z"][title])
                } else {
                    remove(item_id, minute)
                };
                if is_add {
                    c.item_type =
                        kind.map(|k| json!(["music", "assessment", "sequence", "bad"][k]));
                }
                c
            })
    }

    fn arb_server() -> impl Strategy<Value = HashMap<ItemId, ServerState>> {
        prop::collection::vec(
            (0..4usize, prop::option::of((any::<bool>(), 0..6i64))),
            0..4,
        )
        .prop_map(|v| {
            v.into_iter()
                .filter_map(|(item, state)| {
                    let item_id = id(["music_a", "sequence_b", "c", "d"][item]);
                    state.map(|(present_state, minute)| {
                        let s = if present_state {
                            present(minute, "x")
                        } else {
                            ServerState::Removed {
                                removed_at: at(minute),
                            }
                        };
                        (item_id, s)
                    })
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn applying_a_batch_twice_equals_applying_it_once(
            server in arb_server(), changes in prop::collection::vec(arb_change(), 0..12)
        ) {
            let once = merge(&server, &changes, NOW).applied_to(&server);
            let second = merge(&once, &changes, NOW);
            prop_assert!(second.writes.is_empty(), "{:?}", second.writes);
            prop_assert_eq!(sorted_state(&second.applied_to(&once)), sorted_state(&once));
        }

        #[test]
        fn the_result_does_not_depend_on_the_order_of_changes(
            server in arb_server(),
            changes in prop::collection::vec(arb_change(), 0..12),
            seed in any::<u64>(),
        ) {
            let mut shuffled = changes.clone();
            // A deterministic shuffle from the seed.
            let mut s = seed;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let a = merge(&server, &changes, NOW);
            let b = merge(&server, &shuffled, NOW);
            prop_assert_eq!(sorted_state(&a.applied_to(&server)), sorted_state(&b.applied_to(&server)));
            let mut ca: Vec<String> = a.conflicts.iter().map(|c| format!("{c:?}")).collect();
            let mut cb: Vec<String> = b.conflicts.iter().map(|c| format!("{c:?}")).collect();
            ca.sort();
            cb.sort();
            prop_assert_eq!(ca, cb);
            prop_assert_eq!(a.rejected.len(), b.rejected.len());
        }

        #[test]
        fn malformed_entries_are_rejected_and_the_good_ones_merge_as_they_would_alone(
            server in arb_server(),
            changes in prop::collection::vec(arb_change(), 0..12),
            bad in prop::collection::vec((0..13usize, 0..5usize), 0..6),
        ) {
            // Interleave malformed entries at the drawn positions.
            let malformed = [
                json!(7),
                json!({"item_id": "a/b", "action": "add", "timestamp": "2026-06-01T11:00:00Z"}),
                json!({"item_id": "music_a", "action": "keep", "timestamp": "2026-06-01T11:00:00Z"}),
                json!({"item_id": "music_a", "action": "remove", "timestamp": "soon"}),
                json!({"item_id": 5, "action": "remove", "timestamp": "2026-06-01T11:00:00Z"}),
            ];
            let mut entries: Vec<Result<LocalChange, Malformed>> = changes.iter().cloned().map(Ok).collect();
            let mut bad = bad;
            bad.sort_by_key(|(at, _)| *at);
            for (at, kind) in &bad {
                let entry = read_change(&malformed[*kind]);
                prop_assert!(entry.is_err());
                entries.insert((*at).min(entries.len()), entry);
            }
            let alone = merge(&server, &changes, NOW);
            let mixed = merge_entries(&server, &entries, NOW);
            prop_assert_eq!(&mixed.writes, &alone.writes);
            prop_assert_eq!(&mixed.conflicts, &alone.conflicts);
            // Every malformed entry is rejected at its own index; the good ones have the
            // outcomes they have alone.
            let good_outcomes: Vec<&Outcome> = entries.iter().zip(&mixed.outcomes).filter(|(e, _)| e.is_ok()).map(|(_, o)| o).collect();
            prop_assert_eq!(good_outcomes, alone.outcomes.iter().collect::<Vec<_>>());
            for (index, entry) in entries.iter().enumerate() {
                if entry.is_err() {
                    prop_assert_eq!(&mixed.outcomes[index], &Outcome::Rejected);
                    prop_assert!(mixed.rejected.iter().any(|r| r.index == index));
                }
            }
            prop_assert_eq!(mixed.rejected.len(), alone.rejected.len() + bad.len());
            let indexes: Vec<usize> = mixed.rejected.iter().map(|r| r.index).collect();
            prop_assert!(indexes.windows(2).all(|w| w[0] < w[1]), "in input order");
        }

        #[test]
        fn a_removal_is_never_undone_by_an_older_add(
            server in arb_server(),
            changes in prop::collection::vec(arb_change(), 0..12),
        ) {
            let after = merge(&server, &changes, NOW).applied_to(&server);
            for (item, before) in &server {
                if let ServerState::Removed { removed_at } = before {
                    let newer_add = changes.iter().any(|c| &c.item_id == item && c.action == Action::Add && c.timestamp > *removed_at);
                    if !newer_add {
                        let still_removed = matches!(after.get(item), Some(ServerState::Removed { .. }));
                        prop_assert!(still_removed, "{item:?} resurrected");
                    }
                }
            }
        }

        #[test]
        fn every_change_is_applied_a_conflict_or_rejected(
            server in arb_server(),
            changes in prop::collection::vec(arb_change(), 0..12),
        ) {
            let plan = merge(&server, &changes, NOW);
            prop_assert_eq!(plan.outcomes.len(), changes.len());
            let conflicts = plan.outcomes.iter().filter(|o| **o == Outcome::Conflict).count();
            let rejected = plan.outcomes.iter().filter(|o| **o == Outcome::Rejected).count();
            prop_assert_eq!(conflicts, plan.conflicts.len());
            prop_assert_eq!(rejected, plan.rejected.len());
            // Each applied change is reflected: its item's final state is at least as new.
            let after = plan.applied_to(&server);
            for (c, o) in changes.iter().zip(&plan.outcomes) {
                if *o == Outcome::Applied {
                    let time = match after.get(&c.item_id) {
                        Some(ServerState::Present { changed_at, .. }) => *changed_at,
                        Some(ServerState::Removed { removed_at }) => *removed_at,
                        None => OffsetDateTime::UNIX_EPOCH,
                    };
                    prop_assert!(time >= c.timestamp, "applied change {c:?} not reflected");
                }
            }
            // At most one write per item.
            let mut items: Vec<&ItemId> = plan.writes.iter().map(Write::item_id).collect();
            let n = items.len();
            items.sort();
            items.dedup();
            prop_assert_eq!(items.len(), n);
        }
    }
}
