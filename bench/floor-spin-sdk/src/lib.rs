//! What the Spin SDK's request path costs: an empty `#[http_component]` that answers every
//! request `200 hello`, served by `wasmtime serve` like the other floor.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(_request: Request) -> impl IntoResponse {
    Response::new(200, "hello")
}
