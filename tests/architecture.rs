//! The shape of the source: no import cycle between the modules of any
//! crate, and no source file over 800 lines unless [`LONG_FILES`] says why
//! (docs/architecture.md).
//!
//! A module is a file. Its imports are the `crate::…` and `super::…` paths
//! it names (in `use` or in code); each resolves to the deepest module file
//! it names. A parent's `mod` declarations and relative paths to its own
//! children (`pub use child::Item`) are not imports: they are how a parent
//! presents its children.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Most lines a source file may have.
const MAX_LINES: usize = 800;

/// A module path from the crate root (`[]` is the root).
type Module = Vec<String>;

/// Module → the modules it imports.
type Graph = BTreeMap<Module, BTreeSet<Module>>;

/// Files allowed over [`MAX_LINES`], each with its reason.
const LONG_FILES: &[(&str, &str)] = &[
    (
        "tests/details.rs",
        "one end-to-end test per detail field against ss",
    ),
    (
        "tests/process.rs",
        "end-to-end process tests, each with its own holder",
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under `src/`: `lib.rs` is `[]`, `a/mod.rs`
/// and `a.rs` are `[a]`, `a/b.rs` is `[a, b]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs").to_string();
        if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
            parts.push(stem);
        }
    }
    parts
}

/// The source without comments, strings and char literals (so that a
/// `crate::x` in a doc comment or a message is not an import).
fn strip(text: &str) -> String {
    fn at_of(c: &[char], i: usize, k: usize) -> char {
        c.get(i + k).copied().unwrap_or('\0')
    }
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        if at_of(&c, i, 0) == '/' && at_of(&c, i, 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if at_of(&c, i, 0) == '/' && at_of(&c, i, 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if at_of(&c, i, 0) == '/' && at_of(&c, i, 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if at_of(&c, i, 0) == '*' && at_of(&c, i, 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if at_of(&c, i, 0) == 'r'
            && (at_of(&c, i, 1) == '"'
                || (at_of(&c, i, 1) == '#' && (at_of(&c, i, 2) == '"' || at_of(&c, i, 2) == '#')))
            && !c
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // Raw string r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (1..=hashes).all(|h| c.get(j + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push_str("\"\"");
        } else if at_of(&c, i, 0) == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if at_of(&c, i, 0) == '\'' {
            if at_of(&c, i, 1) == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            } else if at_of(&c, i, 2) == '\'' {
                i += 3;
                out.push_str("' '");
            } else {
                // A lifetime.
                i += 1;
                out.push('\'');
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Path,
    Open,
    Close,
    Comma,
    Other,
}

fn tokens(text: &str) -> Vec<Tok> {
    let c: Vec<char> = text.chars().collect();
    let mut v = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_alphabetic() || ch == '_' {
            let s = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            v.push(Tok::Ident(c[s..i].iter().collect()));
            continue;
        }
        if ch == ':' && c.get(i + 1) == Some(&':') {
            v.push(Tok::Path);
            i += 2;
            continue;
        }
        match ch {
            '{' => v.push(Tok::Open),
            '}' => v.push(Tok::Close),
            ',' => v.push(Tok::Comma),
            c if c.is_whitespace() => {}
            _ => v.push(Tok::Other),
        }
        i += 1;
    }
    v
}

/// Reads a path after `prefix::` at `toks[i]` (an identifier or a `{…}`
/// group), pushing every full path; returns the index after it.
fn read_path(toks: &[Tok], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        match toks.get(i) {
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                i += 1;
                if toks.get(i) == Some(&Tok::Path) {
                    i += 1;
                    continue;
                }
                out.push(path);
                return i;
            }
            Some(Tok::Open) => {
                i += 1;
                loop {
                    match toks.get(i) {
                        Some(Tok::Close) => return i + 1,
                        Some(Tok::Comma) => i += 1,
                        None => return i,
                        _ => {
                            let next = read_path(toks, i, path.clone(), out);
                            // `self`, `*` and `as` tails: skip to the next item.
                            i = next.max(i + 1);
                            while !matches!(toks.get(i), Some(Tok::Comma | Tok::Close) | None) {
                                i += 1;
                            }
                        }
                    }
                }
            }
            _ => {
                out.push(path);
                return i;
            }
        }
    }
}

/// The modules `file` (module `here`) imports, as paths from the crate root.
fn imports(text: &str, here: &[String]) -> Vec<Vec<String>> {
    let toks = tokens(&strip(text));
    let mut found = Vec::new();
    // Inline modules (`mod tests { … }`): a `super` inside them first
    // climbs out of them, back to this file's module.
    let mut inline: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth = depth.saturating_sub(1);
                if inline.last() == Some(&depth) {
                    inline.pop();
                }
            }
            Tok::Ident(k) if k == "mod" => {
                if let (Some(Tok::Ident(_)), Some(Tok::Open)) = (toks.get(i + 1), toks.get(i + 2)) {
                    inline.push(depth);
                }
            }
            Tok::Ident(k) if k == "crate" && toks.get(i + 1) == Some(&Tok::Path) => {
                let prev_is_path = i > 0 && toks[i - 1] == Tok::Path;
                if !prev_is_path {
                    i = read_path(&toks, i + 2, Vec::new(), &mut found);
                    continue;
                }
            }
            Tok::Ident(k) if k == "super" && toks.get(i + 1) == Some(&Tok::Path) => {
                let prev_is_path = i > 0 && toks[i - 1] == Tok::Path;
                if !prev_is_path {
                    let mut ups = 0usize;
                    let mut j = i;
                    while toks.get(j) == Some(&Tok::Ident("super".into()))
                        && toks.get(j + 1) == Some(&Tok::Path)
                    {
                        ups += 1;
                        j += 2;
                    }
                    let ups = ups.saturating_sub(inline.len());
                    if ups > 0 && ups <= here.len() {
                        let base = here[..here.len() - ups].to_vec();
                        i = read_path(&toks, j, base, &mut found);
                        continue;
                    }
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The deepest module of `modules` that `path` names.
fn resolve<'m>(modules: &'m BTreeSet<Vec<String>>, path: &[String]) -> Option<&'m Vec<String>> {
    (0..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n].to_vec()))
}

/// One cycle in `graph`, if any, as a list of modules ending where it began.
fn find_cycle(graph: &Graph) -> Option<Vec<Vec<String>>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        n: &Vec<String>,
        graph: &Graph,
        mark: &mut BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<Vec<String>>> {
        mark.insert(n.clone(), Mark::Open);
        stack.push(n.clone());
        for m in graph.get(n).into_iter().flatten() {
            match mark.get(m).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|x| x == m).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(m, graph, mark, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        mark.insert(n.clone(), Mark::Done);
        None
    }
    let mut mark = BTreeMap::new();
    for n in graph.keys() {
        if mark.get(n).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(c) = visit(n, graph, &mut mark, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

/// The import graph of the crate whose sources are under `src`, with the
/// file of each module.
fn crate_graph(src: &Path) -> (Graph, BTreeMap<Vec<String>, PathBuf>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut module_files = BTreeMap::new();
    for f in &files {
        module_files.insert(module_of(src, f), f.clone());
    }
    let modules: BTreeSet<Vec<String>> = module_files.keys().cloned().collect();
    let mut graph: Graph = BTreeMap::new();
    for (m, f) in &module_files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let edges = graph.entry(m.clone()).or_default();
        for p in imports(&text, m) {
            if let Some(to) = resolve(&modules, &p)
                && to != m
            {
                edges.insert(to.clone());
            }
        }
    }
    (graph, module_files)
}

fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![root()];
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    crates.sort();
    dirs.extend(crates);
    dirs.into_iter()
        .filter(|d| d.join("src").is_dir())
        .collect()
}

#[test]
fn no_crate_has_an_import_cycle() {
    let mut checked = 0;
    let mut edges = 0;
    let mut cycles = Vec::new();
    for dir in crate_dirs() {
        let src = dir.join("src");
        let (mut graph, files) = crate_graph(&src);
        checked += graph.len();
        edges += graph.values().map(BTreeSet::len).sum::<usize>();
        // Every cycle, not only the first: drop an edge of each one found.
        for _ in 0..20 {
            let Some(cycle) = find_cycle(&graph) else {
                break;
            };
            let names: Vec<String> = cycle
                .iter()
                .map(|m| {
                    files
                        .get(m)
                        .and_then(|f| f.strip_prefix(root()).ok())
                        .map_or_else(|| m.join("::"), |p| p.display().to_string())
                })
                .collect();
            cycles.push(names.join(" -> "));
            if let (Some(a), Some(b)) = (cycle.first(), cycle.get(1))
                && let Some(e) = graph.get_mut(a)
            {
                e.remove(b);
            }
        }
    }
    // The walk saw the crates' modules and their imports (not an empty tree).
    assert!(
        checked > 40 && edges > 40,
        "{checked} modules, {edges} imports"
    );
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let here = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    // `use crate::…` in code, a `{…}` group, `super::` from a child file,
    // and a `super::*` inside an inline test module (not an import).
    let a = imports(
        "use crate::b::{X, c::Y};\nfn f() { crate::d::g(); }",
        &here("a"),
    );
    assert_eq!(a, [here("b::X"), here("b::c::Y"), here("d::g")]);
    let child = imports(
        "use super::shared::Z; mod tests { use super::*; }",
        &here("p::q"),
    );
    assert_eq!(child, [here("p::shared::Z")]);
    let ignored = imports("// crate::x::y\nlet s = \"crate::z\";", &here("a"));
    assert!(ignored.is_empty(), "{ignored:?}");

    let mut graph: Graph = BTreeMap::new();
    graph.entry(here("a")).or_default().insert(here("b"));
    graph.entry(here("b")).or_default().insert(here("c"));
    graph.entry(here("c")).or_default().insert(here("a"));
    let cycle = find_cycle(&graph).map(|c| c.len());
    assert_eq!(cycle, Some(4));
    graph.entry(here("c")).or_default().clear();
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn no_source_file_is_over_800_lines_without_a_reason() {
    let mut files = Vec::new();
    for dir in crate_dirs() {
        for sub in ["src", "tests", "benches", "examples"] {
            rust_files(&dir.join(sub), &mut files);
        }
    }
    assert!(files.len() > 40, "{} files", files.len());
    let mut long = Vec::new();
    for f in &files {
        let lines = std::fs::read_to_string(f).map_or(0, |t| t.lines().count());
        let rel = f.strip_prefix(root()).unwrap_or(f).display().to_string();
        if lines > MAX_LINES && !LONG_FILES.iter().any(|(p, _)| *p == rel) {
            long.push(format!("{rel}: {lines} lines"));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (split them, or list them in LONG_FILES and docs/architecture.md with the reason):\n{}",
        long.join("\n")
    );
}
