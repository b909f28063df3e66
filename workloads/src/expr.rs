//! The small expression language of declared jobs: a filter such as
//! `amount > 100 and country not in ['DE', 'FR']`, or a derived field such
//! as `fare / distance`. Comparisons, `and` / `or` / `not`, `in [...]` and
//! arithmetic on numbers over an event's fields, parsed once and checked
//! against the event schema before anything runs. Operators bind, loosest
//! first: `or`, `and`, `not`, comparisons and `in` (which do not chain),
//! `+ -`, `* / %`, prefix `-`. `/` always gives a number with a fraction.

use std::fmt;

use crate::schema::{EventSchema, FieldType};

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// An event field, by name.
    Field(String),
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text, written in single or double quotes.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
    /// `not x` or `-x`.
    Unary(Unary, Box<Expr>),
    /// `x op y`.
    Binary(Binary, Box<Expr>, Box<Expr>),
    /// `x in [a, b]`, or `x not in [a, b]` when `negated`.
    In {
        /// The value looked for.
        value: Box<Expr>,
        /// The list.
        list: Vec<Expr>,
        /// `not in`.
        negated: bool,
    },
}

/// A prefix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unary {
    /// `not`.
    Not,
    /// `-`.
    Neg,
}

/// An infix operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// `or`.
    Or,
    /// `and`.
    And,
    /// `=` or `==`.
    Eq,
    /// `!=` or `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `%`.
    Rem,
}

impl Binary {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            Binary::Or => "or",
            Binary::And => "and",
            Binary::Eq => "=",
            Binary::Ne => "!=",
            Binary::Lt => "<",
            Binary::Le => "<=",
            Binary::Gt => ">",
            Binary::Ge => ">=",
            Binary::Add => "+",
            Binary::Sub => "-",
            Binary::Mul => "*",
            Binary::Div => "/",
            Binary::Rem => "%",
        }
    }

    /// How tightly it binds: `or` loosest, `*` tightest.
    fn precedence(self) -> u8 {
        match self {
            Binary::Or => 1,
            Binary::And => 2,
            Binary::Eq | Binary::Ne | Binary::Lt | Binary::Le | Binary::Gt | Binary::Ge => 4,
            Binary::Add | Binary::Sub => 5,
            Binary::Mul | Binary::Div | Binary::Rem => 6,
        }
    }
}

/// Precedence of `not` (between `and` and the comparisons) and of `in`.
const NOT: u8 = 3;
const COMPARISON: u8 = 4;
/// Precedence of a prefix `-` (tighter than any infix operator).
const NEGATION: u8 = 7;

/// Why an expression was refused: where in it, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}, at column {column} of `{expression}`")]
pub struct ExprError {
    /// The expression as written.
    pub expression: String,
    /// Where the problem starts, in characters from 1.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// The type of an expression's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Type {
    /// Whole numbers (and timestamps).
    Int,
    /// Numbers with a fraction.
    Float,
    /// Text (and enums).
    Text,
    /// `true` or `false`.
    Bool,
}

/// A value an expression reads or gives.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Val {
    /// A whole number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// Text.
    Text(String),
    /// `true` or `false`.
    Bool(bool),
}

impl Val {
    /// Its type.
    pub fn kind(&self) -> Type {
        match self {
            Val::Int(_) => Type::Int,
            Val::Float(_) => Type::Float,
            Val::Text(_) => Type::Text,
            Val::Bool(_) => Type::Bool,
        }
    }

    /// As a number with a fraction, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Val::Int(n) => Some(*n as f64),
            Val::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// Its place in the total order that keys and `min` / `max` use:
    /// numbers by value (floats by `total_cmp`), then text, then booleans.
    pub fn total_cmp(&self, other: &Val) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        match (self, other) {
            (Val::Int(a), Val::Int(b)) => a.cmp(b),
            (Val::Text(a), Val::Text(b)) => a.cmp(b),
            (Val::Bool(a), Val::Bool(b)) => a.cmp(b),
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => matches!(a, Val::Bool(_)).cmp(&matches!(b, Val::Bool(_))),
            },
        }
    }
}

impl Eq for Val {}

impl PartialOrd for Val {
    fn partial_cmp(&self, other: &Val) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Val {
    fn cmp(&self, other: &Val) -> std::cmp::Ordering {
        self.total_cmp(other)
    }
}

/// Named values an expression may read, with their types: an event's
/// fields, and those a job derives or joins.
pub type Columns = Vec<(String, Type)>;

impl Type {
    /// The type of a field of type `kind` in expressions.
    pub fn of(kind: FieldType) -> Type {
        match kind {
            FieldType::Integer | FieldType::Timestamp => Type::Int,
            FieldType::Float => Type::Float,
            FieldType::String | FieldType::Enum => Type::Text,
            FieldType::Boolean => Type::Bool,
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Type::Int | Type::Float)
    }

    /// How messages name it: `a whole number`, `text`.
    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "a whole number",
            Type::Float => "a number",
            Type::Text => "text",
            Type::Bool => "true or false",
        }
    }
}

/// Parses `text` into an expression.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let tokens = tokenize(text)?;
    if tokens.len() > MAX_TOKENS {
        return Err(ExprError {
            expression: text.to_string(),
            column: tokens[MAX_TOKENS].column,
            message: format!("longer than {MAX_TOKENS} words and symbols"),
        });
    }
    let mut parser = Parser {
        text,
        tokens,
        at: 0,
        depth: 0,
    };
    let expr = parser.expression(0)?;
    match parser.peek() {
        None => Ok(expr),
        Some(token) => Err(parser.error_at(token.column, format!("unexpected {}", token.kind))),
    }
}

impl Expr {
    /// The type of its value over events of `schema`; an error names the
    /// first field or operation that does not fit.
    pub fn check(&self, schema: &EventSchema, expression: &str) -> Result<Type, ExprError> {
        let columns: Columns = schema
            .fields
            .iter()
            .map(|f| (f.name.clone(), Type::of(f.kind)))
            .collect();
        self.type_in(&columns).map_err(|message| ExprError {
            expression: expression.to_string(),
            column: 1,
            message,
        })
    }

    /// The type of its value over `columns`; an error names the first name
    /// or operation that does not fit.
    pub fn type_in(&self, columns: &Columns) -> Result<Type, String> {
        match self {
            Expr::Field(name) => columns
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| *t)
                .ok_or_else(|| {
                    let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
                    format!("no field `{name}`; the event has {}", names.join(", "))
                }),
            Expr::Int(_) => Ok(Type::Int),
            Expr::Float(_) => Ok(Type::Float),
            Expr::Text(_) => Ok(Type::Text),
            Expr::Bool(_) => Ok(Type::Bool),
            Expr::Unary(Unary::Not, x) => expect(x, columns, Type::Bool, "`not`"),
            Expr::Unary(Unary::Neg, x) => {
                let t = x.type_in(columns)?;
                if t.numeric() {
                    Ok(t)
                } else {
                    Err(format!("`-` needs a number, not {} (`{x}`)", t.name()))
                }
            }
            Expr::Binary(op, x, y) => binary_type(*op, x, y, columns),
            Expr::In { value, list, .. } => {
                let t = value.type_in(columns)?;
                for item in list {
                    let u = item.type_in(columns)?;
                    if !comparable(t, u) {
                        return Err(format!(
                            "`{value}` is {} but the list holds `{item}`, {}",
                            t.name(),
                            u.name()
                        ));
                    }
                }
                Ok(Type::Bool)
            }
        }
    }
}

impl Expr {
    /// Its value over `row` (the values of `columns`, in their order, as
    /// checked); none where SQL gives NULL: a division or remainder by 0,
    /// whole-number overflow, a field not in the row. A filter keeps an
    /// event only when it gives `true`.
    pub fn eval(&self, columns: &Columns, row: &[Val]) -> Option<Val> {
        match self {
            Expr::Field(name) => columns
                .iter()
                .position(|(n, _)| n == name)
                .and_then(|i| row.get(i))
                .cloned(),
            Expr::Int(n) => Some(Val::Int(*n)),
            Expr::Float(x) => Some(Val::Float(*x)),
            Expr::Text(t) => Some(Val::Text(t.clone())),
            Expr::Bool(b) => Some(Val::Bool(*b)),
            Expr::Unary(Unary::Not, x) => match x.eval(columns, row)? {
                Val::Bool(b) => Some(Val::Bool(!b)),
                _ => None,
            },
            Expr::Unary(Unary::Neg, x) => match x.eval(columns, row)? {
                Val::Int(n) => n.checked_neg().map(Val::Int),
                Val::Float(f) => Some(Val::Float(-f)),
                _ => None,
            },
            Expr::Binary(op, x, y) => binary_value(*op, x, y, columns, row),
            Expr::In { value, list, negated } => {
                let v = value.eval(columns, row)?;
                let found = list
                    .iter()
                    .any(|item| item.eval(columns, row).is_some_and(|i| equal(&v, &i)));
                Some(Val::Bool(found != *negated))
            }
        }
    }
}

/// Numbers compare by value (a whole number equals the same float).
pub(crate) fn equal(a: &Val, b: &Val) -> bool {
    a.total_cmp(b) == std::cmp::Ordering::Equal
}

fn binary_value(op: Binary, x: &Expr, y: &Expr, columns: &Columns, row: &[Val]) -> Option<Val> {
    if let Binary::And | Binary::Or = op {
        // Both sides are evaluated, as SQL does not promise to skip one.
        let (a, b) = (x.eval(columns, row), y.eval(columns, row));
        let truth = |v: &Option<Val>| match v {
            Some(Val::Bool(b)) => Some(*b),
            _ => None,
        };
        return match (op, truth(&a), truth(&b)) {
            (Binary::And, Some(false), _) | (Binary::And, _, Some(false)) => Some(Val::Bool(false)),
            (Binary::Or, Some(true), _) | (Binary::Or, _, Some(true)) => Some(Val::Bool(true)),
            (_, Some(p), Some(q)) => Some(Val::Bool(if op == Binary::And { p && q } else { p || q })),
            _ => None,
        };
    }
    let (a, b) = (x.eval(columns, row)?, y.eval(columns, row)?);
    apply(op, &a, &b)
}

/// `a op b` for an operator other than `and` and `or`: a comparison, a
/// division, or [`arithmetic`]; none where SQL gives NULL.
pub(crate) fn apply(op: Binary, a: &Val, b: &Val) -> Option<Val> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let order = || a.total_cmp(b);
    let truth = |holds: bool| Some(Val::Bool(holds));
    match op {
        Binary::Eq => truth(order() == Equal),
        Binary::Ne => truth(order() != Equal),
        Binary::Lt => truth(order() == Less),
        Binary::Le => truth(order() != Greater),
        Binary::Gt => truth(order() == Greater),
        Binary::Ge => truth(order() != Less),
        Binary::Div => {
            let (p, q) = (a.as_f64()?, b.as_f64()?);
            (q != 0.0).then(|| Val::Float(p / q))
        }
        _ => arithmetic(op, a, b),
    }
}

/// `+ - * %`: whole numbers stay whole (none on overflow or a zero
/// divisor), else floats.
fn arithmetic(op: Binary, a: &Val, b: &Val) -> Option<Val> {
    if let (Val::Int(p), Val::Int(q)) = (a, b) {
        return match op {
            Binary::Add => p.checked_add(*q),
            Binary::Sub => p.checked_sub(*q),
            Binary::Mul => p.checked_mul(*q),
            // As SQL's MOD (and Java's %): `MIN % -1` is 0, only a zero divisor gives NULL.
            _ => (*q != 0).then(|| p.wrapping_rem(*q)),
        }
        .map(Val::Int);
    }
    let (p, q) = (a.as_f64()?, b.as_f64()?);
    match op {
        Binary::Add => Some(Val::Float(p + q)),
        Binary::Sub => Some(Val::Float(p - q)),
        Binary::Mul => Some(Val::Float(p * q)),
        _ => (q != 0.0).then(|| Val::Float(p % q)),
    }
}

fn expect(x: &Expr, columns: &Columns, want: Type, what: &str) -> Result<Type, String> {
    let t = x.type_in(columns)?;
    if t == want {
        Ok(want)
    } else {
        Err(format!("{what} needs {}, not {} (`{x}`)", want.name(), t.name()))
    }
}

fn binary_type(op: Binary, x: &Expr, y: &Expr, columns: &Columns) -> Result<Type, String> {
    let what = format!("`{}`", op.symbol());
    match op {
        Binary::Or | Binary::And => {
            expect(x, columns, Type::Bool, &what)?;
            expect(y, columns, Type::Bool, &what)
        }
        Binary::Eq | Binary::Ne | Binary::Lt | Binary::Le | Binary::Gt | Binary::Ge => {
            let (t, u) = (x.type_in(columns)?, y.type_in(columns)?);
            if comparable(t, u) {
                Ok(Type::Bool)
            } else {
                Err(format!(
                    "{what} cannot compare `{x}`, {}, with `{y}`, {}",
                    t.name(),
                    u.name()
                ))
            }
        }
        Binary::Add | Binary::Sub | Binary::Mul | Binary::Div | Binary::Rem => {
            let (t, u) = (x.type_in(columns)?, y.type_in(columns)?);
            match (t, u) {
                // Division gives a number with a fraction even of whole
                // numbers, as in Spark SQL (Flink's integer division
                // would truncate), so every engine agrees.
                (Type::Int, Type::Int) if op != Binary::Div => Ok(Type::Int),
                _ if t.numeric() && u.numeric() => Ok(Type::Float),
                _ => Err(format!(
                    "{what} needs numbers, not `{x}` ({}) and `{y}` ({})",
                    t.name(),
                    u.name()
                )),
            }
        }
    }
}

fn comparable(t: Type, u: Type) -> bool {
    t == u || (t.numeric() && u.numeric())
}

impl fmt::Display for Expr {
    /// The expression written back, fully parenthesized where it nests, so
    /// that parsing what it prints gives the same expression.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Field(name) => write!(f, "{name}"),
            Expr::Int(n) => write!(f, "{n}"),
            Expr::Float(x) => write!(f, "{x:?}"),
            Expr::Text(t) => write!(f, "'{}'", t.replace('\'', "''")),
            Expr::Bool(b) => write!(f, "{b}"),
            Expr::Unary(Unary::Not, x) => write!(f, "not {}", Nested(x)),
            Expr::Unary(Unary::Neg, x) => write!(f, "-{}", Nested(x)),
            Expr::Binary(op, x, y) => write!(f, "{} {} {}", Nested(x), op.symbol(), Nested(y)),
            Expr::In { value, list, negated } => {
                let items: Vec<String> = list.iter().map(|i| i.to_string()).collect();
                let not = if *negated { "not " } else { "" };
                write!(f, "{} {not}in [{}]", Nested(value), items.join(", "))
            }
        }
    }
}

/// An operand, in parentheses when it is itself an operation.
struct Nested<'e>(&'e Expr);

impl fmt::Display for Nested<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Expr::Unary(..) | Expr::Binary(..) | Expr::In { .. } => write!(f, "({})", self.0),
            Expr::Int(n) if *n < 0 => write!(f, "({n})"),
            Expr::Float(x) if x.is_sign_negative() => write!(f, "({x:?})"),
            other => write!(f, "{other}"),
        }
    }
}

/// One word or symbol of an expression, and the column it starts at.
#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: TokenKind,
    column: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Name(String),
    Int(i64),
    Float(f64),
    Text(String),
    Symbol(&'static str),
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenKind::Name(n) => write!(f, "`{n}`"),
            TokenKind::Int(n) => write!(f, "`{n}`"),
            TokenKind::Float(x) => write!(f, "`{x}`"),
            TokenKind::Text(t) => write!(f, "text '{t}'"),
            TokenKind::Symbol(s) => write!(f, "`{s}`"),
        }
    }
}

/// Symbols, longest first so that `<=` is not read as `<` then `=`.
const SYMBOLS: [&str; 17] = [
    "==", "!=", "<>", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]",
];
const COMMA: &str = ",";

fn tokenize(text: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let error = |column: usize, message: String| ExprError {
        expression: text.to_string(),
        column,
        message,
    };
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(Token {
                kind: TokenKind::Name(word),
                column,
            });
        } else if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            while i < chars.len() && (number_char(chars[i]) || exponent_sign(&chars[start..], i - start)) {
                i += 1;
            }
            let number: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
            let kind = if number.contains(['.', 'e', 'E']) {
                number
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite())
                    .map(TokenKind::Float)
            } else {
                number.parse().ok().map(TokenKind::Int)
            };
            let kind = kind.ok_or_else(|| error(column, format!("`{number}` is not a number")))?;
            tokens.push(Token { kind, column });
        } else if c == '\'' || c == '"' {
            let (value, end) =
                quoted(&chars, i).ok_or_else(|| error(column, "text is never closed".into()))?;
            tokens.push(Token {
                kind: TokenKind::Text(value),
                column,
            });
            i = end;
        } else if c == ',' {
            tokens.push(Token {
                kind: TokenKind::Symbol(COMMA),
                column,
            });
            i += 1;
        } else {
            let rest: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let symbol = SYMBOLS
                .iter()
                .find(|s| rest.starts_with(**s))
                .ok_or_else(|| error(column, format!("unexpected `{c}`")))?;
            tokens.push(Token {
                kind: TokenKind::Symbol(symbol),
                column,
            });
            i += symbol.chars().count();
        }
    }
    Ok(tokens)
}

fn number_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '.' || c == '_'
}

/// Whether `number[at]` is the sign of an exponent (`1e-5`).
fn exponent_sign(number: &[char], at: usize) -> bool {
    matches!(number.get(at), Some('+' | '-')) && at > 0 && matches!(number[at - 1], 'e' | 'E')
}

/// The text of a quoted string starting at `chars[start]`, where a doubled
/// quote stands for one, and the index after its closing quote.
fn quoted(chars: &[char], start: usize) -> Option<(String, usize)> {
    let quote = chars[start];
    let mut value = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return None,
            Some(&c) if c == quote && chars.get(i + 1) == Some(&quote) => {
                value.push(quote);
                i += 2;
            }
            Some(&c) if c == quote => return Some((value, i + 1)),
            Some(&c) => {
                value.push(c);
                i += 1;
            }
        }
    }
}

/// A precedence-climbing parser over the tokens.
struct Parser<'t> {
    text: &'t str,
    tokens: Vec<Token>,
    at: usize,
    /// How many expressions the cursor is inside.
    depth: usize,
}

/// The most words and symbols an expression may have, and how deeply it
/// may nest: an expression is a line of a suite, and every pass over it
/// (checking, evaluating, printing) recurses as deep as it nests.
const MAX_TOKENS: usize = 1_000;
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn error_at(&self, column: usize, message: String) -> ExprError {
        ExprError {
            expression: self.text.to_string(),
            column,
            message,
        }
    }

    /// The column just past the end, for "ends too soon".
    fn end(&self) -> usize {
        self.text.chars().count() + 1
    }

    fn is_word(&self, offset: usize, word: &str) -> bool {
        matches!(self.tokens.get(self.at + offset), Some(Token { kind: TokenKind::Name(n), .. }) if n.eq_ignore_ascii_case(word))
    }

    fn is_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: TokenKind::Symbol(s), .. }) if *s == symbol)
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), ExprError> {
        if self.is_symbol(symbol) {
            self.at += 1;
            return Ok(());
        }
        Err(match self.peek() {
            Some(t) => self.error_at(t.column, format!("expected `{symbol}`, found {}", t.kind)),
            None => self.error_at(
                self.end(),
                format!("expected `{symbol}`, but the expression ends"),
            ),
        })
    }

    /// The infix operator at the cursor, if any, and how many tokens it takes.
    fn infix(&self) -> Option<(Infix, usize)> {
        if self.is_word(0, "or") {
            return Some((Infix::Binary(Binary::Or), 1));
        }
        if self.is_word(0, "and") {
            return Some((Infix::Binary(Binary::And), 1));
        }
        if self.is_word(0, "in") {
            return Some((Infix::In { negated: false }, 1));
        }
        if self.is_word(0, "not") && self.is_word(1, "in") {
            return Some((Infix::In { negated: true }, 2));
        }
        let Some(Token {
            kind: TokenKind::Symbol(s),
            ..
        }) = self.peek()
        else {
            return None;
        };
        let op = match *s {
            "=" | "==" => Binary::Eq,
            "!=" | "<>" => Binary::Ne,
            "<" => Binary::Lt,
            "<=" => Binary::Le,
            ">" => Binary::Gt,
            ">=" => Binary::Ge,
            "+" => Binary::Add,
            "-" => Binary::Sub,
            "*" => Binary::Mul,
            "/" => Binary::Div,
            "%" => Binary::Rem,
            _ => return None,
        };
        Some((Infix::Binary(op), 1))
    }

    /// An expression whose operators all bind tighter than `floor`.
    fn expression(&mut self, floor: u8) -> Result<Expr, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let column = self.peek().map_or(self.end(), |t| t.column);
            return Err(self.error_at(column, format!("nested more than {MAX_DEPTH} deep")));
        }
        let expr = self.operations(floor);
        self.depth -= 1;
        expr
    }

    /// [`Parser::expression`]'s work: a value, then operators tighter than `floor`.
    fn operations(&mut self, floor: u8) -> Result<Expr, ExprError> {
        let mut left = self.prefix()?;
        while let Some((infix, width)) = self.infix() {
            let precedence = infix.precedence();
            if precedence <= floor {
                break;
            }
            let column = self.tokens[self.at].column;
            self.at += width;
            left = match infix {
                Infix::Binary(op) => {
                    let right = self.expression(precedence)?;
                    Expr::Binary(op, Box::new(left), Box::new(right))
                }
                Infix::In { negated } => Expr::In {
                    value: Box::new(left),
                    list: self.list()?,
                    negated,
                },
            };
            if precedence == COMPARISON
                && self
                    .infix()
                    .is_some_and(|(next, _)| next.precedence() == COMPARISON)
            {
                return Err(self.error_at(column, "comparisons do not chain: add `and`".into()));
            }
        }
        Ok(left)
    }

    fn prefix(&mut self) -> Result<Expr, ExprError> {
        let Some(token) = self.peek().cloned() else {
            return Err(self.error_at(self.end(), "the expression ends where a value should be".into()));
        };
        self.at += 1;
        match token.kind {
            TokenKind::Int(n) => Ok(Expr::Int(n)),
            TokenKind::Float(x) => Ok(Expr::Float(x)),
            TokenKind::Text(t) => Ok(Expr::Text(t)),
            TokenKind::Name(n) if n.eq_ignore_ascii_case("true") => Ok(Expr::Bool(true)),
            TokenKind::Name(n) if n.eq_ignore_ascii_case("false") => Ok(Expr::Bool(false)),
            TokenKind::Name(n) if n.eq_ignore_ascii_case("not") => {
                Ok(Expr::Unary(Unary::Not, Box::new(self.expression(NOT)?)))
            }
            TokenKind::Name(n) if ["and", "or", "in"].iter().any(|w| n.eq_ignore_ascii_case(w)) => {
                Err(self.error_at(token.column, format!("`{n}` where a value should be")))
            }
            TokenKind::Name(n) => Ok(Expr::Field(n)),
            TokenKind::Symbol("-") => Ok(Expr::Unary(Unary::Neg, Box::new(self.expression(NEGATION)?))),
            TokenKind::Symbol("(") => {
                let inner = self.expression(0)?;
                self.expect_symbol(")")?;
                Ok(inner)
            }
            other => Err(self.error_at(token.column, format!("{other} where a value should be"))),
        }
    }

    /// `[a, b, ...]` after `in`.
    fn list(&mut self) -> Result<Vec<Expr>, ExprError> {
        self.expect_symbol("[")?;
        let mut items = Vec::new();
        if self.is_symbol("]") {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.expression(0)?);
            if self.is_symbol(COMMA) {
                self.at += 1;
                continue;
            }
            self.expect_symbol("]")?;
            return Ok(items);
        }
    }
}

/// An operator between two operands.
#[derive(Debug, Clone, Copy)]
enum Infix {
    Binary(Binary),
    In { negated: bool },
}

impl Infix {
    fn precedence(self) -> u8 {
        match self {
            Infix::Binary(op) => op.precedence(),
            Infix::In { .. } => COMPARISON,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cards() -> EventSchema {
        toml::from_str(
            r#"
            time = "at"
            kafka_key = "card"
            fields = [
              { name = "at", type = "timestamp" },
              { name = "card", type = "string", draw = { kind = "pattern", pattern = "card-{}", of = { kind = "key" } } },
              { name = "amount", type = "float", draw = { kind = "uniform", min = 0.0, max = 9.0 } },
              { name = "items", type = "integer", draw = { kind = "uniform", min = 1, max = 3 } },
              { name = "country", type = "enum", values = ["DE", "FR"], draw = { kind = "categorical" } },
              { name = "online", type = "boolean", draw = { kind = "categorical", values = [true, false] } },
            ]
            "#,
        )
        .expect("a schema")
    }

    #[test]
    fn operators_bind_as_documented() {
        let shown = |text: &str| parse(text).expect(text).to_string();
        assert_eq!(shown("a or b and not c = 1"), "a or (b and (not (c = 1)))");
        assert_eq!(shown("-a * b + c % 2 >= 10"), "(((-a) * b) + (c % 2)) >= 10");
        assert_eq!(
            shown("x NOT IN ['DE', 'it''s'] and y in [1, -2]"),
            "(x not in ['DE', 'it''s']) and (y in [1, -2])"
        );
        assert_eq!(shown("(a + b) * 2.5e-1"), "(a + b) * 0.25");
        assert_eq!(shown("a - b - c"), "(a - b) - c", "left to right");
    }

    #[test]
    fn a_bad_expression_is_refused_at_its_column() {
        let refused = |text: &str| parse(text).expect_err(text).to_string();
        assert_eq!(
            refused("amount >"),
            "the expression ends where a value should be, at column 9 of `amount >`"
        );
        assert_eq!(
            refused("a < b < c"),
            "comparisons do not chain: add `and`, at column 3 of `a < b < c`"
        );
        assert_eq!(
            refused("a = 'open"),
            "text is never closed, at column 5 of `a = 'open`"
        );
        assert_eq!(
            refused("a in [1, 2"),
            "expected `]`, but the expression ends, at column 11 of `a in [1, 2`"
        );
        assert_eq!(refused("a ; b"), "unexpected `;`, at column 3 of `a ; b`");
        assert_eq!(refused("a b"), "unexpected `b`, at column 3 of `a b`");
        assert_eq!(
            refused("12ab > 1"),
            "`12ab` is not a number, at column 1 of `12ab > 1`"
        );
        assert_eq!(
            refused("and a"),
            "`and` where a value should be, at column 1 of `and a`"
        );
    }

    #[test]
    fn types_are_checked_against_the_schema() {
        let schema = cards();
        let typed = |text: &str| parse(text).expect(text).check(&schema, text);
        assert_eq!(typed("amount > 100 and country not in ['DE']"), Ok(Type::Bool));
        assert_eq!(typed("items * 2 + 1"), Ok(Type::Int));
        assert_eq!(typed("items / 2"), Ok(Type::Float));
        assert_eq!(typed("amount * items"), Ok(Type::Float));
        assert_eq!(typed("at % 1000 = 0 or online"), Ok(Type::Bool));
        let message = |text: &str| typed(text).expect_err(text).message;
        assert_eq!(
            message("merchant = 1"),
            "no field `merchant`; the event has at, card, amount, items, country, online"
        );
        assert_eq!(
            message("country > 1"),
            "`>` cannot compare `country`, text, with `1`, a whole number"
        );
        assert_eq!(
            message("online and items"),
            "`and` needs true or false, not a whole number (`items`)"
        );
        assert_eq!(
            message("card + 1"),
            "`+` needs numbers, not `card` (text) and `1` (a whole number)"
        );
        assert_eq!(
            message("items in [1, 'x']"),
            "`items` is a whole number but the list holds `'x'`, text"
        );
    }

    #[test]
    fn expressions_evaluate_as_sql_does_with_none_for_null() {
        let columns: Columns = vec![
            ("amount".into(), Type::Float),
            ("items".into(), Type::Int),
            ("country".into(), Type::Text),
            ("online".into(), Type::Bool),
        ];
        let row = [
            Val::Float(120.5),
            Val::Int(3),
            Val::Text("FR".into()),
            Val::Bool(false),
        ];
        let value = |text: &str| parse(text).expect(text).eval(&columns, &row);
        assert_eq!(
            value("amount > 100 and country not in ['DE', 'US']"),
            Some(Val::Bool(true))
        );
        assert_eq!(value("items * 2 + 1"), Some(Val::Int(7)));
        assert_eq!(
            value("items / 2"),
            Some(Val::Float(1.5)),
            "division gives a fraction"
        );
        assert_eq!(
            value("items % 2 = 1.0"),
            Some(Val::Bool(true)),
            "whole numbers equal floats"
        );
        assert_eq!(value("-items"), Some(Val::Int(-3)));
        assert_eq!(value("items / 0"), None, "NULL");
        assert_eq!(value("items % 0"), None);
        assert_eq!(value("9223372036854775807 + items"), None, "overflow is NULL");
        assert_eq!(value("items / 0 > 1"), None, "NULL compares to NULL");
        assert_eq!(
            value("items / 0 > 1 or not online"),
            Some(Val::Bool(true)),
            "NULL or true"
        );
        assert_eq!(
            value("items / 0 > 1 and online"),
            Some(Val::Bool(false)),
            "NULL and false"
        );
        assert_eq!(value("country < 'GB' and country >= 'FR'"), Some(Val::Bool(true)));
    }

    fn leaf() -> impl Strategy<Value = Expr> {
        prop_oneof![
            "[a-z_][a-z0-9_]{0,5}"
                .prop_filter("not a keyword", |n| !["and", "or", "not", "in", "true", "false"]
                    .contains(&n.as_str()))
                .prop_map(Expr::Field),
            (0i64..1_000_000).prop_map(Expr::Int),
            (0.0f64..1e9).prop_map(Expr::Float),
            "[a-zA-Z' ]{0,6}".prop_map(Expr::Text),
            any::<bool>().prop_map(Expr::Bool),
        ]
    }

    fn expr() -> impl Strategy<Value = Expr> {
        leaf().prop_recursive(4, 24, 4, |inner| {
            let ops = [
                Binary::Or,
                Binary::And,
                Binary::Eq,
                Binary::Ne,
                Binary::Lt,
                Binary::Le,
                Binary::Gt,
                Binary::Ge,
                Binary::Add,
                Binary::Sub,
                Binary::Mul,
                Binary::Div,
                Binary::Rem,
            ];
            prop_oneof![
                (inner.clone(), prop::bool::ANY).prop_map(|(x, not)| {
                    Expr::Unary(if not { Unary::Not } else { Unary::Neg }, Box::new(x))
                }),
                (inner.clone(), inner.clone(), prop::sample::select(ops.to_vec()))
                    .prop_map(|(x, y, op)| Expr::Binary(op, Box::new(x), Box::new(y))),
                (inner.clone(), prop::collection::vec(inner, 0..3), prop::bool::ANY).prop_map(
                    |(v, list, negated)| Expr::In {
                        value: Box::new(v),
                        list,
                        negated
                    }
                ),
            ]
        })
    }

    proptest! {
        #[test]
        fn what_an_expression_prints_parses_back_to_it(e in expr()) {
            let printed = e.to_string();
            prop_assert_eq!(parse(&printed), Ok(e), "{}", printed);
        }

        #[test]
        fn any_text_parses_or_is_refused_without_a_panic(text in "[ -~]{0,40}") {
            if let Err(e) = parse(&text) {
                prop_assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{:?}", e);
            }
        }
    }
}
