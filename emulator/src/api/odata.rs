//! OData query options as Batch uses them: a real `$filter` parser (comparisons, `and`/`or`/
//! `not`, parentheses, string/number/bool/null/`datetime'…'` literals, `startswith`,
//! `endswith`, `substringof`, `contains`) evaluated against the wire JSON of an entity, and
//! `$select` projection.
//!
//! UNCONFIRMED: the service restricts which properties each list may filter on and answers 400
//! for others; here any property path may be filtered (batch-rest-api.md §3.4).

use batch_client::timefmt;
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;

/// A parsed `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp(CmpOp, Operand, Operand),
    /// A boolean-valued operand used as a condition (`startswith(id,'a')`).
    Test(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Property(Vec<String>),
    Literal(Literal),
    Call(String, Vec<Operand>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
    DateTime(time::OffsetDateTime),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    DateTime(String),
    LParen,
    RParen,
    Comma,
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '\'' => {
                let (v, next) = lex_string(&chars, i)?;
                out.push(Tok::Str(v));
                i = next;
            }
            '0'..='9' | '-' | '.' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || matches!(chars[i], '.' | 'e' | 'E' | '+' | '-')) {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let text = text.trim_end_matches(['L', 'l', 'm', 'M', 'd', 'D', 'f', 'F']);
                out.push(Tok::Num(text.parse().map_err(|_| format!("invalid number {text:?}"))?));
                // Type suffixes such as 10L.
                while i < chars.len() && chars[i].is_ascii_alphabetic() {
                    i += 1;
                }
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '/' | '$' | '.')) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if word.eq_ignore_ascii_case("datetime") && i < chars.len() && chars[i] == '\'' {
                    let (v, next) = lex_string(&chars, i)?;
                    out.push(Tok::DateTime(v));
                    i = next;
                } else {
                    out.push(Tok::Ident(word));
                }
            }
            other => return Err(format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

fn lex_string(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut i = start + 1;
    let mut v = String::new();
    loop {
        match chars.get(i) {
            None => return Err("unterminated string literal".into()),
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                v.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((v, i + 1)),
            Some(c) => {
                v.push(*c);
                i += 1;
            }
        }
    }
}

/// The longest `$filter` read, in characters.
/// UNCONFIRMED: the service's own limit; a URL of Batch's is at most a few kilobytes anyway.
pub const MAX_FILTER_CHARS: usize = 8192;
/// How deeply conditions may nest (parentheses, `not`, function arguments).
pub const MAX_FILTER_DEPTH: usize = 50;
/// How many conditions and operands one filter may hold.
pub const MAX_FILTER_TERMS: usize = 1000;

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
    terms: usize,
    /// Set when a limit was hit: the answer is that, whatever backtracking tries next.
    limit: Option<String>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }
    /// Counts one level of nesting and one term; errors past the limits (and stays errored).
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        self.terms += 1;
        if self.depth > MAX_FILTER_DEPTH {
            self.limit.get_or_insert_with(|| format!("the filter nests deeper than {MAX_FILTER_DEPTH} levels"));
        }
        if self.terms > MAX_FILTER_TERMS {
            self.limit.get_or_insert_with(|| format!("the filter has more than {MAX_FILTER_TERMS} terms"));
        }
        match &self.limit {
            Some(why) => Err(why.clone()),
            None => Ok(()),
        }
    }
    fn unary(&mut self) -> Result<Expr, String> {
        self.enter()?;
        let e = self.unary_inner();
        self.depth -= 1;
        e
    }
    fn unary_inner(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            // A parenthesised condition, unless it turns out to be an operand.
            let save = self.pos;
            self.pos += 1;
            if let Ok(e) = self.or() {
                if self.next() == Some(Tok::RParen) {
                    return self.maybe_compare_bool(e);
                }
            }
            self.pos = save;
        }
        let left = self.operand()?;
        let op = match self.peek() {
            Some(Tok::Ident(w)) => match w.to_ascii_lowercase().as_str() {
                "eq" => Some(CmpOp::Eq),
                "ne" => Some(CmpOp::Ne),
                "gt" => Some(CmpOp::Gt),
                "ge" => Some(CmpOp::Ge),
                "lt" => Some(CmpOp::Lt),
                "le" => Some(CmpOp::Le),
                _ => None,
            },
            _ => None,
        };
        match op {
            Some(op) => {
                self.pos += 1;
                let right = self.operand()?;
                Ok(Expr::Cmp(op, left, right))
            }
            None => match left {
                Operand::Call(..) | Operand::Property(_) => Ok(Expr::Test(left)),
                Operand::Literal(Literal::Bool(b)) => Ok(Expr::Test(Operand::Literal(Literal::Bool(b)))),
                _ => Err("expected a comparison operator".into()),
            },
        }
    }
    /// `(cond) eq true` is allowed.
    fn maybe_compare_bool(&mut self, e: Expr) -> Result<Expr, String> {
        if self.keyword("eq") || self.keyword("ne") {
            let negate = self.keyword("ne");
            self.pos += 1;
            match self.operand()? {
                Operand::Literal(Literal::Bool(b)) => Ok(if b != negate { e } else { Expr::Not(Box::new(e)) }),
                _ => Err("a condition can only be compared with true or false".into()),
            }
        } else {
            Ok(e)
        }
    }
    fn operand(&mut self) -> Result<Operand, String> {
        self.enter()?;
        let o = self.operand_inner();
        self.depth -= 1;
        o
    }
    fn operand_inner(&mut self) -> Result<Operand, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Operand::Literal(Literal::String(s))),
            Some(Tok::Num(n)) => Ok(Operand::Literal(Literal::Number(n))),
            Some(Tok::DateTime(s)) => timefmt::parse_body(&s)
                .or_else(|| timefmt::parse_body(&format!("{s}Z")))
                .map(|t| Operand::Literal(Literal::DateTime(t)))
                .ok_or_else(|| format!("invalid datetime literal {s:?}")),
            Some(Tok::Ident(w)) => {
                let lower = w.to_ascii_lowercase();
                match lower.as_str() {
                    "true" => return Ok(Operand::Literal(Literal::Bool(true))),
                    "false" => return Ok(Operand::Literal(Literal::Bool(false))),
                    "null" => return Ok(Operand::Literal(Literal::Null)),
                    _ => {}
                }
                if self.peek() == Some(&Tok::LParen) {
                    if !matches!(lower.as_str(), "startswith" | "endswith" | "substringof" | "contains" | "tolower" | "toupper") {
                        return Err(format!("unsupported function {w}"));
                    }
                    self.pos += 1;
                    let mut args = vec![self.operand()?];
                    while self.peek() == Some(&Tok::Comma) {
                        self.pos += 1;
                        args.push(self.operand()?);
                    }
                    if self.next() != Some(Tok::RParen) {
                        return Err(format!("expected ) after the arguments of {w}"));
                    }
                    let want = if matches!(lower.as_str(), "tolower" | "toupper") { 1 } else { 2 };
                    if args.len() != want {
                        return Err(format!("{w} takes {want} arguments"));
                    }
                    return Ok(Operand::Call(lower, args));
                }
                if matches!(lower.as_str(), "and" | "or" | "not" | "eq" | "ne" | "gt" | "ge" | "lt" | "le") {
                    return Err(format!("unexpected keyword {w}"));
                }
                Ok(Operand::Property(w.split('/').map(String::from).collect()))
            }
            Some(t) => Err(format!("unexpected token {t:?}")),
            None => Err("unexpected end of filter".into()),
        }
    }
}

/// Parses a `$filter` expression.
pub fn parse_filter(s: &str) -> Result<Expr, String> {
    if s.chars().count() > MAX_FILTER_CHARS {
        return Err(format!("the filter is longer than {MAX_FILTER_CHARS} characters"));
    }
    let toks = lex(s)?;
    if toks.is_empty() {
        return Err("empty filter".into());
    }
    let mut p = Parser { toks, pos: 0, depth: 0, terms: 0, limit: None };
    let e = p.or();
    if let Some(why) = p.limit {
        return Err(why);
    }
    let e = e?;
    if p.pos != p.toks.len() {
        return Err(format!("unexpected {:?}", p.toks[p.pos]));
    }
    Ok(e)
}

/// A value during evaluation.
#[derive(Debug, Clone)]
enum V {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Time(time::OffsetDateTime),
}

/// Something a filter can be evaluated against: an entity's wire JSON, or a view of a domain
/// object that answers the common properties without building its whole wire form.
pub trait Entity {
    /// The JSON value at `path` (`None` when absent).
    fn property(&self, path: &[String]) -> Option<Cow<'_, Value>>;
}

impl Entity for Value {
    fn property(&self, path: &[String]) -> Option<Cow<'_, Value>> {
        walk(self, path).map(Cow::Borrowed)
    }
}

/// The value at `path` below `v`.
pub fn walk<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, seg| cur.get(seg.as_str()))
}

fn lookup<E: Entity + ?Sized>(entity: &E, path: &[String]) -> V {
    match entity.property(path).as_deref() {
        None | Some(Value::Null) => V::Null,
        Some(Value::Bool(b)) => V::Bool(*b),
        Some(Value::Number(n)) => V::Num(n.as_f64().unwrap_or(0.0)),
        Some(Value::String(s)) => V::Str(s.clone()),
        Some(other) => V::Str(other.to_string()),
    }
}

fn eval_operand<E: Entity + ?Sized>(op: &Operand, entity: &E) -> V {
    match op {
        Operand::Property(p) => lookup(entity, p),
        Operand::Literal(Literal::String(s)) => V::Str(s.clone()),
        Operand::Literal(Literal::Number(n)) => V::Num(*n),
        Operand::Literal(Literal::Bool(b)) => V::Bool(*b),
        Operand::Literal(Literal::Null) => V::Null,
        Operand::Literal(Literal::DateTime(t)) => V::Time(*t),
        Operand::Call(name, args) => {
            let a: Vec<V> = args.iter().map(|a| eval_operand(a, entity)).collect();
            let s = |v: &V| match v {
                V::Str(s) => Some(s.to_lowercase()),
                _ => None,
            };
            match name.as_str() {
                "tolower" => s(&a[0]).map(V::Str).unwrap_or(V::Null),
                "toupper" => match &a[0] {
                    V::Str(x) => V::Str(x.to_uppercase()),
                    _ => V::Null,
                },
                "startswith" => V::Bool(matches!((s(&a[0]), s(&a[1])), (Some(x), Some(y)) if x.starts_with(&y))),
                "endswith" => V::Bool(matches!((s(&a[0]), s(&a[1])), (Some(x), Some(y)) if x.ends_with(&y))),
                "substringof" => V::Bool(matches!((s(&a[0]), s(&a[1])), (Some(x), Some(y)) if y.contains(&x))),
                "contains" => V::Bool(matches!((s(&a[0]), s(&a[1])), (Some(x), Some(y)) if x.contains(&y))),
                _ => V::Null,
            }
        }
    }
}

/// Orders two values; strings compare case-insensitively (ids and enum values are
/// case-insensitive in Batch), numeric strings (64-bit counters) compare as numbers, and
/// timestamps as times.
fn compare(a: &V, b: &V) -> Option<Ordering> {
    match (a, b) {
        (V::Null, V::Null) => Some(Ordering::Equal),
        (V::Null, _) | (_, V::Null) => None,
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Num(x), V::Num(y)) => x.partial_cmp(y),
        (V::Str(x), V::Num(y)) => x.parse::<f64>().ok().and_then(|x| x.partial_cmp(y)),
        (V::Num(x), V::Str(y)) => y.parse::<f64>().ok().and_then(|y| x.partial_cmp(&y)),
        (V::Time(x), V::Time(y)) => Some(x.cmp(y)),
        (V::Str(x), V::Time(y)) => timefmt::parse_body(x).map(|x| x.cmp(y)),
        (V::Time(x), V::Str(y)) => timefmt::parse_body(y).map(|y| x.cmp(&y)),
        (V::Str(x), V::Str(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (V::Str(x), V::Bool(y)) => Some(if x.eq_ignore_ascii_case(if *y { "true" } else { "false" }) { Ordering::Equal } else { Ordering::Less }),
        _ => None,
    }
}

/// Whether `entity` (wire JSON) satisfies the filter.
pub fn matches<E: Entity + ?Sized>(e: &Expr, entity: &E) -> bool {
    match e {
        Expr::Or(a, b) => matches(a, entity) || matches(b, entity),
        Expr::And(a, b) => matches(a, entity) && matches(b, entity),
        Expr::Not(a) => !matches(a, entity),
        Expr::Test(op) => matches!(eval_operand(op, entity), V::Bool(true)),
        Expr::Cmp(op, l, r) => {
            let ord = compare(&eval_operand(l, entity), &eval_operand(r, entity));
            match op {
                CmpOp::Eq => ord == Some(Ordering::Equal),
                CmpOp::Ne => ord != Some(Ordering::Equal),
                CmpOp::Gt => ord == Some(Ordering::Greater),
                CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                CmpOp::Lt => ord == Some(Ordering::Less),
                CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
            }
        }
    }
}

/// Which entities a filter can possibly match, as far as an index can tell: lists read only
/// these instead of every stored entity, and still evaluate the whole filter on each.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyHint {
    /// Nothing narrows the search.
    All,
    /// `id eq '…'` (or several joined by `or`).
    Ids(Vec<String>),
    /// `startswith(id, '…')`.
    IdPrefix(String),
    /// `state eq '…'` (or several joined by `or`).
    States(Vec<String>),
}

impl KeyHint {
    fn rank(&self) -> u8 {
        match self {
            KeyHint::Ids(_) => 0,
            KeyHint::IdPrefix(_) => 1,
            KeyHint::States(_) => 2,
            KeyHint::All => 3,
        }
    }
}

/// The narrowest [`KeyHint`] implied by `e`.
pub fn key_hint(e: &Expr) -> KeyHint {
    let property_eq = |l: &Operand, r: &Operand| match (l, r) {
        (Operand::Property(p), Operand::Literal(Literal::String(v))) | (Operand::Literal(Literal::String(v)), Operand::Property(p)) if p.len() == 1 => {
            Some((p[0].clone(), v.clone()))
        }
        _ => None,
    };
    let id_prefix = |op: &Operand| match op {
        Operand::Call(name, args) if name == "startswith" => match args.as_slice() {
            [Operand::Property(p), Operand::Literal(Literal::String(v))] if p.len() == 1 && p[0] == "id" => Some(v.clone()),
            _ => None,
        },
        _ => None,
    };
    match e {
        Expr::Cmp(CmpOp::Eq, l, r) => match property_eq(l, r) {
            Some((p, v)) if p == "id" => KeyHint::Ids(vec![v]),
            Some((p, v)) if p == "state" => KeyHint::States(vec![v]),
            _ => match (l, r) {
                (call, Operand::Literal(Literal::Bool(true))) | (Operand::Literal(Literal::Bool(true)), call) => {
                    id_prefix(call).map_or(KeyHint::All, KeyHint::IdPrefix)
                }
                _ => KeyHint::All,
            },
        },
        Expr::Test(op) => id_prefix(op).map_or(KeyHint::All, KeyHint::IdPrefix),
        Expr::And(a, b) => {
            let (a, b) = (key_hint(a), key_hint(b));
            if a.rank() <= b.rank() {
                a
            } else {
                b
            }
        }
        Expr::Or(a, b) => match (key_hint(a), key_hint(b)) {
            (KeyHint::Ids(mut x), KeyHint::Ids(y)) => {
                x.extend(y);
                KeyHint::Ids(x)
            }
            (KeyHint::States(mut x), KeyHint::States(y)) => {
                x.extend(y);
                KeyHint::States(x)
            }
            _ => KeyHint::All,
        },
        Expr::Not(_) | Expr::Cmp(..) => KeyHint::All,
    }
}

/// Applies `$select` (comma-separated top-level property names, case-insensitive) to an
/// entity's JSON; `odata.metadata` is kept.
pub fn select(entity: Value, select: Option<&[String]>) -> Value {
    match (entity, select) {
        (Value::Object(map), Some(fields)) => {
            Value::Object(map.into_iter().filter(|(k, _)| k == "odata.metadata" || fields.iter().any(|f| f.eq_ignore_ascii_case(k))).collect())
        }
        (v, _) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(filter: &str, v: &Value) -> bool {
        matches(&parse_filter(filter).unwrap_or_else(|e| panic!("{filter}: {e}")), v)
    }

    #[test]
    fn filters_from_the_batch_docs_parse_and_evaluate() {
        let task = json!({"id": "Task-7", "state": "completed", "executionInfo": {"exitCode": 2, "endTime": "2026-01-02T03:04:05.0000000Z"}, "properties": {"contentLength": "1024"}});
        assert!(m("state eq 'completed'", &task));
        assert!(m("state eq 'Completed'", &task));
        assert!(!m("state eq 'active'", &task));
        assert!(m("executionInfo/exitCode ne 0", &task));
        assert!(m("executionInfo/exitCode gt 1 and executionInfo/exitCode le 2", &task));
        assert!(m("state eq 'active' or startswith(id, 'task-')", &task));
        assert!(m("not (state eq 'active')", &task));
        assert!(m("(state eq 'running' or state eq 'completed') and id eq 'task-7'", &task));
        assert!(m("executionInfo/endTime gt datetime'2026-01-01T00:00:00Z'", &task));
        assert!(!m("executionInfo/endTime lt datetime'2026-01-01T00:00:00Z'", &task));
        assert!(m("properties/contentLength ge 1000", &task));
        assert!(m("startswith(id,'Task') eq true", &task));
        assert!(m("substringof('sk-7', id)", &task));
        assert!(m("nodeInfo eq null", &task));
        assert!(m("id eq 'it''s' or true", &task));
    }

    #[test]
    fn key_hints_never_narrow_below_what_matches() {
        let h = |f: &str| key_hint(&parse_filter(f).unwrap_or_else(|e| panic!("{f}: {e}")));
        assert_eq!(h("id eq 'a'"), KeyHint::Ids(vec!["a".into()]));
        assert_eq!(h("'a' eq id"), KeyHint::Ids(vec!["a".into()]));
        assert_eq!(h("state eq 'completed' and id eq 'a'"), KeyHint::Ids(vec!["a".into()]));
        assert_eq!(h("state eq 'active' or state eq 'running'"), KeyHint::States(vec!["active".into(), "running".into()]));
        assert_eq!(h("state eq 'active' or id eq 'a'"), KeyHint::All);
        assert_eq!(h("startswith(id, 'x-') and executionInfo/exitCode ne 0"), KeyHint::IdPrefix("x-".into()));
        assert_eq!(h("startswith(id, 'x-') eq true"), KeyHint::IdPrefix("x-".into()));
        assert_eq!(h("not (state eq 'active')"), KeyHint::All);
        assert_eq!(h("state ne 'active'"), KeyHint::All);
        assert_eq!(h("executionInfo/exitCode eq 0"), KeyHint::All);
        assert_eq!(h("startswith(displayName, 'x')"), KeyHint::All);
    }

    proptest::proptest! {
        /// Whatever the filter, an entity it matches is inside its key hint.
        #[test]
        fn a_key_hint_covers_every_match(
            id in "[a-cA-C]{1,2}", state in "(active|running|completed)",
            f_id in "[a-c]{1,2}", f_state in "(active|running|completed|Active)", op in 0..6usize,
        ) {
            let entity = serde_json::json!({"id": id, "state": state});
            let filters = [
                format!("id eq '{f_id}'"),
                format!("state eq '{f_state}' or id eq '{f_id}'"),
                format!("state eq '{f_state}' and startswith(id, '{f_id}')"),
                format!("(id eq '{f_id}' or id eq 'a') and state eq '{f_state}'"),
                format!("state eq '{f_state}' or state eq 'running'"),
                format!("not (id eq '{f_id}') and state eq '{f_state}'"),
            ];
            let f = parse_filter(&filters[op]).unwrap();
            if matches(&f, &entity) {
                let inside = match key_hint(&f) {
                    KeyHint::All => true,
                    KeyHint::Ids(ids) => ids.iter().any(|i| i.eq_ignore_ascii_case(&id)),
                    KeyHint::IdPrefix(p) => id.to_lowercase().starts_with(&p.to_lowercase()),
                    KeyHint::States(s) => s.iter().any(|x| x.eq_ignore_ascii_case(&state)),
                };
                proptest::prop_assert!(inside, "{} matched {entity} outside its hint", filters[op]);
            }
        }
    }

    #[test]
    fn malformed_filters_are_errors_not_panics() {
        for f in ["", "state eq", "state eq 'x", "(state eq 'a'", "state foo 'a'", "eq 1", "frobnicate(id)", "state eq 'a' and", "'a'", ")", "1 2"] {
            assert!(parse_filter(f).is_err(), "{f:?} should not parse");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_parser_never_panics(s in "\\PC{0,40}") {
            let _ = parse_filter(&s);
        }

        /// Deep and huge inputs are refused within the limits, never by running out of stack.
        #[test]
        fn deep_and_huge_filters_are_refused_not_fatal(
            depth in 0usize..3000,
            opener in proptest::sample::select(vec!["(", "not ", "not (", "tolower(", "startswith("]),
            terms in 0usize..3000,
        ) {
            let deep = format!("{}id eq 'x'{}", opener.repeat(depth), ")".repeat(depth * opener.matches('(').count()));
            let r = parse_filter(&deep);
            if depth > MAX_FILTER_DEPTH {
                proptest::prop_assert!(r.is_err());
            }
            let wide = vec!["id eq 'x'"; terms.max(1)].join(" and ");
            let r = parse_filter(&wide);
            if wide.len() <= MAX_FILTER_CHARS && terms * 3 <= MAX_FILTER_TERMS {
                proptest::prop_assert!(r.is_ok());
            }
        }
    }

    #[test]
    fn the_filters_that_overflowed_the_stack_are_400s() {
        for f in [format!("{}id eq 'x'{}", "(".repeat(2000), ")".repeat(2000)), format!("{}id eq 'x'", "not ".repeat(5000))] {
            let e = parse_filter(&f).unwrap_err();
            assert!(e.contains("deeper") || e.contains("longer") || e.contains("terms"), "{e}");
        }
        // Within the limits, nesting still works.
        assert!(parse_filter(&format!("{}id eq 'x'{}", "(".repeat(20), ")".repeat(20))).is_ok());
    }

    #[test]
    fn select_keeps_only_named_properties() {
        let v = json!({"odata.metadata": "m", "id": "a", "state": "active", "url": "u"});
        assert_eq!(select(v, Some(&["id".into(), "State".into()])), json!({"odata.metadata": "m", "id": "a", "state": "active"}));
    }
}
