//! Statistics from real runs (`$expand=stats`, `list_pool_usage_metrics`): what each attempt
//! of a task used, as the node agent measured it, summed per task, and how long each node of
//! each pool existed.

use time::OffsetDateTime;

/// The resources one attempt (or a sum of attempts) used: CPU time, disk operations and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    pub user_cpu_ms: u64,
    pub kernel_cpu_ms: u64,
    pub read_ops: u64,
    pub write_ops: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

impl Usage {
    pub fn add(&mut self, o: &Usage) {
        self.user_cpu_ms = self.user_cpu_ms.saturating_add(o.user_cpu_ms);
        self.kernel_cpu_ms = self.kernel_cpu_ms.saturating_add(o.kernel_cpu_ms);
        self.read_ops = self.read_ops.saturating_add(o.read_ops);
        self.write_ops = self.write_ops.saturating_add(o.write_ops);
        self.read_bytes = self.read_bytes.saturating_add(o.read_bytes);
        self.write_bytes = self.write_bytes.saturating_add(o.write_bytes);
    }
}

/// A task's statistics so far: the usage of all its attempts and their wall clock time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskStats {
    pub usage: Usage,
    pub wall_clock_ms: u64,
}

/// What one node used over the last sample period, as the node agent measured it (the
/// resource metrics of autoscale formulas).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeMetrics {
    /// CPU time of the node's processes over the period, as a percentage of its cores.
    pub cpu_percent: f64,
    /// CPU seconds the node's processes used over the period.
    pub cpu_seconds: f64,
    /// Resident memory of the node's processes, in bytes.
    pub memory_bytes: f64,
    /// The node's directory tree, in bytes.
    pub disk_bytes: f64,
    pub disk_read_bytes: f64,
    pub disk_write_bytes: f64,
    pub disk_read_ops: f64,
    pub disk_write_ops: f64,
    pub network_in_bytes: f64,
    pub network_out_bytes: f64,
}

impl NodeMetrics {
    /// The average over nodes (`None` for none).
    pub fn average(nodes: &[NodeMetrics]) -> Option<NodeMetrics> {
        if nodes.is_empty() {
            return None;
        }
        let n = nodes.len() as f64;
        let sum = |f: fn(&NodeMetrics) -> f64| nodes.iter().map(f).sum::<f64>() / n;
        Some(NodeMetrics {
            cpu_percent: sum(|m| m.cpu_percent),
            cpu_seconds: sum(|m| m.cpu_seconds),
            memory_bytes: sum(|m| m.memory_bytes),
            disk_bytes: sum(|m| m.disk_bytes),
            disk_read_bytes: sum(|m| m.disk_read_bytes),
            disk_write_bytes: sum(|m| m.disk_write_bytes),
            disk_read_ops: sum(|m| m.disk_read_ops),
            disk_write_ops: sum(|m| m.disk_write_ops),
            network_in_bytes: sum(|m| m.network_in_bytes),
            network_out_bytes: sum(|m| m.network_out_bytes),
        })
    }

    /// A resource metric of autoscale formulas. UNCONFIRMED: the units (Learn says
    /// `$MemoryBytes` is "the average number of megabytes used" and `$DiskBytes` "gigabytes";
    /// `$CPUPercent` is a percentage, 0 to 100).
    pub fn value(&self, metric: &str) -> Option<f64> {
        Some(match metric {
            "$CPUPercent" => self.cpu_percent,
            "$WallClockSeconds" => self.cpu_seconds,
            "$MemoryBytes" => self.memory_bytes / (1024.0 * 1024.0),
            "$DiskBytes" => self.disk_bytes / (1024.0 * 1024.0 * 1024.0),
            "$DiskReadBytes" => self.disk_read_bytes,
            "$DiskWriteBytes" => self.disk_write_bytes,
            "$DiskReadOps" => self.disk_read_ops,
            "$DiskWriteOps" => self.disk_write_ops,
            "$NetworkInBytes" => self.network_in_bytes,
            "$NetworkOutBytes" => self.network_out_bytes,
            _ => return None,
        })
    }
}

/// How long one node of a pool existed (for usage metrics): from allocation to removal.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeSpan {
    pub pool_id: String,
    pub vm_size: String,
    pub node_id: String,
    pub start: OffsetDateTime,
    pub end: Option<OffsetDateTime>,
}

/// Usage metrics are aggregated per pool over 30-minute intervals.
/// UNCONFIRMED: the interval length (REST docs speak of "aggregation intervals").
pub const USAGE_INTERVAL: time::Duration = time::Duration::minutes(30);

/// The cores of a VM size as its name gives them (`standard_d2s_v3` → 2, `Standard_A1` → 1,
/// `STANDARD_F16S_V2` → 16): the first number after the family letters. 1 when it names none.
/// UNCONFIRMED: the service knows each size's cores; names are what the emulator has.
pub fn cores_of(vm_size: &str) -> u32 {
    let name = vm_size.to_ascii_lowercase();
    let name = name.strip_prefix("standard_").or_else(|| name.strip_prefix("basic_")).unwrap_or(&name);
    let digits: String = name.chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok().filter(|n| *n > 0).unwrap_or(1)
}

/// The start of the usage interval holding `t`.
pub fn interval_start(t: OffsetDateTime) -> OffsetDateTime {
    let secs = t.unix_timestamp();
    let step = USAGE_INTERVAL.whole_seconds();
    OffsetDateTime::from_unix_timestamp(secs - secs.rem_euclid(step)).unwrap_or(t)
}

/// Core hours of `spans` within `[from, to)`, per pool (with its VM size).
pub fn core_hours(spans: &[NodeSpan], from: OffsetDateTime, to: OffsetDateTime, now: OffsetDateTime) -> Vec<(String, String, f64)> {
    let mut out: Vec<(String, String, f64)> = Vec::new();
    for s in spans {
        let (start, end) = (s.start.max(from), s.end.unwrap_or(now).min(to));
        if end <= start {
            continue;
        }
        let hours = (end - start).as_seconds_f64() / 3600.0 * f64::from(cores_of(&s.vm_size));
        match out.iter_mut().find(|(p, _, _)| *p == s.pool_id) {
            Some(e) => e.2 += hours,
            None => out.push((s.pool_id.clone(), s.vm_size.clone(), hours)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn cores_come_from_the_size_name() {
        assert_eq!(cores_of("standard_d2s_v3"), 2);
        assert_eq!(cores_of("Standard_A1"), 1);
        assert_eq!(cores_of("STANDARD_F16S_V2"), 16);
        assert_eq!(cores_of("weird"), 1);
    }

    #[test]
    fn core_hours_are_clipped_to_the_interval() {
        let span = |start, end| NodeSpan { pool_id: "p".into(), vm_size: "standard_d2s_v3".into(), node_id: "n".into(), start, end };
        let spans = vec![span(datetime!(2026-01-01 00:10 UTC), Some(datetime!(2026-01-01 00:40 UTC))), span(datetime!(2026-01-01 00:00 UTC), None)];
        let h = core_hours(&spans, datetime!(2026-01-01 00:00 UTC), datetime!(2026-01-01 00:30 UTC), datetime!(2026-01-01 00:20 UTC));
        // 20 min and 20 min (the second still runs at `now`), 2 cores each.
        assert_eq!(h.len(), 1);
        assert!((h[0].2 - 2.0 * 40.0 / 60.0).abs() < 1e-9, "{h:?}");
        assert_eq!(interval_start(datetime!(2026-01-01 00:44:10 UTC)), datetime!(2026-01-01 00:30 UTC));
    }
}
