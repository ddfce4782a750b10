//! A stand-in Qiniu or OSS bucket for tests: a real HTTP server (Python's, started as a
//! child process) that answers `HEAD` on its objects only when the request is signed as
//! the vendor requires. It checks signatures with its own implementation of the vendors'
//! algorithms (Python's `hmac`/`hashlib`, not the server's code), which it first checks
//! against the vendors' published vectors — it refuses to start if one does not hold.

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
