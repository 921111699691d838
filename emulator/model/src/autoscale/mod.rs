//! The autoscale formula language, as Microsoft documents it (batch-automatic-scaling.md):
//! statements separated by `;` with `//` and `/* */` comments; the types double, doubleVec,
//! doubleVecList (function arguments), string, timestamp and timeinterval; the operators of the
//! documented table, `?:`, the functions (`avg`, `len`, `lg`, `ln`, `log`, `max`, `min`, `norm`,
//! `percentile`, `rand`, `range`, `std`, `stop`, `sum`, `time`, `val`), the `TimeInterval_*`
//! constants, the sample methods (`GetSample`, `GetSamplePeriod`, `GetSamplePercent`, `Count`,
//! `HistoryBeginTime`) and the service-defined variables. Pure: time, samples and randomness
//! come in through [`Inputs`]; parsing and evaluation are bounded (formula length, statement
//! count, nesting depth, vector sizes).

mod eval;
mod parse;

pub use eval::{evaluate, Inputs, Outcome, Value, SAMPLE_PERIOD};
pub use parse::{parse, Expr, Pos, Statement, MAX_DEPTH, MAX_LEN, MAX_STATEMENTS};

/// A formula that cannot be parsed or evaluated: the `AutoScaleRunError` the service reports.
/// As recorded from the service (azure-sdk-for-js batch-rest recordings, evaluate an invalid
/// formula): code `AutoScalingFormulaEvaluationError`, message "The specified auto-scaling
/// formula has evaluation error", and a `Message` value "Line 1, Col 1: Undefined symbol:
/// $something_useless". The syntax error's code is the documented `AutoScalingFormulaSyntaxError`
/// (UNCONFIRMED: its message, made the same way) and a formula over 8 KB is
/// `AutoScalingFormulaTooLong`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FormulaError {
    pub code: String,
    pub message: String,
    pub values: Vec<(String, String)>,
}

impl FormulaError {
    fn with_detail(code: &str, message: &str, detail: String) -> Self {
        Self { code: code.into(), message: message.into(), values: vec![("Message".into(), detail)] }
    }
    /// A formula longer than the service takes.
    pub fn too_long(detail: &str) -> Self {
        Self::with_detail("AutoScalingFormulaTooLong", "The specified auto-scaling formula is too long", detail.into())
    }
    /// A syntax error at a position.
    pub fn syntax(pos: Pos, detail: &str) -> Self {
        Self::with_detail(
            "AutoScalingFormulaSyntaxError",
            "The specified auto-scaling formula has syntax error",
            format!("Line {}, Col {}: {detail}", pos.line, pos.column),
        )
    }
    /// An evaluation error at a position.
    pub fn at(pos: Pos, detail: &str) -> Self {
        Self::with_detail(
            "AutoScalingFormulaEvaluationError",
            "The specified auto-scaling formula has evaluation error",
            format!("Line {}, Col {}: {detail}", pos.line, pos.column),
        )
    }
    /// What went wrong, with its position.
    pub fn detail(&self) -> &str {
        self.values.first().map_or("", |(_, v)| v.as_str())
    }
}

impl std::fmt::Display for FormulaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.code, self.message, self.detail())
    }
}

impl std::error::Error for FormulaError {}

/// Parses and evaluates a formula.
pub fn run(formula: &str, inputs: &mut Inputs<'_>) -> Result<Outcome, FormulaError> {
    evaluate(&parse(formula)?, inputs)
}

#[cfg(test)]
mod tests;
