//! Build steps for the component:
//! - minifies `src/openapi.json` and compresses it with brotli and gzip at their best, into
//!   `OUT_DIR`: the component carries only the two compressed copies (a compressor for
//!   brotli would add ~960 KB), and decompresses the gzip one for a client that takes
//!   neither; the source stays readable;
//! - compresses the page's files (`web/`) the same way, and writes their table (`page.rs`);
//!   without the `page` feature, an empty table and a document without the page's paths;
//! - gives the component a 128 KiB stack instead of Rust's default 1 MiB.

use std::io::Write;
use std::path::Path;

/// The deepest the component goes is serde_json's nesting limit (128 levels) in a request
/// body: measured to need between 32 and 64 KiB, so 128 KiB leaves twice that. The stack is
/// most of a fresh instance's linear memory, which the host resets for every request:
/// 1 MiB of it cost about a third of the throughput (README, "Performance"). The stack sits
/// below the data, so an overflow traps instead of overwriting anything.
const WASM_STACK_BYTES: u32 = 128 * 1024;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={WASM_STACK_BYTES}");
    }

    // Without the `page` feature the page's files are neither carried nor documented.
    let with_page = std::env::var_os("CARGO_FEATURE_PAGE").is_some();
    let source = "src/openapi.json";
    println!("cargo:rerun-if-changed={source}");
    let text = std::fs::read_to_string(source).expect("read src/openapi.json");
    let mut document: serde_json::Value =
        serde_json::from_str(&text).expect("src/openapi.json is valid JSON");
    if !with_page {
        let paths = document["paths"]
            .as_object_mut()
            .expect("the document's paths");
        for (path, _, _) in PAGE_FILES {
            paths.remove(path);
        }
    }
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let minified = serde_json::to_string(&document).expect("serialize the OpenAPI document");
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(Path::new(&out).join(name), bytes).expect("write the OpenAPI document")
    };
    write("openapi.min.json", minified.as_bytes());
    write("openapi.length", minified.len().to_string().as_bytes());
    // The document's strong entity tag: FNV-1a of its bytes (as `store::fnv1a` computes it).
    let fingerprint = fingerprint(minified.as_bytes());
    write(
        "openapi.etag",
        format!("\"o{fingerprint:016x}\"").as_bytes(),
    );
    write("openapi.min.json.br", &brotli(minified.as_bytes()));

    write("openapi.min.json.gz", &gzipped(minified.as_bytes()));

    page(&out, with_page);
}

/// `bytes` compressed with brotli at its best (quality 11).
fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut compressed = Vec::new();
    let settings = brotli::enc::BrotliEncoderParams {
        quality: 11,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut compressed, &settings).expect("brotli");
    compressed
}

/// `bytes` as one gzip member at the best compression.
fn gzipped(bytes: &[u8]) -> Vec<u8> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(bytes).expect("gzip");
    gzip.finish().expect("gzip")
}

/// FNV-1a (64 bits), as `store::fnv1a` computes it.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The page's files: the path each is served at, its name in `web/`, its media type.
const PAGE_FILES: [(&str, &str, &str); 3] = [
    ("/", "index.html", "text/html; charset=utf-8"),
    ("/app.css", "app.css", "text/css; charset=utf-8"),
    ("/app.js", "app.js", "text/javascript; charset=utf-8"),
];

/// The page's files (`web/`), each compressed with brotli and gzip into `OUT_DIR`, and
/// `page.rs`, their table: path, media type, both copies, length, strong entity tag (an
/// empty table without the page).
fn page(out: &str, with_page: bool) {
    let mut table = String::from("pub const PAGE_FILES: &[PageFile] = &[\n");
    for (path, name, media_type) in PAGE_FILES.into_iter().filter(|_| with_page) {
        let source = format!("web/{name}");
        println!("cargo:rerun-if-changed={source}");
        let bytes = std::fs::read(&source).unwrap_or_else(|e| panic!("read {source}: {e}"));
        for (suffix, compressed) in [("br", brotli(&bytes)), ("gz", gzipped(&bytes))] {
            std::fs::write(
                Path::new(out).join(format!("page-{name}.{suffix}")),
                compressed,
            )
            .expect("write a page file");
        }
        table.push_str(&format!(
            "    PageFile {{ path: {path:?}, media_type: {media_type:?}, content: Precompressed {{ \
             br: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/page-{name}.br\")), \
             gzip: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/page-{name}.gz\")), \
             length: {}, etag: \"\\\"p{:016x}\\\"\" }} }},\n",
            bytes.len(),
            fingerprint(&bytes)
        ));
    }
    table.push_str("];\n");
    std::fs::write(Path::new(out).join("page.rs"), table).expect("write page.rs");
}
