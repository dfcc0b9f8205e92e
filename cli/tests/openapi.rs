//! The OpenAPI document as a contract (issue 15): what `GET /openapi.json` says is what the
//! router serves, route by route and method by method, and the copy checked in beside the
//! client libraries (`clients/openapi.json`) is that document.

#![allow(clippy::unwrap_used, reason = "tests: a failed unwrap is a failed test")]

mod common;

use common::{temp_dir, NodeProc, BIN, TEST_CONFIG};
use serde_json::Value;

/// The SM2 base point: a valid public key for `{pubkey}`.
const G: &str = "0432c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0";

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// A concrete path for a documented template: each `{param}` gets a value of its documented form.
fn concrete(template: &str) -> String {
    let zeros = "0".repeat(64);
    template.replace("{id}", &zeros).replace("{which}", "0").replace("{key}", "k").replace("{pubkey}", G)
}

/// Whether an answer came from the router's fallback (no route matched the path).
fn is_fallback(status: u16, body: &Value) -> bool {
    status == 404 && body["error"].as_str().is_some_and(|e| e.starts_with("no such route"))
}

#[test]
fn the_served_document_lists_exactly_the_routes_and_methods_the_router_serves() {
    let dir = temp_dir("openapi");
    let node = NodeProc::start(BIN, &dir.join("data"), TEST_CONFIG);
    let client = xinlian::client::Client::new(&node.url);
    let doc = client.get("/openapi.json").unwrap();
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0", "not an OpenAPI 3.1 document");
    let paths = doc.body["paths"].as_object().unwrap();
    let mut templates: Vec<&str> = paths.keys().map(String::as_str).collect();
    templates.sort_unstable();
    assert_eq!(
        templates,
        [
            "/account/{pubkey}",
            "/block/{which}",
            "/metrics",
            "/openapi.json",
            "/state/{key}",
            "/status",
            "/tx",
            "/tx/{id}"
        ]
    );
    for (template, item) in paths {
        let path = concrete(template);
        for method in METHODS {
            let documented = item.get(method.to_lowercase()).is_some();
            let body = (method != "GET").then_some("{}");
            // A fresh client (and connection) per request: a 405 to a request with a body may
            // close the connection, and a pooled one reused after that would fail to send.
            let a = xinlian::client::Client::new(&node.url)
                .send(method, &path, body)
                .unwrap_or_else(|e| panic!("{method} {path}: {e:#}"));
            assert!(!is_fallback(a.status, &a.body), "{method} {path}: no route serves it: {}", a.body);
            if documented {
                assert_ne!(a.status, 405, "{method} {path} is documented but not served: {}", a.body);
            } else {
                assert_eq!(a.status, 405, "{method} {path} is served but not documented: {}", a.body);
            }
        }
    }
    let a = client.get("/openapi.yaml").unwrap();
    assert!(is_fallback(a.status, &a.body), "an undocumented path is not served: {}", a.body);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_error_answer_is_documented_with_the_error_body_and_its_kinds() {
    let doc: Value = serde_json::from_str(xinlian_node::openapi::document_json()).unwrap();
    let kinds: Vec<&str> = doc["components"]["schemas"]["ErrorKind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        kinds,
        [
            "malformed",
            "wrong_chain",
            "bad_signature",
            "duplicate",
            "replay",
            "mempool_full",
            "shutting_down",
            "unavailable",
            "bad_request",
            "not_found",
            "method_not_allowed",
            "payload_too_large",
            "request_timeout",
            "internal"
        ]
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, answer) in op["responses"].as_object().unwrap() {
                let schema = &answer["content"]["application/json"]["schema"];
                if status.starts_with('4') || status == "500" {
                    assert_eq!(schema["$ref"], "#/components/schemas/ErrorBody", "{method} {path} {status}");
                } else if status != "200" || path != "/metrics" {
                    assert!(schema.is_object(), "{method} {path} {status}: no JSON schema: {answer}");
                }
            }
        }
    }
}

/// `clients/openapi.json` is the served document, byte for byte. After a change to the API,
/// `XINLIAN_BLESS=1 cargo test -p xinlian --test openapi` rewrites it.
#[test]
fn the_checked_in_copy_is_the_served_document() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/openapi.json");
    let served = format!("{}\n", xinlian_node::openapi::document_json());
    if std::env::var_os("XINLIAN_BLESS").is_some() {
        std::fs::write(&path, &served).unwrap();
    }
    let copy = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        copy == served,
        "{} differs from GET /openapi.json: run XINLIAN_BLESS=1 cargo test --test openapi",
        path.display()
    );
}
