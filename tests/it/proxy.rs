//! A hostile server for the hostile-server suite: an HTTP/1.1 proxy in front of the real
//! server that records every request that reaches it and lets a test rewrite real answers
//! (or answer in the server's place). Clients talk to it exactly as to a server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use vouchsafe_client::Client;

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub body: String,
}

/// An answer, as the real server gave it, for a rule to rewrite.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The body as JSON (for rules that edit fields).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn set_json(&mut self, v: &serde_json::Value) {
        self.body = v.to_string();
    }
}

type Rule = Box<dyn FnMut(&Seen, &mut Answer) + Send>;

pub struct HostileProxy {
    pub url: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl HostileProxy {
    /// A proxy in front of `upstream` (a base URL).
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let (r, s, up) = (rules.clone(), seen.clone(), upstream.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s, up) = (r.clone(), s.clone(), up.clone());
                std::thread::spawn(move || serve(stream, &up, &r, &s));
            }
        });
        Self { url, rules, seen }
    }

    /// A client that talks to the proxy.
    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// Rewrites every answer (rules run in the order added).
    pub fn rewrite(&self, rule: impl FnMut(&Seen, &mut Answer) + Send + 'static) {
        self.rules.lock().unwrap().push(Box::new(rule));
    }

    /// Rewrites answers to `method` requests whose path (without the query) ends with `suffix`.
    pub fn on(&self, method: &'static str, suffix: String, mut f: impl FnMut(&Seen, &mut Answer) + Send + 'static) {
        self.rewrite(move |req, ans| {
            let path = req.path.split('?').next().unwrap_or("");
            if req.method == method && path.ends_with(&suffix) {
                f(req, ans)
            }
        });
    }

    /// Removes every rule: the proxy passes answers through again.
    pub fn honest(&self) {
        self.rules.lock().unwrap().clear();
    }

    /// Forgets what it saw.
    pub fn clear_seen(&self) {
        self.seen.lock().unwrap().clear();
    }

    /// Requests that reached the server since the last [`Self::clear_seen`].
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Whether any request with this method and path fragment reached the server.
    pub fn reached(&self, method: &str, fragment: &str) -> bool {
        self.seen().iter().any(|s| s.method == method && s.path.contains(fragment))
    }
}

fn serve(stream: TcpStream, upstream: &str, rules: &Mutex<Vec<Rule>>, seen: &Mutex<Vec<Seen>>) {
    let mut out = match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    };
    let mut r = BufReader::new(stream);
    let client = Client::new(upstream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else { return };
        let (method, path) = (method.to_owned(), path.to_owned());
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.parse().unwrap_or(0);
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let pass = |k: &str| headers.iter().find(|(h, _)| h.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
        let content_type = pass("content-type").unwrap_or_else(|| "application/json".into());
        let mut fwd: Vec<(&str, String)> = Vec::new();
        if let Some(a) = pass("authorization") {
            fwd.push(("Authorization", a));
        }
        if let Some(a) = pass("user-agent") {
            fwd.push(("User-Agent", a));
        }
        let fwd_ref: Vec<(&str, &str)> = fwd.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let req = Seen { method: method.clone(), path: path.clone(), body: body.clone() };
        seen.lock().unwrap().push(req.clone());
        let raw = client.raw(
            &method,
            &path,
            (!body.is_empty() || method == "POST" || method == "PUT" || method == "PATCH")
                .then_some((content_type.as_str(), body.as_str())),
            &fwd_ref,
        );
        let mut ans = match raw {
            Ok(resp) => Answer { status: resp.status, body: resp.body },
            Err(e) => Answer { status: 502, body: format!("{{\"error\":{{\"code\":\"proxy\",\"message\":\"{e}\"}}}}") },
        };
        for rule in rules.lock().unwrap().iter_mut() {
            rule(&req, &mut ans);
        }
        let reason = if ans.status < 400 { "OK" } else { "Error" };
        let head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            ans.status,
            ans.body.len()
        );
        if out.write_all(head.as_bytes()).and_then(|_| out.write_all(ans.body.as_bytes())).is_err() {
            return;
        }
    }
}
