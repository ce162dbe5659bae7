//! Stable storage for one node (Raft paper Figure 2, "persistent state"): the
//! hard state (term and vote) in `hardstate.json`, the latest snapshot in
//! `snapshot.json`, both replaced atomically (write, fsync, rename, fsync the
//! directory), and the log in `wal.log`, an append-only file of length-prefixed
//! JSON entries where a later record for an index replaces the earlier one and
//! everything after it (how a follower's conflicting suffix is cut). Appends
//! are synced once per batch, which is the group commit. A torn last record
//! (a crash mid-write) is cut off on recovery.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::raft::{Entry, HardState, Snapshot};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: corrupt {what}: {source}")]
    Corrupt {
        path: PathBuf,
        what: &'static str,
        source: serde_json::Error,
    },
}

/// What a node finds on disk when it starts.
#[derive(Debug, Default)]
pub struct Recovered {
    pub hard_state: HardState,
    pub snapshot: Snapshot,
    pub entries: Vec<Entry>,
}

pub struct Storage {
    dir: PathBuf,
    wal: File,
    fsync: bool,
}

const HARD_STATE: &str = "hardstate.json";
const SNAPSHOT: &str = "snapshot.json";
const WAL: &str = "wal.log";

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Storage {
    /// Open (creating if needed) the data directory and recover its state.
    pub fn open(dir: &Path, fsync: bool) -> Result<(Storage, Recovered), StorageError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let hard_state = read_json(&dir.join(HARD_STATE), "hard state")?.unwrap_or_default();
        let snapshot: Snapshot = read_json(&dir.join(SNAPSHOT), "snapshot")?.unwrap_or_default();
        let wal_path = dir.join(WAL);
        let entries = recover_wal(&wal_path)?;
        let entries = entries_after(&snapshot, entries);
        let wal = open_append(&wal_path)?;
        let storage = Storage {
            dir: dir.to_path_buf(),
            wal,
            fsync,
        };
        Ok((
            storage,
            Recovered {
                hard_state,
                snapshot,
                entries,
            },
        ))
    }

    pub fn save_hard_state(&mut self, hard_state: &HardState) -> Result<(), StorageError> {
        let data = serde_json::to_vec(hard_state).unwrap_or_default();
        self.replace(HARD_STATE, &data)
    }

    /// Store a snapshot and replace the log with `entries` (those after it).
    pub fn save_snapshot(
        &mut self,
        snapshot: &Snapshot,
        entries: &[Entry],
    ) -> Result<(), StorageError> {
        let data = serde_json::to_vec(snapshot).unwrap_or_default();
        self.replace(SNAPSHOT, &data)?;
        let mut wal = Vec::new();
        for entry in entries {
            encode_record(entry, &mut wal);
        }
        self.replace(WAL, &wal)?;
        self.wal = open_append(&self.dir.join(WAL))?;
        Ok(())
    }

    /// Append entries; an entry overwrites any stored entry at or after its
    /// index. Durable only after [`Storage::sync`].
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), StorageError> {
        let mut buf = Vec::new();
        for entry in entries {
            encode_record(entry, &mut buf);
        }
        let path = self.dir.join(WAL);
        self.wal.write_all(&buf).map_err(io_err(&path))
    }

    pub fn sync(&mut self) -> Result<(), StorageError> {
        if self.fsync {
            self.wal.sync_data().map_err(io_err(&self.dir.join(WAL)))?;
        }
        Ok(())
    }

    fn replace(&self, name: &str, data: &[u8]) -> Result<(), StorageError> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut file = File::create(&tmp).map_err(io_err(&tmp))?;
        file.write_all(data).map_err(io_err(&tmp))?;
        if self.fsync {
            file.sync_all().map_err(io_err(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        if self.fsync {
            File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err(&self.dir))?;
        }
        Ok(())
    }
}

fn open_append(path: &Path) -> Result<File, StorageError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(path))
}

fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<Option<T>, StorageError> {
    match fs::read(path) {
        Ok(data) => {
            serde_json::from_slice(&data)
                .map(Some)
                .map_err(|source| StorageError::Corrupt {
                    path: path.to_path_buf(),
                    what,
                    source,
                })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

fn encode_record(entry: &Entry, out: &mut Vec<u8>) {
    let json = serde_json::to_vec(entry).unwrap_or_default();
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(&json);
}

/// Read the log, applying overwrites, and cut a torn tail off the file.
fn recover_wal(path: &Path) -> Result<Vec<Entry>, StorageError> {
    let data = match fs::read(path) {
        Ok(data) => data,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path)(e)),
    };
    let mut entries: Vec<Entry> = Vec::new();
    let mut offset = 0;
    while let Some((entry, next)) = decode_record(&data, offset) {
        entries.retain(|e| e.index < entry.index);
        entries.push(entry);
        offset = next;
    }
    if offset < data.len() {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        file.set_len(offset as u64)
            .and_then(|_| file.sync_all())
            .map_err(io_err(path))?;
    }
    Ok(entries)
}

fn decode_record(data: &[u8], offset: usize) -> Option<(Entry, usize)> {
    let len_bytes: [u8; 4] = data.get(offset..offset + 4)?.try_into().ok()?;
    let end = offset + 4 + u32::from_be_bytes(len_bytes) as usize;
    let entry = serde_json::from_slice(data.get(offset + 4..end)?).ok()?;
    Some((entry, end))
}

/// The entries that continue the snapshot; a log that disagrees with it at
/// the snapshot's index was superseded by it.
fn entries_after(snapshot: &Snapshot, entries: Vec<Entry>) -> Vec<Entry> {
    let agrees = entries
        .iter()
        .find(|e| e.index == snapshot.index)
        .is_none_or(|e| e.term == snapshot.term);
    if !agrees {
        return Vec::new();
    }
    entries
        .into_iter()
        .filter(|e| e.index > snapshot.index)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: format!("d{index}"),
        }
    }

    fn tmp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("raftkv-storage-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn recovers_hard_state_and_overwritten_log() {
        let dir = tmp_dir("recover");
        let (mut s, r) = Storage::open(&dir, true).unwrap();
        assert!(r.entries.is_empty());
        s.save_hard_state(&HardState {
            term: 3,
            vote: Some(2),
        })
        .unwrap();
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 1)]).unwrap();
        s.append(&[entry(2, 3)]).unwrap();
        s.sync().unwrap();
        drop(s);
        let (_, r) = Storage::open(&dir, true).unwrap();
        assert_eq!(
            r.hard_state,
            HardState {
                term: 3,
                vote: Some(2)
            }
        );
        assert_eq!(r.entries, vec![entry(1, 1), entry(2, 3)]);
    }

    #[test]
    fn torn_tail_is_cut_and_later_appends_survive() {
        let dir = tmp_dir("torn");
        let (mut s, _) = Storage::open(&dir, false).unwrap();
        s.append(&[entry(1, 1)]).unwrap();
        drop(s);
        let mut f = OpenOptions::new().append(true).open(dir.join(WAL)).unwrap();
        f.write_all(&[0, 0, 0, 40, b'{']).unwrap();
        drop(f);
        let (mut s, r) = Storage::open(&dir, false).unwrap();
        assert_eq!(r.entries, vec![entry(1, 1)]);
        s.append(&[entry(2, 1)]).unwrap();
        drop(s);
        let (_, r) = Storage::open(&dir, false).unwrap();
        assert_eq!(r.entries, vec![entry(1, 1), entry(2, 1)]);
    }

    #[test]
    fn snapshot_replaces_log_prefix() {
        let dir = tmp_dir("snap");
        let (mut s, _) = Storage::open(&dir, true).unwrap();
        s.append(&[entry(1, 1), entry(2, 1), entry(3, 1)]).unwrap();
        let snap = Snapshot {
            index: 2,
            term: 1,
            data: "{}".into(),
        };
        s.save_snapshot(&snap, &[entry(3, 1)]).unwrap();
        s.append(&[entry(4, 2)]).unwrap();
        drop(s);
        let (_, r) = Storage::open(&dir, true).unwrap();
        assert_eq!(r.snapshot, snap);
        assert_eq!(r.entries, vec![entry(3, 1), entry(4, 2)]);
    }

    #[test]
    fn corrupt_hard_state_is_an_error_naming_the_file() {
        let dir = tmp_dir("corrupt");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(HARD_STATE), b"{nope").unwrap();
        let err = Storage::open(&dir, true).err().unwrap().to_string();
        assert!(
            err.contains("hardstate.json") && err.contains("corrupt hard state"),
            "{err}"
        );
    }
}
