//! A job's tasks, kept in id order with an index by state and running totals per state, so the
//! questions the scheduler and the API ask on every event ("how many are running?", "are all
//! completed?", task counts, "the completed ones after this id") cost the same with 10 tasks or
//! 100,000.
//!
//! Every change to a task goes through [`TaskTable::get_mut`], whose guard re-indexes the task
//! when it is dropped, so the index cannot drift from the tasks.

use crate::ids::IdKey;
use crate::task::{Task, TaskState};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Bound, Deref, DerefMut};

const STATES: [TaskState; 5] = [TaskState::Active, TaskState::Preparing, TaskState::Launching, TaskState::Running, TaskState::Completed];

/// The states a task holds a node slot in.
pub const ON_A_NODE: [TaskState; 3] = [TaskState::Preparing, TaskState::Launching, TaskState::Running];

fn slot(state: TaskState) -> usize {
    match state {
        TaskState::Active => 0,
        TaskState::Preparing => 1,
        TaskState::Launching => 2,
        TaskState::Running => 3,
        TaskState::Completed => 4,
    }
}

/// Tasks and slots per state, and how many of the completed ones succeeded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub tasks: [usize; 5],
    pub slots: [i64; 5],
    pub succeeded_tasks: usize,
    pub succeeded_slots: i64,
}

impl Totals {
    pub fn tasks_in(&self, state: TaskState) -> usize {
        self.tasks[slot(state)]
    }
    pub fn slots_in(&self, state: TaskState) -> i64 {
        self.slots[slot(state)]
    }
}

/// What one task contributes to the index and totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Contribution {
    state: TaskState,
    slots: i64,
    succeeded: bool,
}

impl Contribution {
    fn of(t: &Task) -> Self {
        Contribution { state: t.state, slots: t.required_slots() as i64, succeeded: t.succeeded() }
    }
}

#[derive(Debug, Clone, Default)]
struct Index {
    by_state: [BTreeSet<IdKey>; 5],
    totals: Totals,
}

impl Index {
    fn add(&mut self, key: &IdKey, c: Contribution) {
        let i = slot(c.state);
        self.by_state[i].insert(key.clone());
        self.totals.tasks[i] += 1;
        self.totals.slots[i] += c.slots;
        if c.succeeded {
            self.totals.succeeded_tasks += 1;
            self.totals.succeeded_slots += c.slots;
        }
    }
    fn remove(&mut self, key: &IdKey, c: Contribution) {
        let i = slot(c.state);
        self.by_state[i].remove(key);
        self.totals.tasks[i] -= 1;
        self.totals.slots[i] -= c.slots;
        if c.succeeded {
            self.totals.succeeded_tasks -= 1;
            self.totals.succeeded_slots -= c.slots;
        }
    }
}

/// The tasks of one job. A snapshot holds the tasks only; the index is rebuilt from them.
#[derive(Debug, Clone, Default)]
pub struct TaskTable {
    tasks: BTreeMap<IdKey, Task>,
    index: Index,
}

impl serde::Serialize for TaskTable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.tasks.serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for TaskTable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let tasks = BTreeMap::<IdKey, Task>::deserialize(d)?;
        let mut index = Index::default();
        for (k, t) in &tasks {
            index.add(k, Contribution::of(t));
        }
        Ok(TaskTable { tasks, index })
    }
}

/// A task borrowed for change; re-indexed when dropped.
pub struct TaskMut<'a> {
    task: &'a mut Task,
    index: &'a mut Index,
    before: Contribution,
}

impl Deref for TaskMut<'_> {
    type Target = Task;
    fn deref(&self) -> &Task {
        self.task
    }
}

impl DerefMut for TaskMut<'_> {
    fn deref_mut(&mut self) -> &mut Task {
        self.task
    }
}

impl Drop for TaskMut<'_> {
    fn drop(&mut self) {
        let after = Contribution::of(self.task);
        if after != self.before {
            let key = self.task.key();
            self.index.remove(&key, self.before);
            self.index.add(&key, after);
        }
    }
}

impl TaskTable {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
    pub fn get(&self, key: &IdKey) -> Option<&Task> {
        self.tasks.get(key)
    }
    pub fn contains_key(&self, key: &IdKey) -> bool {
        self.tasks.contains_key(key)
    }
    pub fn get_mut(&mut self, key: &IdKey) -> Option<TaskMut<'_>> {
        let task = self.tasks.get_mut(key)?;
        let before = Contribution::of(task);
        Some(TaskMut { task, index: &mut self.index, before })
    }
    /// Adds or replaces the task under `key`.
    pub fn insert(&mut self, key: IdKey, task: Task) -> Option<Task> {
        let old = self.remove(&key);
        self.index.add(&key, Contribution::of(&task));
        self.tasks.insert(key, task);
        old
    }
    pub fn remove(&mut self, key: &IdKey) -> Option<Task> {
        let task = self.tasks.remove(key)?;
        self.index.remove(key, Contribution::of(&task));
        Some(task)
    }
    /// All tasks in id order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Task> + '_ {
        self.tasks.values()
    }
    /// Tasks in id order from `start`.
    pub fn range(&self, start: Bound<IdKey>) -> impl Iterator<Item = (&IdKey, &Task)> + '_ {
        self.tasks.range((start, Bound::Unbounded))
    }
    /// Tasks in any of `states`, in id order from `start` (cost grows with what is read, not with
    /// the number of tasks).
    pub fn in_states<'a>(&'a self, states: &[TaskState], start: Bound<IdKey>) -> impl Iterator<Item = (&'a IdKey, &'a Task)> + 'a {
        let mut ranges: Vec<_> = states.iter().map(|s| self.index.by_state[slot(*s)].range((start.clone(), Bound::Unbounded)).peekable()).collect();
        std::iter::from_fn(move || {
            let (best, _) = ranges.iter_mut().enumerate().filter_map(|(i, r)| r.peek().map(|k| (i, *k))).min_by(|a, b| a.1.cmp(b.1))?;
            let key = ranges[best].next()?;
            self.tasks.get_key_value(key)
        })
    }
    /// Tasks in `state`, in id order.
    pub fn keys_in(&self, state: TaskState) -> impl Iterator<Item = &IdKey> + '_ {
        self.index.by_state[slot(state)].iter()
    }
    pub fn totals(&self) -> &Totals {
        &self.index.totals
    }
    /// Tasks on a node: preparing, launching or running.
    pub fn running(&self) -> usize {
        ON_A_NODE.iter().map(|s| self.index.totals.tasks_in(*s)).sum()
    }
    pub fn all_completed(&self) -> bool {
        self.index.totals.tasks_in(TaskState::Completed) == self.tasks.len()
    }
    /// Checks the index against the tasks (for tests).
    pub fn check_index(&self) -> Result<(), String> {
        let mut fresh = Index::default();
        for (k, t) in &self.tasks {
            fresh.add(k, Contribution::of(t));
        }
        if fresh.totals != self.index.totals {
            return Err(format!("totals {:?} != {:?}", self.index.totals, fresh.totals));
        }
        for s in STATES {
            if fresh.by_state[slot(s)] != self.index.by_state[slot(s)] {
                return Err(format!("index of {} differs", s.as_str()));
            }
        }
        Ok(())
    }
}
