//! A minimal HTTP/1.1 keep-alive GET client on tokio, so the generator can hold many connections
//! on one thread and measure the server rather than itself (no JSON parsing of answers).

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Makes the (path, JSON body) of the n-th `PUT`.
pub type MakePut = std::sync::Arc<dyn Fn(usize) -> (String, String)>;

/// What one connection does, over and over until the deadline.
#[derive(Clone)]
pub enum Work<'a> {
    /// `GET` each path in turn; one latency per request.
    Get(&'a [String]),
    /// `PUT` the (path, JSON body) the function makes for the n-th request; one latency each.
    Put(MakePut),
    /// `POST` each (path, JSON body) in turn; one latency per request.
    Post(&'a [(String, String)]),
    /// Walk all pages of an item list (`path?limit=500`, then `&cursor=…` from each answer's
    /// `next_cursor`); one latency per whole walk.
    Walk(&'a str),
}

/// Runs `conns` connections for `secs` with `auth` (a bearer token); returns (latencies of
/// successful units, errors).
/// Connection `c` goes to `addrs[c % addrs.len()]` (several servers over one database).
pub fn hammer(addrs: &[String], conns: usize, secs: f64, work: Work<'_>, auth: Option<&str>) -> (Vec<Duration>, usize) {
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(_) => return (Vec::new(), 1),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let mut tasks = Vec::new();
        for c in 0..conns {
            let addr = addrs[c % addrs.len().max(1)].clone();
            let auth = auth.map(str::to_owned);
            let work = match &work {
                Work::Get(p) => OwnedWork::Get(p.to_vec()),
                Work::Walk(p) => OwnedWork::Walk((*p).to_owned()),
                Work::Put(f) => OwnedWork::Put(f.clone()),
                Work::Post(p) => OwnedWork::Post(p.to_vec()),
            };
            tasks.push(tokio::task::spawn_local(async move { conn(&addr, auth.as_deref(), work, c, deadline).await }));
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

enum OwnedWork {
    Get(Vec<String>),
    Post(Vec<(String, String)>),
    Put(MakePut),
    Walk(String),
}

fn request(addr: &str, path: &str, auth: Option<&str>) -> Vec<u8> {
    with_body("GET", addr, path, auth, None)
}

fn with_body(method: &str, addr: &str, path: &str, auth: Option<&str>, json: Option<&str>) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if let Some(t) = auth {
        r.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = json {
        r.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()));
    } else {
        r.push_str("\r\n");
    }
    r.into_bytes()
}

/// Sends one request and reads the answer into `buf`; returns (status, body range).
async fn exchange(s: &mut TcpStream, req: &[u8], buf: &mut Vec<u8>) -> Option<(u16, std::ops::Range<usize>)> {
    s.write_all(req).await.ok()?;
    buf.clear();
    let mut chunk = [0u8; 64 * 1024];
    let (head_end, status, len) = loop {
        let n = s.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..p]).to_ascii_lowercase();
            let status: u16 = head.get(9..12).and_then(|x| x.parse().ok()).unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            break (p + 4, status, len);
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((status, head_end..head_end + len))
}

/// The `next_cursor` of a list answer, found by a scan from the end (it is the last key).
fn next_cursor(body: &[u8]) -> Option<String> {
    let key = b"\"next_cursor\":\"";
    let at = body.windows(key.len()).rposition(|w| w == key)? + key.len();
    let end = body[at..].iter().position(|b| *b == b'"')? + at;
    String::from_utf8(body[at..end].to_vec()).ok()
}

fn success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// One unit of work (a request, or a whole list walk): `Some(succeeded)`, or `None` when the
/// connection broke.
async fn unit(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    addr: &str,
    auth: Option<&str>,
    work: &OwnedWork,
    gets: &[Vec<u8>],
    n: usize,
) -> Option<bool> {
    match work {
        OwnedWork::Get(_) | OwnedWork::Post(_) => Some(success(exchange(s, &gets[n % gets.len()], buf).await?.0)),
        OwnedWork::Put(make) => {
            let (path, body) = make(n);
            Some(success(exchange(s, &with_body("PUT", addr, &path, auth, Some(&body)), buf).await?.0))
        }
        OwnedWork::Walk(path) => {
            let mut cursor: Option<String> = None;
            loop {
                let p = match &cursor {
                    Some(c) => format!("{path}?limit=500&cursor={c}"),
                    None => format!("{path}?limit=500"),
                };
                let (status, body) = exchange(s, &request(addr, &p, auth), buf).await?;
                if !success(status) {
                    return Some(false);
                }
                match next_cursor(&buf[body]) {
                    Some(c) => cursor = Some(c),
                    None => return Some(true),
                }
            }
        }
    }
}

async fn conn(
    addr: &str,
    auth: Option<&str>,
    work: OwnedWork,
    offset: usize,
    deadline: Instant,
) -> (Vec<Duration>, usize) {
    let mut lat = Vec::new();
    let mut errors = 0;
    let Ok(mut s) = TcpStream::connect(addr).await else { return (lat, 1) };
    let _ = s.set_nodelay(true);
    let mut buf = Vec::with_capacity(1 << 20);
    // GET and POST requests are built once; each connection starts at its own offset in the list.
    let gets: Vec<Vec<u8>> = match &work {
        OwnedWork::Get(paths) => paths.iter().map(|p| request(addr, p, auth)).collect(),
        OwnedWork::Post(reqs) => reqs.iter().map(|(p, b)| with_body("POST", addr, p, auth, Some(b))).collect(),
        _ => Vec::new(),
    };
    let mut n = offset;
    while Instant::now() < deadline {
        let t0 = Instant::now();
        match unit(&mut s, &mut buf, addr, auth, &work, &gets, n).await {
            None => return (lat, errors + 1),
            Some(true) => lat.push(t0.elapsed()),
            Some(false) => errors += 1,
        }
        n += 1;
    }
    (lat, errors)
}
