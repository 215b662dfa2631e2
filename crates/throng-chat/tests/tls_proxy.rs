//! The deployment behind TLS, tested: Debian's nginx runs `deploy/nginx/throng-chat.conf`
//! (its ports, upstream and certificate paths pointed at this test's), with a
//! certificate from a throwaway CA made by openssl, in front of a real throng-chat started with
//! `--trusted-proxy 127.0.0.1`. Clients speak `wss://` to nginx from different loopback
//! addresses; the server counts them by the address nginx forwards, not by nginx's own.
//!
//! Skips with a message when nginx or openssl is missing, unless
//! `THRONG_REQUIRE_NGINX=1` (CI sets it).

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{config, start, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::Connector;

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx in the foreground on a config of this test's; stopped when dropped.
struct Nginx {
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-QUIT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's nginx site, with this test's ports, upstream and certificate.
fn site(dir: &Path, upstream: SocketAddr, https: u16, http: u16) -> String {
    let conf = include_str!("../../../deploy/nginx/throng-chat.conf");
    let replaced = conf
        .replace("server 127.0.0.1:8080;", &format!("server {upstream};"))
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{https} ssl;"))
        .replace("listen 80;", &format!("listen 127.0.0.1:{http};"))
        .replace("chat.example.com", "localhost")
        .replace(
            "/etc/ssl/certs/localhost.pem",
            &dir.join("cert.pem").display().to_string(),
        )
        .replace(
            "/etc/ssl/private/localhost.key",
            &dir.join("key.pem").display().to_string(),
        );
    assert_ne!(conf, replaced);
    replaced
}

fn start_nginx(dir: &Path, site: &str, https: u16) -> Nginx {
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let d = dir.display();
    let main = format!(
        "daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log warn;
         events {{ worker_connections 256; }}
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
                 fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
                 include {d}/site.conf; }}"
    );
    std::fs::write(dir.join("nginx.conf"), main).unwrap();
    let child = Command::new("nginx")
        .args(["-p", &d.to_string(), "-c"])
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    let nginx = Nginx { child };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", https)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen: {}",
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nginx
}

/// A throwaway CA (`ca.pem`) and a server certificate for `localhost` signed by it
/// (`cert.pem`, `key.pem`), made with openssl.
fn certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "openssl {args:?}");
    };
    run(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
    ]
    .into_iter()
    .chain([
        "-subj",
        "/CN=throng test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ])
    .collect::<Vec<_>>());
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
    ]
    .into_iter()
    .chain(["-keyout", "key.pem", "-out", "server.csr"])
    .collect::<Vec<_>>());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
    ]
    .into_iter()
    .chain([
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "cert.pem",
    ])
    .collect::<Vec<_>>());
}

/// A TLS client that trusts exactly our throwaway CA.
fn tls(dir: &Path) -> Connector {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let cert = rustls::pki_types::CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap();
    roots.add(cert).unwrap();
    // ring: no C toolchain beyond cc to build; a test client needs no post-quantum kx.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Connector::Rustls(Arc::new(config))
}

/// Opens `wss://localhost:{port}/ws` from the local address `from`: the client, or the
/// HTTP status the upgrade got.
async fn wss(dir: &Path, port: u16, from: &str) -> Result<Client, u16> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    let tcp = socket
        .connect(format!("127.0.0.1:{port}").parse().unwrap())
        .await
        .unwrap();
    let req = format!("wss://localhost:{port}/ws")
        .into_client_request()
        .unwrap();
    match tokio_tungstenite::client_async_tls_with_config(req, tcp, None, Some(tls(dir))).await {
        Ok((ws, _)) => Ok(Client { ws }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("wss handshake: {e}"),
    }
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("throng-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    // nginx's workers run as nobody when the master is root: let them into the temp paths.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_through_nginx_with_the_client_address_from_the_proxy() {
    if !have("nginx", "-v") || !have("openssl", "version") {
        assert!(
            std::env::var_os("THRONG_REQUIRE_NGINX").is_none(),
            "THRONG_REQUIRE_NGINX is set but nginx or openssl is missing"
        );
        eprintln!("skipped: nginx or openssl is not installed (apt-get install nginx openssl)");
        return;
    }
    let dir = temp_dir();
    certificates(&dir);
    let mut cfg = config();
    cfg.max_connections_per_ip = 1;
    cfg.net.trusted_proxies = vec![throng_chat::addr::parse_cidr("127.0.0.1").unwrap()];
    cfg.net.public_hosts = vec!["localhost".into()];
    let server = start(cfg).await;
    let (https, http) = (free_port(), free_port());
    let _nginx = start_nginx(&dir, &site(&dir, server.addr, https, http), https);

    // Two clients from two addresses, one connection each allowed: both get in, because
    // the server counts the address nginx forwards, not nginx's 127.0.0.1.
    let mut alice = wss(&dir, https, "127.0.0.5").await.expect("alice gets in");
    let mut bob = wss(&dir, https, "127.0.0.6").await.expect("bob gets in");
    // A second connection from alice's address is over its cap.
    assert_eq!(wss(&dir, https, "127.0.0.5").await.err(), Some(503));

    alice.send(json!({"type": "hello", "name": "alice"})).await;
    alice.recv_type("welcome").await;
    alice.join("lobby").await;
    bob.send(json!({"type": "hello", "name": "bob"})).await;
    bob.recv_type("welcome").await;
    bob.join("lobby").await;
    alice
        .send(json!({"type": "post", "room": "lobby", "text": "over TLS", "id": "t"}))
        .await;
    assert_eq!(alice.recv_type("ack").await["seq"], 1);
    assert_eq!(bob.recv_type("message").await["text"], "over TLS");

    // Plain HTTP is redirected to HTTPS.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", http))
        .await
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    plain.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 301"), "{reply}");
    assert!(reply.contains("Location: https://localhost/"), "{reply}");

    drop((alice, bob));
    server.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
