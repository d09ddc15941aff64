//! A minimal HTTP/1.1 keep-alive GET client on tokio, so the generator can hold 64 connections
//! on one thread and measure the server rather than itself.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Runs `conns` connections for `secs`, each sending `GET path` with `auth` (a bearer token)
/// as fast as answers come; returns (latencies of 2xx answers, errors).
pub fn hammer(addr: &str, conns: usize, secs: f64, paths: &[String], auth: Option<&str>) -> (Vec<Duration>, usize) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(_) => return (Vec::new(), 1),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let mut tasks = Vec::new();
        for c in 0..conns {
            let addr = addr.to_owned();
            let reqs: Vec<Vec<u8>> = paths
                .iter()
                .map(|p| {
                    let mut r = format!("GET {p} HTTP/1.1\r\nHost: {addr}\r\n");
                    if let Some(t) = auth {
                        r.push_str(&format!("Authorization: Bearer {t}\r\n"));
                    }
                    r.push_str("\r\n");
                    r.into_bytes()
                })
                .collect();
            tasks.push(tokio::task::spawn_local(async move { conn(&addr, &reqs, c, deadline).await }));
        }
        let mut lat = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (l, e) = t.await.unwrap_or((Vec::new(), 1));
            lat.extend(l);
            errors += e;
        }
        (lat, errors)
    })
}

async fn conn(addr: &str, reqs: &[Vec<u8>], offset: usize, deadline: Instant) -> (Vec<Duration>, usize) {
    let mut lat = Vec::new();
    let mut errors = 0;
    let Ok(mut s) = TcpStream::connect(addr).await else { return (lat, 1) };
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let mut i = offset;
    while Instant::now() < deadline {
        let t0 = Instant::now();
        if s.write_all(&reqs[i % reqs.len()]).await.is_err() {
            return (lat, errors + 1);
        }
        i += 1;
        // Read headers, then Content-Length bytes of body.
        let mut have = 0;
        let (head_end, status, len) = loop {
            match s.read(&mut buf[have..]).await {
                Ok(0) | Err(_) => return (lat, errors + 1),
                Ok(n) => have += n,
            }
            if let Some(p) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
                let status: u16 = head.get(9..12).and_then(|x| x.parse().ok()).unwrap_or(0);
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                    .unwrap_or(0);
                break (p + 4, status, len);
            }
            if have == buf.len() {
                return (lat, errors + 1);
            }
        };
        let mut body = have - head_end;
        while body < len {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return (lat, errors + 1),
                Ok(n) => body += n,
            }
        }
        if (200..300).contains(&status) {
            lat.push(t0.elapsed());
        } else {
            errors += 1;
        }
    }
    (lat, errors)
}
