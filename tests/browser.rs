//! The page in a real browser, as users open it: `tests/browser.py` (Debian's Chromium
//! driven by Playwright; `make test` installs both, and names the Python that has
//! Playwright in `TODO_TEST_BROWSER_PYTHON`) against `make serve`, in owner mode with a
//! token the page asks for, and against both Spin builds under real `spin up`. One more run
//! photographs the page for the README (`target/screenshots/`, copied into docs/ by
//! `make screenshots`).

mod support;

use std::path::Path;
use std::process::Command;

use support::spin::{SpinUp, SpinUpConfig};
use support::{Server, data_dir};
use tempfile::TempDir;

/// Runs the browser script against `base`, with `token` where the server needs one.
fn browse(base: &str, token: Option<&str>, screenshots: Option<&Path>) {
    let python = std::env::var("TODO_TEST_BROWSER_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut command = Command::new(python);
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser.py"))
        .arg(base);
    if let Some(token) = token {
        command.arg("--token").arg(token);
    }
    if let Some(dir) = screenshots {
        command.arg("--screenshots").arg(dir);
    }
    let output = command.output().expect("run tests/browser.py");
    assert!(
        output.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_page_works_in_a_browser_under_make_serve() {
    let (_dir, data) = data_dir();
    let server = Server::start_as_make_serve(&data, &[]);
    browse(&server.base, None, None);
}

/// The README's pictures (light, dark, narrow), with the digest of the page's files they
/// show (`page.sha256`): `make screenshots` copies both into docs/screenshots/.
#[test]
fn the_page_is_photographed_for_the_readme() {
    let (_dir, data) = data_dir();
    let server = Server::start_as_make_serve(&data, &[]);
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    browse(&server.base, None, Some(&screenshots));
    std::fs::write(screenshots.join("page.sha256"), support::page_digest()).unwrap();
}

#[test]
fn the_page_asks_for_a_token_once_in_owner_mode() {
    let (_dir, data) = data_dir();
    let server = Server::start_as_make_serve(&data, support::black_box::OWNER_MODE);
    let bearer = support::black_box::owner_bearer("alice", None);
    browse(
        &server.base,
        Some(bearer.trim_start_matches("Bearer ")),
        None,
    );
}

#[test]
fn the_page_works_in_a_browser_under_spin_up() {
    let _machine = support::spin::one_at_a_time();
    let state = TempDir::new().unwrap();
    let config = SpinUpConfig::new("spin.toml", &[]);
    let spin = SpinUp::start(&config, support::free_port(), state.path());
    browse(&spin.base, None, None);
}

#[test]
fn the_page_works_in_a_browser_under_spin_up_on_postgres() {
    let _machine = support::spin::one_at_a_time();
    let database = support::postgres::Database::create();
    let state = TempDir::new().unwrap();
    let config = SpinUpConfig::on_postgres(&database.url, &database.host());
    let spin = SpinUp::start(&config, support::free_port(), state.path());
    browse(&spin.base, None, None);
}
