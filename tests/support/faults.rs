//! Upstreams that misbehave in one precise way, for the fault tests: each
//! accepts on 127.0.0.1, reads the request head and then does its one
//! wrong thing. Threads end with the test process.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// Answers nothing, holds the connection.
    StallHeaders,
    /// Closes with unread data pending, which makes the kernel send RST.
    Reset,
    /// Promises 1000 bytes, sends 10, closes.
    Truncate,
    /// Starts an SSE stream, sends one event, closes without ending it.
    CutStream,
    /// Answers 200 with a body after `ms` milliseconds.
    SlowBody(u64),
    /// Answers this status with `retry-after: 30`, like a rate-limited key.
    Status(u16),
}

/// A port nothing listens on.
pub fn refusing_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// The whole request, head and body, as a provider reads it before it
/// answers: a server that answers and closes with the body unread makes
/// the kernel reset the connection under the response.
fn read_request(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    while !super::lifecycle::request_complete(&buf) {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    buf
}

pub fn start(fault: Fault) -> SocketAddr {
    start_counting(fault).0
}

/// Also counts the connections it accepted.
pub fn start_counting(fault: Fault) -> (SocketAddr, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || serve(s, fault));
        }
    });
    (addr, hits)
}

fn serve(mut s: TcpStream, fault: Fault) {
    match fault {
        Fault::Reset => {
            // Leave the head unread: closing then resets the connection.
            std::thread::sleep(Duration::from_millis(50));
        }
        Fault::StallHeaders => {
            read_request(&mut s);
            std::thread::sleep(Duration::from_secs(60));
        }
        Fault::Truncate => {
            read_request(&mut s);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"id\":\"x\",");
            let _ = s.flush();
        }
        Fault::CutStream => {
            read_request(&mut s);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n");
            let event = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n";
            let _ = write!(s, "{:x}\r\n", event.len());
            let _ = s.write_all(event);
            let _ = s.write_all(b"\r\n");
            let _ = s.flush();
            std::thread::sleep(Duration::from_millis(100));
        }
        Fault::Status(code) => {
            read_request(&mut s);
            let body = format!("{{\"error\":{{\"type\":\"fault\",\"code\":{code}}}}}");
            let _ = write!(
                s,
                "HTTP/1.1 {code} Fault\r\ncontent-type: application/json\r\nretry-after: 30\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Fault::SlowBody(ms) => {
            read_request(&mut s);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{\"slow\":");
            let _ = s.flush();
            std::thread::sleep(Duration::from_millis(ms));
            let _ = s.write_all(b"\"body\",\"x\":1}");
        }
    }
}
