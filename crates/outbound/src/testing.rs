//! Real receivers for tests of the outbound adapters:
//!
//! - [`StandIn`]: a stand-in Qiniu or OSS bucket, a real HTTP server (Python's, started as
//!   a child process) that answers `HEAD` on its objects only when the request is signed
//!   as the vendor requires. It checks signatures with its own implementation of the
//!   vendors' algorithms (Python's `hmac`/`hashlib`, not the server's code), which it
//!   first checks against the vendors' published vectors — it refuses to start if one
//!   does not hold.
//! - [`Receiver`]: a webhook receiver that records requests and answers as scripted
//!   (accept, a status, or never).
//! - [`SmtpSink`]: an SMTP server that accepts every mail.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support fails loudly"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Which vendor's signature the stand-in requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// A Qiniu private download URL.
    Qiniu,
    /// An OSS V1 presigned URL.
    OssV1,
    /// An OSS V4 presigned URL.
    OssV4,
}

impl Vendor {
    fn as_arg(self) -> &'static str {
        match self {
            Self::Qiniu => "qiniu",
            Self::OssV1 => "oss-v1",
            Self::OssV4 => "oss-v4",
        }
    }
}

/// A running stand-in; killed when dropped.
#[derive(Debug)]
pub struct StandIn {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl StandIn {
    /// Starts one for `vendor` with `config` (`access_key`, `secret`, `bucket`, `region`,
    /// `objects` {key: size}, `slow` {key: seconds}, `delay` seconds per HEAD).
    /// An error when `python3` cannot be started.
    pub fn start(vendor: Vendor, config: &Value) -> std::io::Result<Self> {
        let mut child = Command::new("python3")
            .args([
                "-c",
                include_str!("standin.py"),
                vendor.as_arg(),
                &config.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the stand-in's port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            let status = child.wait();
            panic!("the stand-in did not start (its vendor vectors failed?): {status:?}")
        });
        Ok(Self { child, port })
    }

    /// `http://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it saw: `heads`, `rejected` (bad signatures), `max_in_flight`, `reasons`.
    pub async fn stats(&self) -> Value {
        crate::http::client()
            .get(format!("{}/_stats", self.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a test server has recorded, shared with its connections' tasks.
type Recorded<T> = std::sync::Arc<std::sync::Mutex<Vec<T>>>;

/// Listens on a free port of 127.0.0.1 and serves each connection with `serve` on a task
/// of its own; returns the port.
async fn listen<F, Fut>(serve: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    port
}

/// What a [`Receiver`] answers to its n-th request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// 200 with `{"errcode":0,"code":0}` (what the robots answer when they accept).
    Ok,
    /// This status, with an empty JSON object.
    Status(u16),
    /// Nothing, ever: the connection is held open.
    Hang,
}

/// A request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST /path?query`'s target.
    pub target: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Received {
    /// The first header called `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A webhook receiver on 127.0.0.1 (a real HTTP/1.1 server on a Tokio task): it records
/// every request and answers the `n`-th with `replies[n]` (the last reply repeats).
#[derive(Debug, Clone)]
pub struct Receiver {
    /// Its port.
    pub port: u16,
    got: Recorded<Received>,
}

impl Receiver {
    /// Starts one on the current runtime.
    pub async fn start(replies: Vec<Reply>) -> Self {
        let got = Recorded::default();
        let seen = got.clone();
        let port = listen(move |stream| {
            let (seen, replies) = (seen.clone(), replies.clone());
            async move {
                let _ = serve_one(stream, seen, &replies).await;
            }
        })
        .await;
        Self { port, got }
    }

    /// `http://127.0.0.1:{port}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What it got so far.
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

async fn serve_one(
    mut stream: tokio::net::TcpStream,
    seen: Recorded<Received>,
    replies: &[Reply],
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(Received {
            target,
            headers,
            body,
        });
        seen.len() - 1
    };
    let reply = replies
        .get(index)
        .or(replies.last())
        .copied()
        .unwrap_or(Reply::Ok);
    let (status, body) = match reply {
        Reply::Ok => (200, r#"{"errcode":0,"code":0}"#),
        Reply::Status(s) => (s, "{}"),
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
    };
    let answer = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(answer.as_bytes()).await?;
    stream.shutdown().await
}

/// A mail the [`SmtpSink`] accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// `MAIL FROM`.
    pub from: String,
    /// Each `RCPT TO`.
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed.
    pub data: String,
}

/// An SMTP server on 127.0.0.1 that accepts every mail (plain SMTP, no TLS, no auth):
/// the protocol spoken for real, over TCP, on a Tokio task.
#[derive(Debug, Clone)]
pub struct SmtpSink {
    /// Its port.
    pub port: u16,
    got: Recorded<Accepted>,
}

impl SmtpSink {
    /// Starts one on the current runtime.
    pub async fn start() -> Self {
        let got = Recorded::default();
        let seen = got.clone();
        let port = listen(move |stream| {
            let seen = seen.clone();
            async move {
                let _ = smtp_session(stream, seen).await;
            }
        })
        .await;
        Self { port, got }
    }

    /// `smtp://127.0.0.1:{port}`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The mails accepted so far.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.got.lock().unwrap().clone()
    }
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    seen: Recorded<Accepted>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO")
            || upper.starts_with("RSET")
            || upper.starts_with("NOOP")
        {
            b"250 ok\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = line[10..].trim().trim_matches(['<', '>']).to_owned();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            while let Some(l) = lines.next_line().await? {
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push('\n');
            }
            seen.lock().unwrap().push(Accepted {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            b"250 accepted\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
