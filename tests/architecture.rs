//! The layer order of `src/` (ARCHITECTURE.md, "Layers"), enforced: every reference from one module of the crate to
//! another must point to its own level or below, and no cycle may join two top-level modules or two files of one
//! module.
//!
//! A small scanner, not a Rust parser: it drops comments and literals, follows `mod` declarations (and `#[path]`) from
//! the crate roots, reads `use` trees and `crate::`/`super::`/`self::`/`edugate::` paths anywhere in the text, and
//! resolves each path through the re-exports on its way to the file that defines its item.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

/// The layer of every top-level module, bottom (0) to top. A module may use modules on its own level or below.
const LAYERS: &[(&str, u8)] = &[
    ("xml", 0),
    ("crypto", 0),
    ("cpu", 0),
    ("serve", 0),
    ("outbox", 0),
    ("inbox", 0),
    ("state", 0),
    ("store", 0),
    ("schema", 0),
    ("dsig", 1),
    ("smev", 2),
    ("school", 3),
    ("services", 3),
    ("config", 4),
    ("metrics", 4),
    ("gateway", 5),
    ("ops", 6),
    ("demo", 7),
    ("ops_cli", 7),
    ("main", 7),
    ("school_data", 7),
];

/// What the checker found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Violation {
    /// A module uses one on a higher level.
    Upward { file: String, line: usize, from: String, to: String, from_level: u8, to_level: u8 },
    /// A top-level module that the layer table does not place.
    Unplaced { module: String, file: String },
    /// Top-level modules that use each other, with one reference (file:line) per link.
    ModuleCycle { modules: Vec<String>, links: Vec<String> },
    /// Files of one module that use each other, with one reference (file:line) per link.
    FileCycle { module: String, files: Vec<String>, links: Vec<String> },
    /// A file under `src/` that no crate root reaches through `mod`.
    Orphan { file: String },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Upward { file, line, from, to, from_level, to_level } => {
                write!(f, "{file}:{line}: {from} (L{from_level}) uses {to} (L{to_level}), a higher layer")
            }
            Violation::Unplaced { module, file } => {
                write!(
                    f,
                    "{file}: module `{module}` has no layer; place it in tests/architecture.rs and ARCHITECTURE.md"
                )
            }
            Violation::ModuleCycle { modules, links } => {
                write!(f, "module cycle {}: {}", modules.join(" <-> "), links.join(", "))
            }
            Violation::FileCycle { module, files, links } => {
                write!(f, "file cycle in {module}: {} ({})", files.join(" <-> "), links.join(", "))
            }
            Violation::Orphan { file } => write!(f, "{file}: reached by no `mod` from a crate root"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Lexing: identifiers, `::`, punctuation and string literals (for `#[path]`), with their lines; comments and the
// contents of character literals are dropped.

/// One token of a source file.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An identifier or keyword (raw identifiers without their `r#`).
    Ident(String),
    /// A string literal's raw text between its quotes (only `#[path = "…"]` reads it).
    Str(String),
    /// `::`.
    Sep,
    /// Any other single character that is not whitespace.
    Punct(char),
}

/// Splits Rust source text into tokens with their 1-based line numbers.
fn lex(text: &str) -> Vec<(Tok, usize)> {
    let mut lexer = Lexer { c: text.chars().collect(), i: 0, line: 1, out: Vec::new() };
    while lexer.i < lexer.c.len() {
        lexer.step();
    }
    lexer.out
}

/// The state of lexing one text.
struct Lexer {
    /// The text's characters.
    c: Vec<char>,
    /// The next character to read.
    i: usize,
    /// The line of `c[i]`.
    line: usize,
    /// The tokens so far.
    out: Vec<(Tok, usize)>,
}

impl Lexer {
    /// The character `k` places after the next one.
    fn at(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    /// Moves to `end`, counting the lines passed.
    fn advance_to(&mut self, end: usize) {
        let end = end.min(self.c.len());
        self.line += self.c[self.i..end].iter().filter(|&&ch| ch == '\n').count();
        self.i = end;
    }

    /// Reads one token, or skips whitespace, a comment or a literal that holds no path.
    fn step(&mut self) {
        let (ch, next) = (self.c[self.i], self.at(1));
        if ch.is_whitespace() {
            self.advance_to(self.i + 1);
        } else if ch == '/' && next == Some('/') {
            let end = self.c[self.i..].iter().position(|&c| c == '\n').map_or(self.c.len(), |p| self.i + p);
            self.advance_to(end);
        } else if ch == '/' && next == Some('*') {
            let end = self.block_comment_end();
            self.advance_to(end);
        } else if let Some(end) = raw_string_end(&self.c, self.i) {
            self.string_token(self.i, end, end);
        } else if ch == '"' || (ch == 'b' && next == Some('"')) {
            self.quoted_string(if ch == 'b' { self.i + 2 } else { self.i + 1 });
        } else if ch == '\'' || (ch == 'b' && next == Some('\'')) {
            self.i = skip_char_or_lifetime(&self.c, if ch == 'b' { self.i + 1 } else { self.i });
        } else if ch.is_alphabetic() || ch == '_' {
            self.identifier();
        } else if ch.is_ascii_digit() {
            self.number();
        } else if ch == ':' && next == Some(':') {
            self.out.push((Tok::Sep, self.line));
            self.i += 2;
        } else {
            self.out.push((Tok::Punct(ch), self.line));
            self.i += 1;
        }
    }

    /// The index after the (nested) block comment that starts here.
    fn block_comment_end(&self) -> usize {
        let (mut j, mut depth) = (self.i, 0);
        while j < self.c.len() {
            if self.c[j] == '/' && self.c.get(j + 1) == Some(&'*') {
                depth += 1;
                j += 2;
            } else if self.c[j] == '*' && self.c.get(j + 1) == Some(&'/') {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            } else {
                j += 1;
            }
        }
        j
    }

    /// Reads a `"…"` string whose body starts at `body`.
    fn quoted_string(&mut self, body: usize) {
        let mut j = body;
        while j < self.c.len() && self.c[j] != '"' {
            j += if self.c[j] == '\\' { 2 } else { 1 };
        }
        let end = j.min(self.c.len());
        self.string_token(body, end, end + 1);
    }

    /// Pushes the string `c[from..to]` as a token on the current line and moves to `next`.
    fn string_token(&mut self, from: usize, to: usize, next: usize) {
        let body: String = self.c[from..to.min(self.c.len())].iter().collect();
        self.out.push((Tok::Str(body), self.line));
        self.advance_to(next);
    }

    /// Reads an identifier (or keyword), a raw one without its `r#`.
    fn identifier(&mut self) {
        if self.c[self.i] == 'r' && self.at(1) == Some('#') {
            self.i += 2;
        }
        let start = self.i;
        while self.i < self.c.len() && (self.c[self.i].is_alphanumeric() || self.c[self.i] == '_') {
            self.i += 1;
        }
        self.out.push((Tok::Ident(self.c[start..self.i].iter().collect()), self.line));
    }

    /// Skips a number literal (a `.` followed by no digit ends it: `1..2`, `x.0.len()`).
    fn number(&mut self) {
        while self.i < self.c.len()
            && (self.c[self.i].is_alphanumeric() || self.c[self.i] == '_' || self.c[self.i] == '.')
        {
            if self.c[self.i] == '.' && !self.at(1).is_some_and(|d| d.is_ascii_digit()) {
                break;
            }
            self.i += 1;
        }
    }
}

/// If a raw string (`r"…"`, `r#"…"#`, `br#"…"#`) starts at `i`, the index just past its end.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

/// Skips a character literal (`'x'`, `'\n'`, `'\u{1F600}'`) or a lifetime (`'a`) starting at the quote at `i`.
fn skip_char_or_lifetime(c: &[char], i: usize) -> usize {
    if c.get(i + 1) == Some(&'\\') {
        let mut j = i + 3;
        while j < c.len() && c[j] != '\'' {
            j += 1;
        }
        return j + 1;
    }
    if c.get(i + 2) == Some(&'\'') {
        return i + 3;
    }
    let mut j = i + 1;
    while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
        j += 1;
    }
    j
}

// ---------------------------------------------------------------------------------------------------------------
// Reading one file: its `mod` declarations, `use` imports, item names and paths.

/// A module path from a crate root: the crate (`lib`, or a binary's name) then the module names.
type ModPath = Vec<String>;

/// A path written in the source, with the module it was written in (inline `mod` blocks included).
#[derive(Debug, Clone)]
struct Reference {
    /// The line it is on.
    line: usize,
    /// The module whose scope it was written in.
    scope: ModPath,
    /// Its segments as written (`crate`, `super`, `self` and `edugate` included).
    segments: Vec<String>,
    /// Whether it is a `pub use` (a re-export): a module's file re-exporting its own submodules is the module's
    /// facade, not a dependency, so such an edge does not count towards a file cycle.
    reexport: bool,
}

/// What a module's scope holds, as far as resolving paths needs.
#[derive(Debug, Default, Clone)]
struct Scope {
    /// The file that holds the module (an inline module's file is the one it is written in).
    file: String,
    /// Child modules by name.
    children: BTreeSet<String>,
    /// Names brought in by `use`, with what they name (as written, relative to this scope).
    imports: HashMap<String, Vec<String>>,
    /// Targets of glob imports (`use a::b::*`).
    globs: Vec<Vec<String>>,
    /// Names of items defined here.
    defs: BTreeSet<String>,
}

/// A `mod name;` declaration that points at another file.
#[derive(Debug, Clone)]
struct ModDecl {
    /// The module it is declared in.
    scope: ModPath,
    /// The child's name.
    name: String,
    /// The `#[path]` given, if any.
    path: Option<String>,
    /// The line of the declaration.
    line: usize,
}

/// Everything read from one file.
#[derive(Debug, Default)]
struct FileFacts {
    /// Its out-of-line `mod` declarations.
    mods: Vec<ModDecl>,
    /// Every path that may name a module of the crate.
    refs: Vec<Reference>,
    /// The scopes it defines (its own module and its inline modules).
    scopes: Vec<(ModPath, Scope)>,
}

/// Item keywords whose next identifier is the item's name.
const ITEM_KEYWORDS: &[&str] = &["fn", "struct", "enum", "trait", "type", "const", "static", "union"];

/// Reads a file that is the module `module`.
fn read_file(file: &str, module: &ModPath, text: &str) -> FileFacts {
    let mut reader = Reader {
        toks: lex(text),
        module: module.clone(),
        facts: FileFacts::default(),
        scopes: BTreeMap::from([(module.clone(), Scope::default())]),
        inline: Vec::new(),
        depth: 0,
        pending_path: None,
    };
    let mut i = 0;
    while i < reader.toks.len() {
        i = reader.step(i);
    }
    let Reader { mut facts, mut scopes, .. } = reader;
    for scope in scopes.values_mut() {
        scope.file = file.to_string();
    }
    facts.scopes = scopes.into_iter().collect();
    facts
}

/// The state of reading one file's tokens.
struct Reader {
    /// The file's tokens.
    toks: Vec<(Tok, usize)>,
    /// The module the file is.
    module: ModPath,
    /// What has been read so far.
    facts: FileFacts,
    /// The scopes seen so far: the file's module and its inline modules.
    scopes: BTreeMap<ModPath, Scope>,
    /// The inline modules open, each with the brace depth it closes at.
    inline: Vec<(ModPath, usize)>,
    /// How many braces are open.
    depth: usize,
    /// A `#[path]` waiting for its `mod`.
    pending_path: Option<String>,
}

impl Reader {
    /// The module whose scope the reader is in.
    fn scope(&self) -> ModPath {
        self.inline.last().map_or_else(|| self.module.clone(), |(m, _)| m.clone())
    }

    /// Reads the construct at `toks[i]`; returns the index after it.
    fn step(&mut self, i: usize) -> usize {
        match &self.toks[i].0 {
            Tok::Punct('{') => self.depth += 1,
            Tok::Punct('}') => {
                self.depth = self.depth.saturating_sub(1);
                if self.inline.last().is_some_and(|(_, d)| *d == self.depth) {
                    self.inline.pop();
                }
            }
            Tok::Punct('#') => {
                if let Some(path) = path_attribute(&self.toks[i..]) {
                    self.pending_path = Some(path);
                }
            }
            Tok::Ident(word) if word == "use" => return self.use_declaration(i),
            Tok::Ident(word) if word == "mod" => self.mod_declaration(i),
            Tok::Ident(word) if ITEM_KEYWORDS.contains(&word.as_str()) || word == "macro_rules" => {
                let name_at = if word == "macro_rules" { i + 2 } else { i + 1 };
                if let Some((Tok::Ident(name), _)) = self.toks.get(name_at) {
                    let name = name.clone();
                    self.scopes.entry(self.scope()).or_default().defs.insert(name);
                }
            }
            Tok::Ident(_) if starts_path(&self.toks, i) => {
                let (segments, end) = read_path(&self.toks, i);
                let reference = Reference { line: self.toks[i].1, scope: self.scope(), segments, reexport: false };
                self.facts.refs.push(reference);
                return end;
            }
            _ => {}
        }
        i + 1
    }

    /// Reads the `use` declaration at `toks[i]`: its imports and its references.
    fn use_declaration(&mut self, i: usize) -> usize {
        let (scope, line) = (self.scope(), self.toks[i].1);
        let reexport = is_public(&self.toks, i);
        let (leaves, end) = parse_use(&self.toks, i + 1);
        let entry = self.scopes.entry(scope.clone()).or_default();
        for leaf in leaves {
            entry.import(&leaf);
            self.facts.refs.push(Reference { line, scope: scope.clone(), segments: leaf.path, reexport });
        }
        end
    }

    /// Reads the `mod` at `toks[i]`: an out-of-line declaration, or an inline module that opens a scope.
    fn mod_declaration(&mut self, i: usize) {
        let Some((Tok::Ident(name), line)) = self.toks.get(i + 1).cloned() else { return };
        let scope = self.scope();
        match self.toks.get(i + 2).map(|t| &t.0) {
            Some(Tok::Punct(';')) => {
                self.scopes.entry(scope.clone()).or_default().children.insert(name.clone());
                let path = self.pending_path.take();
                self.facts.mods.push(ModDecl { scope, name, path, line });
            }
            Some(Tok::Punct('{')) => {
                self.scopes.entry(scope.clone()).or_default().children.insert(name.clone());
                let mut child = scope;
                child.push(name);
                self.scopes.insert(child.clone(), Scope::default());
                self.inline.push((child, self.depth));
                self.pending_path = None;
            }
            _ => {}
        }
    }
}

impl Scope {
    /// Records the name a `use` leaf brings into this scope.
    fn import(&mut self, leaf: &UseLeaf) {
        match &leaf.alias {
            _ if leaf.glob => self.globs.push(leaf.path.clone()),
            Some(alias) if alias == "_" => {}
            Some(alias) => drop(self.imports.insert(alias.clone(), leaf.path.clone())),
            None => {
                let target = match leaf.path.split_last() {
                    Some((last, rest)) if last == "self" => rest.to_vec(),
                    _ => leaf.path.clone(),
                };
                if let Some(last) = target.last() {
                    self.imports.insert(last.clone(), target.clone());
                }
            }
        }
    }
}

/// Whether the `use` at `toks[i]` is preceded by `pub` or `pub(…)`.
fn is_public(toks: &[(Tok, usize)], i: usize) -> bool {
    let word = |k: usize| matches!(toks.get(k), Some((Tok::Ident(w), _)) if w == "pub");
    if i >= 1 && word(i - 1) {
        return true;
    }
    i >= 2 && toks[i - 1].0 == Tok::Punct(')') && (1..=4).any(|back| i > back + 1 && word(i - back - 2))
}

/// The string of a `#[path = "…"]` attribute starting at `toks[0]`.
fn path_attribute(toks: &[(Tok, usize)]) -> Option<String> {
    match toks.get(..6)?.iter().map(|t| &t.0).collect::<Vec<_>>().as_slice() {
        [Tok::Punct('#'), Tok::Punct('['), Tok::Ident(p), Tok::Punct('='), Tok::Str(s), Tok::Punct(']')]
            if p == "path" =>
        {
            Some(s.clone())
        }
        _ => None,
    }
}

/// Whether a path of at least two segments starts at `toks[i]` (an identifier not preceded by `::` or `.`).
fn starts_path(toks: &[(Tok, usize)], i: usize) -> bool {
    let after = matches!(toks.get(i + 1), Some((Tok::Sep, _))) && matches!(toks.get(i + 2), Some((Tok::Ident(_), _)));
    let before = i > 0 && matches!(toks[i - 1].0, Tok::Sep | Tok::Punct('.'));
    after && !before
}

/// Reads `a::b::c` from `toks[i]`, stopping before generics; returns the segments and the index after them.
fn read_path(toks: &[(Tok, usize)], mut i: usize) -> (Vec<String>, usize) {
    let mut segments = Vec::new();
    while let Some((Tok::Ident(name), _)) = toks.get(i) {
        segments.push(name.clone());
        i += 1;
        if matches!(toks.get(i), Some((Tok::Sep, _))) && matches!(toks.get(i + 1), Some((Tok::Ident(_), _))) {
            i += 1;
        } else {
            break;
        }
    }
    (segments, i)
}

/// One name a `use` tree brings in.
#[derive(Debug, Clone)]
struct UseLeaf {
    /// The full path as written.
    path: Vec<String>,
    /// `as` name.
    alias: Option<String>,
    /// Whether it ends in `*`.
    glob: bool,
}

/// Parses the use tree after `use` at `toks[i]`; returns its leaves and the index after its `;`.
fn parse_use(toks: &[(Tok, usize)], i: usize) -> (Vec<UseLeaf>, usize) {
    let mut leaves = Vec::new();
    let end = parse_tree(toks, i, Vec::new(), &mut leaves);
    let mut end = end;
    while end < toks.len() && toks[end].0 != Tok::Punct(';') {
        end += 1;
    }
    (leaves, end + 1)
}

/// Parses one use tree with `prefix` already read; returns the index after it.
fn parse_tree(toks: &[(Tok, usize)], mut i: usize, mut prefix: Vec<String>, leaves: &mut Vec<UseLeaf>) -> usize {
    if matches!(toks.get(i), Some((Tok::Sep, _))) {
        i += 1;
    }
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(name)) => {
                prefix.push(name.clone());
                i += 1;
                match toks.get(i).map(|t| &t.0) {
                    Some(Tok::Sep) => i += 1,
                    Some(Tok::Ident(kw)) if kw == "as" => {
                        let alias = match toks.get(i + 1) {
                            Some((Tok::Ident(a), _)) => Some(a.clone()),
                            _ => Some("_".to_string()),
                        };
                        leaves.push(UseLeaf { path: prefix, alias, glob: false });
                        return i + 2;
                    }
                    _ => {
                        leaves.push(UseLeaf { path: prefix, alias: None, glob: false });
                        return i;
                    }
                }
            }
            Some(Tok::Punct('*')) => {
                leaves.push(UseLeaf { path: prefix, alias: None, glob: true });
                return i + 1;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        Some(Tok::Punct('}')) | None => return i + 1,
                        Some(Tok::Punct(',')) => i += 1,
                        _ => i = parse_tree(toks, i, prefix.clone(), leaves),
                    }
                }
            }
            _ => return i,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The crate: module tree from the roots, resolution of paths to files, and the edges between files.

/// A reference from one file to another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    /// The file that refers.
    from: String,
    /// The line of the first such reference.
    line: usize,
    /// The file referred to.
    to: String,
}

/// The files of `src/` as modules, and what each scope holds.
#[derive(Debug, Default)]
struct Tree {
    /// Every scope by module path.
    scopes: BTreeMap<ModPath, Scope>,
    /// The module each file is (first reached).
    modules: BTreeMap<String, ModPath>,
    /// Facts per file.
    facts: BTreeMap<String, FileFacts>,
    /// Edges made by `#[path]` to a file that already is another module.
    path_edges: Vec<Edge>,
    /// The library's name as its binaries write it (`edugate`, `mock_smev`).
    library: String,
}

/// The crate roots among `files`: the library, the main binary and `src/bin/` binaries, with their crate names.
fn roots(files: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut roots = Vec::new();
    for path in files.keys() {
        let name = match path.as_str() {
            "src/lib.rs" => Some("lib".to_string()),
            "src/main.rs" => Some("main".to_string()),
            p => p.strip_prefix("src/bin/").and_then(|rest| {
                rest.strip_suffix("/main.rs")
                    .or_else(|| rest.strip_suffix(".rs"))
                    .filter(|n| !n.contains('/'))
                    .map(str::to_string)
            }),
        };
        if let Some(name) = name {
            roots.push((path.clone(), name));
        }
    }
    roots
}

/// Folds `a/../b` and `./` in a slash-separated path.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => drop(parts.pop()),
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Where `mod name;` in `file` (whose own module path has `file_depth` segments; the rest of the declaration's scope
/// are inline modules, which add folders) finds its file.
fn child_file(files: &BTreeMap<String, String>, file: &str, file_depth: usize, decl: &ModDecl) -> Option<String> {
    let parent_dir = file.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    if let Some(path) = &decl.path {
        return Some(normalize(&format!("{parent_dir}/{path}")));
    }
    let stem = file.rsplit_once('/').map(|(_, n)| n).unwrap_or(file);
    let own_dir = if matches!(stem, "mod.rs" | "lib.rs" | "main.rs") {
        parent_dir.to_string()
    } else {
        format!("{parent_dir}/{}", stem.trim_end_matches(".rs"))
    };
    let mut dir = own_dir;
    for inline in &decl.scope[file_depth..] {
        dir = format!("{dir}/{inline}");
    }
    [format!("{dir}/{}.rs", decl.name), format!("{dir}/{}/mod.rs", decl.name)]
        .into_iter()
        .find(|candidate| files.contains_key(candidate))
}

/// Builds the module tree by following `mod` declarations from the roots.
fn build_tree(files: &BTreeMap<String, String>, library: &str) -> Tree {
    let mut tree = Tree { library: library.to_string(), ..Tree::default() };
    let mut queue: Vec<(String, ModPath)> = roots(files).into_iter().map(|(path, name)| (path, vec![name])).collect();
    while let Some((file, module)) = queue.pop() {
        if tree.modules.contains_key(&file) {
            continue;
        }
        let facts = read_file(&file, &module, &files[&file]);
        for decl in &facts.mods {
            let Some(child) = child_file(files, &file, module.len(), decl) else { continue };
            if !files.contains_key(&child) {
                continue;
            }
            let mut child_module = decl.scope.clone();
            child_module.push(decl.name.clone());
            if decl.path.is_some() && canonical_module(&child).is_some_and(|m| m != child_module) {
                tree.path_edges.push(Edge { from: file.clone(), line: decl.line, to: child.clone() });
                continue;
            }
            queue.push((child, child_module));
        }
        for (path, scope) in &facts.scopes {
            let entry = tree.scopes.entry(path.clone()).or_default();
            entry.file = scope.file.clone();
            entry.children.extend(scope.children.iter().cloned());
            entry.imports.extend(scope.imports.clone());
            entry.globs.extend(scope.globs.clone());
            entry.defs.extend(scope.defs.iter().cloned());
        }
        tree.modules.insert(file.clone(), module);
        tree.facts.insert(file, facts);
    }
    tree
}

/// The module a file under `src/` is by its place in the library (`src/a/b.rs` is `lib::a::b`), for `#[path]` edges.
fn canonical_module(file: &str) -> Option<ModPath> {
    let rest = file.strip_prefix("src/")?.strip_suffix(".rs")?;
    let mut module = vec!["lib".to_string()];
    module.extend(rest.split('/').filter(|s| *s != "mod").map(str::to_string));
    Some(module)
}

/// Turns a path written in `scope` into a path from its crate root, or `None` for another crate's path.
fn absolute(tree: &Tree, scope: &ModPath, segments: &[String]) -> Option<Vec<String>> {
    absolute_within(tree, scope, segments, 8)
}

/// [`absolute`], following at most `depth` imports (an import may name another import).
fn absolute_within(tree: &Tree, scope: &ModPath, segments: &[String], depth: usize) -> Option<Vec<String>> {
    let first = segments.first()?;
    match first.as_str() {
        "crate" => Some([vec![scope[0].clone()], segments[1..].to_vec()].concat()),
        name if name == tree.library && scope[0] != "lib" => {
            Some([vec!["lib".to_string()], segments[1..].to_vec()].concat())
        }
        "self" => Some([scope.clone(), segments[1..].to_vec()].concat()),
        "super" => {
            let mut base = scope.clone();
            let mut rest = segments;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            (!base.is_empty()).then(|| [base, rest.to_vec()].concat())
        }
        _ => {
            let here = tree.scopes.get(scope)?;
            if here.children.contains(first) {
                Some([scope.clone(), segments.to_vec()].concat())
            } else if let Some(target) = here.imports.get(first) {
                if depth == 0 || (target.len() == 1 && target[0] == *first) {
                    return None;
                }
                let base = absolute_within(tree, scope, target, depth - 1)?;
                Some([base, segments[1..].to_vec()].concat())
            } else {
                None
            }
        }
    }
}

/// The module that defines what the absolute path names, following imports and re-exports (`depth` bounds it).
fn resolve(tree: &Tree, path: &[String], depth: usize) -> ModPath {
    let mut current = vec![path[0].clone()];
    for (k, segment) in path.iter().enumerate().skip(1) {
        let Some(scope) = tree.scopes.get(&current) else { return current };
        if scope.children.contains(segment) {
            current.push(segment.clone());
            continue;
        }
        if depth == 0 || scope.defs.contains(segment) {
            return current;
        }
        if let Some(target) = scope.imports.get(segment) {
            if let Some(base) = absolute(tree, &current, target) {
                return resolve(tree, &[base, path[k + 1..].to_vec()].concat(), depth - 1);
            }
            return current;
        }
        for glob in &scope.globs {
            let Some(base) = absolute(tree, &current, glob) else { continue };
            let target = resolve(tree, &base, depth - 1);
            if tree.scopes.get(&target).is_some_and(|s| s.defs.contains(segment) || s.imports.contains_key(segment)) {
                return resolve(tree, &[base, path[k..].to_vec()].concat(), depth - 1);
            }
        }
        return current;
    }
    current
}

/// Every reference between two different files, the first line of each pair kept.
fn edges(tree: &Tree) -> Vec<Edge> {
    let mut first: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (file, facts) in &tree.facts {
        for reference in &facts.refs {
            let Some(path) = absolute(tree, &reference.scope, &reference.segments) else { continue };
            let target = resolve(tree, &path, 8);
            let own = &tree.modules[file];
            if reference.reexport && target.len() > own.len() && target.starts_with(own) {
                continue;
            }
            let Some(to) = tree.scopes.get(&target).map(|s| s.file.clone()) else { continue };
            if to != *file && !to.is_empty() {
                let line = first.entry((file.clone(), to)).or_insert(reference.line);
                *line = (*line).min(reference.line);
            }
        }
    }
    let mut all: Vec<Edge> = first.into_iter().map(|((from, to), line)| Edge { from, line, to }).collect();
    all.extend(tree.path_edges.iter().cloned());
    all.sort();
    all
}

/// The top-level module a file belongs to: the library's first module, the main binary's own modules (`main`,
/// `demo`, `ops_cli`), or another binary's name; `None` for the library root.
fn top_of(module: &ModPath) -> Option<String> {
    match (module[0].as_str(), module.get(1)) {
        ("lib", None) => None,
        ("lib", Some(first)) | ("main", Some(first)) => Some(first.clone()),
        (name, _) => Some(name.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The checks.

/// Checks `files` (path under the repository → text) against the layer table `layers`.
fn check(files: &BTreeMap<String, String>, layers: &[(&str, u8)]) -> Vec<Violation> {
    check_crate(files, Some(layers), "edugate")
}

/// Checks the files of the crate named `library` (paths from its folder): cycles always, layers when given.
fn check_crate(files: &BTreeMap<String, String>, layers: Option<&[(&str, u8)]>, library: &str) -> Vec<Violation> {
    let level: HashMap<&str, u8> = layers.unwrap_or_default().iter().copied().collect();
    let tree = build_tree(files, library);
    let mut violations = Vec::new();
    for file in files.keys().filter(|f| f.ends_with(".rs") && !tree.modules.contains_key(*f)) {
        violations.push(Violation::Orphan { file: file.clone() });
    }
    let top = |file: &str| tree.modules.get(file).and_then(top_of);
    let mut unplaced = BTreeSet::new();
    for (file, module) in &tree.modules {
        if let Some(name) = top_of(module) {
            if layers.is_some() && !level.contains_key(name.as_str()) && unplaced.insert(name.clone()) {
                violations.push(Violation::Unplaced { module: name, file: file.clone() });
            }
        }
    }
    let all = edges(&tree);
    let mut module_graph: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut file_graphs: BTreeMap<String, BTreeMap<String, Vec<(String, String)>>> = BTreeMap::new();
    for edge in &all {
        let (Some(from), Some(to)) = (top(&edge.from), top(&edge.to)) else { continue };
        let at = format!("{}:{}", edge.from, edge.line);
        if from == to {
            file_graphs.entry(from).or_default().entry(edge.from.clone()).or_default().push((edge.to.clone(), at));
            continue;
        }
        if let (Some(&lf), Some(&lt)) = (level.get(from.as_str()), level.get(to.as_str())) {
            if lf < lt {
                violations.push(Violation::Upward {
                    file: edge.from.clone(),
                    line: edge.line,
                    from: from.clone(),
                    to: to.clone(),
                    from_level: lf,
                    to_level: lt,
                });
            }
        }
        module_graph.entry(from).or_default().push((to, at));
    }
    for (modules, links) in cycles(&module_graph) {
        violations.push(Violation::ModuleCycle { modules, links });
    }
    for (module, graph) in &file_graphs {
        for (files, links) in cycles(graph) {
            violations.push(Violation::FileCycle { module: module.clone(), files, links });
        }
    }
    violations
}

/// The strongly connected components of more than one node (Tarjan), each with the links inside it.
fn cycles(graph: &BTreeMap<String, Vec<(String, String)>>) -> Vec<(Vec<String>, Vec<String>)> {
    /// Tarjan's bookkeeping.
    #[derive(Default)]
    struct State {
        index: HashMap<String, usize>,
        low: HashMap<String, usize>,
        stack: Vec<String>,
        on_stack: BTreeSet<String>,
        found: Vec<Vec<String>>,
    }
    fn visit(node: &str, graph: &BTreeMap<String, Vec<(String, String)>>, s: &mut State) {
        let n = s.index.len();
        s.index.insert(node.to_string(), n);
        s.low.insert(node.to_string(), n);
        s.stack.push(node.to_string());
        s.on_stack.insert(node.to_string());
        for (next, _) in graph.get(node).into_iter().flatten() {
            if !s.index.contains_key(next) {
                visit(next, graph, s);
                let low = s.low[node].min(s.low[next]);
                s.low.insert(node.to_string(), low);
            } else if s.on_stack.contains(next) {
                let low = s.low[node].min(s.index[next]);
                s.low.insert(node.to_string(), low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            while let Some(top) = s.stack.pop() {
                s.on_stack.remove(&top);
                let done = top == node;
                component.push(top);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut state = State::default();
    for node in graph.keys() {
        if !state.index.contains_key(node) {
            visit(node, graph, &mut state);
        }
    }
    state
        .found
        .into_iter()
        .map(|component| {
            let inside: BTreeSet<&String> = component.iter().collect();
            let links = component
                .iter()
                .flat_map(|from| {
                    graph
                        .get(from)
                        .into_iter()
                        .flatten()
                        .filter(|(to, _)| inside.contains(to))
                        .map(move |(to, at)| format!("{from} -> {to} at {at}"))
                })
                .collect();
            (component, links)
        })
        .collect()
}

/// Every `.rs` file under `dir`, keyed by its path from the repository root.
fn read_tree(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("read src/").map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let key = path.strip_prefix(root).expect("under the root").to_string_lossy().replace('\\', "/");
            out.insert(key, std::fs::read_to_string(&path).expect("read a source file"));
        }
    }
}

#[test]
fn the_source_tree_keeps_its_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = BTreeMap::new();
    read_tree(root, &root.join("src"), &mut files);
    assert!(files.len() > 50, "src/ should hold the crate's files");
    let violations = check(&files, LAYERS);
    let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(violations.is_empty(), "{} layer violations:\n{}", listed.len(), listed.join("\n"));
}

#[test]
fn mock_smev_has_no_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mock-smev");
    let mut files = BTreeMap::new();
    read_tree(&root, &root.join("src"), &mut files);
    assert!(files.len() > 10, "mock-smev/src/ should hold the emulator's files");
    let violations = check_crate(&files, None, "mock_smev");
    let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(violations.is_empty(), "mock-smev (paths from mock-smev/):\n{}", listed.join("\n"));
}

// ---------------------------------------------------------------------------------------------------------------
// The checker on small samples.

/// A sample tree from (path, text) pairs.
fn sample(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect()
}

/// A small layer table for the samples.
const SAMPLE_LAYERS: &[(&str, u8)] = &[("low", 0), ("mid", 1), ("high", 2), ("main", 3)];

/// A clean sample: everything points down, re-exports included.
fn clean() -> Vec<(&'static str, &'static str)> {
    vec![
        ("src/lib.rs", "pub mod low;\npub mod mid;\npub mod high;\n"),
        ("src/low/mod.rs", "mod item;\npub use item::Item;\n/// Not an edge: `crate::high::Thing`.\npub fn f() {}\n"),
        ("src/low/item.rs", "pub struct Item;\nconst S: &str = \"crate::high::x\";\n"),
        ("src/mid.rs", "use crate::low::{self, Item};\npub fn g(_: Item) { low::f() }\n"),
        ("src/high.rs", "pub fn h() { crate::mid::g(crate::low::Item) }\n#[cfg(test)]\nmod tests { use super::*; }\n"),
        ("src/main.rs", "use edugate::high;\nfn main() { high::h() }\n"),
    ]
}

#[test]
fn a_clean_tree_passes() {
    assert_eq!(check(&sample(&clean()), SAMPLE_LAYERS), vec![]);
}

#[test]
fn an_upward_import_fails_naming_file_line_and_modules() {
    let mut files = clean();
    files[2] = ("src/low/item.rs", "pub struct Item;\n\nuse crate::mid::g;\n");
    let violations = check(&sample(&files), SAMPLE_LAYERS);
    assert!(
        violations.contains(&Violation::Upward {
            file: "src/low/item.rs".into(),
            line: 3,
            from: "low".into(),
            to: "mid".into(),
            from_level: 0,
            to_level: 1,
        }),
        "{violations:?}"
    );
    let text = violations[0].to_string();
    assert!(text.starts_with("src/low/item.rs:3: low (L0) uses mid (L1)"), "{text}");
}

#[test]
fn an_upward_path_in_an_expression_fails_too() {
    let mut files = clean();
    files[3] = ("src/mid.rs", "pub fn g() {\n    let _ = crate::high::h;\n}\n");
    let violations = check(&sample(&files), SAMPLE_LAYERS);
    assert!(
        violations.iter().any(|v| matches!(v, Violation::Upward { file, line: 2, to, .. }
            if file == "src/mid.rs" && to == "high")),
        "{violations:?}"
    );
}

#[test]
fn a_two_module_cycle_fails() {
    let layers: &[(&str, u8)] = &[("low", 0), ("mid", 0), ("high", 2), ("main", 3)];
    let mut files = clean();
    files[2] = ("src/low/item.rs", "pub struct Item;\nfn x() { crate::mid::g; }\n");
    let violations = check(&sample(&files), layers);
    let cycle = violations.iter().find_map(|v| match v {
        Violation::ModuleCycle { modules, links } => Some((modules.clone(), links.clone())),
        _ => None,
    });
    let (modules, links) = cycle.unwrap_or_else(|| panic!("no module cycle in {violations:?}"));
    assert_eq!(modules, vec!["low".to_string(), "mid".to_string()]);
    assert!(links.iter().any(|l| l.contains("src/low/item.rs:2")), "{links:?}");
}

#[test]
fn a_file_cycle_inside_one_module_fails_naming_the_files() {
    let files = sample(&[
        ("src/lib.rs", "pub mod low;\n"),
        ("src/low/mod.rs", "pub mod a;\npub mod b;\n"),
        ("src/low/a.rs", "use super::b::B;\npub struct A;\n"),
        ("src/low/b.rs", "pub struct B;\nimpl B { fn a(&self) -> crate::low::a::A { todo!() } }\n"),
    ]);
    let violations = check(&files, SAMPLE_LAYERS);
    assert_eq!(violations.len(), 1, "{violations:?}");
    match &violations[0] {
        Violation::FileCycle { module, files, .. } => {
            assert_eq!(module, "low");
            assert_eq!(files, &vec!["src/low/a.rs".to_string(), "src/low/b.rs".to_string()]);
        }
        other => panic!("not a file cycle: {other:?}"),
    }
}

#[test]
fn a_module_missing_from_the_table_fails() {
    let mut files = clean();
    files[0] = ("src/lib.rs", "pub mod low;\npub mod mid;\npub mod high;\npub mod extra;\n");
    files.push(("src/extra.rs", "pub fn e() {}\n"));
    let violations = check(&sample(&files), SAMPLE_LAYERS);
    assert_eq!(violations, vec![Violation::Unplaced { module: "extra".into(), file: "src/extra.rs".into() }]);
}

#[test]
fn a_path_attribute_into_a_higher_module_fails() {
    let mut files = clean();
    files[3] = ("src/mid.rs", "#[path = \"high.rs\"]\nmod borrowed;\n");
    let violations = check(&sample(&files), SAMPLE_LAYERS);
    assert!(
        violations.iter().any(|v| matches!(v, Violation::Upward { file, line: 2, to, .. }
            if file == "src/mid.rs" && to == "high")),
        "{violations:?}"
    );
}

#[test]
fn re_exports_resolve_to_the_defining_file() {
    // `super::Item` names the re-export in mod.rs, whose item lives in item.rs: no cycle between mod.rs and other.rs.
    let files = sample(&[
        ("src/lib.rs", "pub mod low;\n"),
        ("src/low/mod.rs", "mod item;\nmod other;\npub use item::Item;\npub use other::Other;\n"),
        ("src/low/item.rs", "pub struct Item;\n"),
        ("src/low/other.rs", "use super::Item;\npub struct Other(Item);\n"),
    ]);
    assert_eq!(check(&files, SAMPLE_LAYERS), vec![]);
}

#[test]
fn a_facade_re_exporting_its_children_is_no_cycle_but_a_use_of_a_child_is() {
    let facade = sample(&[
        ("src/lib.rs", "pub mod low;\n"),
        ("src/low/mod.rs", "mod a;\npub(crate) use a::A;\npub struct Limits;\n"),
        ("src/low/a.rs", "use super::Limits;\npub struct A(Limits);\n"),
    ]);
    assert_eq!(check(&facade, SAMPLE_LAYERS), vec![]);
    let mut using = facade.clone();
    using.insert("src/low/mod.rs".into(), "mod a;\nuse a::A;\npub struct Limits;\npub fn f(_: A) {}\n".into());
    let violations = check(&using, SAMPLE_LAYERS);
    assert!(matches!(violations.as_slice(), [Violation::FileCycle { .. }]), "{violations:?}");
}

#[test]
fn the_lexer_skips_comments_strings_chars_and_lifetimes() {
    let toks = lex("a /* crate::x */ 'b' '\\'' \"crate::y\" r#\"q\"# fn f<'a>(_: &'a u8) // crate::z\nz");
    let idents: Vec<String> = toks
        .into_iter()
        .filter_map(|(t, _)| match t {
            Tok::Ident(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(idents, vec!["a", "fn", "f", "_", "u8", "z"]);
}
