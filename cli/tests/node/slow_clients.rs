//! Slow and idle clients cannot lock the API (issue 14, point 4): the header and body
//! timeouts close them, and the connection bound holds while they are open.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::common::{temp_dir, Http, NodeProc, BIN};
use xinlian_testkit::{put, signed, tx_json as json};

/// The ways a client can hold a connection without finishing a request.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Hostile {
    /// Connects and sends nothing.
    Idle,
    /// Sends half a request head.
    HalfHeaders,
    /// Sends a whole head announcing 100 bytes of body, then 1 byte.
    HalfBody,
    /// Sends one whole request, reads the answer, then stays (keep-alive) and sends nothing.
    KeptAlive,
}

const KINDS: [Hostile; 4] = [Hostile::Idle, Hostile::HalfHeaders, Hostile::HalfBody, Hostile::KeptAlive];

/// This test process opens over a thousand sockets: make room the way the node does for its
/// own connections (soft open-file limit raised towards the hard one).
fn raise_own_open_file_limit(connections: usize) {
    let fits = xinlian_node::listener::raise_open_file_limit(connections);
    assert!(fits >= connections.min(1_100), "only {fits} connections fit this process's open-file limit");
}

fn open(addr: &str, kind: Hostile) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect to the node");
    let sent: &[u8] = match kind {
        Hostile::Idle => b"",
        Hostile::HalfHeaders => b"POST /tx HTTP/1.1\r\nHost: node\r\nContent-Ty",
        Hostile::HalfBody => b"POST /tx HTTP/1.1\r\nHost: node\r\nContent-Length: 100\r\n\r\n{",
        Hostile::KeptAlive => b"GET /status HTTP/1.1\r\nHost: node\r\n\r\n",
    };
    s.write_all(sent).expect("send");
    if kind == Hostile::KeptAlive {
        // Read the whole answer (Content-Length framed) so the connection is idle after it.
        s.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !complete_response(&got) {
            let n = s.read(&mut buf).expect("read the kept-alive answer");
            assert!(n > 0, "node closed a kept-alive connection before answering");
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got));
    }
    s
}

fn complete_response(got: &[u8]) -> bool {
    let text = String::from_utf8_lossy(got);
    let Some((head, body)) = text.split_once("\r\n\r\n") else { return false };
    let len = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>()))
        .and_then(Result::ok);
    len.is_some_and(|n| body.len() >= n)
}

/// Read until the node closes the connection; what it sent before closing.
fn read_until_closed(mut s: TcpStream, within: Duration) -> Result<String, String> {
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => Ok(String::from_utf8_lossy(&got).into_owned()),
        // A reset is a close too (the node dropped a connection with unread bytes).
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(String::from_utf8_lossy(&got).into_owned()),
        Err(e) => Err(format!("still open after {within:?} ({e})")),
    }
}

#[test]
fn a_thousand_slow_or_idle_connections_leave_the_api_answering_and_each_is_closed_by_its_timeout() {
    raise_own_open_file_limit(3_072);
    let dir = temp_dir("slow-clients");
    let config = "[rpc]\nheader_timeout_ms = 4000\nbody_timeout_ms = 4000\n\n[block]\ninterval_ms = 50\n\n\
                  [accel]\nbackends = [\"cpu\"]\n";
    let node = NodeProc::start(BIN, &dir.join("data"), config);
    let addr = node.url.trim_start_matches("http://").to_string();
    let http = Http::new(&node.url);

    let started = Instant::now();
    let conns: Vec<(Hostile, TcpStream)> =
        (0..1_000).map(|i| KINDS[i % KINDS.len()]).map(|k| (k, open(&addr, k))).collect();
    // With all of them open, the API still answers: a status and a new transaction.
    let (code, status) = http.get("/status");
    assert_eq!(code, 200, "{status}");
    let tx = signed(&xinlian_testkit::key(), "xinlian-dev", 1, put("slow-clients", "v"));
    let (code, body) = http.post("/tx", &json(&tx));
    assert_eq!(code, 202, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(4_000),
        "the checks ran after the timeouts could have closed the hostile connections ({:?}): they prove nothing",
        started.elapsed()
    );
    http.wait_committed(&hex::encode(tx.id()));

    // Then the node closes every one of them: the body timeout with a 408 in JSON.
    // One deadline for all: a node without timeouts fails this in 15 s, not 1,000 times 15 s.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut still_open = Vec::new();
    for (kind, s) in conns {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        match read_until_closed(s, left) {
            Ok(sent) if kind == Hostile::HalfBody => {
                assert!(sent.starts_with("HTTP/1.1 408"), "{kind:?}: {sent}");
                assert!(sent.contains("\"kind\":\"request_timeout\""), "{kind:?}: {sent}");
            }
            Ok(_) => {}
            Err(e) => still_open.push(format!("{kind:?}: {e}")),
        }
    }
    assert!(still_open.is_empty(), "{} connections not closed, first: {:?}", still_open.len(), still_open.first());
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn beyond_max_connections_the_node_waits_for_one_to_close_and_says_so() {
    let dir = temp_dir("max-connections");
    let config = "[rpc]\nmax_connections = 8\nheader_timeout_ms = 1500\n\n[accel]\nbackends = [\"cpu\"]\n";
    let node = NodeProc::start(BIN, &dir.join("data"), config);
    let addr = node.url.trim_start_matches("http://").to_string();
    let held: Vec<TcpStream> = (0..8).map(|_| open(&addr, Hostile::Idle)).collect();
    // The ninth is answered once the header timeout has closed an idle one.
    let (code, status) = Http::new(&node.url).get("/status");
    assert_eq!(code, 200, "{status}");
    let t = Instant::now();
    while !node.log().contains("HTTP connection limit reached") {
        assert!(t.elapsed() < Duration::from_secs(10), "no log line about the limit:\n{}", node.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(node.log().contains("max=8"), "{}", node.log());
    drop(held);
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}
