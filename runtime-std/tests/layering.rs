//! The crate's folders are layers, and a module imports only from its own layer or
//! the ones below; no two modules import each other, directly or round a loop. Read
//! from the `crate::` and `super::` paths in the source, so a new upward import or
//! cycle fails here instead of settling in.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The top-level modules of `src/`, lowest first (see lib.rs).
const LAYERS: [&str; 7] = [
    "platform", "store", "config", "net", "services", "daemon", "cli",
];

type Graph = BTreeMap<String, BTreeSet<String>>;

#[test]
fn lower_layers_never_import_higher_ones() {
    let graph = module_graph();
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        let Some(lf) = layer(from) else {
            wrong.push(format!("{from}: not in a layer; add its folder to LAYERS"));
            continue;
        };
        for to in targets {
            if layer(to).is_some_and(|lt| lt > lf) {
                wrong.push(format!("{from} imports {to}, a higher layer"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_import_cycles_between_modules() {
    let graph = module_graph();
    let cycles = cycles(&graph);
    assert!(
        cycles.is_empty(),
        "modules that import each other:\n{}",
        cycles
            .iter()
            .map(|c| c.join(" -> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_checker_sees_imports() {
    let graph = module_graph();
    let uses = |a: &str, b: &str| graph.get(a).is_some_and(|t| t.contains(b));
    // A braced `use`, an inline path and a `super::` path.
    assert!(uses("daemon::threads", "net::socket"));
    assert!(uses("services::deliver", "services::askbook"));
    assert!(uses(
        "services::outbound::blocking",
        "services::outbound::client"
    ));
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    assert_eq!(cycles(&g).len(), 1);
}

fn layer(module: &str) -> Option<usize> {
    let top = module.split("::").next()?;
    LAYERS.iter().position(|l| *l == top)
}

/// Module -> the other modules of the crate it refers to (its own descendants and
/// ancestors left out: those are the module tree itself).
fn module_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&src, &src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = Graph::new();
    for (module, text) in &files {
        let parent: Vec<&str> = {
            let mut p: Vec<&str> = module.split("::").collect();
            p.pop();
            p
        };
        let mut targets = BTreeSet::new();
        for path in paths(&without_tests(text)) {
            let full: Vec<String> = match path.first().map(String::as_str) {
                Some("crate") => path[1..].to_vec(),
                Some("super") => parent
                    .iter()
                    .map(|s| s.to_string())
                    .chain(path[1..].iter().cloned())
                    .collect(),
                _ => continue,
            };
            let Some(target) = (1..=full.len())
                .rev()
                .map(|k| full[..k].join("::"))
                .find(|c| modules.contains(c))
            else {
                continue;
            };
            let related = target == *module
                || module.starts_with(&format!("{target}::"))
                || target.starts_with(&format!("{module}::"));
            if !related {
                targets.insert(target);
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// Every `.rs` file under `dir` but the binaries and test modules, as (module, text).
fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let rel = path.strip_prefix(root).expect("under src");
        if path.is_dir() {
            if rel != Path::new("bin") {
                collect(root, &path, out);
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs")
            || path.file_name().is_some_and(|n| n == "tests.rs")
        {
            continue;
        }
        let mut parts: Vec<String> = rel
            .with_extension("")
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
            parts.pop();
        }
        if parts.is_empty() {
            continue; // lib.rs declares the layers
        }
        let text = fs::read_to_string(&path).expect("read source");
        out.push((parts.join("::"), text));
    }
}

/// The source without its unit-test module and without comments.
fn without_tests(text: &str) -> String {
    let code = match text.find("#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    code.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path that starts with `crate::` or `super::`, braces in `use` expanded.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start).map(|i| i + from) {
            from = i + start.len();
            let word_before =
                i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            let after_colons = i >= 2 && &code[i - 2..i] == "::";
            if word_before || after_colons {
                continue;
            }
            let tail: String = code[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || "_:{}, \n*".contains(*c))
                .filter(|c| !c.is_whitespace())
                .collect();
            expand(&[], &balanced(&tail), &mut out);
        }
    }
    out
}

/// `tail` cut where its path ends: at an unmatched `}` or a `,` outside braces.
fn balanced(tail: &str) -> String {
    let mut depth = 0usize;
    let mut end = tail.len();
    for (i, c) in tail.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                end = i;
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    tail[..end].to_string()
}

fn expand(prefix: &[String], body: &str, out: &mut Vec<Vec<String>>) {
    let Some(open) = body.find('{') else {
        let mut path = prefix.to_vec();
        path.extend(
            body.split("::")
                .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
                .map(String::from),
        );
        out.push(path);
        return;
    };
    let mut path = prefix.to_vec();
    path.extend(
        body[..open]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from),
    );
    let inner = &body[open + 1..body.rfind('}').unwrap_or(body.len())];
    let (mut depth, mut item) = (0usize, String::new());
    for c in inner.chars().chain(std::iter::once(',')) {
        match c {
            ',' if depth == 0 => {
                expand(&path, &item, out);
                item.clear();
            }
            '{' => {
                depth += 1;
                item.push(c);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                item.push(c);
            }
            _ => item.push(c),
        }
    }
}

/// The loops in `graph`: one for every import that leads back to a module on the
/// way to it (depth first).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut state = BTreeMap::new();
    let (mut path, mut found) = (Vec::new(), Vec::new());
    for module in graph.keys() {
        visit(module, graph, &mut state, &mut path, &mut found);
    }
    found
}

#[derive(Clone, Copy, PartialEq)]
enum Visit {
    OnPath,
    Done,
}

fn visit<'g>(
    module: &'g str,
    graph: &'g Graph,
    state: &mut BTreeMap<&'g str, Visit>,
    path: &mut Vec<&'g str>,
    found: &mut Vec<Vec<String>>,
) {
    match state.get(module) {
        Some(Visit::Done) => return,
        Some(Visit::OnPath) => {
            let at = path.iter().position(|m| *m == module).unwrap_or(0);
            let mut cycle: Vec<String> = path[at..].iter().map(|m| m.to_string()).collect();
            cycle.push(module.to_string());
            found.push(cycle);
            return;
        }
        None => {}
    }
    state.insert(module, Visit::OnPath);
    path.push(module);
    for target in graph.get(module).into_iter().flatten() {
        visit(target, graph, state, path, found);
    }
    path.pop();
    state.insert(module, Visit::Done);
}
