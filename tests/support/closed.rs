//! Reading a raw connection to its end, for the tests that attack the HTTP ports (the gateway's and mock-smev's,
//! which includes this file by path).
#![allow(dead_code)]

use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Reads until the server closes the connection (EOF or reset) and returns what came; panics when `hang_guard`
/// passes first, naming what the server sent.
pub async fn read_until_closed(stream: &mut TcpStream, hang_guard: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = tokio::time::timeout(hang_guard, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open; it sent: {}", String::from_utf8_lossy(&got));
    String::from_utf8_lossy(&got).into_owned()
}
