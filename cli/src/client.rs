//! The client side of the HTTP API, for `xinlian tx`, `xinlian query` and `xinlian load`.

use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::Value;

/// The default node address (`--rpc`, else `$XINLIAN_RPC`, else this).
pub const DEFAULT_RPC: &str = "http://127.0.0.1:8600";

/// `--rpc URL`, shared by every client command.
#[derive(Debug, clap::Args)]
pub struct RpcArgs {
    /// The node's HTTP API.
    #[arg(long, value_name = "URL", env = "XINLIAN_RPC", default_value = DEFAULT_RPC)]
    pub rpc: String,
}

/// A blocking HTTP client that returns every status with its body (a 4xx's body says why).
pub struct Client {
    agent: ureq::Agent,
    base: String,
}

/// An answer: status and JSON body (or the body text as a JSON string when it is not JSON).
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl Answer {
    /// The body's `error` field, or the whole body.
    pub fn error_text(&self) -> String {
        match self.body.get("error").and_then(Value::as_str) {
            Some(e) => e.to_string(),
            None => self.body.to_string(),
        }
    }
}

impl Client {
    /// A client of the node at `base` (`http://127.0.0.1:8600`); every status comes back as
    /// an [`Answer`], only failing to reach the node is an error.
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client { agent, base: base.trim_end_matches('/').to_string() }
    }

    fn answer(&self, what: &str, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> anyhow::Result<Answer> {
        let mut resp =
            r.with_context(|| format!("{what}: cannot reach the node at {} (is `xinlian run` up?)", self.base))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().with_context(|| format!("{what}: reading the answer"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body })
    }

    /// `GET base+path`.
    pub fn get(&self, path: &str) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.base);
        self.answer(&format!("GET {path}"), self.agent.get(&url).call())
    }

    /// `POST base+path` with a JSON body.
    pub fn post_json(&self, path: &str, body: &str) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.base);
        self.answer(
            &format!("POST {path}"),
            self.agent.post(&url).header("content-type", "application/json").send(body),
        )
    }

    /// Any method on `base+path`, with an optional JSON body (for tests of the API's edges).
    pub fn send(&self, method: &str, path: &str, body: Option<&str>) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.base);
        let m = ureq::http::Method::from_bytes(method.as_bytes()).with_context(|| format!("method {method:?}"))?;
        let mut req = ureq::http::Request::builder().method(m).uri(&url);
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(body.unwrap_or("").to_string()).with_context(|| format!("{method} {path}"))?;
        self.answer(&format!("{method} {path}"), self.agent.run(req))
    }

    /// The node's chain id, from `/status`.
    pub fn chain_id(&self) -> anyhow::Result<String> {
        let a = self.get("/status")?;
        if a.status != 200 {
            bail!("GET /status: HTTP {}: {}", a.status, a.error_text());
        }
        a.body
            .get("chain_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .context("GET /status: no chain_id in the answer")
    }
}
