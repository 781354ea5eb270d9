//! A loopback HTTP server that serves fixed files, for tests of routes that
//! fetch URLs (`mediaUrl`). Answers are written by hand, so each test says
//! exactly what the server sends: a status, a content type, a body, or
//! nothing ever. Every connection is counted, so a test can assert that a
//! refused URL was never requested.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the server answers for one path (query strings are ignored).
#[derive(Debug, Clone)]
pub enum Served {
    /// 200 with this body and, if given, this `Content-Type`.
    File {
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// This status with a short text body.
    Status(u16),
    /// Reads the request and never answers.
    Never,
}

impl Served {
    pub fn file(content_type: &str, body: &[u8]) -> Served {
        Served::File {
            content_type: Some(content_type.to_owned()),
            body: body.to_vec(),
        }
    }
}

/// A running file server; it stops with the test's runtime.
pub struct FileServer {
    base: String,
    connections: Arc<AtomicUsize>,
}

impl FileServer {
    /// Serves `files` (path → answer) on a free loopback port; other paths get 404.
    pub async fn start(files: impl IntoIterator<Item = (&'static str, Served)>) -> FileServer {
        let files: Arc<HashMap<&'static str, Served>> = Arc::new(files.into_iter().collect());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(answer(socket, files.clone()));
            }
        });
        FileServer {
            base: format!("http://{addr}"),
            connections,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    }

    /// How many connections the server has accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn answer(mut socket: TcpStream, files: Arc<HashMap<&'static str, Served>>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.split(' ').nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    let (status, content_type, body) = match files.get(path) {
        Some(Served::File { content_type, body }) => (200, content_type.clone(), body.clone()),
        Some(Served::Status(status)) => (*status, Some("text/plain".to_owned()), b"not here".to_vec()),
        Some(Served::Never) => return std::future::pending().await,
        None => (404, Some("text/plain".to_owned()), b"no such file".to_vec()),
    };
    let mut response = format!(
        "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        response.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    response.push_str("\r\n");
    let _ = socket.write_all(&[response.as_bytes(), &body].concat()).await;
    let _ = socket.shutdown().await;
}

/// Small files of each media kind, recognisable by their first bytes.
pub mod fixtures {
    pub fn jpeg() -> Vec<u8> {
        [b"\xff\xd8\xff\xe0\x00\x10JFIF".as_slice(), &[42u8; 3000]].concat()
    }

    pub fn mp4() -> Vec<u8> {
        [b"\x00\x00\x00\x18ftypmp42".as_slice(), &[7u8; 5000]].concat()
    }

    pub fn ogg() -> Vec<u8> {
        [b"OggS\x00\x02".as_slice(), &[9u8; 800]].concat()
    }

    /// Ogg Opus of `seconds` seconds (pages with their granule positions;
    /// the audio packets are filler, as nothing here decodes them).
    pub fn opus(seconds: u64) -> Vec<u8> {
        fn page(granule: u64, sequence: u32, payload: &[u8]) -> Vec<u8> {
            let mut page = b"OggS\0\0".to_vec();
            page.extend(granule.to_le_bytes());
            page.extend(0x5741_5341u32.to_le_bytes());
            page.extend(sequence.to_le_bytes());
            page.extend([0; 4]);
            page.push(1);
            page.push(payload.len() as u8);
            page.extend(payload);
            page
        }
        let mut head = b"OpusHead\x01\x01".to_vec();
        head.extend(312u16.to_le_bytes());
        head.extend(48_000u32.to_le_bytes());
        head.extend([0, 0, 0]);
        let mut file = page(0, 0, &head);
        file.extend(page(0, 1, b"OpusTags\0\0\0\0\0\0\0\0"));
        for second in 1..=seconds {
            file.extend(page(312 + second * 48_000, 1 + second as u32, &[0xfc; 200]));
        }
        file
    }

    /// A WebP image of `size` bytes in all (a RIFF header and filler).
    pub fn webp(size: usize) -> Vec<u8> {
        let mut file = b"RIFF".to_vec();
        file.extend(((size - 8) as u32).to_le_bytes());
        file.extend(b"WEBPVP8 ");
        file.resize(size, 7);
        file
    }

    pub fn pdf() -> Vec<u8> {
        [b"%PDF-1.7\n".as_slice(), &[1u8; 1200]].concat()
    }

    pub fn sha256_hex(bytes: &[u8]) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(bytes))
    }
}
