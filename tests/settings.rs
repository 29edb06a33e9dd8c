//! Every setting reaches the component by each road a user takes, and is documented; the
//! README links files that exist and quotes only measured figures.
//! (`tests/spin_host.rs` checks that `spin.toml` declares and binds each one.)

use std::path::Path;

use todo_api::config::{SETTINGS, env_name};

fn project_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
        .unwrap_or_else(|error| panic!("read {name}: {error}"))
}

#[test]
fn make_serve_passes_every_setting_on_to_the_component() {
    let makefile = project_file("Makefile");
    let listed: Vec<&str> = makefile
        .split("SETTINGS :=")
        .nth(1)
        .expect("the Makefile lists SETTINGS")
        .split("\n\n")
        .next()
        .unwrap()
        .split_whitespace()
        .filter(|word| *word != "\\")
        .collect();
    let expected: Vec<String> = SETTINGS.iter().map(|name| env_name(name)).collect();
    assert_eq!(listed, expected);
    assert!(makefile.contains("$(foreach name,$(SETTINGS),--env $(name))"));
}

#[test]
fn the_readme_documents_every_setting_under_both_names() {
    let readme = project_file("README.md");
    for setting in SETTINGS {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{setting}` ")))
            .unwrap_or_else(|| panic!("README has no row for {setting}"));
        assert!(row.contains(&format!("`{}`", env_name(setting))), "{row}");
    }
}

/// The README and every page of docs/: their Markdown files' names, from the repository.
fn documents() -> Vec<String> {
    let mut names = vec!["README.md".to_owned()];
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    for entry in std::fs::read_dir(docs).expect("docs/") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            names.push(format!("docs/{name}"));
        }
    }
    names
}

/// How many files `document` links (relative links only), failing on one that does not
/// exist.
fn assert_links_exist(document: &str) -> usize {
    let text = project_file(document);
    let base = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(document)
        .parent()
        .unwrap()
        .to_owned();
    let mut linked = 0;
    for target in text
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
    {
        if target.contains("://") || target.starts_with('#') {
            continue;
        }
        let path = target.split('#').next().unwrap();
        assert!(
            base.join(path).exists(),
            "{document} links {target}, which does not exist"
        );
        linked += 1;
    }
    linked
}

#[test]
fn every_document_closes_its_code_fences_and_links_only_what_exists() {
    for document in documents() {
        let text = project_file(&document);
        let mut open: Option<usize> = None;
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                open = match open {
                    Some(_) => None,
                    None => Some(number + 1),
                };
            }
        }
        assert_eq!(
            open, None,
            "{document}: the code fence of line {open:?} is never closed"
        );
        assert_links_exist(&document);
    }
}

#[test]
fn every_file_the_readme_links_exists() {
    let readme = project_file("README.md");
    let linked = assert_links_exist("README.md");
    // The manifests are linked, not copied: a copy would drift from them.
    for manifest in ["spin.toml", "spin-postgres.toml"] {
        assert!(readme.contains(&format!("]({manifest})")), "{manifest}");
    }
    assert!(linked >= 5, "{linked} links");
}

#[test]
fn the_readme_quotes_the_benchmarks_headline_as_the_benchmark_wrote_it() {
    // bench/run.py writes bench/results/headline.md from the run it measured.
    let headline = project_file("bench/results/headline.md");
    assert!(
        project_file("README.md").contains(&headline),
        "README's \"Measured\" table differs from bench/results/headline.md: copy it from there"
    );
}

/// On Spin every setting read is a host lookup that costs real time: a request reads only
/// the settings it uses, each once, and `/readyz` reads them all.
#[test]
fn a_request_reads_only_the_settings_it_uses_and_readiness_reads_all() {
    use std::cell::RefCell;
    use todo_api::config::HostSettings;
    use todo_api::store::sqlite::SqliteStore;
    use todo_api::testing::RusqliteExecutor;

    let dir = tempfile::TempDir::new().unwrap();
    let store = SqliteStore::new(RusqliteExecutor::open(&dir.path().join("todos.db")));
    let read = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        let asked = RefCell::new(Vec::new());
        let settings = HostSettings::new(|name| {
            asked.borrow_mut().push(name);
            Ok(None)
        });
        let request = http::Request::builder().method(method).uri(path);
        let request = headers
            .iter()
            .fold(request, |request, (name, value)| {
                request.header(*name, *value)
            })
            .body(body)
            .unwrap();
        let response = todo_api::api::handle(&store, &settings, request);
        assert!(response.status().as_u16() < 300, "{method} {path}");
        asked.into_inner()
    };
    let json = [("content-type", "application/json")];
    assert_eq!(
        read("POST", "/todos", &json, br#"{"title":"a"}"#),
        [
            "cors_allowed_origins",
            "jwt_owner_claim",
            "jwt_hs256_secret",
            "jwt_jwks",
            "jwt_issuer",
            "jwt_audience",
            "jwt_write_scope",
            "jwt_protect_reads",
            "jwt_admin_scope",
            "rate_limit",
            "max_body_bytes",
            "max_title_length",
            "body_timeout_ms"
        ]
    );
    assert_eq!(
        read("GET", "/todos/1", &[], b""),
        [
            "cors_allowed_origins",
            "jwt_owner_claim",
            "jwt_protect_reads",
            "rate_limit"
        ]
    );
    assert_eq!(read("GET", "/healthz", &[], b""), ["cors_allowed_origins"]);
    let mut all = read("GET", "/readyz", &[], b"");
    all.sort_unstable();
    let mut expected = SETTINGS.to_vec();
    expected.sort_unstable();
    assert_eq!(all, expected);
}
