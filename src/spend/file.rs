//! The memory backend's state file: the counters, written atomically (a
//! temporary file in the same directory, then a rename) so that a crash in
//! the middle leaves the previous file whole, and read back at start.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::memory::KeyState;
use super::window::Minutes;
use super::Spent;

const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u32,
    keys: BTreeMap<String, SavedKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedKey {
    period_start: i64,
    nano_usd: u64,
    tokens: u64,
    /// The calendar minute the per-minute counts below belong to.
    minute: u64,
    /// [previous minute, current minute]
    requests: [u64; 2],
    minute_tokens: [u64; 2],
}

pub(crate) fn save(path: &Path, keys: &[(String, KeyState)]) -> std::io::Result<()> {
    let saved = Saved {
        version: VERSION,
        keys: keys
            .iter()
            .map(|(name, s)| {
                let key = SavedKey {
                    period_start: s.period_start,
                    nano_usd: s.spent.nano_usd,
                    tokens: s.spent.tokens,
                    minute: s.requests.minute.max(s.tokens.minute),
                    requests: at(s.requests, s.requests.minute.max(s.tokens.minute)),
                    minute_tokens: at(s.tokens, s.requests.minute.max(s.tokens.minute)),
                };
                (name.clone(), key)
            })
            .collect(),
    };
    let text = serde_json::to_vec_pretty(&saved).map_err(std::io::Error::other)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or("state".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&text)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Counts as seen at `minute`.
fn at(mut m: Minutes, minute: u64) -> [u64; 2] {
    m.roll(minute);
    [m.prev, m.curr]
}

/// `Ok(None)` when there is no file yet; `Err` says why the file is unusable.
pub(crate) fn load(path: &Path) -> Result<Option<Vec<(String, KeyState)>>, String> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let saved: Saved = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    if saved.version != VERSION {
        return Err(format!(
            "version {} (this strait writes {VERSION})",
            saved.version
        ));
    }
    Ok(Some(
        saved
            .keys
            .into_iter()
            .map(|(name, k)| {
                let minutes = |[prev, curr]: [u64; 2]| Minutes {
                    minute: k.minute,
                    curr,
                    prev,
                };
                let state = KeyState {
                    requests: minutes(k.requests),
                    tokens: minutes(k.minute_tokens),
                    period_start: k.period_start,
                    spent: Spent {
                        nano_usd: k.nano_usd,
                        tokens: k.tokens,
                    },
                };
                (name, state)
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> KeyState {
        KeyState {
            requests: Minutes {
                minute: 100,
                curr: 3,
                prev: 2,
            },
            tokens: Minutes {
                minute: 99,
                curr: 40,
                prev: 0,
            },
            period_start: 1_796_256_000,
            spent: Spent {
                nano_usd: 123_456_789,
                tokens: 4_000,
            },
        }
    }

    #[test]
    fn what_is_saved_is_what_is_loaded() {
        let dir = std::env::temp_dir().join(format!("strait-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert_eq!(load(&path).unwrap(), None);
        save(&path, &[("team-a".into(), state())]).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!(back.len(), 1);
        let (name, s) = &back[0];
        assert_eq!(name, "team-a");
        assert_eq!(
            (s.spent, s.period_start),
            (state().spent, state().period_start)
        );
        // Both minute counters are brought to the later minute.
        assert_eq!(
            s.requests,
            Minutes {
                minute: 100,
                curr: 3,
                prev: 2
            }
        );
        assert_eq!(
            s.tokens,
            Minutes {
                minute: 100,
                curr: 0,
                prev: 40
            }
        );
        assert!(!dir.join(".state.json.tmp").exists());
        std::fs::write(&path, "{ not json").unwrap();
        assert!(load(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
