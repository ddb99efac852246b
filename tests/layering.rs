//! Dependencies run one way: startup → edges (http, web, cli) → service → storage → domain.
//! This test reads every `crate::…` path in `src/` and fails when a module reaches a layer
//! above its own, or when top-level modules import each other in a circle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules by layer, lowest first. A module may use its own layer and those below.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "domain",
        &[
            "protocol",
            "eligibility",
            "randomization",
            "audit",
            "access",
            "fields",
            "text",
            "language",
            "local_time",
        ],
    ),
    ("storage", &["storage"]),
    ("service", &["service"]),
    ("edges", &["http", "web", "cli"]),
    ("startup", &["server"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file's text names through `crate::`, including grouped imports
/// (`use crate::{a, b::c}`). Comments are skipped.
fn referenced_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.insert(name);
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

/// module → modules it uses (other than itself), from every file under `src/` that belongs
/// to a layered module.
fn module_graph() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs").to_string();
        // The crate root and the binaries sit above every layer.
        if ["lib", "main", "bin"].contains(&module.as_str()) {
            continue;
        }
        assert!(
            layer_of(&module).is_some(),
            "src/{} belongs to module `{module}`, which has no layer: add it to LAYERS in tests/layering.rs",
            relative.display()
        );
        let text = std::fs::read_to_string(&file).unwrap();
        for used in referenced_modules(&text) {
            if used != module {
                graph
                    .entry(module.clone())
                    .or_default()
                    .entry(used)
                    .or_default()
                    .push(format!("src/{}", relative.display()));
            }
        }
    }
    graph
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let mut upward = Vec::new();
    for (module, uses) in module_graph() {
        let own = layer_of(&module).unwrap();
        for (used, files) in uses {
            match layer_of(&used) {
                Some(layer) if layer <= own => {}
                Some(layer) => upward.push(format!(
                    "{module} ({}) uses {used} ({}) in {}",
                    LAYERS[own].0,
                    LAYERS[layer].0,
                    files.join(", ")
                )),
                None => upward.push(format!(
                    "{module} uses `crate::{used}`, which is no layered module ({})",
                    files.join(", ")
                )),
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports against the direction:\n{}",
        upward.join("\n")
    );
}

#[test]
fn top_level_modules_form_no_circle() {
    let graph = module_graph();
    // Depth-first search for a back edge; report the circle it closes.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeMap<String, Vec<String>>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(circle) = visit(next, graph, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(circle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "modules import each other in a circle: {}",
                circle.join(" → ")
            );
        }
    }
}

#[test]
fn the_reader_sees_grouped_and_inline_paths() {
    let found = referenced_modules(
        "use crate::{audit, storage::repo};\nlet x = crate::http::state::AppState; // crate::web",
    );
    let want: BTreeSet<String> = ["audit", "storage", "http"].map(String::from).into();
    assert_eq!(found, want);
}
