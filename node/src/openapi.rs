//! The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json`.
//!
//! Owns: the document's title, version and the text around the routes. Never: a route or a body
//! shape written here by hand; those come from the handlers' `#[utoipa::path]` and the answer
//! types (`rpc`, `rpc_types`, `http_errors`, `chain::json`), through `rpc::routes`.

use std::sync::OnceLock;

use utoipa::OpenApi;

use crate::http_errors::ErrorKind;

/// The document's fixed parts; the paths are added by `rpc::routes`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "xinlian HTTP API",
        description = "A consortium-chain node's HTTP API: JSON in and out, bytes as hex (either case, an \
            optional 0x prefix on input; lowercase on output). Every error body is {\"error\", \"kind\"}; \
            the kinds are the ErrorKind schema. README, \"HTTP API\", has the byte layouts a client signs.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(ErrorKind)),
    tags(
        (name = "transactions", description = "Submit transactions and follow them"),
        (name = "blocks", description = "Committed blocks"),
        (name = "state", description = "Records and accounts"),
        (name = "node", description = "The node itself"),
    )
)]
struct ApiDoc;

/// The document without its paths.
pub(crate) fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The whole document: every route the router serves.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = crate::rpc::routes().split_for_parts().1;
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The document as JSON, built once.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| document().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")))
}
