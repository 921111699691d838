//! A crash at any journal write boundary (or in the middle of a line) loses nothing that was
//! acknowledged: a scripted run is journalled, the journal is cut at every boundary and inside
//! the next line, and each cut restarts to exactly the state the account had after the last
//! whole record; then it takes a new command and restarts again (twice in a row).

use batch_emulator::store::{FileJournal, Store};
use batch_model::{Account, Command, Effect, TaskOutcome};
use serde_json::json;
use std::collections::VecDeque;
use time::macros::datetime;
use time::OffsetDateTime;

const SEED: u64 = 42;

fn snapshot(a: &Account) -> String {
    format!("{:?}\n{:?}\n{:?}", a.pools, a.jobs, a.schedules)
}

/// Applies a command as the emulator does: journalled first, then applied, a refusal marked.
fn execute(acct: &mut Account, journal: &FileJournal, cmd: Command, now: OffsetDateTime) {
    journal.append(now, &cmd).unwrap();
    if acct.apply(cmd, now).is_err() {
        journal.refused(now).unwrap();
    }
}

/// The scripted run: every request and every agent report, one journal record each. Returns
/// the state after each record (index = records written) and the journal's length then.
fn scripted_run(journal: &FileJournal, path: &std::path::Path) -> Vec<(usize, u64, String)> {
    let mut acct = Account::with_node_id_seed(SEED);
    let now = datetime!(2026-03-01 00:00 UTC);
    journal.begin(SEED).unwrap();
    let requests: Vec<Command> = vec![
        Command::CreatePool {
            spec: serde_json::from_value(json!({"id": "p", "vmSize": "s", "targetDedicatedNodes": 2, "taskSlotsPerNode": 1,
                "virtualMachineConfiguration": {"imageReference": {"publisher": "x"}, "nodeAgentSKUId": "y"}}))
            .unwrap(),
        },
        Command::CreateJob { spec: serde_json::from_value(json!({"id": "j", "poolInfo": {"poolId": "p"}})).unwrap() },
        Command::AddTask { job_id: "j".into(), spec: serde_json::from_value(json!({"id": "a", "commandLine": "x"})).unwrap() },
        Command::AddTask { job_id: "j".into(), spec: serde_json::from_value(json!({"id": "b", "commandLine": "x"})).unwrap() },
        // Refused (a pool with that id exists): its marker is a record too.
        Command::CreatePool {
            spec: serde_json::from_value(
                json!({"id": "P", "vmSize": "s", "virtualMachineConfiguration": {"imageReference": {"publisher": "x"}, "nodeAgentSKUId": "y"}}),
            )
            .unwrap(),
        },
        Command::AddTask { job_id: "j".into(), spec: serde_json::from_value(json!({"id": "c", "commandLine": "x"})).unwrap() },
        Command::UpdateJob { job_id: "j".into(), patch: serde_json::from_value(json!({"priority": 7})).unwrap() },
        Command::TerminateTask { job_id: "j".into(), task_id: "c".into() },
        Command::TerminateJob { job_id: "j".into(), reason: None },
    ];
    let mut states = vec![(0, std::fs::metadata(path).unwrap().len(), snapshot(&acct))];
    let mut reports: VecDeque<Command> = VecDeque::new();
    let mut records = 0;
    let mut record = |acct: &mut Account, cmd: Command, states: &mut Vec<(usize, u64, String)>, reports: &mut VecDeque<Command>| {
        execute(acct, journal, cmd, now);
        records += 1;
        states.push((records, std::fs::metadata(path).unwrap().len(), snapshot(acct)));
        for e in acct.drain_effects() {
            match e {
                Effect::ProvisionNode { pool_id, node_id, .. } => {
                    reports.push_back(Command::NodeProvisioned { pool_id: pool_id.clone(), node_id: node_id.clone() });
                    reports.push_back(Command::NodeReady { pool_id, node_id });
                }
                Effect::Launch(l) => {
                    reports.push_back(Command::TaskStarted { run_id: l.run_id, start: now });
                    let outcome = TaskOutcome::Exited { exit_code: 0, container_info: None, start: now, end: now };
                    reports.push_back(Command::TaskExited { run_id: l.run_id, outcome });
                }
                Effect::FinishJobTransition { job_id } => reports.push_back(Command::FinishJobTransition { job_id }),
                _ => {}
            }
        }
    };
    for req in requests {
        record(&mut acct, req, &mut states, &mut reports);
        while let Some(r) = reports.pop_front() {
            record(&mut acct, r, &mut states, &mut reports);
        }
    }
    states
}

/// The state a journal restarts to (records replayed as the emulator replays them).
fn restart(dir: &std::path::Path) -> (FileJournal, String, usize) {
    let journal = FileJournal::open(dir).unwrap();
    let loaded = journal.load().unwrap();
    let mut acct = Account::with_node_id_seed(SEED);
    let mut n = 0;
    if let Some(l) = loaded {
        n = l.records.len();
        for r in l.records {
            let _ = acct.apply(r.cmd, r.at);
            acct.drain_effects();
        }
    } else {
        journal.begin(SEED).unwrap();
    }
    (journal, snapshot(&acct), n)
}

#[test]
fn a_crash_at_any_write_boundary_restarts_with_everything_acknowledged_twice_in_a_row() {
    let original = tempfile::tempdir().unwrap();
    let path = original.path().join("journal.jsonl");
    let states = {
        let journal = FileJournal::open(original.path()).unwrap();
        scripted_run(&journal, &path)
    };
    assert!(states.len() > 20, "the run journals many records ({})", states.len());
    let bytes = std::fs::read(&path).unwrap();
    for (i, (_, len, state)) in states.iter().enumerate() {
        // At the boundary, and torn inside the next line (1 byte in, halfway, 1 byte short).
        let next = states.get(i + 1).map_or(*len, |s| s.1);
        let mut cuts = vec![*len];
        if next > *len + 2 {
            cuts.extend([*len + 1, (*len + next) / 2, next - 1]);
        }
        for cut in cuts {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("journal.jsonl"), &bytes[..cut as usize]).unwrap();
            let (journal, restarted, _) = restart(dir.path());
            // A refusal marker cut off replays its command as refused anyway (same build).
            assert_eq!(&restarted, state, "cut at byte {cut} (record boundary {i})");
            // It keeps working: one more command, and a second restart sees it.
            let extra = Command::CreateJob { spec: serde_json::from_value(json!({"id": "after-crash", "poolInfo": {"poolId": "p"}})).unwrap() };
            journal.append(datetime!(2026-03-02 00:00 UTC), &extra).unwrap();
            drop(journal);
            let (_, again, _) = restart(dir.path());
            assert!(again.contains("after-crash"), "cut at byte {cut}: the record written after the restart is back");
        }
    }
}
