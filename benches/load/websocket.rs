//! Scenario 8: WebSocket sessions. A ~200-byte JSON text frame (the size
//! of a Realtime event) sent and echoed back by the upstream (echo.rs):
//! (a) one connection, one round trip at a time: what a frame waits for;
//! (b) 32 connections in closed-loop ping-pong: frames relayed per second
//! (both directions counted) and the proxy's CPU per relayed frame. Each
//! round runs (a) then (b) on every path, a different path first each
//! round; the medians of the rounds are reported. A round trip crosses the
//! proxy twice (client → upstream, then the echo back).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::procs::Proc;
use crate::report::{median, num, percentile, spread, Row};
use crate::tools::AUTH;
use crate::versus;

const STRAIT_PATH: &str = "/openai_passthrough/v1/realtime?model=bench";
const PLAIN_PATH: &str = "/v1/realtime?model=bench";
const CONNECTIONS: usize = 32;
const WARM_UP: usize = 300;
const ROUND_TRIPS: usize = 3000;

type Ws = WebSocketStream<TcpStream>;

pub struct Setup<'a> {
    pub strait: &'a Path,
    pub base: Option<&'a PathBuf>,
    pub upstream: u16,
    pub dir: &'a Path,
    pub threads: usize,
    pub seconds: u64,
    pub rounds: usize,
}

struct Path8<'a> {
    name: &'static str,
    port: u16,
    path: &'static str,
    proc: Option<&'a Proc>,
}

/// One path's figures, one entry per round.
#[derive(Default)]
struct Figures {
    p50: Vec<f64>,
    p99: Vec<f64>,
    fps: Vec<f64>,
    cpu_us: Vec<f64>,
}

/// A Realtime-like server event of about 200 bytes; no usage in it, as in
/// most of a session's frames.
fn frame() -> Message {
    let head = r#"{"type":"response.output_text.delta","event_id":"event_bench0001","response_id":"resp_bench","item_id":"item_bench","output_index":0,"content_index":0,"delta":""#;
    let tail = r#""}"#;
    let pad = 200usize.saturating_sub(head.len() + tail.len()).max(1);
    Message::text(format!("{head}{}{tail}", "x".repeat(pad)))
}

async fn connect(port: u16, path: &str) -> Result<Ws, String> {
    let stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let mut req = format!("ws://127.0.0.1:{port}{path}")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    // strait's virtual key; the upstream and the other proxies ignore it.
    req.headers_mut()
        .insert("authorization", AUTH.parse().expect("value"));
    let (ws, _) = tokio_tungstenite::client_async(req, stream)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ws)
}

/// One frame out, its echo back.
async fn round_trip(ws: &mut Ws, msg: &Message) -> Result<(), String> {
    ws.send(msg.clone()).await.map_err(|e| e.to_string())?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.len() == msg.len() => return Ok(()),
            Some(Ok(Message::Text(_) | Message::Binary(_))) => return Err("wrong echo".into()),
            Some(Ok(Message::Close(c))) => return Err(format!("closed: {c:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("connection ended".into()),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// (a): round-trip p50 and p99 in µs over one connection.
fn latency(port: u16, path: &str) -> Result<(f64, f64), String> {
    runtime().block_on(async {
        let mut ws = connect(port, path).await?;
        let msg = frame();
        for _ in 0..WARM_UP {
            round_trip(&mut ws, &msg).await?;
        }
        let mut us = Vec::with_capacity(ROUND_TRIPS);
        for _ in 0..ROUND_TRIPS {
            let t0 = Instant::now();
            round_trip(&mut ws, &msg).await?;
            us.push(t0.elapsed().as_secs_f64() * 1e6);
        }
        let _ = ws.close(None).await;
        Ok((percentile(&mut us, 50.0), percentile(&mut us, 99.0)))
    })
}

/// (b): frames relayed (both directions) by `CONNECTIONS` connections in
/// closed-loop ping-pong for `seconds`; frames per second and the frame
/// count. Every connection opens before the clock starts.
fn throughput(port: u16, path: &str, seconds: u64) -> Result<(f64, u64), String> {
    runtime().block_on(async {
        let mut conns = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            conns.push(connect(port, path).await?);
        }
        let frames = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let t0 = Instant::now();
        let tasks: Vec<_> = conns
            .into_iter()
            .map(|mut ws| {
                let (frames, stop) = (frames.clone(), stop.clone());
                tokio::spawn(async move {
                    let msg = frame();
                    while !stop.load(Ordering::Relaxed) {
                        round_trip(&mut ws, &msg).await?;
                        frames.fetch_add(2, Ordering::Relaxed);
                    }
                    let _ = ws.close(None).await;
                    Ok::<(), String>(())
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let elapsed = t0.elapsed().as_secs_f64();
        let n = frames.load(Ordering::Relaxed);
        for t in tasks {
            t.await.map_err(|e| e.to_string())??;
        }
        Ok((n as f64 / elapsed, n))
    })
}

fn proxied<'a>(name: &'static str, p: &'a Proc, path: &'static str) -> Path8<'a> {
    Path8 {
        name,
        port: p.port,
        path,
        proc: Some(p),
    }
}

/// The rows of scenario 8.
pub fn sessions(s: &Setup, rows: &mut Vec<Row>) {
    let strait = Proc::strait(s.strait, s.upstream, s.dir, s.threads, false);
    let base = s
        .base
        .map(|b| Proc::strait(b, s.upstream, s.dir, s.threads, false));
    let bare = Proc::bare(s.upstream, s.threads, false);
    let nginx = Proc::nginx(s.upstream, s.dir, s.threads);
    let mut paths = vec![Path8 {
        name: "direct",
        port: s.upstream,
        path: PLAIN_PATH,
        proc: None,
    }];
    paths.extend(nginx.as_ref().map(|n| proxied("nginx", n, PLAIN_PATH)));
    paths.push(proxied("bare", &bare, STRAIT_PATH));
    paths.push(proxied("strait", &strait, STRAIT_PATH));
    paths.extend(
        base.as_ref()
            .map(|b| proxied("strait-base", b, STRAIT_PATH)),
    );
    // A path whose handshake or relay fails (an older strait without
    // WebSocket sessions) is dropped, with the reason, and shows "—".
    paths.retain(|p| match latency(p.port, p.path) {
        Ok(_) => true,
        Err(e) => {
            eprintln!("8. {}: no WebSocket session ({e}); left out", p.name);
            false
        }
    });
    let mut all: Vec<Figures> = paths.iter().map(|_| Figures::default()).collect();
    for round in 0..s.rounds {
        for k in 0..paths.len() {
            let i = (k + round) % paths.len();
            let p = &paths[i];
            let f = &mut all[i];
            let (p50, p99) = match latency(p.port, p.path) {
                Ok(l) => l,
                Err(e) => panic!("8. {}: round trips fail: {e}", p.name),
            };
            let cpu0 = p.proc.map(|p| p.cpu_seconds());
            let (fps, frames) = match throughput(p.port, p.path, s.seconds) {
                Ok(t) => t,
                Err(e) => panic!("8. {}: closed loop fails: {e}", p.name),
            };
            let cpu =
                cpu0.map(|c0| (p.proc.unwrap().cpu_seconds() - c0) * 1e6 / frames.max(1) as f64);
            eprintln!(
                "8. round {}/{} {}: round trip p50 {:.0} µs p99 {:.0} µs; {:.0} frames/s, CPU {} µs/frame",
                round + 1,
                s.rounds,
                p.name,
                p50,
                p99,
                fps,
                cpu.map_or("—".into(), num)
            );
            f.p50.push(p50);
            f.p99.push(p99);
            f.fps.push(fps);
            f.cpu_us.extend(cpu);
        }
    }
    let med = |get: fn(&Figures) -> &Vec<f64>| {
        let v: Vec<(&'static str, f64)> = paths
            .iter()
            .zip(&all)
            .filter(|(_, f)| !get(f).is_empty())
            .map(|(p, f)| (p.name, median(get(f))))
            .collect();
        move |name: &str| crate::pick(&v, name)
    };
    let spreads = |get: fn(&Figures) -> &Vec<f64>, metric: &str| {
        let mut row = Row::new("", metric);
        for (p, f) in paths.iter().zip(&all) {
            if !get(f).is_empty() {
                row = row.cell(p.name, spread(get(f)));
            }
        }
        row
    };
    let p50 = med(|f| &f.p50);
    let added = |name: &str| {
        p50(name)
            .zip(p50("direct"))
            .map(|(p, d)| format!("{name} {:+.0} µs", p - d))
    };
    let added_all = ["strait", "bare", "nginx", "strait-base"]
        .into_iter()
        .filter_map(added)
        .collect::<Vec<_>>()
        .join(", ");
    rows.push(
        Row::new(
            &format!(
                "8. WebSocket, 1 conn, ping-pong of a 200-byte text frame, {ROUND_TRIPS} round trips (median of {} rounds)",
                s.rounds
            ),
            "round trip p50 µs (2 proxy crossings)",
        )
        .values(&p50)
        .compare(format!(
            "added p50 over direct: {added_all}; {}",
            versus(&p50)
        )),
    );
    let p99 = med(|f| &f.p99);
    rows.push(
        Row::new("", "round trip p99 µs")
            .values(&p99)
            .compare(versus(&p99)),
    );
    let fps = med(|f| &f.fps);
    rows.push(
        Row::new(
            &format!(
                "8. WebSocket, {CONNECTIONS} conns, closed-loop ping-pong (median of {} rounds)",
                s.rounds
            ),
            "frames relayed/s (both directions)",
        )
        .values(&fps)
        .compare(versus(&fps)),
    );
    rows.push(spreads(|f| &f.fps, "frames/s, min–max of the rounds"));
    let cpu = med(|f| &f.cpu_us);
    rows.push(
        Row::new(
            "",
            "CPU µs per relayed frame (utime + stime of the proxy's processes / frames)",
        )
        .values(&cpu)
        .compare(versus(&cpu)),
    );
    rows.push(spreads(
        |f| &f.cpu_us,
        "CPU µs per relayed frame, min–max of the rounds",
    ));
}
