//! The formula's syntax: a lexer and a recursive-descent parser with a depth bound, every error
//! carrying its position (line and column, 1-based).

use super::FormulaError;

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Str(String),
    /// A variable (`$x` or `x`) or a constant (`TimeInterval_Minute`, `taskcompletion`).
    Name(String, Pos),
    Vector(Vec<Expr>),
    Unary(char, Box<Expr>, Pos),
    Binary(Box<Expr>, &'static str, Box<Expr>, Pos),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>, Pos),
    Method(Box<Expr>, String, Vec<Expr>, Pos),
    Member(Box<Expr>, String, Pos),
}

/// A statement: an assignment, or an expression evaluated for its effect (`stop()`).
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Assign(String, Expr, Pos),
    Expr(Expr),
}

/// A position in the formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// The longest formula (characters) and the most statements the service takes ("cannot exceed
/// 8 KB, can include up to 100 statements").
pub const MAX_LEN: usize = 8 * 1024;
pub const MAX_STATEMENTS: usize = 100;
/// How deep expressions may nest (UNCONFIRMED: the service's bound is not documented; this one
/// keeps the parser's recursion small).
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Sym(&'static str),
}

/// Two-character symbols first, so `<=` is not read as `<` then `=`.
const SYMBOLS: [&str; 23] = ["&&", "||", "<=", ">=", "==", "!=", "(", ")", "[", "]", ",", ";", ".", "?", ":", "=", "+", "-", "*", "/", "!", "<", ">"];

fn lex(src: &str) -> Result<Vec<(Tok, Pos)>, FormulaError> {
    let chars: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut col) = (0, 1, 1);
    let mut out = Vec::new();
    let advance = |i: &mut usize, line: &mut usize, col: &mut usize, n: usize, chars: &[char]| {
        for _ in 0..n {
            if chars.get(*i) == Some(&'\n') {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
            *i += 1;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, column: col };
        if c.is_whitespace() {
            advance(&mut i, &mut line, &mut col, 1, &chars);
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                advance(&mut i, &mut line, &mut col, 1, &chars);
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            advance(&mut i, &mut line, &mut col, 2, &chars);
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                advance(&mut i, &mut line, &mut col, 1, &chars);
            }
            if i >= chars.len() {
                return Err(FormulaError::syntax(pos, "a comment that is never closed"));
            }
            advance(&mut i, &mut line, &mut col, 2, &chars);
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                advance(&mut i, &mut line, &mut col, 1, &chars);
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let sign = usize::from(matches!(chars.get(i + 1), Some('+' | '-')));
                if chars.get(i + 1 + sign).is_some_and(|d| d.is_ascii_digit()) {
                    advance(&mut i, &mut line, &mut col, 1 + sign, &chars);
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        advance(&mut i, &mut line, &mut col, 1, &chars);
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let n = text.parse::<f64>().map_err(|_| FormulaError::syntax(pos, &format!("{text} is not a number")))?;
            out.push((Tok::Num(n), pos));
        } else if c == '"' {
            advance(&mut i, &mut line, &mut col, 1, &chars);
            let mut s = String::new();
            while i < chars.len() && chars[i] != '"' {
                s.push(chars[i]);
                advance(&mut i, &mut line, &mut col, 1, &chars);
            }
            if i >= chars.len() {
                return Err(FormulaError::syntax(pos, "a string that is never closed"));
            }
            advance(&mut i, &mut line, &mut col, 1, &chars);
            out.push((Tok::Str(s), pos));
        } else if c == '$' || c == '_' || c.is_ascii_alphabetic() {
            let start = i;
            advance(&mut i, &mut line, &mut col, 1, &chars);
            while i < chars.len() && (chars[i] == '_' || chars[i].is_ascii_alphanumeric()) {
                advance(&mut i, &mut line, &mut col, 1, &chars);
            }
            let name: String = chars[start..i].iter().collect();
            if name == "$" {
                return Err(FormulaError::syntax(pos, "a $ without a variable name"));
            }
            out.push((Tok::Ident(name), pos));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = SYMBOLS.iter().find(|s| two.starts_with(**s));
            match sym {
                Some(s) => {
                    advance(&mut i, &mut line, &mut col, s.len(), &chars);
                    out.push((Tok::Sym(s), pos));
                }
                None => return Err(FormulaError::syntax(pos, &format!("unexpected character {c:?}"))),
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    at: usize,
    end: Pos,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }
    fn pos(&self) -> Pos {
        self.toks.get(self.at).map_or(self.end, |(_, p)| *p)
    }
    fn eat(&mut self, sym: &str) -> bool {
        if self.peek()
            == Some(&Tok::Sym(match SYMBOLS.iter().find(|s| **s == sym) {
                Some(s) => s,
                None => return false,
            }))
        {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, sym: &str) -> Result<(), FormulaError> {
        if self.eat(sym) {
            Ok(())
        } else {
            Err(FormulaError::syntax(self.pos(), &format!("expected {sym}{}", self.found())))
        }
    }
    fn found(&self) -> String {
        match self.peek() {
            None => " before the end of the formula".into(),
            Some(Tok::Num(n)) => format!(", found {n}"),
            Some(Tok::Str(s)) => format!(", found \"{s}\""),
            Some(Tok::Ident(s)) => format!(", found {s}"),
            Some(Tok::Sym(s)) => format!(", found {s}"),
        }
    }

    fn statement(&mut self) -> Result<Statement, FormulaError> {
        if let (Some((Tok::Ident(name), pos)), Some((Tok::Sym("="), _))) = (self.toks.get(self.at).cloned(), self.toks.get(self.at + 1)) {
            self.at += 2;
            return Ok(Statement::Assign(name, self.expr()?, pos));
        }
        Ok(Statement::Expr(self.expr()?))
    }

    fn expr(&mut self) -> Result<Expr, FormulaError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FormulaError::syntax(self.pos(), &format!("expressions nest deeper than {MAX_DEPTH}")));
        }
        let e = self.ternary();
        self.depth -= 1;
        e
    }

    fn ternary(&mut self) -> Result<Expr, FormulaError> {
        let cond = self.binary(0)?;
        if self.eat("?") {
            let yes = self.expr()?;
            self.expect(":")?;
            let no = self.expr()?;
            return Ok(Expr::Ternary(Box::new(cond), Box::new(yes), Box::new(no)));
        }
        Ok(cond)
    }

    /// Binary operators by precedence, loosest first.
    fn binary(&mut self, level: usize) -> Result<Expr, FormulaError> {
        const LEVELS: [&[&str]; 6] = [&["||"], &["&&"], &["==", "!="], &["<", "<=", ">", ">="], &["+", "-"], &["*", "/"]];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        loop {
            let pos = self.pos();
            let Some(op) = LEVELS[level].iter().find(|op| matches!(self.peek(), Some(Tok::Sym(s)) if s == *op)) else { return Ok(left) };
            self.at += 1;
            let right = self.binary(level + 1)?;
            left = Expr::Binary(Box::new(left), op, Box::new(right), pos);
        }
    }

    fn unary(&mut self) -> Result<Expr, FormulaError> {
        let pos = self.pos();
        for op in ['-', '!'] {
            if self.eat(&op.to_string()) {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(FormulaError::syntax(pos, &format!("expressions nest deeper than {MAX_DEPTH}")));
                }
                let inner = self.unary();
                self.depth -= 1;
                return Ok(Expr::Unary(op, Box::new(inner?), pos));
            }
        }
        self.postfix()
    }

    fn args(&mut self) -> Result<Vec<Expr>, FormulaError> {
        let mut args = Vec::new();
        if self.eat(")") {
            return Ok(args);
        }
        loop {
            args.push(self.expr()?);
            if self.eat(")") {
                return Ok(args);
            }
            self.expect(",")?;
        }
    }

    fn postfix(&mut self) -> Result<Expr, FormulaError> {
        let mut e = self.primary()?;
        while self.eat(".") {
            let pos = self.pos();
            let Some(Tok::Ident(name)) = self.peek().cloned() else {
                return Err(FormulaError::syntax(pos, &format!("expected a method or member name after .{}", self.found())));
            };
            self.at += 1;
            e = if self.eat("(") { Expr::Method(Box::new(e), name, self.args()?, pos) } else { Expr::Member(Box::new(e), name, pos) };
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, FormulaError> {
        let pos = self.pos();
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.at += 1;
                Ok(Expr::Number(n))
            }
            Some(Tok::Str(s)) => {
                self.at += 1;
                Ok(Expr::Str(s))
            }
            Some(Tok::Ident(name)) => {
                self.at += 1;
                if self.eat("(") {
                    Ok(Expr::Call(name, self.args()?, pos))
                } else {
                    Ok(Expr::Name(name, pos))
                }
            }
            Some(Tok::Sym("(")) => {
                self.at += 1;
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Some(Tok::Sym("[")) => {
                self.at += 1;
                let mut items = Vec::new();
                if !self.eat("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Expr::Vector(items))
            }
            _ => Err(FormulaError::syntax(pos, &format!("expected a value{}", self.found()))),
        }
    }
}

/// Parses a formula into its statements.
pub fn parse(src: &str) -> Result<Vec<Statement>, FormulaError> {
    if src.len() > MAX_LEN {
        return Err(FormulaError::too_long(&format!("The formula is {} bytes long; at most {MAX_LEN} are allowed", src.len())));
    }
    let toks = lex(src)?;
    let end = toks.last().map_or(Pos { line: 1, column: 1 }, |(_, p)| Pos { line: p.line, column: p.column + 1 });
    let mut p = Parser { toks, at: 0, end, depth: 0 };
    let mut statements = Vec::new();
    while p.peek().is_some() {
        if p.eat(";") {
            continue;
        }
        statements.push(p.statement()?);
        if statements.len() > MAX_STATEMENTS {
            return Err(FormulaError::syntax(p.pos(), &format!("the formula has more than {MAX_STATEMENTS} statements")));
        }
        if p.peek().is_some() && !p.eat(";") {
            return Err(FormulaError::syntax(p.pos(), &format!("expected ; between statements{}", p.found())));
        }
    }
    Ok(statements)
}
