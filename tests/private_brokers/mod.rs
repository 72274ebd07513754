//! Private broker instances a test or the soak run (`examples/soak.rs`) starts, kills and
//! starts again without touching the machine's shared brokers: a `redis-server` on a free
//! port, a `nats-server -js` with its own store, a RabbitMQ node with its own name, ports and
//! directories, and a tansu broker storing into its own bucket of the local S3 server (moto).
//! The `<transport>_restart.rs` tests include it as a module, the soak binary through
//! `#[path]`; each uses a part of it. An HTTP ingest server run as a child process stands in
//! for a broker there: `shutdown_when_stdin_closes` is how its parent stops it gracefully.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free local port (the listener is closed again before it is used).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Two distinct free local ports (both listeners are held until both are known).
pub fn free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    let (a, b) = (bind(), bind());
    let port = |l: &std::net::TcpListener| l.local_addr().expect("bound").port();
    (port(&a), port(&b))
}

/// Waits (bounded) until something listens on `port`.
pub async fn wait_until_listening(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "nothing listened on 127.0.0.1:{port} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ------------------------------------------------------------------------------------ Redis

/// A private `redis-server` (from PATH) with `--appendonly yes --appendfsync always`, so a
/// SIGKILL loses nothing it acknowledged.
pub struct RedisServer {
    pub child: Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start(port: u16, dir: &Path) -> Self {
        Self::start_with_fsync(port, dir, "always")
    }

    /// [`RedisServer::start`] with another `--appendfsync` policy. `everysec` still writes
    /// the append-only file before it answers, so a SIGKILLed process (not a crashed
    /// machine) loses nothing it acknowledged, at a fraction of the cost of `always`.
    pub fn start_with_fsync(port: u16, dir: &Path, fsync: &str) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--appendonly", "yes", "--appendfsync", fsync, "--save", ""])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `redis-server` from PATH ({e}); install Redis (apt-get install redis-server)")
            });
        Self { child, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Waits (bounded) until the server answers PING with PONG (not LOADING).
    pub async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let pong = async {
                let client = redis::Client::open(self.url()).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            };
            if let Ok(Some(p)) = tokio::time::timeout(Duration::from_millis(500), pong).await {
                if p == "PONG" {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the private redis-server on port {} did not answer PING within 60 s",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown hook, no final fsync.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL redis-server");
        self.child.wait().expect("reap redis-server");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------------------- NATS

/// `$NATS_SERVER`, else `nats-server` on `PATH`, else in `/usr/sbin` or `/usr/local/bin`.
pub fn nats_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return path.into();
    }
    for dir in std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/bin")])
    {
        let candidate = dir.join("nats-server");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("nats-server is not installed (`apt-get install nats-server`, or set NATS_SERVER)");
}

/// A private `nats-server -js` on `port` with its own store directory.
pub struct NatsServer {
    child: Child,
}

impl NatsServer {
    pub fn start(port: u16, store: &Path) -> Self {
        let child = Command::new(nats_server_binary())
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        Self { child }
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

// --------------------------------------------------------------------------------- RabbitMQ

/// A first boot creates the node's database; on a busy machine that takes well over 10 s.
pub const RABBIT_READY_WITHIN: Duration = Duration::from_secs(120);

/// The `rabbitmq-server` script itself. Debian's `/usr/sbin/rabbitmq-server` is a wrapper
/// that switches to the `rabbitmq` user when run as root and refuses anyone else, so the
/// script it wraps is preferred. `RABBITMQ_SERVER` overrides it.
pub fn rabbitmq_server_script() -> PathBuf {
    if let Some(path) = std::env::var_os("RABBITMQ_SERVER") {
        return path.into();
    }
    let packaged = Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server");
    if packaged.is_file() {
        return packaged.into();
    }
    "rabbitmq-server".into()
}

/// Whether `port` answers the AMQP 0-9-1 protocol header with a frame (`Connection.Start`,
/// frame type 1), which a node only does once it accepts connections.
pub fn speaks_amqp(port: u16) -> bool {
    let handshake = || -> std::io::Result<bool> {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"AMQP\x00\x00\x09\x01")?;
        let mut frame_type = [0u8];
        stream.read_exact(&mut frame_type)?;
        Ok(frame_type[0] == 1)
    };
    handshake().unwrap_or(false)
}

/// A RabbitMQ node of the caller's own (own node name, AMQP and distribution ports, config,
/// plugins, mnesia and log directories and Erlang cookie, all under `{base}/{name}-<pid>/`).
/// Killed (with everything it started) when dropped; its directory is removed then too,
/// unless the thread is panicking, when its logs are kept. Nothing of the machine's own
/// RabbitMQ is touched; only epmd, which every Erlang node on the machine shares, learns the
/// private node's name.
pub struct RabbitNode {
    child: Option<Child>,
    pub dir: PathBuf,
    node: String,
    pub port: u16,
    dist_port: u16,
}

impl RabbitNode {
    pub fn new(base: &Path, name: &str) -> Self {
        let node = format!("ec-{name}-{}@localhost", std::process::id());
        let dir = base.join(format!("amqp-{name}-{}", std::process::id()));
        // A directory left by an earlier process with the same pid is stale.
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["home", "conf.d", "mnesia", "log"] {
            std::fs::create_dir_all(dir.join(sub)).expect("node directory");
        }
        let (port, dist_port) = free_ports();
        let write = |name: &str, text: String| {
            std::fs::write(dir.join(name), text).expect("node configuration file")
        };
        write(
            "rabbitmq.conf",
            format!("listeners.tcp.1 = 127.0.0.1:{port}\n"),
        );
        write("enabled_plugins", "[].\n".into());
        // Empty, so that the machine's /etc/rabbitmq/rabbitmq-env.conf (node name, ports) is
        // not read.
        write("rabbitmq-env.conf", String::new());
        Self {
            child: None,
            dir,
            node,
            port,
            dist_port,
        }
    }

    pub fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Starts the node (again: same name, same mnesia directory) and waits, bounded, until it
    /// speaks AMQP.
    pub async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("server log");
        let script = rabbitmq_server_script();
        let child = Command::new(&script)
            // HOME holds the node's own Erlang cookie.
            .env("HOME", self.dir.join("home"))
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("RABBITMQ_CONF_ENV_FILE", self.dir.join("rabbitmq-env.conf"))
            .env("RABBITMQ_CONFIG_FILE", self.dir.join("rabbitmq.conf"))
            .env("RABBITMQ_CONFIG_FILES", self.dir.join("conf.d"))
            .env(
                "RABBITMQ_ADVANCED_CONFIG_FILE",
                self.dir.join("advanced.config"),
            )
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.dir.join("enabled_plugins"),
            )
            .env("RABBITMQ_MNESIA_BASE", self.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.dir.join("log"))
            // Erlang distribution on loopback only.
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            )
            // Its own process group: the script runs the Erlang VM as a child, which starts
            // helpers of its own, and killing the group kills them all.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} ({e}); install RabbitMQ (apt-get install rabbitmq-server) \
                     or set RABBITMQ_SERVER",
                    script.display()
                )
            });
        self.child = Some(child);
        let start = Instant::now();
        let port = self.port;
        while !tokio::task::spawn_blocking(move || speaks_amqp(port))
            .await
            .expect("the handshake probe does not panic")
        {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the private RabbitMQ node exited ({status}) before it spoke AMQP; see {}",
                    self.log().display()
                );
            }
            assert!(
                start.elapsed() < RABBIT_READY_WITHIN,
                "the private RabbitMQ node did not speak AMQP on port {} within \
                 {RABBIT_READY_WITHIN:?}; see {}",
                self.port,
                self.log().display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILLs the node's whole process group: no orderly shutdown, nothing flushed that was
    /// not already on disk.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            let killed = Command::new("kill")
                .args(["-s", "KILL", "--", &group])
                .status();
            if !killed.is_ok_and(|s| s.success()) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for RabbitNode {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "the private RabbitMQ node's files are kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

// ------------------------------------------------------------------------------ Kafka (tansu)

/// What tansu needs to store into the local S3 server (moto, which `bash .ci/services.sh`
/// starts on 127.0.0.1:9000).
pub const S3_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "tansu"),
    ("AWS_SECRET_ACCESS_KEY", "tansu"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
    ("AWS_ALLOW_HTTP", "true"),
];

/// `S3_ENDPOINT`, else moto's default address.
pub fn s3_endpoint() -> String {
    std::env::var("S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9000".into())
}

/// `TANSU_BIN`, else `target/tansu/tansu` (cached by `.ci/services.sh`).
pub fn tansu_bin() -> PathBuf {
    let bin = std::env::var_os("TANSU_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tansu/tansu"));
    assert!(
        bin.is_file(),
        "the tansu broker binary is not at {} (`bash .ci/services.sh`, which `cargo xtask test` \
         runs first, caches it there; or set TANSU_BIN)",
        bin.display()
    );
    bin
}

/// One request to the S3 server, as HTTP/1.0 so that the answer is never chunked: its status
/// line and body. moto refuses to delete objects for an anonymous caller but does not check
/// signatures, so the request names tansu's access key with a placeholder signature.
fn s3_request(endpoint: &str, method: &str, path: &str) -> std::io::Result<(String, String)> {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nContent-Length: 0\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=tansu/20000101/us-east-1/s3/aws4_request, \
         SignedHeaders=host, Signature=0\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    Ok((status, body.to_owned()))
}

/// A private bucket on the shared S3 server. Dropping it deletes every object in it and then
/// the bucket, so the shared server keeps nothing of its user.
pub struct Bucket {
    endpoint: String,
    pub name: String,
}

impl Bucket {
    pub fn create(endpoint: &str, name: &str) -> Self {
        let (status, _) = s3_request(endpoint, "PUT", &format!("/{name}")).unwrap_or_else(|e| {
            panic!(
                "the S3 server (moto) at {endpoint} is needed for tansu's durable storage: {e}; \
                 start it with `bash .ci/services.sh`"
            )
        });
        assert!(
            status.contains(" 200") || status.contains(" 409"),
            "creating S3 bucket {name} at {endpoint} answered `{status}`"
        );
        Self {
            endpoint: endpoint.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Up to 1000 keys of the bucket (one ListObjectsV2 page).
    fn keys(&self) -> std::io::Result<Vec<String>> {
        let (_, body) = s3_request(
            &self.endpoint,
            "GET",
            &format!("/{}?list-type=2", self.name),
        )?;
        Ok(body
            .split("<Key>")
            .skip(1)
            .filter_map(|rest| rest.split_once("</Key>"))
            .map(|(key, _)| key.to_owned())
            .collect())
    }

    fn delete(&self) -> std::io::Result<()> {
        // tansu names its objects with [A-Za-z0-9/._-] only, which need no escaping in a path.
        loop {
            let keys = self.keys()?;
            if keys.is_empty() {
                break;
            }
            for key in keys {
                deleted(s3_request(
                    &self.endpoint,
                    "DELETE",
                    &format!("/{}/{key}", self.name),
                )?)?;
            }
        }
        deleted(s3_request(
            &self.endpoint,
            "DELETE",
            &format!("/{}", self.name),
        )?)
    }
}

/// An S3 DELETE answer: `204 No Content`, or the error it is.
fn deleted((status, body): (String, String)) -> std::io::Result<()> {
    if status.contains(" 204") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("{status}: {body}")))
    }
}

impl Drop for Bucket {
    fn drop(&mut self) {
        if let Err(e) = self.delete() {
            eprintln!(
                "could not delete S3 bucket {} at {}: {e}",
                self.name, self.endpoint
            );
        }
    }
}

/// A private tansu broker on `port` storing into `storage` (`s3://<bucket>/`), its output in
/// `log`. Declare its [`Bucket`] before it, so the broker stops writing before the bucket is
/// deleted.
pub struct TansuBroker {
    child: Option<Child>,
    bin: PathBuf,
    pub port: u16,
    storage: String,
    endpoint: String,
    log: PathBuf,
}

impl TansuBroker {
    pub fn new(port: u16, bucket: &Bucket, log: PathBuf) -> Self {
        Self {
            child: None,
            bin: tansu_bin(),
            port,
            storage: format!("s3://{}/", bucket.name),
            endpoint: bucket.endpoint.clone(),
            log,
        }
    }

    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("broker log");
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", &self.storage])
            .envs(S3_ENV)
            .env("AWS_ENDPOINT", &self.endpoint)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.bin.display()));
        self.child = Some(child);
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TansuBroker {
    fn drop(&mut self) {
        self.kill();
        // The log says what went wrong when the caller failed; otherwise it is litter.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A shutdown that triggers when this process's stdin reaches its end: the parent of a child
/// server closes the pipe to stop it gracefully (a kill would not let it finish its requests).
pub fn shutdown_when_stdin_closes() -> event_contracts::runtime::transport::Shutdown {
    let shutdown = event_contracts::runtime::transport::Shutdown::new();
    let stop = shutdown.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
        stop.trigger();
    });
    shutdown
}
