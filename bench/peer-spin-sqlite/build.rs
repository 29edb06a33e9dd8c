//! The floor is linked like the todo component (its build.rs): a 128 KiB stack, so that the
//! two differ only in what they do. `FLOOR_STACK_BYTES` overrides it: make bench also
//! measures the no-SDK floor with Rust's default stack (1 MiB), which costs the host a
//! larger memory to reset per request.

fn main() {
    println!("cargo:rerun-if-env-changed=FLOOR_STACK_BYTES");
    let stack = std::env::var("FLOOR_STACK_BYTES").unwrap_or_else(|_| (128 * 1024).to_string());
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size={stack}");
    }
}
