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

#[test]
fn every_file_the_readme_links_exists() {
    let readme = project_file("README.md");
    let mut linked = 0;
    for target in readme
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
    {
        if target.contains("://") || target.starts_with('#') {
            continue;
        }
        let path = target.split('#').next().unwrap();
        assert!(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(path).exists(),
            "the README links {target}, which does not exist"
        );
        linked += 1;
    }
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
