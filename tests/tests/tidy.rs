//! Tidy tests: the repository's own rules about its shape, checked on its files (in the spirit
//! of rust-analyzer's tidy tests). They keep ARCHITECTURE.md true and the layering it claims
//! real. Each failure names the file (and line) and says what to change.
//!
//! The rules:
//! - (a) every `.rs` file under `engine/src/`, `http/src/`, `replay/src/`, `tests/src/` and
//!   `testkit/src/` is named in ARCHITECTURE.md by its full repository path in backticks (for
//!   example `engine/src/codec.rs`): a row of its crate's module table. A folder entry does
//!   not cover the files in it: each file has its own row, so a new file cannot hide in a
//!   folder the map already names.
//! - (b) every repository path ARCHITECTURE.md names in backticks exists. A backticked span is a
//!   path when it is one word of letters, digits and `_ . - /`, does not start with `/` (those
//!   are HTTP routes), and contains a `/` or ends in `.rs`, `.toml` or `.md`; it is resolved
//!   from the repository root (a trailing `/` names a folder). The other Markdown files are
//!   held to the same rule for the paths that start at a top-level folder of the repository
//!   (`engine/`, `docs/` ...): a path relative to a crate (`log/writer.rs`) is not checked there.
//! - (c) every module file of those five folders opens with a `//!` comment.
//! - (d) no `.md`, `.rs` or `.toml` file and no file under `.ci/` holds an absolute path of a
//!   machine (a home, root, scratch or work directory); code that needs a scratch directory
//!   builds it at run time (`std::env::temp_dir`, `tempfile`), commands use `$(mktemp -d)`.
//! - (e) code names `sled` only inside `engine/src/storage.rs` and `engine/src/storage/`, and
//!   `bincode` only inside `engine/src/codec.rs` (in `use` lines and paths; comments may name
//!   them); only the workspace's and the engine's `Cargo.toml` depend on them.
//! - (f) no file in `engine/src/domain/` imports the log, storage, the codec, the services or
//!   the projections, sled or tokio, nor reads a clock or the file system.
//!
//! Directories skipped everywhere: `.git`, every `target`, and hidden folders other than `.ci`.

use std::path::{Path, PathBuf};

/// The repository root (this crate is `tests/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The folders whose every `.rs` file is a module the map must name.
const MAPPED_SOURCE_DIRS: [&str; 5] = [
    "engine/src",
    "http/src",
    "replay/src",
    "tests/src",
    "testkit/src",
];

/// Top-level folders of the repository: a backticked path in any Markdown file that starts
/// with one of them must exist.
const TOP_LEVEL_DIRS: [&str; 8] = [
    "engine/", "http/", "replay/", "tests/", "testkit/", "docs/", "fuzz/", ".ci/",
];

/// Every file under `dir` (recursively, sorted), skipping `.git`, `target` and hidden folders
/// other than `.ci`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                let skipped =
                    name == ".git" || name == "target" || (name.starts_with('.') && name != ".ci");
                if !skipped {
                    stack.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// `path` relative to the repository root, with `/` separators.
fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .expect("under the root")
        .to_string_lossy()
        .replace('\\', "/")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The module files the map must name.
fn module_files() -> Vec<PathBuf> {
    let root = root();
    MAPPED_SOURCE_DIRS
        .iter()
        .flat_map(|d| files_under(&root.join(d)))
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect()
}

/// The backticked spans of a Markdown text outside fenced code blocks, with their line numbers.
fn backticked(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            out.push((i + 1, inside.to_owned()));
        }
        // An unclosed span at the end of a line is not a span.
    }
    out
}

/// Whether a backticked span claims to be a repository path (rule (b)).
fn is_path_claim(span: &str) -> bool {
    let word = !span.is_empty()
        && span
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/'));
    let looks_like_path = span.contains('/')
        || [".rs", ".toml", ".md"]
            .iter()
            .any(|ext| span.ends_with(ext));
    word && looks_like_path && !span.starts_with('/')
}

/// Fails with every problem at once, one per line.
fn report(rule: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{rule}: {} problem(s)\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn a_every_module_file_is_in_the_map() {
    let map = read(&root().join("ARCHITECTURE.md"));
    let problems = module_files()
        .iter()
        .map(|p| rel(p))
        .filter(|p| !map.contains(&format!("`{p}`")))
        .map(|p| {
            format!(
                "ARCHITECTURE.md does not name `{p}`: add a row for it to its crate's module \
                 table (full path in backticks, its job, what it may use)"
            )
        })
        .collect();
    report("(a) module files missing from ARCHITECTURE.md", problems);
}

#[test]
fn b_every_path_the_docs_name_exists() {
    let root = root();
    let mut problems = Vec::new();
    for md in files_under(&root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        let name = rel(&md);
        let is_map = name == "ARCHITECTURE.md";
        for (line, span) in backticked(&read(&md)) {
            let checked = is_path_claim(&span)
                && (is_map || TOP_LEVEL_DIRS.iter().any(|d| span.starts_with(d)));
            if checked && !root.join(&span).exists() {
                problems.push(format!(
                    "{name}:{line} names `{span}`, which does not exist: correct the path (from \
                     the repository root) or remove it"
                ));
            }
        }
    }
    report("(b) paths named in the docs that do not exist", problems);
}

#[test]
fn c_every_module_opens_with_a_doc_comment() {
    let problems = module_files()
        .iter()
        .filter(|p| {
            let text = read(p);
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!")
        })
        .map(|p| {
            format!(
                "{} does not open with a `//!` comment: start it with one saying what the \
                 module is for",
                rel(p)
            )
        })
        .collect();
    report("(c) modules without a module doc comment", problems);
}

#[test]
fn d_no_file_holds_an_absolute_path_of_a_machine() {
    // Built at run time so that this file does not match itself.
    let needles: Vec<String> = ["work", "tmp", "root", "home"]
        .iter()
        .map(|d| format!("/{d}/"))
        .collect();
    let mut problems = Vec::new();
    for path in files_under(&root()) {
        let name = rel(&path);
        let checked = name.starts_with(".ci/")
            || path
                .extension()
                .is_some_and(|e| e == "md" || e == "rs" || e == "toml");
        if !checked {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            for needle in needles.iter().filter(|n| line.contains(n.as_str())) {
                problems.push(format!(
                    "{name}:{} holds the absolute path `{needle}`: use a path relative to the \
                     repository, `$(mktemp -d)` in commands, or `std::env::temp_dir()` / \
                     `tempfile` in code",
                    i + 1
                ));
            }
        }
    }
    report("(d) absolute paths of a machine", problems);
}

/// The code of a line: what precedes a `//` comment.
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

/// Whether `code` names the crate `krate` as a path (`krate::...`, `use krate`, `extern crate
/// krate`), as a whole word.
fn names_crate(code: &str, krate: &str) -> bool {
    code.match_indices(krate).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = &code[i + krate.len()..];
        let whole = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        let as_path = after.starts_with("::")
            || (code[..i].trim_end().ends_with("use") && !after.starts_with('_'))
            || code[..i].trim_end().ends_with("extern crate");
        whole && as_path
    })
}

/// Every `.rs` file of the workspace's crates and of the fuzz crate.
fn rust_files() -> Vec<PathBuf> {
    let root = root();
    ["engine", "http", "replay", "tests", "testkit", "fuzz"]
        .iter()
        .flat_map(|d| files_under(&root.join(d)))
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect()
}

#[test]
fn e_sled_and_bincode_stay_in_their_modules() {
    let confined = [
        (
            "sled",
            &["engine/src/storage.rs", "engine/src/storage/"][..],
            "go through `motcua_engine::storage` (`Store`, `KvTree`, `Batch`)",
        ),
        (
            "bincode",
            &["engine/src/codec.rs"][..],
            "go through `motcua_engine::codec` (`encode`, `decode`)",
        ),
    ];
    let mut problems = Vec::new();
    for path in rust_files() {
        let name = rel(&path);
        let text = read(&path);
        for (krate, allowed, instead) in confined {
            if allowed.iter().any(|a| name.starts_with(a)) {
                continue;
            }
            for (i, line) in text.lines().enumerate() {
                if names_crate(code_of(line), krate) {
                    problems.push(format!(
                        "{name}:{} uses `{krate}` outside {}: {instead}",
                        i + 1,
                        allowed.join(" and ")
                    ));
                }
            }
        }
    }
    // Only the workspace and the engine may depend on them.
    for path in files_under(&root()) {
        let name = rel(&path);
        if path.file_name().is_none_or(|n| n != "Cargo.toml")
            || name == "Cargo.toml"
            || name == "engine/Cargo.toml"
        {
            continue;
        }
        for (i, line) in read(&path).lines().enumerate() {
            let key = line.split(['=', '.']).next().unwrap_or("").trim();
            if key == "sled" || key == "bincode" {
                problems.push(format!(
                    "{name}:{} depends on `{key}`: only engine/Cargo.toml may; use the engine's \
                     storage or codec module",
                    i + 1
                ));
            }
        }
    }
    report("(e) sled or bincode outside their one module", problems);
}

#[test]
fn f_the_domain_imports_no_io_and_no_layer_above_it() {
    let forbidden = [
        ("crate::log", "the log"),
        ("crate::storage", "storage"),
        ("crate::codec", "the codec"),
        ("crate::recorded", "the envelope decoder"),
        ("crate::service", "the command service"),
        ("crate::plan_service", "the plan service"),
        ("crate::projection", "the projections"),
        ("crate::reference_files", "the reference-file reader"),
        ("super::super", "a module outside the domain"),
        ("std::fs", "the file system"),
        ("std::net", "the network"),
        ("std::env", "the environment"),
        ("SystemTime", "a clock"),
        ("Instant::now", "a clock"),
        ("Utc::now", "a clock"),
        ("Local::now", "a clock"),
    ];
    let mut problems = Vec::new();
    for path in files_under(&root().join("engine/src/domain")) {
        let name = rel(&path);
        for (i, line) in read(&path).lines().enumerate() {
            let code = code_of(line);
            for (needle, what) in forbidden {
                if code.contains(needle) {
                    problems.push(format!(
                        "{name}:{} uses {what} (`{needle}`): the domain is pure; take the value \
                         as an argument (time as `now`, files as text) and do the I/O in \
                         the service or `engine/src/reference_files.rs`",
                        i + 1
                    ));
                }
            }
            for krate in ["sled", "tokio"] {
                if names_crate(code, krate) {
                    problems.push(format!(
                        "{name}:{} uses `{krate}`: the domain knows neither sled nor tokio; move \
                         the code to the log, the services or the projections",
                        i + 1
                    ));
                }
            }
        }
    }
    report("(f) the domain reaching outside itself", problems);
}

#[test]
fn the_rules_recognise_what_they_look_for() {
    // Spelled at run time so that rule (e) does not find them in this file.
    let (sled, tokio) = ("sled", "tokio");
    assert!(names_crate(&format!("use {sled}::Tree;"), sled));
    assert!(names_crate(&format!("    let db: {sled}::Db = x;"), sled));
    assert!(names_crate(&format!("use {sled};"), sled));
    assert!(names_crate(&format!("extern crate {sled};"), sled));
    assert!(!names_crate(&format!("let {sled}_tree = 1;"), sled));
    assert!(!names_crate(&format!("the {sled} store"), sled));
    assert!(!names_crate(&format!("use {tokio}_util::sync::X;"), tokio));
    assert_eq!(code_of("let a = 1; // a comment"), "let a = 1; ");
    assert!(is_path_claim("engine/src/codec.rs"));
    assert!(is_path_claim("ARCHITECTURE.md"));
    assert!(is_path_claim("engine/rules/"));
    assert!(!is_path_claim("/v1/staff"));
    assert!(!is_path_claim("dossier/<code>"));
    assert!(!is_path_claim("application/problem+json"));
    assert!(!is_path_claim("POST /v1/staff"));
    assert!(!is_path_claim("proj.dossiers"));
    assert_eq!(
        backticked("a `x/y.rs` b `c`\n```\n`not/this.rs`\n```\n`z.md`"),
        vec![
            (1, "x/y.rs".to_owned()),
            (1, "c".to_owned()),
            (5, "z.md".to_owned())
        ]
    );
}
