//! A fault-injecting TCP proxy between glimpse and its database: pass traffic, refuse new
//! connections, cut the open ones mid-query, swallow traffic, or slow it down.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Accept and close at once: the database looks down.
    Refuse,
    /// Accept and never answer: the database looks hung.
    Blackhole,
    /// Forward, delaying every chunk.
    Slow(Duration),
}

pub struct FaultProxy {
    pub port: u16,
    mode: Arc<Mutex<Mode>>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mode: Arc<Mutex<Mode>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let m = *mode.lock().expect("mode");
        match m {
            Mode::Slow(d) => tokio::time::sleep(d).await,
            Mode::Blackhole => std::future::pending::<()>().await,
            _ => {}
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let mode = Arc::new(Mutex::new(Mode::Pass));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::new(Mutex::new(Vec::new()));
        let (m, c, up) = (mode.clone(), conns.clone(), upstream.to_owned());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let mode_now = *m.lock().expect("mode");
                match mode_now {
                    Mode::Refuse => drop(client),
                    Mode::Blackhole => {
                        let h = tokio::spawn(async move {
                            let _hold = client;
                            std::future::pending::<()>().await
                        });
                        c.lock().expect("conns").push(h.abort_handle());
                    }
                    Mode::Pass | Mode::Slow(_) => {
                        let Ok(server) = TcpStream::connect(&up).await else {
                            continue;
                        };
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        let a = tokio::spawn(pipe(cr, sw, m.clone()));
                        let b = tokio::spawn(pipe(sr, cw, m.clone()));
                        let mut conns = c.lock().expect("conns");
                        conns.push(a.abort_handle());
                        conns.push(b.abort_handle());
                    }
                }
            }
        })
        .abort_handle();
        FaultProxy {
            port,
            mode,
            conns,
            accept,
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }

    /// Cuts every open connection, as a crashed database or a broken network would.
    pub fn cut(&self) {
        for h in self.conns.lock().expect("conns").drain(..) {
            h.abort();
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
