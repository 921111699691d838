//! Durable state: a journal of every command applied to the account, replayed on start.
//!
//! Format (JSON lines, versioned from the first record on):
//! line 1 `{"format":"batch-emulator-journal","version":1,"nodeIdSeed":N}`, then one
//! `{"v":1,"at":"<time>","cmd":{"type":…}}` per command, and `{"v":1,"at":…,"refused":true}`
//! right after a command the account refused. A command is journalled before it is applied; the
//! marker keeps a refused one from being applied on replay by a later build that would accept
//! it (a feature that answered 501 then). Records are decoded through the chain of known
//! versions; a record from a newer build is an error, not a silent skip. A torn tail (the
//! process died mid-write: a line without its newline, bytes that are not UTF-8, lines that do
//! not decode, up to the end of the file) is cut from the file with a warning before anything
//! is appended, so the next record starts on a line of its own. A bad line followed by a good
//! one is corruption, and the emulator refuses to start on it. The file is created 0600.

use batch_model::Command;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
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
    /// Identifies this journal file (0 in journals from before snapshots).
    #[serde(default, skip_serializing_if = "is_zero")]
    epoch: u64,
    /// The journal this one replaced when a snapshot was taken.
    #[serde(default, skip_serializing_if = "is_zero")]
    base: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
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
    /// The account to start from (a snapshot), before `records`.
    pub snapshot: Option<String>,
    pub records: Vec<Record>,
}

/// Where commands are kept.
pub trait Store: Send + Sync + 'static {
    /// The journal written before, if any.
    fn load(&self) -> Result<Option<Loaded>, StoreError>;
    /// Starts an empty journal.
    fn begin(&self, node_id_seed: u64) -> Result<(), StoreError>;
    /// Appends a command (written, not yet necessarily on disk: see [`Store::sync`]).
    fn append(&self, at: OffsetDateTime, cmd: &Command) -> Result<(), StoreError>;
    /// Records that the command appended last was refused (replay skips it).
    fn refused(&self, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Makes everything appended so far durable (survives a power loss, not only a crash of
    /// the emulator), as the sync policy says. Callers run it after releasing the account lock,
    /// so concurrent requests share one `fsync` (group commit).
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Records `snapshot` (the account after every command journalled so far) and starts an
    /// empty journal after it, so a start replays only what came since.
    fn compact(&self, _snapshot: &str) -> Result<(), StoreError> {
        Ok(())
    }
    /// Records in the journal (what a start would replay after the snapshot).
    fn journal_records(&self) -> u64 {
        0
    }
}

/// When the journal is `fsync`ed (`--journal-sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SyncPolicy {
    /// Before every answer (group commit: concurrent requests share one `fsync`).
    #[default]
    Always,
    /// Never: written to the OS, which survives the emulator's own crash (`kill -9`) but not a
    /// power loss. Faster.
    Never,
}

/// The journal file in the data directory, locked against a second emulator.
pub struct FileJournal {
    path: PathBuf,
    file: Mutex<File>,
    /// Held for the journal's life: one emulator per data directory.
    _lock: File,
    /// This journal file's epoch (from its header) and its record lines.
    epoch: std::sync::atomic::AtomicU64,
    lines: std::sync::atomic::AtomicU64,
    seed: std::sync::atomic::AtomicU64,
    policy: SyncPolicy,
    /// Lines written, and lines known to be on disk.
    written: std::sync::atomic::AtomicU64,
    synced: Mutex<u64>,
}

impl FileJournal {
    /// Opens (creating) `<data dir>/journal.jsonl` and takes its lock.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join("journal.jsonl");
        let io = |source| StoreError::Io { path: path.clone(), source };
        // The lock is a file of its own: the journal file is replaced when a snapshot is taken.
        let lock = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(data_dir.join("lock")).map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::Locked(path)),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        // Commands carry credentials (registry passwords): only the emulator's user reads them.
        let file = OpenOptions::new().create(true).read(true).append(true).mode(0o600).open(&path).map_err(io)?;
        Ok(Self {
            path,
            file: Mutex::new(file),
            _lock: lock,
            epoch: Default::default(),
            lines: Default::default(),
            seed: Default::default(),
            policy: SyncPolicy::Always,
            written: Default::default(),
            synced: Mutex::new(0),
        })
    }

    fn snapshot_path(&self) -> PathBuf {
        self.path.with_file_name("snapshot.json")
    }

    /// `snapshot.json`: its header and the account's JSON.
    fn read_snapshot(&self) -> Result<Option<(SnapshotHeader, String)>, StoreError> {
        let path = self.snapshot_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        let corrupt = |message: String| StoreError::Corrupt { path: path.clone(), line: 1, message };
        let (head, account) = text.split_once('\n').ok_or_else(|| corrupt("a snapshot without its account".into()))?;
        let head: SnapshotHeader = serde_json::from_str(head).map_err(|e| corrupt(format!("bad snapshot header: {e}")))?;
        if head.format != SNAPSHOT_FORMAT || head.version > 1 {
            return Err(corrupt(format!("not a snapshot this build reads ({} version {})", head.format, head.version)));
        }
        Ok(Some((head, account.trim_end().to_string())))
    }

    /// The same journal with another sync policy.
    pub fn with_policy(mut self, policy: SyncPolicy) -> Self {
        self.policy = policy;
        self
    }

    fn write_line(&self, line: &str) -> Result<(), StoreError> {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = String::with_capacity(line.len() + 1);
        buf.push_str(line);
        buf.push('\n');
        f.write_all(buf.as_bytes()).map_err(|source| StoreError::Io { path: self.path.clone(), source })?;
        self.written.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.lines.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

impl Store for FileJournal {
    fn load(&self) -> Result<Option<Loaded>, StoreError> {
        let io = |source| StoreError::Io { path: self.path.clone(), source };
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut bytes).map_err(io)?;
        let corrupt = |line: usize, message: String| StoreError::Corrupt { path: self.path.clone(), line, message };
        // Every line with its byte offset; a last line without its newline is torn by definition.
        let mut lines: Vec<(usize, Result<&str, String>)> = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let (end, complete) = match bytes[start..].iter().position(|b| *b == b'\n') {
                Some(i) => (start + i, true),
                None => (bytes.len(), false),
            };
            let text = std::str::from_utf8(&bytes[start..end]).map_err(|e| format!("not UTF-8: {e}"));
            lines.push((start, if complete { text } else { Err("a line without its newline".into()) }));
            start = end + 1;
        }
        // Each command with its record line (the header is line 0), so a snapshot's records can
        // be skipped by count.
        let mut records: Vec<(u64, Record)> = Vec::with_capacity(lines.len());
        let mut record_lines = 0u64;
        let mut header: Option<Header> = None;
        for (i, (offset, text)) in lines.iter().enumerate() {
            let decoded: Result<Option<Line>, String> = text.clone().and_then(|t| match (i, t.trim().is_empty()) {
                (_, true) => Ok(None),
                (0, false) => serde_json::from_str::<Header>(t)
                    .map(|h| {
                        header = Some(h);
                        None
                    })
                    .map_err(|e| format!("bad header: {e}")),
                (_, false) => decode_line(t).map(Some),
            });
            match decoded {
                Ok(None) => {}
                Ok(Some(Line::Command(r))) => {
                    records.push((record_lines, *r));
                    record_lines += 1;
                }
                Ok(Some(Line::Refused)) => {
                    records.pop();
                    record_lines += 1;
                }
                Err(e) => {
                    // Torn only when it and everything after it is what a crash leaves: bytes
                    // that are not a whole JSON line. A whole line this build cannot read (a
                    // newer build's record) is never cut: the start is refused instead.
                    let torn =
                        |t: &Result<&str, String>| t.as_ref().map_or(true, |t| t.trim().is_empty() || serde_json::from_str::<serde_json::Value>(t).is_err());
                    if !lines[i..].iter().all(|(_, t)| torn(t)) {
                        return Err(corrupt(i + 1, e));
                    }
                    tracing::warn!(path = %self.path.display(), line = i + 1, bytes = bytes.len() - offset, error = %e, "cutting a torn journal tail (the emulator stopped mid-write)");
                    file.set_len(*offset as u64).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    break;
                }
            }
        }
        let Some(header) = header else {
            if self.snapshot_path().exists() {
                return Err(corrupt(1, "snapshot.json without the journal that follows it".into()));
            }
            return Ok(None);
        };
        if header.format != FORMAT {
            return Err(corrupt(1, format!("not a batch-emulator journal ({:?})", header.format)));
        }
        if header.version > JOURNAL_VERSION {
            return Err(corrupt(1, format!("journal version {} is newer than this build ({JOURNAL_VERSION})", header.version)));
        }
        use std::sync::atomic::Ordering::SeqCst;
        self.epoch.store(header.epoch, SeqCst);
        self.seed.store(header.node_id_seed, SeqCst);
        self.lines.store(record_lines, SeqCst);
        // A snapshot holds the account after the first `covered` records of the journal it was
        // taken from: this one (a crash before the journal was replaced), or the one this one
        // replaced (then every record here came after it).
        let snapshot = self.read_snapshot()?;
        let skip = match &snapshot {
            Some((s, _)) if s.epoch == header.epoch && header.epoch != 0 => s.covered,
            Some((s, _)) if s.epoch == header.base => 0,
            Some((s, _)) => {
                return Err(corrupt(1, format!("snapshot.json belongs to journal {} and this journal is {} (after {})", s.epoch, header.epoch, header.base)))
            }
            None if header.base != 0 => return Err(corrupt(1, "the journal follows a snapshot, and snapshot.json is missing".into())),
            None => 0,
        };
        let records = records.into_iter().filter(|(line, _)| *line >= skip).map(|(_, r)| r).collect();
        Ok(Some(Loaded { node_id_seed: header.node_id_seed, snapshot: snapshot.map(|(_, account)| account), records }))
    }

    fn begin(&self, node_id_seed: u64) -> Result<(), StoreError> {
        let epoch = new_epoch();
        let header = Header { format: FORMAT.into(), version: JOURNAL_VERSION, node_id_seed, epoch, base: 0 };
        self.write_line(&serde_json::to_string(&header).unwrap_or_default())?;
        self.epoch.store(epoch, std::sync::atomic::Ordering::SeqCst);
        self.seed.store(node_id_seed, std::sync::atomic::Ordering::SeqCst);
        self.lines.store(0, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    fn journal_records(&self) -> u64 {
        self.lines.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn compact(&self, snapshot: &str) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::SeqCst;
        let dir = self.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let io = |source| StoreError::Io { path: self.path.clone(), source };
        let (epoch, seed, covered) = (self.epoch.load(SeqCst), self.seed.load(SeqCst), self.lines.load(SeqCst));
        // 1. The snapshot, written whole or not at all.
        let head = SnapshotHeader { format: SNAPSHOT_FORMAT.into(), version: 1, node_id_seed: seed, epoch, covered };
        let text = format!("{}\n{snapshot}\n", serde_json::to_string(&head).unwrap_or_default());
        write_atomically(&dir.join("snapshot.json"), text.as_bytes()).map_err(io)?;
        // 2. A new, empty journal after it. A crash before this point leaves the old journal,
        //    whose first `covered` records the snapshot already holds.
        let next = new_epoch();
        let header = Header { format: FORMAT.into(), version: JOURNAL_VERSION, node_id_seed: seed, epoch: next, base: epoch };
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        write_atomically(&self.path, format!("{}\n", serde_json::to_string(&header).unwrap_or_default()).as_bytes()).map_err(io)?;
        *f = OpenOptions::new().read(true).append(true).open(&self.path).map_err(io)?;
        self.epoch.store(next, SeqCst);
        self.lines.store(0, SeqCst);
        *self.synced.lock().unwrap_or_else(|e| e.into_inner()) = self.written.load(SeqCst);
        Ok(())
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

    fn sync(&self) -> Result<(), StoreError> {
        if self.policy == SyncPolicy::Never {
            return Ok(());
        }
        // Whoever holds this lock syncs everything written before it started; the callers
        // queued behind find their lines already on disk and return at once.
        let target = self.written.load(std::sync::atomic::Ordering::SeqCst);
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        if *synced >= target {
            return Ok(());
        }
        let upto = self.written.load(std::sync::atomic::Ordering::SeqCst);
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner()).try_clone().map_err(|source| StoreError::Io { path: self.path.clone(), source })?;
        file.sync_data().map_err(|source| StoreError::Io { path: self.path.clone(), source })?;
        *synced = upto;
        Ok(())
    }
}

const SNAPSHOT_FORMAT: &str = "batch-emulator-snapshot";

/// The first line of `snapshot.json`; the account's JSON is the second.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotHeader {
    format: String,
    version: u32,
    node_id_seed: u64,
    /// The journal epoch whose first `covered` record lines the snapshot holds.
    epoch: u64,
    covered: u64,
}

fn new_epoch() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 | 1
}

/// Writes a file whole or not at all (a temporary file, fsynced, renamed, directory fsynced).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
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
        Ok(seed.map(|node_id_seed| Loaded { node_id_seed, snapshot: None, records: self.records.lock().unwrap_or_else(|e| e.into_inner()).clone() }))
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

    const HEADER: &str = r#"{"format":"batch-emulator-journal","version":1,"nodeIdSeed":7}"#;
    const GOOD: &str = r#"{"v":1,"at":"2026-01-01T00:00:00.0000000Z","cmd":{"type":"recover"}}"#;

    /// Every shape a crash leaves: the tail is cut from the file, a write after it starts on a
    /// line of its own, and the next start reads everything.
    #[test]
    fn torn_tails_are_cut_and_the_journal_keeps_working() {
        let tails: [&[u8]; 7] = [
            b"{\"v\":1,\"at",
            b"{\"v\":1,\"at\":\"2026-01-01T00:00:00.0000000Z\",\"cmd\":{\"type\":\"recover\"}}",
            b"\xff\xfe\x00garbage",
            b"{\"v\":1,\"at\xe2\x82",
            b"{\"v\":1,\"at\"\n\x00\x00\x00\x00",
            b"\n\n{\"v\"",
            b"",
        ];
        for (n, tail) in tails.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("journal.jsonl");
            let mut bytes = format!("{HEADER}\n{GOOD}\n").into_bytes();
            bytes.extend_from_slice(tail);
            std::fs::write(&path, &bytes).unwrap();
            {
                let j = FileJournal::open(dir.path()).unwrap();
                assert_eq!(j.load().unwrap().unwrap().records.len(), 1, "tail {n}");
                j.append(datetime!(2026-01-02 00:00 UTC), &Command::Recover).unwrap();
            }
            let j = FileJournal::open(dir.path()).unwrap();
            assert_eq!(j.load().unwrap().unwrap().records.len(), 2, "tail {n}: the record written after the cut reads back");
        }
    }

    #[test]
    fn a_torn_header_is_an_empty_journal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal.jsonl"), &HEADER.as_bytes()[..20]).unwrap();
        let j = FileJournal::open(dir.path()).unwrap();
        assert!(j.load().unwrap().is_none());
        j.begin(9).unwrap();
        assert_eq!(j.load().unwrap().unwrap().node_id_seed, 9);
    }

    #[test]
    fn a_bad_line_before_a_good_one_and_a_newer_record_are_refused_never_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        std::fs::write(&path, format!("{HEADER}\n{{\"v\":1,\"at\n{GOOD}\n")).unwrap();
        assert!(matches!(FileJournal::open(dir.path()).unwrap().load(), Err(StoreError::Corrupt { line: 2, .. })));
        let newer = r#"{"v":2,"at":"2026-01-01T00:00:00Z","cmd":{"type":"recover"}}"#;
        std::fs::write(&path, format!("{HEADER}\n{GOOD}\n{newer}\n")).unwrap();
        assert!(matches!(FileJournal::open(dir.path()).unwrap().load(), Err(StoreError::Corrupt { line: 3, .. })));
        assert!(std::fs::read_to_string(&path).unwrap().contains(newer), "nothing was cut");
    }

    #[test]
    fn sync_catches_up_with_every_line_written_unless_the_policy_is_never() {
        let dir = tempfile::tempdir().unwrap();
        let j = FileJournal::open(dir.path()).unwrap();
        j.begin(1).unwrap();
        j.append(datetime!(2026-01-01 00:00 UTC), &Command::Recover).unwrap();
        j.sync().unwrap();
        assert_eq!(*j.synced.lock().unwrap(), 2);
        j.append(datetime!(2026-01-01 00:00 UTC), &Command::Recover).unwrap();
        j.sync().unwrap();
        j.sync().unwrap();
        assert_eq!(*j.synced.lock().unwrap(), 3);
        let dir = tempfile::tempdir().unwrap();
        let lazy = FileJournal::open(dir.path()).unwrap().with_policy(SyncPolicy::Never);
        lazy.begin(1).unwrap();
        lazy.sync().unwrap();
        assert_eq!(*lazy.synced.lock().unwrap(), 0, "never means never");
    }

    #[test]
    fn a_snapshot_covers_the_records_before_it_even_when_the_journal_was_not_replaced_yet() {
        let dir = tempfile::tempdir().unwrap();
        let at = datetime!(2026-01-01 00:00 UTC);
        let job = |id: &str| Command::DeleteJob { job_id: id.into() };
        {
            let j = FileJournal::open(dir.path()).unwrap();
            j.begin(5).unwrap();
            j.append(at, &job("a")).unwrap();
            j.append(at, &job("b")).unwrap();
            assert_eq!(j.journal_records(), 2);
            // What compact writes first: the snapshot. Then a crash, before the new journal.
            let epoch = j.epoch.load(std::sync::atomic::Ordering::SeqCst);
            let head = SnapshotHeader { format: SNAPSHOT_FORMAT.into(), version: 1, node_id_seed: 5, epoch, covered: 2 };
            write_atomically(&j.snapshot_path(), format!("{}\n{{\"state\":1}}\n", serde_json::to_string(&head).unwrap()).as_bytes()).unwrap();
        }
        let j = FileJournal::open(dir.path()).unwrap();
        let loaded = j.load().unwrap().unwrap();
        assert_eq!(loaded.snapshot.as_deref(), Some(r#"{"state":1}"#));
        assert!(loaded.records.is_empty(), "the two records are in the snapshot");
        // compact: the snapshot and a new journal; later records follow it.
        j.compact(r#"{"state":2}"#).unwrap();
        j.append(at, &job("c")).unwrap();
        drop(j);
        let j = FileJournal::open(dir.path()).unwrap();
        let loaded = j.load().unwrap().unwrap();
        assert_eq!(loaded.snapshot.as_deref(), Some(r#"{"state":2}"#));
        assert_eq!(loaded.records, vec![Record { at, cmd: job("c") }]);
        assert_eq!(loaded.node_id_seed, 5);
        // A snapshot of another journal is refused, not mixed in.
        std::fs::write(
            j.snapshot_path(),
            format!(
                "{}\n{{}}\n",
                serde_json::to_string(&SnapshotHeader { format: SNAPSHOT_FORMAT.into(), version: 1, node_id_seed: 5, epoch: 99, covered: 0 }).unwrap()
            ),
        )
        .unwrap();
        assert!(matches!(j.load(), Err(StoreError::Corrupt { .. })));
    }

    #[test]
    fn the_journal_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let _j = FileJournal::open(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("journal.jsonl")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
