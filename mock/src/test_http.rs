//! A bare HTTP/1.1 client over `TcpStream` for the mock's own tests: exact bytes
//! out, the whole response back, no client library in between.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use serde_json::Value;

/// Sends one HTTP/1.1 request on `conn` and reads the whole response.
pub(crate) fn exchange(conn: &mut TcpStream, head: &str, body: &str) -> String {
    write!(
        conn,
        "{head}\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut buf = vec![0; 65536];
    let mut got = String::new();
    while !(got.contains("\r\n\r\n") && response_complete(&got)) {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed after: {got}");
        got.push_str(std::str::from_utf8(&buf[..n]).unwrap());
    }
    got
}

fn response_complete(r: &str) -> bool {
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    match head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
    {
        Some(n) => body.len() >= n.parse().unwrap(),
        None => body.ends_with("0\r\n\r\n"),
    }
}

/// One request on a fresh connection; returns the status and the body as JSON.
pub(crate) fn call(addr: SocketAddr, head: &str, body: &str) -> (u16, Value) {
    let mut conn = TcpStream::connect(addr).unwrap();
    let response = exchange(&mut conn, head, body);
    let status = response[9..12].parse().unwrap();
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"));
    (status, json)
}
