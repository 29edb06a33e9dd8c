//! Keeps `/openapi.json` in step with the route table: every route and method the code
//! serves is documented, and the document promises nothing the code does not serve.

use std::collections::BTreeSet;

use serde_json::Value;
use todo_api::api;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[test]
fn the_document_lists_exactly_the_routes_and_methods_the_api_serves() {
    let document: Value =
        serde_json::from_slice(&api::openapi_json()).expect("openapi.json parses");
    assert_eq!(document["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|key| METHODS.contains(&key.as_str()))
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = api::routes()
        .into_iter()
        .flat_map(|(path, methods)| {
            methods
                .into_iter()
                .map(move |method| (path.to_string(), method.as_str().to_ascii_lowercase()))
        })
        .collect();
    assert_eq!(documented, served);
}

#[test]
fn every_schema_reference_resolves() {
    let document: Value = serde_json::from_slice(&api::openapi_json()).unwrap();
    let mut references = Vec::new();
    collect_refs(&document, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let pointer = reference.strip_prefix('#').expect("local reference");
        assert!(document.pointer(pointer).is_some(), "{reference} resolves");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                out.push(reference.clone());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn the_document_promises_only_statuses_the_api_answers_with() {
    let document: Value = serde_json::from_slice(&api::openapi_json()).unwrap();
    let statuses = api::statuses();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(responses) = operation["responses"].as_object() else {
                continue;
            };
            for status in responses.keys() {
                let status: u16 = status.parse().expect("numeric status");
                assert!(statuses.contains(&status), "{method} {path}: {status}");
            }
        }
    }
}

#[test]
fn the_readme_lists_exactly_the_statuses_the_api_answers_with() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme
        .split_once("The statuses the API answers with are exactly these")
        .expect("the README's status table")
        .1;
    let listed: BTreeSet<u16> = table
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .filter_map(|row| row.split('|').nth(1))
        .flat_map(|cell| cell.split('`').filter_map(|code| code.parse::<u16>().ok()))
        .collect();
    assert_eq!(listed, api::statuses().into_iter().collect::<BTreeSet<_>>());
}
