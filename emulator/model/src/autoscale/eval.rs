//! Evaluating a parsed formula: values and their operators, the functions, the sample methods
//! and the service-defined variables.

use super::parse::{Expr, Pos, Statement};
use super::FormulaError;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// A value of the language.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Double(f64),
    Vec(Vec<f64>),
    Str(String),
    Timestamp(OffsetDateTime),
    Interval(Duration),
    /// A service-defined metric (`$CPUPercent`, `$PendingTasks`…): an object with sample methods.
    Metric(String),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Double(_) => "double",
            Value::Vec(_) => "doubleVec",
            Value::Str(_) => "string",
            Value::Timestamp(_) => "timestamp",
            Value::Interval(_) => "timeinterval",
            Value::Metric(_) => "metric",
        }
    }
}

fn double(d: f64) -> String {
    if d.fract() == 0.0 && d.abs() < 1e15 {
        format!("{d:.0}")
    } else {
        format!("{d}")
    }
}

impl std::fmt::Display for Value {
    /// As `AutoScaleRun.results` prints values (`10`, `1.1`, `[1,2]`, `requeue`,
    /// `2016-10-13T19:18:47.805Z`). UNCONFIRMED: the time interval's form (.NET's `d.hh:mm:ss`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Double(d) => f.write_str(&double(*d)),
            Value::Vec(v) => write!(f, "[{}]", v.iter().map(|d| double(*d)).collect::<Vec<_>>().join(",")),
            Value::Str(s) => f.write_str(s),
            Value::Timestamp(t) => {
                let t = t.to_offset(time::UtcOffset::UTC);
                write!(f, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.year(), t.month() as u8, t.day(), t.hour(), t.minute(), t.second(), t.millisecond())
            }
            Value::Interval(d) => {
                let s = d.whole_seconds();
                let (sign, s) = if s < 0 { ("-", -s) } else { ("", s) };
                let days = s / 86_400;
                let clock = format!("{:02}:{:02}:{:02}", (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
                if days > 0 {
                    write!(f, "{sign}{days}.{clock}")
                } else {
                    write!(f, "{sign}{clock}")
                }
            }
            Value::Metric(name) => f.write_str(name),
        }
    }
}

/// What an evaluation reads: the time, the pool's node counts and targets, the metrics'
/// samples and a source of random numbers.
pub struct Inputs<'a> {
    pub now: OffsetDateTime,
    pub current_dedicated: f64,
    pub current_low_priority: f64,
    pub target_dedicated: f64,
    pub target_low_priority: f64,
    /// A metric's available samples, oldest first, one every 30 seconds.
    pub samples: &'a dyn Fn(&str) -> Vec<(OffsetDateTime, f64)>,
    /// A number in [0, 1).
    pub random: &'a mut dyn FnMut() -> f64,
}

/// What a formula decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub target_dedicated: f64,
    pub target_low_priority: f64,
    pub node_deallocation_option: String,
    /// The user-defined variables, by name.
    pub variables: BTreeMap<String, Value>,
    /// `stop()` ended the evaluation.
    pub stopped: bool,
}

impl Outcome {
    /// `AutoScaleRun.results`: the service-defined variables, then the user's, `name=value;`.
    pub fn results(&self) -> String {
        let mut parts = vec![
            format!("$TargetDedicatedNodes={}", double(self.target_dedicated)),
            format!("$TargetLowPriorityNodes={}", double(self.target_low_priority)),
            format!("$NodeDeallocationOption={}", self.node_deallocation_option),
        ];
        parts.extend(self.variables.iter().map(|(k, v)| format!("{k}={v}")));
        parts.join(";")
    }
}

/// The service-defined metrics (objects with sample methods).
pub const METRICS: &[&str] = &[
    "$CPUPercent",
    "$WallClockSeconds",
    "$MemoryBytes",
    "$DiskBytes",
    "$DiskReadBytes",
    "$DiskWriteBytes",
    "$DiskReadOps",
    "$DiskWriteOps",
    "$NetworkInBytes",
    "$NetworkOutBytes",
    "$SampleNodeCount",
    "$ActiveTasks",
    "$RunningTasks",
    "$PendingTasks",
    "$SucceededTasks",
    "$FailedTasks",
    "$PreemptedNodeCount",
];

/// The interval between two samples.
pub const SAMPLE_PERIOD: Duration = Duration::seconds(30);

const DEALLOCATION: [&str; 4] = ["requeue", "terminate", "taskcompletion", "retaineddata"];

fn interval_constant(name: &str) -> Option<Duration> {
    Some(match name {
        "TimeInterval_Zero" => Duration::ZERO,
        "TimeInterval_100ns" => Duration::nanoseconds(100),
        "TimeInterval_Microsecond" => Duration::microseconds(1),
        "TimeInterval_Millisecond" => Duration::milliseconds(1),
        "TimeInterval_Second" => Duration::seconds(1),
        "TimeInterval_Minute" => Duration::minutes(1),
        "TimeInterval_Hour" => Duration::hours(1),
        "TimeInterval_Day" => Duration::days(1),
        "TimeInterval_Week" => Duration::weeks(1),
        "TimeInterval_Year" => Duration::days(365),
        _ => return None,
    })
}

struct Eval<'i, 'a> {
    inputs: &'i mut Inputs<'a>,
    vars: BTreeMap<String, Value>,
    dedicated: (Option<f64>, Option<f64>),
    low_priority: (Option<f64>, Option<f64>),
    deallocation: String,
}

fn mismatch(pos: Pos, what: &str) -> FormulaError {
    FormulaError::at(pos, &format!("Type mismatch: {what}"))
}

fn interval_of(d: f64, i: Duration, pos: Pos) -> Result<Duration, FormulaError> {
    let nanos = i.whole_nanoseconds() as f64 * d;
    if !nanos.is_finite() || nanos.abs() > 1e27 {
        return Err(mismatch(pos, "the time interval is out of range"));
    }
    Ok(Duration::nanoseconds_i128(nanos as i128))
}

impl Eval<'_, '_> {
    fn name(&self, name: &str, pos: Pos) -> Result<Value, FormulaError> {
        if let Some(v) = self.vars.get(name) {
            return Ok(v.clone());
        }
        let i = &self.inputs;
        Ok(match name {
            "$TargetDedicatedNodes" | "$TargetDedicated" => Value::Double(self.dedicated.0.or(self.dedicated.1).unwrap_or(i.target_dedicated)),
            "$TargetLowPriorityNodes" | "$TargetLowPriority" => Value::Double(self.low_priority.0.or(self.low_priority.1).unwrap_or(i.target_low_priority)),
            "$NodeDeallocationOption" => Value::Str(self.deallocation.clone()),
            "$CurrentDedicatedNodes" | "$CurrentDedicated" => Value::Double(i.current_dedicated),
            "$CurrentLowPriorityNodes" => Value::Double(i.current_low_priority),
            m if METRICS.contains(&m) => Value::Metric(m.to_string()),
            c if DEALLOCATION.contains(&c) => Value::Str(c.to_string()),
            c => match interval_constant(c) {
                Some(d) => Value::Interval(d),
                None => return Err(FormulaError::at(pos, &format!("Undefined symbol: {name}"))),
            },
        })
    }

    fn assign(&mut self, name: &str, v: Value, pos: Pos) -> Result<(), FormulaError> {
        let number = |v: &Value| match v {
            Value::Double(d) => Ok(*d),
            other => Err(mismatch(pos, &format!("{name} takes a double, not a {}", other.kind()))),
        };
        match name {
            "$TargetDedicatedNodes" => self.dedicated.0 = Some(number(&v)?),
            "$TargetDedicated" => self.dedicated.1 = Some(number(&v)?),
            "$TargetLowPriorityNodes" => self.low_priority.0 = Some(number(&v)?),
            "$TargetLowPriority" => self.low_priority.1 = Some(number(&v)?),
            "$NodeDeallocationOption" => match &v {
                Value::Str(s) if DEALLOCATION.iter().any(|d| d.eq_ignore_ascii_case(s)) => self.deallocation = s.to_ascii_lowercase(),
                other => return Err(mismatch(pos, &format!("$NodeDeallocationOption is requeue, terminate, taskcompletion or retaineddata, not {other}"))),
            },
            n if n.starts_with('$') && (METRICS.contains(&n) || n.starts_with("$Current")) => {
                return Err(FormulaError::at(pos, &format!("Read-only symbol: {name}")));
            }
            n if interval_constant(n).is_some() || DEALLOCATION.contains(&n) => {
                return Err(FormulaError::at(pos, &format!("Read-only symbol: {name} is a constant")));
            }
            _ => {
                self.vars.insert(name.to_string(), v);
            }
        }
        Ok(())
    }

    fn eval(&mut self, e: &Expr) -> Result<Value, FormulaError> {
        match e {
            Expr::Number(n) => Ok(Value::Double(*n)),
            Expr::Str(s) => Ok(Value::Str(s.clone())),
            Expr::Name(n, pos) => self.name(n, *pos),
            Expr::Vector(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    match self.eval(i)? {
                        Value::Double(d) => out.push(d),
                        Value::Vec(v) => out.extend(v),
                        other => return Err(mismatch(Pos::default(), &format!("a vector holds doubles, not a {}", other.kind()))),
                    }
                }
                Ok(Value::Vec(out))
            }
            Expr::Unary(op, inner, pos) => match (op, self.eval(inner)?) {
                ('-', Value::Double(d)) => Ok(Value::Double(-d)),
                ('-', Value::Interval(d)) => Ok(Value::Interval(-d)),
                ('!', Value::Double(d)) => Ok(Value::Double(f64::from(d == 0.0))),
                (op, v) => Err(mismatch(*pos, &format!("{op} does not apply to a {}", v.kind()))),
            },
            Expr::Binary(l, op, r, pos) => {
                let left = self.eval(l)?;
                if let (&"&&" | &"||", Value::Double(a)) = (op, &left) {
                    // Short-circuit: the right side is not evaluated when the left decides.
                    if (*op == "&&" && *a == 0.0) || (*op == "||" && *a != 0.0) {
                        return Ok(Value::Double(f64::from(*op == "||")));
                    }
                }
                let right = self.eval(r)?;
                binary(left, op, right, *pos)
            }
            Expr::Ternary(c, yes, no) => match self.eval(c)? {
                Value::Double(d) => self.eval(if d != 0.0 { yes } else { no }),
                other => Err(mismatch(Pos::default(), &format!("the condition of ?: is a double, not a {}", other.kind()))),
            },
            Expr::Call(name, args, pos) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a)?);
                }
                self.call(name, values, *pos)
            }
            Expr::Method(target, name, args, pos) => {
                let Value::Metric(metric) = self.eval(target)? else {
                    return Err(mismatch(*pos, &format!("{name}() is a method of the service-defined metrics")));
                };
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a)?);
                }
                self.method(&metric, name, values, *pos)
            }
            Expr::Member(target, name, pos) => match self.eval(target)? {
                Value::Timestamp(t) => {
                    let t = t.to_offset(time::UtcOffset::UTC);
                    Ok(Value::Double(match name.as_str() {
                        "year" => t.year() as f64,
                        "month" => t.month() as u8 as f64,
                        "day" => t.day() as f64,
                        // "1 for Monday" (Sunday is 0).
                        "weekday" => t.weekday().number_days_from_sunday() as f64,
                        "hour" => t.hour() as f64,
                        "minute" => t.minute() as f64,
                        "second" => t.second() as f64,
                        other => return Err(mismatch(*pos, &format!("a timestamp has no member {other}"))),
                    }))
                }
                other => Err(mismatch(*pos, &format!("a {} has no member {name}", other.kind()))),
            },
        }
    }
}

/// The documented operator table (and `timestamp - timeinterval`, its natural complement).
fn binary(l: Value, op: &str, r: Value, pos: Pos) -> Result<Value, FormulaError> {
    use Value::*;
    let cmp = |o: std::cmp::Ordering| {
        use std::cmp::Ordering::*;
        Double(f64::from(match op {
            "<" => o == Less,
            "<=" => o != Greater,
            "==" => o == Equal,
            ">=" => o != Less,
            ">" => o == Greater,
            _ => o != Equal,
        }))
    };
    let arith = |a: f64, b: f64| match op {
        "+" => a + b,
        "-" => a - b,
        "*" => a * b,
        _ => a / b,
    };
    Ok(match (l, op, r) {
        (Double(a), "+" | "-" | "*" | "/", Double(b)) => Double(arith(a, b)),
        (Double(a), "*", Interval(i)) | (Interval(i), "*", Double(a)) => Interval(interval_of(a, i, pos)?),
        (Interval(i), "/", Double(a)) => Interval(interval_of(1.0 / a, i, pos)?),
        (Vec(v), "+" | "-" | "*" | "/", Double(b)) => Vec(v.into_iter().map(|a| arith(a, b)).collect()),
        (Vec(a), "+" | "-" | "*" | "/", Vec(b)) if a.len() == b.len() => Vec(a.into_iter().zip(b).map(|(x, y)| arith(x, y)).collect()),
        (Interval(a), "+", Interval(b)) => Interval(a + b),
        (Interval(a), "-", Interval(b)) => Interval(a - b),
        (Interval(i), "+", Timestamp(t)) | (Timestamp(t), "+", Interval(i)) => {
            Timestamp(t.checked_add(i).ok_or_else(|| mismatch(pos, "the timestamp is out of range"))?)
        }
        (Timestamp(t), "-", Interval(i)) => Timestamp(t.checked_sub(i).ok_or_else(|| mismatch(pos, "the timestamp is out of range"))?),
        (Timestamp(a), "-", Timestamp(b)) => Interval(a - b),
        (Double(a), "<" | "<=" | "==" | ">=" | ">" | "!=", Double(b)) => cmp(a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Less)),
        (Str(a), "<" | "<=" | "==" | ">=" | ">" | "!=", Str(b)) => cmp(a.cmp(&b)),
        (Timestamp(a), "<" | "<=" | "==" | ">=" | ">" | "!=", Timestamp(b)) => cmp(a.cmp(&b)),
        (Interval(a), "<" | "<=" | "==" | ">=" | ">" | "!=", Interval(b)) => cmp(a.cmp(&b)),
        (Double(a), "&&", Double(b)) => Double(f64::from(a != 0.0 && b != 0.0)),
        (Double(a), "||", Double(b)) => Double(f64::from(a != 0.0 || b != 0.0)),
        (l, op, r) => return Err(mismatch(pos, &format!("{} {op} {} is not an operation of the language", l.kind(), r.kind()))),
    })
}

/// A doubleVecList flattened into one vector.
fn flatten(args: &[Value], name: &str, pos: Pos) -> Result<Vec<f64>, FormulaError> {
    let mut out = Vec::new();
    for a in args {
        match a {
            Value::Double(d) => out.push(*d),
            Value::Vec(v) => out.extend_from_slice(v),
            other => return Err(mismatch(pos, &format!("{name}() takes doubles and doubleVecs, not a {}", other.kind()))),
        }
    }
    Ok(out)
}

impl Eval<'_, '_> {
    fn call(&mut self, name: &str, args: Vec<Value>, pos: Pos) -> Result<Value, FormulaError> {
        let invalid = |m: &str| FormulaError::at(pos, &format!("Invalid argument: {m}"));
        let list = || flatten(&args, name, pos);
        let nonempty = |v: Vec<f64>| if v.is_empty() { Err(invalid(&format!("{name}() of no values"))) } else { Ok(v) };
        let each = |f: fn(f64) -> f64| -> Result<Value, FormulaError> {
            match args.as_slice() {
                [Value::Double(d)] => Ok(Value::Double(f(*d))),
                _ => Ok(Value::Vec(flatten(&args, name, pos)?.into_iter().map(f).collect())),
            }
        };
        Ok(match name {
            "avg" => {
                let v = nonempty(list()?)?;
                Value::Double(v.iter().sum::<f64>() / v.len() as f64)
            }
            "len" => Value::Double(list()?.len() as f64),
            "lg" => each(f64::log2)?,
            "ln" => each(f64::ln)?,
            "log" => each(f64::log10)?,
            "max" => Value::Double(nonempty(list()?)?.into_iter().fold(f64::NEG_INFINITY, f64::max)),
            "min" => Value::Double(nonempty(list()?)?.into_iter().fold(f64::INFINITY, f64::min)),
            "norm" => Value::Double(list()?.iter().map(|x| x * x).sum::<f64>().sqrt()),
            "range" => {
                let v = nonempty(list()?)?;
                Value::Double(v.iter().copied().fold(f64::NEG_INFINITY, f64::max) - v.iter().copied().fold(f64::INFINITY, f64::min))
            }
            "std" => {
                let v = nonempty(list()?)?;
                if v.len() < 2 {
                    Value::Double(0.0)
                } else {
                    let mean = v.iter().sum::<f64>() / v.len() as f64;
                    Value::Double((v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt())
                }
            }
            "sum" => Value::Double(list()?.iter().sum()),
            "rand" if args.is_empty() => Value::Double((self.inputs.random)()),
            "percentile" => match args.as_slice() {
                [v, Value::Double(p)] if (0.0..=100.0).contains(p) => {
                    let mut v = nonempty(flatten(std::slice::from_ref(v), name, pos)?)?;
                    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
                    // UNCONFIRMED: nearest rank (the docs say "the percentile element").
                    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
                    Value::Double(v[rank.min(v.len()) - 1])
                }
                _ => return Err(invalid("percentile(doubleVec v, double p) needs p between 0 and 100")),
            },
            "val" => match args.as_slice() {
                [v, Value::Double(i)] => {
                    let v = flatten(std::slice::from_ref(v), name, pos)?;
                    let at = (*i >= 0.0 && i.fract() == 0.0).then_some(*i as usize).filter(|i| *i < v.len());
                    Value::Double(v[at.ok_or_else(|| invalid(&format!("val(): index {i} is outside the vector of {}", v.len())))?])
                }
                _ => return Err(invalid("val(doubleVec v, double i)")),
            },
            "time" => match args.as_slice() {
                [] => Value::Timestamp(self.inputs.now),
                [Value::Str(s)] if s.is_empty() => Value::Timestamp(self.inputs.now),
                [Value::Str(s)] => Value::Timestamp(
                    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                        .or_else(|_| OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822))
                        .or_else(|_| batch_client::timefmt::parse_http(s).ok_or(()))
                        .map_err(|_| invalid(&format!("time(): {s:?} is neither W3C-DTF nor RFC 1123")))?,
                ),
                _ => return Err(invalid("time(string dateTime=\"\")")),
            },
            other => return Err(FormulaError::at(pos, &format!("Undefined function: {other}"))),
        })
    }

    /// The window `[from, to]` a sample method's time arguments name: look-back intervals (the
    /// earlier bound is the longer one) or timestamps; one argument reaches to now.
    fn window(&self, a: &Value, b: Option<&Value>, pos: Pos) -> Result<(OffsetDateTime, OffsetDateTime), FormulaError> {
        let now = self.inputs.now;
        let at = |v: &Value| match v {
            Value::Interval(d) => Ok(now - *d),
            Value::Timestamp(t) => Ok(*t),
            other => Err(mismatch(pos, &format!("a sample window is given by timeintervals or timestamps, not a {}", other.kind()))),
        };
        let (x, y) = (at(a)?, b.map(at).transpose()?.unwrap_or(now));
        Ok((x.min(y), x.max(y)))
    }

    fn method(&mut self, metric: &str, name: &str, args: Vec<Value>, pos: Pos) -> Result<Value, FormulaError> {
        let history = (self.inputs.samples)(metric);
        let percent_of = |from: OffsetDateTime, to: OffsetDateTime, got: usize| {
            let expected = ((to - from).whole_seconds() / SAMPLE_PERIOD.whole_seconds()).max(1) as f64;
            (100.0 * got as f64 / expected).min(100.0)
        };
        Ok(match (name, args.as_slice()) {
            ("GetSample", [Value::Double(n)]) => {
                let n = n.max(0.0) as usize;
                Value::Vec(history.iter().rev().take(n).rev().map(|(_, v)| *v).collect())
            }
            ("GetSample", [first, rest @ ..]) if rest.len() <= 2 => {
                let (second, required) = match rest {
                    [] => (None, None),
                    [Value::Double(p)] => (None, Some(*p)),
                    [b] => (Some(b), None),
                    [b, Value::Double(p)] => (Some(b), Some(*p)),
                    _ => return Err(FormulaError::at(pos, "Invalid argument: GetSample(start [, end] [, samplePercent])")),
                };
                let (from, to) = self.window(first, second, pos)?;
                let got: Vec<f64> = history.iter().filter(|(t, _)| *t >= from && *t <= to).map(|(_, v)| *v).collect();
                let percent = percent_of(from, to, got.len());
                if let Some(p) = required {
                    if percent < p {
                        return Err(FormulaError::at(
                            pos,
                            &format!("Insufficient samples: {metric}.GetSample found {percent:.0} percent of the samples, {p} were required"),
                        ));
                    }
                }
                Value::Vec(got)
            }
            ("GetSamplePercent", [first, rest @ ..]) if rest.len() <= 1 => {
                let (from, to) = self.window(first, rest.first(), pos)?;
                Value::Double(percent_of(from, to, history.iter().filter(|(t, _)| *t >= from && *t <= to).count()))
            }
            ("GetSamplePeriod", []) => Value::Interval(SAMPLE_PERIOD),
            ("Count", []) => Value::Double(history.len() as f64),
            ("HistoryBeginTime", []) => Value::Timestamp(history.first().map_or(self.inputs.now, |(t, _)| *t)),
            _ => return Err(FormulaError::at(pos, &format!("Invalid argument: {metric}.{name}() with {} arguments is not a sample method", args.len()))),
        })
    }
}

/// Runs the statements in order; `stop()` ends the run with what was decided so far.
pub fn evaluate(statements: &[Statement], inputs: &mut Inputs<'_>) -> Result<Outcome, FormulaError> {
    let mut e = Eval { inputs, vars: BTreeMap::new(), dedicated: (None, None), low_priority: (None, None), deallocation: "requeue".into() };
    let mut stopped = false;
    for s in statements {
        let stop_call = |x: &Expr| matches!(x, Expr::Call(n, a, _) if n == "stop" && a.is_empty());
        match s {
            Statement::Expr(x) if stop_call(x) => stopped = true,
            Statement::Assign(_, x, _) if stop_call(x) => stopped = true,
            Statement::Assign(name, x, pos) => {
                let v = e.eval(x)?;
                e.assign(name, v, *pos)?;
            }
            Statement::Expr(x) => {
                e.eval(x)?;
            }
        }
        if stopped {
            break;
        }
    }
    // "If both the fully named variable and its alias are set by the formula, the value
    // assigned to the fully named variable will take precedence."
    let target_dedicated = e.dedicated.0.or(e.dedicated.1).unwrap_or(e.inputs.target_dedicated);
    let target_low_priority = e.low_priority.0.or(e.low_priority.1).unwrap_or(e.inputs.target_low_priority);
    Ok(Outcome { target_dedicated, target_low_priority, node_deallocation_option: e.deallocation, variables: e.vars, stopped })
}
