//! The loopback HTTP server of the outbound tests: hand-written answers, so
//! every odd case (lying lengths, endless chunked bodies, servers that never
//! answer, redirect chains) is exactly what a test says, and every request
//! it read (head and body) is kept, since what reaches the server is often
//! the point.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server read it; header names lowercased.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The request target, query included.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// How the server answers one request.
pub enum Reply {
    /// These bytes, then the connection closes.
    Raw(Vec<u8>),
    /// A chunked body of `count` chunks of `size` bytes, without a length.
    Chunked { size: usize, count: usize },
    /// These bytes, then nothing more, ever.
    Stall(Vec<u8>),
}

pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    Reply::Raw([head.as_bytes(), body].concat())
}

pub fn redirect(status: &str, location: &str) -> Reply {
    response(status, &[("Location", location)], b"")
}

/// A loopback server answering each request with `reply(request)`, keeping
/// every request it read and counting the connections it accepted.
pub struct Server {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
}

impl Server {
    pub async fn start(reply: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let reply = Arc::new(reply);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (log, counter) = (seen.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let (reply, log) = (reply.clone(), log.clone());
                tokio::spawn(async move { serve(socket, reply.as_ref(), &log).await });
            }
        });
        Server {
            port,
            seen,
            connections,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }

    /// How many connections the server has accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn serve(mut socket: TcpStream, reply: &(dyn Fn(&Seen) -> Reply + Send + Sync), log: &Mutex<Vec<Seen>>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or("").split(' ');
    let method = start.next().unwrap_or("").to_owned();
    let path = start.next().unwrap_or("/").to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let seen = Seen {
        method,
        path,
        headers,
        body: data[head_end..head_end + length].to_vec(),
    };
    log.lock().unwrap().push(seen.clone());
    match reply(&seen) {
        Reply::Raw(bytes) => {
            let _ = socket.write_all(&bytes).await;
            let _ = socket.shutdown().await;
        }
        Reply::Chunked { size, count } => {
            if socket
                .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
            let chunk = [format!("{size:x}\r\n").as_bytes(), &vec![b'x'; size], b"\r\n"].concat();
            for _ in 0..count {
                if socket.write_all(&chunk).await.is_err() {
                    return; // the client hung up, as it should past its cap
                }
            }
            let _ = socket.write_all(b"0\r\n\r\n").await;
        }
        Reply::Stall(bytes) => {
            let _ = socket.write_all(&bytes).await;
            std::future::pending::<()>().await;
        }
    }
}
