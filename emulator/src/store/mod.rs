//! Durable state: a journal of every command applied to the account, replayed on start.
//!
//! Format (JSON lines, versioned from the first record on):
//! line 1 `{"format":"batch-emulator-journal","version":1,"nodeIdSeed":N}`, then one
//! `{"v":1,"at":"<time>","cmd":{"type":…}}` per command, and `{"v":1,"at":…,"refused":true}`
//! right after a command the account refused. A command is journalled before it is applied; the
//! marker keeps a refused one from being applied on replay by a later build that would accept
//! it (a feature that answered 501 then). Records are decoded through the chain of known
//! versions; a record from a newer build is an error, not a silent skip. A torn last line (the
//! process died mid-write) is dropped with a warning.

use batch_model::Command;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use time::OffsetDateTime;

/// The journal format this build writes.
pub const JOURNAL_VERSION: u32 = 1;
const FORMAT: &str = "batch-emulator-journal";

/// A journal failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("journal {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("journal {path} line {line}: {message}")]
    Corrupt { path: PathBuf, line: usize, message: String },
    #[error("the data directory is in use by another batch-emulator ({0})")]
    Locked(PathBuf),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    format: String,
    version: u32,
    node_id_seed: u64,
}

/// One journalled command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(with = "batch_client::timefmt::body")]
    pub at: OffsetDateTime,
    pub cmd: Command,
}

/// A version-1 line: a command, or the marker that the command before it was refused.
#[derive(Deserialize)]
struct RecordIn {
    #[serde(with = "batch_client::timefmt::body")]
    at: OffsetDateTime,
    cmd: Option<Command>,
    #[serde(default)]
    refused: bool,
}

/// What one journal line says.
#[derive(Debug)]
enum Line {
    Command(Box<Record>),
    Refused,
}

#[derive(Serialize)]
struct RefusedOut {
    v: u32,
    #[serde(with = "batch_client::timefmt::body")]
    at: OffsetDateTime,
    refused: bool,
}

#[derive(Serialize)]
struct RecordOut<'a> {
    v: u32,
    #[serde(with = "batch_client::timefmt::body")]
    at: OffsetDateTime,
    cmd: &'a Command,
}

/// Decodes a line of any known version.
fn decode_line(line: &str) -> Result<Line, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(1) => {
            let r: RecordIn = serde_json::from_value(value).map_err(|e| e.to_string())?;
            match (r.cmd, r.refused) {
                (_, true) => Ok(Line::Refused),
                (Some(cmd), false) => Ok(Line::Command(Box::new(Record { at: r.at, cmd }))),
                (None, false) => Err("record without a command".into()),
            }
        }
        Some(v) => Err(format!("record version {v} is newer than this build understands ({JOURNAL_VERSION})")),
        None => Err("record without a version".into()),
    }
}

#[cfg(test)]
fn decode(line: &str) -> Result<Record, String> {
    match decode_line(line)? {
        Line::Command(r) => Ok(*r),
        Line::Refused => Err("a refusal marker".into()),
    }
}

/// What a journal held.
#[derive(Debug)]
pub struct Loaded {
    pub node_id_seed: u64,
    pub records: Vec<Record>,
}

/// Where commands are kept.
pub trait Store: Send + Sync + 'static {
    /// The journal written before, if any.
    fn load(&self) -> Result<Option<Loaded>, StoreError>;
    /// Starts an empty journal.
    fn begin(&self, node_id_seed: u64) -> Result<(), StoreError>;
    /// Appends a command; it is in the journal when this returns.
    fn append(&self, at: OffsetDateTime, cmd: &Command) -> Result<(), StoreError>;
    /// Records that the command appended last was refused (replay skips it).
    fn refused(&self, at: OffsetDateTime) -> Result<(), StoreError>;
}

/// The journal file in the data directory, locked against a second emulator.
pub struct FileJournal {
    path: PathBuf,
    file: Mutex<File>,
}

impl FileJournal {
    /// Opens (creating) `<data dir>/journal.jsonl` and takes its lock.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("journal.jsonl");
        let io = |source| StoreError::Io { path: path.clone(), source };
        let file = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::Locked(path)),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(Self { path, file: Mutex::new(file) })
    }

    fn write_line(&self, line: &str) -> Result<(), StoreError> {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = String::with_capacity(line.len() + 1);
        buf.push_str(line);
        buf.push('\n');
        f.write_all(buf.as_bytes()).map_err(|source| StoreError::Io { path: self.path.clone(), source })
    }
}

impl Store for FileJournal {
    fn load(&self) -> Result<Option<Loaded>, StoreError> {
        let file = File::open(&self.path).map_err(|source| StoreError::Io { path: self.path.clone(), source })?;
        let lines: Vec<String> = BufReader::new(file).lines().collect::<Result<_, _>>().map_err(|source| StoreError::Io { path: self.path.clone(), source })?;
        let Some(first) = lines.first() else {
            return Ok(None);
        };
        let corrupt = |line: usize, message: String| StoreError::Corrupt { path: self.path.clone(), line, message };
        let header: Header = serde_json::from_str(first).map_err(|e| corrupt(1, format!("bad header: {e}")))?;
        if header.format != FORMAT {
            return Err(corrupt(1, format!("not a batch-emulator journal ({:?})", header.format)));
        }
        if header.version > JOURNAL_VERSION {
            return Err(corrupt(1, format!("journal version {} is newer than this build ({JOURNAL_VERSION})", header.version)));
        }
        let mut records = Vec::with_capacity(lines.len());
        let last = lines.len() - 1;
        for (i, line) in lines.iter().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            match decode_line(line) {
                Ok(Line::Command(r)) => records.push(*r),
                Ok(Line::Refused) => {
                    records.pop();
                }
                Err(e) if i == last => {
                    tracing::warn!(path = %self.path.display(), error = %e, "dropping a torn last journal record")
                }
                Err(e) => return Err(corrupt(i + 1, e)),
            }
        }
        Ok(Some(Loaded { node_id_seed: header.node_id_seed, records }))
    }

    fn begin(&self, node_id_seed: u64) -> Result<(), StoreError> {
        let header = Header { format: FORMAT.into(), version: JOURNAL_VERSION, node_id_seed };
        self.write_line(&serde_json::to_string(&header).unwrap_or_default())
    }

    fn append(&self, at: OffsetDateTime, cmd: &Command) -> Result<(), StoreError> {
        let line = serde_json::to_string(&RecordOut { v: JOURNAL_VERSION, at, cmd }).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            line: 0,
            message: e.to_string(),
        })?;
        self.write_line(&line)
    }

    fn refused(&self, at: OffsetDateTime) -> Result<(), StoreError> {
        self.write_line(&serde_json::to_string(&RefusedOut { v: JOURNAL_VERSION, at, refused: true }).unwrap_or_default())
    }
}

/// A journal in memory (tests).
#[derive(Debug, Default)]
pub struct MemoryJournal {
    seed: Mutex<Option<u64>>,
    records: Mutex<Vec<Record>>,
}

impl Store for MemoryJournal {
    fn load(&self) -> Result<Option<Loaded>, StoreError> {
        let seed = *self.seed.lock().unwrap_or_else(|e| e.into_inner());
        Ok(seed.map(|node_id_seed| Loaded { node_id_seed, records: self.records.lock().unwrap_or_else(|e| e.into_inner()).clone() }))
    }
    fn begin(&self, node_id_seed: u64) -> Result<(), StoreError> {
        *self.seed.lock().unwrap_or_else(|e| e.into_inner()) = Some(node_id_seed);
        Ok(())
    }
    fn append(&self, at: OffsetDateTime, cmd: &Command) -> Result<(), StoreError> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(Record { at, cmd: cmd.clone() });
        Ok(())
    }
    fn refused(&self, _at: OffsetDateTime) -> Result<(), StoreError> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_refused_command_is_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        let j = FileJournal::open(dir.path()).unwrap();
        j.begin(1).unwrap();
        let at = datetime!(2026-01-01 00:00 UTC);
        let kept = Command::DeleteJob { job_id: "kept".into() };
        j.append(at, &kept).unwrap();
        j.append(at, &Command::DeleteJob { job_id: "refused".into() }).unwrap();
        j.refused(at).unwrap();
        assert_eq!(j.load().unwrap().unwrap().records, vec![Record { at, cmd: kept }]);
    }

    #[test]
    fn records_round_trip_and_newer_versions_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let j = FileJournal::open(dir.path()).unwrap();
        assert!(j.load().unwrap().is_none());
        j.begin(42).unwrap();
        let cmd = Command::DeleteJob { job_id: "j".into() };
        j.append(datetime!(2026-01-01 00:00 UTC), &cmd).unwrap();
        let loaded = j.load().unwrap().unwrap();
        assert_eq!(loaded.node_id_seed, 42);
        assert_eq!(loaded.records, vec![Record { at: datetime!(2026-01-01 00:00 UTC), cmd }]);
        assert!(decode(r#"{"v":99,"at":"2026-01-01T00:00:00Z","cmd":{"type":"recover"}}"#).unwrap_err().contains("newer"));
    }

    #[test]
    fn a_second_emulator_cannot_open_the_same_journal() {
        let dir = tempfile::tempdir().unwrap();
        let _first = FileJournal::open(dir.path()).unwrap();
        assert!(matches!(FileJournal::open(dir.path()), Err(StoreError::Locked(_))));
    }

    #[test]
    fn a_torn_last_line_is_dropped_but_a_torn_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let header = r#"{"format":"batch-emulator-journal","version":1,"nodeIdSeed":7}"#;
        let good = r#"{"v":1,"at":"2026-01-01T00:00:00.0000000Z","cmd":{"type":"recover"}}"#;
        std::fs::write(&path, format!("{header}\n{good}\n{{\"v\":1,\"at\n")).unwrap();
        assert_eq!(FileJournal::open(dir.path()).unwrap().load().unwrap().unwrap().records.len(), 1);
        let dir2 = tempfile::tempdir().unwrap();
        std::fs::write(dir2.path().join("journal.jsonl"), format!("{header}\n{{\"v\":1,\"at\n{good}\n")).unwrap();
        assert!(matches!(FileJournal::open(dir2.path()).unwrap().load(), Err(StoreError::Corrupt { line: 2, .. })));
    }
}
