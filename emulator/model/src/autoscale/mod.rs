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

pub use eval::{evaluate, Inputs, Outcome, Value};
pub use parse::{parse, Expr, Pos, Statement, MAX_DEPTH, MAX_LEN, MAX_STATEMENTS};

/// A formula that cannot be parsed or evaluated: the `AutoScaleRunError` the service reports
/// (`code`, `message`, `values`). UNCONFIRMED: the codes (the docs name none); the messages say
/// where the formula went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormulaError {
    pub code: String,
    pub message: String,
    pub values: Vec<(String, String)>,
}

impl FormulaError {
    pub fn new(code: &str, message: &str) -> Self {
        Self { code: code.into(), message: message.into(), values: Vec::new() }
    }
    /// A syntax error at a position (`values` name the line and column).
    pub fn syntax(pos: Pos, message: &str) -> Self {
        Self {
            code: "InvalidFormula".into(),
            message: format!("The formula is not valid: {message} (line {}, column {})", pos.line, pos.column),
            values: vec![("Line".into(), pos.line.to_string()), ("Column".into(), pos.column.to_string())],
        }
    }
    /// An evaluation error at a position.
    pub fn at(code: &str, pos: Pos, message: &str) -> Self {
        Self {
            code: code.into(),
            message: format!("{message} (line {}, column {})", pos.line, pos.column),
            values: vec![("Line".into(), pos.line.to_string()), ("Column".into(), pos.column.to_string())],
        }
    }
}

impl std::fmt::Display for FormulaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for FormulaError {}

/// Parses and evaluates a formula.
pub fn run(formula: &str, inputs: &mut Inputs<'_>) -> Result<Outcome, FormulaError> {
    evaluate(&parse(formula)?, inputs)
}

#[cfg(test)]
mod tests;
