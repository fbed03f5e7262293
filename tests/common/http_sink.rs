//! A real HTTP server on a free loopback port that records every request it gets, for
//! the targets of notifications and pings: what path, what body, when. A path may be
//! told to fail its first requests with 500, to try a sender's retries.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: String,
    pub at: Instant,
    /// What the server answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    /// Path → how many more requests to it fail.
    failures: HashMap<String, u32>,
}

pub struct HttpSink {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

impl HttpSink {
    pub fn start() -> HttpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        HttpSink { port, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next `count` requests to `path` are answered 500.
    pub fn fail_first(&self, path: &str, count: u32) {
        self.state
            .lock()
            .unwrap()
            .failures
            .insert(path.to_string(), count);
    }

    /// The requests to `path` so far, in the order they came.
    pub fn requests(&self, path: &str) -> Vec<Request> {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }

    /// The bodies of the requests to `path` answered 200, as JSON.
    pub fn json_bodies(&self, path: &str) -> Vec<serde_json::Value> {
        self.requests(path)
            .into_iter()
            .filter(|request| request.status == 200)
            .map(|request| {
                serde_json::from_str(&request.body)
                    .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", request.body))
            })
            .collect()
    }
}

fn serve(stream: std::net::TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let status = {
        let mut state = state.lock().unwrap();
        let status = match state.failures.get_mut(&path) {
            Some(left) if *left > 0 => {
                *left -= 1;
                500
            }
            _ => 200,
        };
        state.requests.push(Request {
            method,
            path,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
            status,
        });
        status
    };
    let reason = if status == 200 {
        "OK"
    } else {
        "Internal Server Error"
    };
    let answer =
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = reader.get_mut().write_all(answer.as_bytes());
}
