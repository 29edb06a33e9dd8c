//! The page (`web/`), as the component serves it: every file in every coding is the file
//! itself, with a strong tag per coding, `304` on a match, the security headers, and the
//! budget (16 KiB for the three files as a browser downloads them, in brotli).

mod support;

use std::io::Read;

use http::Response;
use support::native::Api;
use todo_api::config::Config;

const FILES: [(&str, &str, &str); 3] = [
    ("/", "web/index.html", "text/html; charset=utf-8"),
    ("/app.css", "web/app.css", "text/css; charset=utf-8"),
    ("/app.js", "web/app.js", "text/javascript; charset=utf-8"),
];

fn send(method: &str, path: &str, headers: &[(&str, &str)]) -> Response<Vec<u8>> {
    Api::on_dir(Config::default()).handle(method, path, headers, &b""[..])
}

fn get(path: &str, headers: &[(&str, &str)]) -> Response<Vec<u8>> {
    send("GET", path, headers)
}

fn header<'a>(response: &'a Response<Vec<u8>>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |value| value.to_str().unwrap())
}

fn decoded(response: &Response<Vec<u8>>) -> Vec<u8> {
    let mut content = Vec::new();
    match header(response, "content-encoding") {
        "br" => brotli::BrotliDecompress(&mut response.body().as_slice(), &mut content).unwrap(),
        "gzip" => {
            flate2::read::GzDecoder::new(response.body().as_slice())
                .read_to_end(&mut content)
                .unwrap();
        }
        "" => content = response.body().clone(),
        other => panic!("coding {other}"),
    }
    content
}

#[test]
fn every_file_is_served_in_every_coding_as_it_is() {
    for (path, file, media_type) in FILES {
        let source = std::fs::read(file).unwrap();
        let mut tags = Vec::new();
        for coding in ["identity", "gzip", "br"] {
            let answer = get(path, &[("accept-encoding", coding)]);
            assert_eq!(answer.status(), 200, "{path} {coding}");
            assert_eq!(header(&answer, "content-type"), media_type);
            assert_eq!(decoded(&answer), source, "{path} in {coding}");
            assert_eq!(header(&answer, "vary"), "Accept-Encoding");
            assert_eq!(header(&answer, "cache-control"), "no-cache");
            assert_eq!(header(&answer, "x-content-type-options"), "nosniff");
            assert_eq!(header(&answer, "referrer-policy"), "no-referrer");
            let policy = header(&answer, "content-security-policy");
            assert!(policy.contains("default-src 'self'"), "{policy}");
            assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
            assert!(!policy.contains("unsafe-inline"), "{policy}");
            let tag = header(&answer, "etag").to_owned();
            assert!(tag.starts_with("\"p"), "a strong tag: {tag}");
            let again = get(
                path,
                &[("accept-encoding", coding), ("if-none-match", &tag)],
            );
            assert_eq!(again.status(), 304, "{path} {coding}");
            tags.push(tag);
        }
        tags.dedup();
        assert_eq!(tags.len(), 3, "a tag per coding: {tags:?}");
    }
}

/// HEAD answers GET's headers without content; the files take GET, HEAD and OPTIONS only.
#[test]
fn head_options_and_other_methods_on_the_pages_files() {
    for (path, _, _) in FILES {
        for coding in ["identity", "gzip", "br"] {
            let get = get(path, &[("accept-encoding", coding)]);
            let head = send("HEAD", path, &[("accept-encoding", coding)]);
            assert_eq!(head.status(), 200, "HEAD {path} {coding}");
            // The length GET's content has (which the host gives GET from its body).
            assert_eq!(
                header(&head, "content-length"),
                get.body().len().to_string(),
                "HEAD {path} {coding}"
            );
            let mut head_headers = head.headers().clone();
            head_headers.remove("content-length");
            assert_eq!(&head_headers, get.headers(), "HEAD {path} {coding}");
            assert!(head.body().is_empty());
        }
        let options = send("OPTIONS", path, &[]);
        assert_eq!(options.status(), 204, "OPTIONS {path}");
        assert_eq!(header(&options, "allow"), "GET, HEAD, OPTIONS");
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let refused = send(method, path, &[]);
            assert_eq!(refused.status(), 405, "{method} {path}");
            assert_eq!(header(&refused, "allow"), "GET, HEAD, OPTIONS");
            assert_eq!(header(&refused, "content-type"), "application/problem+json");
        }
    }
}

#[test]
fn the_page_loads_nothing_inline_and_nothing_from_elsewhere() {
    let html = std::fs::read_to_string("web/index.html").unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    assert!(!html.contains("style="), "no inline style");
    assert!(!html.contains("<style"), "no inline style sheet");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
    let script = std::fs::read_to_string("web/app.js").unwrap();
    assert!(!script.contains("innerHTML"), "titles go in as text");
    assert!(
        !script.contains("localStorage"),
        "the token stays in the tab"
    );
}

#[test]
fn the_page_fits_its_budget() {
    let mut downloaded = 0;
    for (path, _, _) in FILES {
        downloaded += get(path, &[("accept-encoding", "br")]).body().len();
    }
    assert!(downloaded <= 16 * 1024, "{downloaded} bytes in brotli");
}

/// The README's pictures show the page as it is: `docs/screenshots/page.sha256` lists the
/// page's files they were taken of (`make screenshots` takes them anew and writes it).
#[test]
fn the_readme_pictures_show_the_page_as_it_is() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shots = root.join("docs/screenshots");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for name in ["light.png", "dark.png", "narrow.png"] {
        let picture = std::fs::read(shots.join(name)).unwrap();
        assert!(picture.starts_with(b"\x89PNG"), "{name} is a PNG");
        assert!(
            readme.contains(&format!("docs/screenshots/{name}")),
            "the README shows {name}"
        );
    }
    let recorded = std::fs::read_to_string(shots.join("page.sha256")).unwrap();
    assert_eq!(
        recorded,
        support::page_digest(),
        "the page's files changed since docs/screenshots/ was taken: run `make screenshots`"
    );
}
