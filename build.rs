//! Minifies `src/openapi.json` into `OUT_DIR`: the source stays readable, and the component
//! carries the document without its indentation (about half its bytes).

use std::path::Path;

fn main() {
    let source = "src/openapi.json";
    println!("cargo:rerun-if-changed={source}");
    let text = std::fs::read_to_string(source).expect("read src/openapi.json");
    let document: serde_json::Value =
        serde_json::from_str(&text).expect("src/openapi.json is valid JSON");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(
        Path::new(&out).join("openapi.min.json"),
        serde_json::to_string(&document).expect("serialize the OpenAPI document"),
    )
    .expect("write the minified OpenAPI document");
}
