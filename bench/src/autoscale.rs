//! Figure 9, autoscale: evaluations per second of the documented example formulas (parsed
//! once, evaluated many times, as a pool's periodic evaluation does) against 1,000 samples per
//! metric. Pure computation in the domain crate: no emulator process is involved.

use crate::Row;
use batch_model::autoscale::{evaluate, parse, Inputs};
use std::time::Instant;
use time::OffsetDateTime;

/// The formulas of batch-automatic-scaling.md.
const FORMULAS: &[(&str, &str)] = &[
    ("pending tasks", "startingNumberOfVMs = 1; maxNumberofVMs = 25; pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second); pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second)); $TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples); $NodeDeallocationOption = taskcompletion;"),
    ("CPU", "$totalDedicatedNodes = (min($CPUPercent.GetSample(TimeInterval_Minute * 10)) > 0.7) ? ($CurrentDedicatedNodes * 1.1) : $CurrentDedicatedNodes; $totalDedicatedNodes = (avg($CPUPercent.GetSample(TimeInterval_Minute * 60)) < 0.2) ? ($CurrentDedicatedNodes * 0.9) : $totalDedicatedNodes; $TargetDedicatedNodes = min(400, $totalDedicatedNodes)"),
    ("task-based", "$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 15); $tasks = $samples < 70 ? max(0,$PendingTasks.GetSample(1)) : max( $PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 15))); $targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2); $TargetDedicatedNodes = max(0, min($targetVMs, 20)); $NodeDeallocationOption = taskcompletion;"),
    ("time-based", "$curTime = time(); $workHours = $curTime.hour >= 8 && $curTime.hour < 18; $isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5; $isWorkingWeekdayHour = $workHours && $isWeekday; $TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10; $NodeDeallocationOption = taskcompletion;"),
];

pub fn autoscale_rows(smoke: bool) -> Vec<Row> {
    let now = OffsetDateTime::now_utc();
    let history: Vec<(OffsetDateTime, f64)> = (0..1000).map(|i| (now - time::Duration::seconds(30 * (999 - i)), (i % 37) as f64 / 37.0)).collect();
    let samples = |_: &str| history.clone();
    let seconds = if smoke { 0.05 } else { 2.0 };
    let mut rows = Vec::new();
    for (name, formula) in FORMULAS {
        let parsed = parse(formula).expect("a documented formula parses");
        let (mut n, t0) = (0u64, Instant::now());
        while t0.elapsed().as_secs_f64() < seconds {
            let mut rand = || 0.5;
            let mut inputs = Inputs {
                now,
                current_dedicated: 10.0,
                current_low_priority: 0.0,
                target_dedicated: 10.0,
                target_low_priority: 0.0,
                samples: &samples,
                random: &mut rand,
            };
            evaluate(&parsed, &mut inputs).expect("a documented formula evaluates");
            n += 1;
        }
        let rate = n as f64 / t0.elapsed().as_secs_f64();
        rows.push(Row {
            name: format!("autoscale: the {name} formula, 1,000 samples a metric"),
            emulator: format!("{rate:.0} eval/s"),
            baseline: "–".into(),
            ratio: "–".into(),
            target: "≥ 10,000 eval/s".into(),
        });
    }
    rows
}
