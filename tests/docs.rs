//! The documentation against the code: every parameter table of the code appears in
//! docs/specs.md with the defaults the code uses, every spec key the examples use is
//! documented, every repository path and link in README.md, ARCHITECTURE.md and docs/
//! exists, nothing points outside the repository, and every `neuropop` command line shown in
//! the README runs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use neuropop::models::gif_pop::GifPopParams;
use neuropop::models::lif::LifParams;
use neuropop::models::rate::RateParams;
use neuropop::models::spiking::params::{GifParams, IafParams};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The markdown documents of the repository.
fn documents() -> Vec<String> {
    let mut docs = vec!["README.md".to_string(), "ARCHITECTURE.md".to_string()];
    let mut more: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .flatten()
        .map(|e| format!("docs/{}", e.file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// The cells of a markdown table row (`| a | b |` -> ["a", "b"]).
fn cells(row: &str) -> Vec<String> {
    let t = row.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    t.split('|').map(|c| c.trim().to_string()).collect()
}

/// The names in backticks of a cell ("`tau_stc`, `q_stc`" -> ["tau_stc", "q_stc"]).
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

/// The module-doc tables of a source file: each a list of rows (the `//! |` lines without the
/// `//! ` prefix), in file order.
fn module_tables(rel: &str) -> Vec<Vec<String>> {
    let mut tables: Vec<Vec<String>> = Vec::new();
    let mut in_table = false;
    for line in read(rel).lines() {
        match line.strip_prefix("//! ") {
            Some(row) if row.starts_with('|') => {
                if !in_table {
                    tables.push(Vec::new());
                    in_table = true;
                }
                tables.last_mut().expect("pushed").push(row.to_string());
            }
            _ => in_table = false,
        }
    }
    tables
}

/// Checks one parameter table against the defaults of its struct: every key the struct
/// serialises is named in the file's docs, and every numeric default in the table is the
/// struct's.
fn check_table(file: &str, table: &[String], defaults: &toml::Table, errors: &mut Vec<String>) {
    for row in &table[2..] {
        let c = cells(row);
        let names = backticked(&c[0]);
        if names.len() != 1 {
            continue; // rows for pairs (`tau_sfa`, `q_sfa`) state ranges, not one value
        }
        let Some(value) = defaults.get(&names[0]) else {
            continue; // optional, no default value (e.g. V_m = E_L)
        };
        // The value, before any remark ("0 (= `size`)").
        let documented = c[2].split(" (").next().unwrap_or("").trim_matches('`');
        let ok = match value {
            toml::Value::Float(f) => documented.parse::<f64>().is_ok_and(|d| d == *f),
            toml::Value::Integer(i) => documented.parse::<f64>().is_ok_and(|d| d == *i as f64),
            toml::Value::Boolean(b) => documented == b.to_string(),
            toml::Value::String(s) => documented == s,
            toml::Value::Array(a) => {
                let list: Vec<String> = a
                    .iter()
                    .map(|v| match v {
                        toml::Value::Float(f) => format!("{f}"),
                        other => other.to_string(),
                    })
                    .collect();
                documented == format!("[{}]", list.join(", "))
            }
            _ => true,
        };
        if !ok {
            errors.push(format!(
                "{file}: `{}` documented default `{documented}`, code default {value}",
                names[0]
            ));
        }
    }
    let text = read(file);
    for key in defaults.keys() {
        if !text.contains(&format!("`{key}`")) {
            errors.push(format!("{file}: parameter `{key}` is not documented"));
        }
    }
}

fn defaults<T: serde::Serialize>(v: &T) -> toml::Table {
    toml::Table::try_from(v).expect("parameters serialise to a TOML table")
}

#[test]
fn spec_reference_has_every_parameter_table_with_the_code_defaults() {
    let specs = read("docs/specs.md");
    let spec_lines: BTreeSet<&str> = specs.lines().map(str::trim_end).collect();
    let mut errors = Vec::new();
    let files: [(&str, Vec<toml::Table>); 4] = [
        (
            "src/models/rate/params.rs",
            vec![defaults(&RateParams::default())],
        ),
        (
            "src/models/lif/params.rs",
            vec![defaults(&LifParams::default())],
        ),
        (
            "src/models/gif_pop/params.rs",
            vec![defaults(&GifPopParams::default())],
        ),
        (
            "src/models/spiking/params.rs",
            vec![
                defaults(&IafParams::default()),
                defaults(&GifParams::default()),
            ],
        ),
    ];
    for (file, structs) in &files {
        let tables = module_tables(file);
        assert_eq!(
            tables.len(),
            structs.len(),
            "{file}: one parameter table per parameter struct"
        );
        for (table, d) in tables.iter().zip(structs) {
            for row in table {
                if !spec_lines.contains(row.as_str()) {
                    errors.push(format!("docs/specs.md lacks the row of {file}: {row}"));
                }
            }
            check_table(file, table, d, &mut errors);
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Keys a spec table may hold, from the first column of every table in docs/specs.md.
fn documented_keys() -> BTreeSet<String> {
    read("docs/specs.md")
        .lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .flat_map(|l| backticked(&cells(l)[0]))
        .collect()
}

#[test]
fn spec_reference_names_every_key_the_examples_use() {
    let keys = documented_keys();
    let mut missing = BTreeSet::new();
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 5);
    for path in &examples {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(path).expect("example");
        let table: toml::Table = toml::from_str(&text).expect("example parses");
        let mut check = |section: &str, t: &toml::Table| {
            for k in t.keys() {
                if !keys.contains(k) {
                    missing.insert(format!("{name}: {section}.{k}"));
                }
            }
        };
        for (section, v) in &table {
            if !keys.contains(section) && section != "sweep" {
                check("", &toml::Table::from_iter([(section.clone(), v.clone())]));
            }
            let entries: Vec<&toml::Table> = match v {
                toml::Value::Table(t) => vec![t],
                toml::Value::Array(a) => a.iter().filter_map(|e| e.as_table()).collect(),
                _ => vec![],
            };
            for t in entries {
                if section == "sweep" {
                    continue; // keys are the user's `POP.param` names
                }
                check(section, t);
                for (k, inner) in t {
                    match (k.as_str(), inner) {
                        ("params", toml::Value::Table(p)) => check("params", p),
                        ("spikes" | "traces", toml::Value::Array(a)) => {
                            for e in a.iter().filter_map(|e| e.as_table()) {
                                check(k, e);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/specs.md does not document: {missing:?}"
    );
}

/// GitHub's anchor of a heading: lower case, punctuation other than `-` and `_` dropped,
/// spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == '_' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(rel: &str) -> BTreeSet<String> {
    read(rel)
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

/// Top-level entries whose paths the documents may name.
const ROOTS: &[&str] = &[
    "src/",
    "shaders/",
    "tests/",
    "benches/",
    "examples/",
    "tools/",
    "docs/",
    ".ci/",
];

/// Repository paths named in `text`: tokens starting with one of [`ROOTS`] or naming a
/// top-level file, and markdown link targets; placeholders (`<`, `*`, `{`) are skipped.
fn named_paths(text: &str) -> Vec<(String, Option<String>)> {
    let mut found = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || "`()[]\"',;|".contains(c)) {
        let token = token.trim_end_matches(['.', ':']);
        let (path, frag) = match token.split_once('#') {
            Some((p, f)) => (p, Some(f.to_string())),
            None => (token, None),
        };
        let named = ROOTS.iter().any(|r| path.starts_with(r))
            || ["README.md", "ARCHITECTURE.md", "Cargo.toml"].contains(&path);
        if !named || path.contains(['<', '*', '{', '>']) || path.contains("...") {
            continue;
        }
        found.push((path.to_string(), frag));
    }
    found
}

#[test]
fn repository_paths_named_in_the_docs_exist() {
    let mut errors = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        let base = Path::new(&doc).parent().unwrap_or(Path::new(""));
        for (path, frag) in named_paths(&text) {
            // Links inside docs/ are relative to docs/; plain mentions to the root.
            let candidates = [root().join(&path), root().join(base).join(&path)];
            let Some(found) = candidates.iter().find(|p| p.exists()) else {
                errors.push(format!("{doc}: `{path}` does not exist"));
                continue;
            };
            if let (Some(f), true) = (frag, found.extension().is_some_and(|e| e == "md")) {
                let rel = found.strip_prefix(root()).unwrap_or(found);
                let rel = rel.to_string_lossy().to_string();
                if !anchors(&rel).contains(&f) {
                    errors.push(format!("{doc}: `{path}#{f}`: no such heading"));
                }
            }
        }
        // Links to headings of the same document.
        for (i, _) in text.match_indices("](#") {
            let rest = &text[i + 3..];
            let f = &rest[..rest.find(')').unwrap_or(rest.len())];
            if !anchors(&doc).contains(f) {
                errors.push(format!("{doc}: `#{f}`: no such heading"));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn nothing_points_outside_the_repository() {
    // Spelled in pieces so that this file does not match itself.
    let banned = [
        ["MODELS", ".md"].concat(),
        ["shared", "/seeds"].concat(),
        ["seed ", "00"].concat(),
    ];
    let mut errors = Vec::new();
    let mut stack = vec![root()];
    let skip = ["target", ".git", "out"];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("dir").flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                if !skip.contains(&name.as_str()) {
                    stack.push(p);
                }
                continue;
            }
            let text_like = ["rs", "wgsl", "md", "toml", "py", "sh"]
                .iter()
                .any(|x| name.ends_with(&format!(".{x}")))
                || name == "run";
            if !text_like {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            for b in &banned {
                if let Some(line) = text.lines().position(|l| l.contains(b.as_str())) {
                    let rel = p.strip_prefix(root()).unwrap_or(&p).display().to_string();
                    errors.push(format!("{rel}:{}: `{b}`", line + 1));
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// The `neuropop` command lines of the README's shell blocks, as argument lists
/// (`cargo run --release --` stands for `neuropop`; comments dropped).
fn readme_commands() -> Vec<Vec<String>> {
    let mut cmds = Vec::new();
    let mut in_sh = false;
    for line in read("README.md").lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_sh = !in_sh && (t == "```sh" || t == "```bash" || t == "```console");
            continue;
        }
        if !in_sh {
            continue;
        }
        let t = t.split(" #").next().unwrap_or("").trim();
        let args = if let Some(rest) = t.strip_prefix("cargo run --release -- ") {
            rest
        } else if let Some(rest) = t.strip_prefix("neuropop ") {
            rest
        } else {
            continue;
        };
        cmds.push(args.split_whitespace().map(str::to_string).collect());
    }
    cmds
}

#[cfg(unix)]
#[test]
fn readme_command_lines_run() {
    let cmds = readme_commands();
    assert!(cmds.len() >= 5, "the README shows its commands: {cmds:?}");
    // A scratch working directory with the examples, so outputs (`out/...`) land there.
    let dir = std::env::temp_dir().join(format!("neuropop-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    std::os::unix::fs::symlink(root().join("examples"), dir.join("examples")).expect("link");
    for args in cmds {
        let o = Command::new(env!("CARGO_BIN_EXE_neuropop"))
            .args(&args)
            .current_dir(&dir)
            .env("NEUROPOP_THREADS", "2")
            .output()
            .expect("run neuropop");
        assert!(
            o.status.success(),
            "`neuropop {}` exited with {:?}:\n{}",
            args.join(" "),
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
