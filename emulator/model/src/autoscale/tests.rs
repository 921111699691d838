//! The documented formulas, with the results they imply, and the language's rules.

use super::*;
use time::macros::datetime;
use time::OffsetDateTime;

/// A Monday, 10:30 UTC.
const NOW: OffsetDateTime = datetime!(2026-11-30 10:30:00 UTC);

/// Evaluates with `samples` for every metric (one every 30 s up to now, the newest last).
fn eval_with(formula: &str, samples: &[f64], current: f64) -> Result<Outcome, FormulaError> {
    let history: Vec<(OffsetDateTime, f64)> =
        samples.iter().enumerate().map(|(i, v)| (NOW - time::Duration::seconds(30 * (samples.len() - 1 - i) as i64), *v)).collect();
    let get = move |_: &str| history.clone();
    let mut rand = || 0.25;
    let mut inputs = Inputs {
        now: NOW,
        current_dedicated: current,
        current_low_priority: 0.0,
        target_dedicated: current,
        target_low_priority: 0.0,
        samples: &get,
        random: &mut rand,
    };
    run(formula, &mut inputs)
}

fn eval(formula: &str) -> Outcome {
    eval_with(formula, &[], 3.0).unwrap_or_else(|e| panic!("{formula}: {e}"))
}

#[test]
fn the_documented_pending_tasks_formula() {
    let f = "startingNumberOfVMs = 1;\nmaxNumberofVMs = 25;\npendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);\npendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));\n$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);\n$NodeDeallocationOption = taskcompletion;";
    // No samples yet: the starting size.
    let o = eval_with(f, &[], 0.0).unwrap();
    assert_eq!((o.target_dedicated, o.node_deallocation_option.as_str()), (1.0, "taskcompletion"));
    // Six full minutes of 40 pending tasks: capped at 25.
    let o = eval_with(f, &[40.0; 13], 0.0).unwrap();
    assert_eq!(o.target_dedicated, 25.0);
    let o = eval_with(f, &[4.0, 6.0, 8.0, 4.0, 6.0, 8.0, 6.0], 0.0).unwrap();
    assert_eq!(o.target_dedicated, 6.0);
}

#[test]
fn the_documented_time_based_formula_and_its_results() {
    let f = "$curTime = time();\n$workHours = $curTime.hour >= 8 && $curTime.hour < 18;\n$isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;\n$isWorkingWeekdayHour = $workHours && $isWeekday;\n$TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;\n$NodeDeallocationOption = taskcompletion;";
    let o = eval(f);
    assert_eq!(o.target_dedicated, 20.0, "Monday 10:30 is a working hour");
    assert_eq!(
        o.results(),
        "$TargetDedicatedNodes=20;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;$curTime=2026-11-30T10:30:00.000Z;$isWeekday=1;$isWorkingWeekdayHour=1;$workHours=1"
    );
    // The .NET sample's one-liner: 5 on Mondays.
    assert_eq!(eval("$TargetDedicatedNodes = (time().weekday == 1 ? 5:1);").target_dedicated, 5.0);
    assert_eq!(eval("$curTime = time() + (-6 * TimeInterval_Hour); $TargetDedicatedNodes = $curTime.hour;").target_dedicated, 4.0);
}

#[test]
fn the_documented_task_based_and_parallel_task_formulas() {
    let f = "// Get pending tasks for the past 15 minutes.\n$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 15);\n// If we have fewer than 70 percent data points, we use the last sample point,\n// otherwise we use the maximum of last sample point and the history average.\n$tasks = $samples < 70 ? max(0,$PendingTasks.GetSample(1)) : max( $PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 15)));\n$targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2);\n$TargetDedicatedNodes = max(0, min($targetVMs, 20));\n$NodeDeallocationOption = taskcompletion;";
    assert_eq!(eval_with(f, &[7.0], 4.0).unwrap().target_dedicated, 7.0, "few samples: the last one");
    assert_eq!(eval_with(f, &[0.0], 4.0).unwrap().target_dedicated, 2.0, "nothing pending: half the current target");
    assert_eq!(eval_with(f, &[30.0; 31], 4.0).unwrap().target_dedicated, 20.0, "capped at 20");
    let g = "$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);\n$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1),avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));\n$cores = $TargetDedicatedNodes * 4;\n$extraVMs = (($tasks - $cores) + 3) / 4;\n$targetVMs = ($TargetDedicatedNodes + $extraVMs);\n$TargetDedicatedNodes = max(0,min($targetVMs,3));\n$NodeDeallocationOption = taskcompletion;";
    assert_eq!(eval_with(g, &[9.0], 1.0).unwrap().target_dedicated, 3.0);
    assert_eq!(eval_with(g, &[1.0], 1.0).unwrap().target_dedicated, 1.0);
}

#[test]
fn the_documented_cpu_preemption_and_initial_size_formulas() {
    let cpu = "$totalDedicatedNodes =\n    (min($CPUPercent.GetSample(TimeInterval_Minute * 10)) > 0.7) ?\n    ($CurrentDedicatedNodes * 1.1) : $CurrentDedicatedNodes;\n$totalDedicatedNodes =\n    (avg($CPUPercent.GetSample(TimeInterval_Minute * 60)) < 0.2) ?\n    ($CurrentDedicatedNodes * 0.9) : $totalDedicatedNodes;\n$TargetDedicatedNodes = min(400, $totalDedicatedNodes)";
    assert!((eval_with(cpu, &[0.9; 21], 10.0).unwrap().target_dedicated - 11.0).abs() < 1e-9);
    assert!((eval_with(cpu, &[0.1; 21], 10.0).unwrap().target_dedicated - 9.0).abs() < 1e-9);
    let preempted = "maxNumberofVMs = 25;\n$TargetDedicatedNodes = min(maxNumberofVMs, $PreemptedNodeCount.GetSample(180 * TimeInterval_Second));\n$TargetLowPriorityNodes = min(maxNumberofVMs , maxNumberofVMs - $TargetDedicatedNodes);\n$NodeDeallocationOption = taskcompletion;";
    let o = eval_with(preempted, &[2.0, 3.0], 0.0).unwrap();
    assert_eq!((o.target_dedicated, o.target_low_priority), (2.0, 23.0));
    let initial = "$TargetDedicatedNodes = 4;\n lifespan = time() - time(\"Mon, 30 Nov 2026 10:25:00 GMT\");\n span = TimeInterval_Minute * 60;\n startup = TimeInterval_Minute * 10;\n ratio = 50;\n $TargetDedicatedNodes = (lifespan > startup ? (max($RunningTasks.GetSample(span, ratio), $ActiveTasks.GetSample(span, ratio)) == 0 ? 0 : $TargetDedicatedNodes) : 4);";
    assert_eq!(eval_with(initial, &[], 0.0).unwrap().target_dedicated, 4.0, "within the first 10 minutes");
}

#[test]
fn the_operator_table_and_functions() {
    let v = |f: &str| eval(&format!("x = {f};")).variables["x"].clone();
    assert_eq!(v("1 + 2 * 3 - 4 / 2"), Value::Double(5.0));
    assert_eq!(v("[1,2,3] * 2"), Value::Vec(vec![2.0, 4.0, 6.0]));
    assert_eq!(v("[1,2] + [3,4]"), Value::Vec(vec![4.0, 6.0]));
    assert_eq!(v("2 * TimeInterval_Minute"), Value::Interval(time::Duration::minutes(2)));
    assert_eq!(v("TimeInterval_Hour / 2 > TimeInterval_Minute"), Value::Double(1.0));
    assert_eq!(v("\"a\" < \"b\""), Value::Double(1.0));
    assert_eq!(v("!0 && (1 || 0)"), Value::Double(1.0));
    assert_eq!(v("-TimeInterval_Second"), Value::Interval(time::Duration::seconds(-1)));
    assert_eq!(v("avg([1,2,3], 7)"), Value::Double(3.25), "avg(v, 7) is avg(1,2,3,7)");
    assert_eq!(v("len([1,2,3], 4)"), Value::Double(4.0));
    assert_eq!(v("lg(8)"), Value::Double(3.0));
    assert_eq!(v("log([10, 100])"), Value::Vec(vec![1.0, 2.0]));
    assert_eq!(v("range([4, 9, 1])"), Value::Double(8.0));
    assert_eq!(v("norm([3, 4])"), Value::Double(5.0));
    assert_eq!(v("std([2, 4, 4, 4, 5, 5, 7, 9])"), Value::Double((32.0f64 / 7.0).sqrt()));
    assert_eq!(v("sum([1,2], 3)"), Value::Double(6.0));
    assert_eq!(v("percentile([5, 1, 4, 2, 3], 40)"), Value::Double(2.0));
    assert_eq!(v("val([5, 6, 7], 1)"), Value::Double(6.0));
    assert_eq!(v("rand()"), Value::Double(0.25));
    assert_eq!(v("time(\"2026-01-02T03:04:05Z\").day"), Value::Double(2.0));
    assert_eq!(v("$CPUPercent.GetSamplePeriod()"), Value::Interval(time::Duration::seconds(30)));
    let o = eval("$TargetDedicated = 2; $TargetDedicatedNodes = 7; $TargetLowPriority = 3;");
    assert_eq!((o.target_dedicated, o.target_low_priority), (7.0, 3.0), "the full name wins over the alias");
    let o = eval("$TargetDedicatedNodes = 2; stop(); $TargetDedicatedNodes = 9;");
    assert!(o.stopped && o.target_dedicated == 2.0);
}

#[test]
fn samples_and_their_percentages() {
    let samples: Vec<f64> = (1..=20).map(f64::from).collect(); // the last 10 minutes, all there
    let o = eval_with("a = $RunningTasks.GetSample(TimeInterval_Minute * 5); b = $RunningTasks.GetSample(1 * TimeInterval_Minute, 2 * TimeInterval_Minute); c = $RunningTasks.Count(); d = $RunningTasks.GetSample(3);", &samples, 0.0).unwrap();
    assert_eq!(o.variables["a"], Value::Vec((10..=20).map(f64::from).collect()));
    assert_eq!(o.variables["b"], Value::Vec(vec![16.0, 17.0, 18.0]));
    assert_eq!(o.variables["c"], Value::Double(20.0));
    assert_eq!(o.variables["d"], Value::Vec(vec![18.0, 19.0, 20.0]));
    // 20 samples over 20 minutes is 50 percent.
    let e = eval_with("x = $CPUPercent.GetSample(TimeInterval_Minute * 20, 95);", &samples, 0.0).unwrap_err();
    assert!(e.detail().contains("Insufficient samples"), "{e}");
    assert_eq!(eval_with("x = $CPUPercent.GetSamplePercent(TimeInterval_Minute * 20);", &samples, 0.0).unwrap().variables["x"], Value::Double(50.0));
}

#[test]
fn errors_are_reported_as_the_service_reports_them() {
    let err = |f: &str| eval_with(f, &[], 0.0).unwrap_err();
    // As recorded from the service.
    let e = err("$something_useless");
    assert_eq!((e.code.as_str(), e.message.as_str()), ("AutoScalingFormulaEvaluationError", "The specified auto-scaling formula has evaluation error"));
    assert_eq!(e.values, [("Message".to_string(), "Line 1, Col 1: Undefined symbol: $something_useless".to_string())]);
    let e = err("$TargetDedicatedNodes = 1;\n$x = (2 + ;");
    assert_eq!((e.code.as_str(), e.detail()), ("AutoScalingFormulaSyntaxError", "Line 2, Col 11: expected a value, found ;"));
    let eval_error = |f: &str, fragment: &str| {
        let e = err(f);
        assert_eq!(e.code, "AutoScalingFormulaEvaluationError", "{f}");
        assert!(e.detail().contains(fragment), "{f}: {}", e.detail());
    };
    eval_error("$x = \"a\" + 1;", "Type mismatch");
    eval_error("$CPUPercent = 1;", "Read-only symbol");
    eval_error("$x = nosuch(1);", "Undefined function: nosuch");
    eval_error("$NodeDeallocationOption = sometimes;", "Undefined symbol: sometimes");
    eval_error("$x = avg();", "Invalid argument");
    assert_eq!(err("$x = 1 $y = 2").code, "AutoScalingFormulaSyntaxError");
    assert_eq!(err(&"x=1;".repeat(101)).code, "AutoScalingFormulaSyntaxError");
    assert_eq!(err(&"1".repeat(9000)).code, "AutoScalingFormulaTooLong");
    assert_eq!(err(&format!("x = {}1{};", "(".repeat(200), ")".repeat(200))).code, "AutoScalingFormulaSyntaxError", "nesting is bounded");
    assert_eq!(err(&format!("x = {}1;", "-".repeat(500))).code, "AutoScalingFormulaSyntaxError");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text of formula characters parses and evaluates to a result or an error, never
        /// a panic, in bounded time.
        #[test]
        fn any_input_is_answered(src in "[-$a-zA-Z0-9_ ()\\[\\],;.?:=+*/!<>&|\"\n]{0,300}") {
            let _ = eval_with(&src, &[1.0, 2.0, 3.0], 2.0);
        }

        #[test]
        fn deep_or_long_inputs_are_refused_not_crashed(depth in 0usize..5000, op in prop::sample::select(vec!["(", "-", "!", "[", "max("])) {
            let src = format!("x = {}1", op.repeat(depth));
            let _ = eval_with(&src, &[], 0.0);
        }
    }
}

/// doAzureParallel's formulas (R/autoscale.R), filled in as its `getAutoscaleFormula` does
/// (dedicated 0..4, low-priority 0..0, two tasks a node).
#[test]
fn the_doazureparallel_formulas() {
    let queue = "$maxTasksPerNode = 2;$round = $maxTasksPerNode - 1;$targetVMs = $tasks > 0? (($tasks + $round)/ $maxTasksPerNode) : max(0, $TargetDedicated/2) + 0.5;$TargetDedicatedNodes = max(0, min($targetVMs, 4));$TargetLowPriorityNodes = max(0, min($targetVMs, 0));$NodeDeallocationOption = taskcompletion;";
    let queue_only = format!("$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1), avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));{queue}");
    let queue_running = format!("$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15) + $RunningTasks.GetSamplePercent(TimeInterval_Minute * 15);$tasks = $samples < 70 ? max(0, $ActiveTasks.GetSample(1) + $RunningTasks.GetSample(1)): max($ActiveTasks.GetSample(1) + $RunningTasks.GetSample(1),avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)) + avg($RunningTasks.GetSample(TimeInterval_Minute * 15)));{queue}");
    // Five queued tasks, two a node: three nodes.
    let o = eval_with(&queue_only, &[5.0], 0.0).unwrap();
    assert_eq!((o.target_dedicated, o.target_low_priority, o.node_deallocation_option.as_str()), (3.0, 0.0, "taskcompletion"));
    // Nothing queued: half the current target, plus a half.
    assert_eq!(eval_with(&queue_only, &[0.0], 4.0).unwrap().target_dedicated, 2.5);
    // Before any sample: GetSample(1) is empty, max(0, ...) is 0.
    assert_eq!(eval_with(&queue_running, &[], 0.0).unwrap().target_dedicated, 0.5);
    // A full quarter-hour of 3 active and 3 running: (6 + 1) / 2.
    assert_eq!(eval_with(&queue_running, &[3.0; 31], 0.0).unwrap().target_dedicated, 3.5);
    let max_cpu = "$totalNodes = (min($CPUPercent.GetSample(TimeInterval_Minute * 10)) > 0.7) ? ($CurrentDedicated * 1.1) : $CurrentDedicated; $totalNodes = (avg($CPUPercent.GetSample(TimeInterval_Minute * 60)) < 0.2) ? ($CurrentDedicated * 0.9) : $totalNodes; $TargetDedicatedNodes = min(4, $totalNodes)";
    assert!((eval_with(max_cpu, &[0.9; 121], 3.0).unwrap().target_dedicated - 3.3).abs() < 1e-9);
    let workday = "$curTime = time();$workHours = $curTime.hour >= 8 && $curTime.hour < 18;$isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;$isWorkingWeekdayHour = $workHours && $isWeekday;$TargetDedicatedNodes = $isWorkingWeekdayHour ? 0:4;";
    assert_eq!(eval_with(workday, &[], 0.0).unwrap().target_dedicated, 0.0);
    // Its WEEKEND formula reads $curTime without setting it: an evaluation error, on the
    // service as here.
    let weekend = "$isWeekend = $curTime.weekday >= 6 && $curTime.weekday <= 7;$TargetDedicatedNodes = $isWeekend ? 0:4;";
    assert!(eval_with(weekend, &[], 0.0).unwrap_err().detail().contains("Undefined symbol: $curTime"));
}
