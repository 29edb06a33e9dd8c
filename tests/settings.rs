//! Every setting reaches the component by each road a user takes, and is documented.
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
fn the_readme_shows_spin_toml_as_it_is() {
    let readme = project_file("README.md");
    assert!(
        readme.contains(&format!("```toml\n{}```", project_file("spin.toml"))),
        "the README's copy of spin.toml is out of date"
    );
}
