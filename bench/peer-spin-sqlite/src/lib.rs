//! The peer the Spin build is measured against: what one writes by hand for
//! `GET /todos/{id}` with spin-sdk 5.2, `#[http_component]`, Spin's SQLite and serde, no
//! settings, no validation beyond the id, no ETag. It reads the todo component's table.

use serde::Serialize;
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use spin_sdk::sqlite::{Connection, Value};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Todo<'a> {
    id: i64,
    title: &'a str,
    due_by: Option<&'a str>,
    is_complete: bool,
}

#[http_component]
fn handle(request: Request) -> anyhow::Result<impl IntoResponse> {
    let Some(id) = request
        .path()
        .strip_prefix("/todos/")
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return Ok(Response::new(404, ()));
    };
    let connection = Connection::open_default()?;
    let result = connection.execute(
        "SELECT id, title, due_by, is_complete FROM todos WHERE id = ?",
        &[Value::Integer(id)],
    )?;
    let Some(row) = result.rows().next() else {
        return Ok(Response::new(404, ()));
    };
    let todo = Todo {
        id: row.get("id").unwrap_or(id),
        title: row.get("title").unwrap_or_default(),
        due_by: row.get("due_by"),
        is_complete: row.get::<i64>("is_complete").unwrap_or(0) != 0,
    };
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&todo)?)
        .build())
}
