//! A RabbitMQ restart in the middle of publishing loses no confirmed message. Runs in its own
//! process: it starts a private RabbitMQ node (own node name, AMQP and distribution ports,
//! config, plugins, mnesia and log directories and Erlang cookie, all under
//! `target/tmp/amqp-restart-<pid>/`), SIGKILLs it while a publisher sends continuously, and
//! starts it again with the same node name and mnesia directory, so durable queues and
//! persistent messages come back from disk. Nothing of the machine's own RabbitMQ is touched;
//! only epmd, which every Erlang node on the machine shares, learns the private node's name.
//!
//! `RABBITMQ_SERVER` overrides the `rabbitmq-server` script (default
//! `/usr/lib/rabbitmq/bin/rabbitmq-server`, else `rabbitmq-server` on `PATH`).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use event_contracts::dam;
use event_contracts::runtime::transport::amqp::{AmqpBroker, AmqpConfig};
use event_contracts::runtime::transport::{ConsumerGroup, Meta, Publisher};
use event_contracts::Event;

const GROUP: ConsumerGroup = ConsumerGroup {
    name: "restart",
    binds: &["capture.*"],
    description: "test group",
};

/// A first boot creates the node's database; on a busy machine that takes well over 10 s.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// The `rabbitmq-server` script itself. Debian's `/usr/sbin/rabbitmq-server` is a wrapper
/// that switches to the `rabbitmq` user when run as root and refuses anyone else, so the
/// script it wraps is preferred.
fn server_script() -> PathBuf {
    if let Some(path) = std::env::var_os("RABBITMQ_SERVER") {
        return path.into();
    }
    let packaged = Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server");
    if packaged.is_file() {
        return packaged.into();
    }
    "rabbitmq-server".into()
}

/// Two distinct free local ports (both listeners are held until both are known).
fn free_ports() -> (u16, u16) {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    let (a, b) = (bind(), bind());
    let port = |l: &std::net::TcpListener| l.local_addr().expect("bound").port();
    (port(&a), port(&b))
}

/// Whether `port` answers the AMQP 0-9-1 protocol header with a frame (`Connection.Start`,
/// frame type 1), which a node only does once it accepts connections.
fn speaks_amqp(port: u16) -> bool {
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

/// A RabbitMQ node of this test's own. Killed (with everything it started) when dropped; its
/// directory is removed then too, unless the test failed, when its logs are kept.
struct PrivateNode {
    child: Option<Child>,
    dir: PathBuf,
    node: String,
    port: u16,
    dist_port: u16,
}

impl PrivateNode {
    fn new() -> Self {
        let node = format!("ec-restart-{}@localhost", std::process::id());
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("amqp-restart-{}", std::process::id()));
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

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    /// Starts the node (again: same name, same mnesia directory) and waits, bounded, until it
    /// speaks AMQP.
    async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("server log");
        let script = server_script();
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
                start.elapsed() < READY_WITHIN,
                "the private RabbitMQ node did not speak AMQP on port {} within {READY_WITHIN:?}; \
                 see {}",
                self.port,
                self.log().display()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGKILLs the node's whole process group: no orderly shutdown, nothing flushed that was
    /// not already on disk.
    fn kill(&mut self) {
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

impl Drop for PrivateNode {
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

fn config(url: String) -> AmqpConfig {
    let mut config = AmqpConfig::new(url).with_exchange("test-restart");
    config.audit_binds.clear();
    config.connect_timeout = Duration::from_secs(3);
    config.confirm_timeout = Duration::from_secs(10);
    config.reconnect_timeout = READY_WITHIN;
    config
}

async fn broker(config: AmqpConfig) -> AmqpBroker {
    AmqpBroker::connect(&config).await.unwrap_or_else(|e| {
        panic!("the private RabbitMQ node speaks AMQP but refuses a client: {e}")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_during_publishing_loses_no_confirmed_message() {
    let mut node = PrivateNode::new();
    node.start().await;
    let config = config(node.url());
    let admin = broker(config.clone()).await;
    admin.declare_groups(&[GROUP]).await.expect("topology");
    let publisher = Publisher::<dam::System, _>::new(
        admin.sink().await.expect("publisher connects"),
        Meta::default(),
    );
    drop(admin);

    let confirmed = Arc::new(Mutex::new(Vec::<String>::new()));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let restarted = Arc::new(AtomicBool::new(false));

    let publishing = {
        let (confirmed, failures, restarted) =
            (confirmed.clone(), failures.clone(), restarted.clone());
        async move {
            let mut after_restart = 0;
            for i in 0..1_000_000u64 {
                let mut alive: dam::CaptureAlive = dam::CaptureAlive::examples()
                    .expect("examples decode")
                    .remove(0);
                alive.request_id = Some(format!("req-{i}"));
                match publisher.publish(alive).await {
                    Ok(id) => confirmed.lock().unwrap().push(id),
                    Err(e) => failures.lock().unwrap().push(e.to_string()),
                }
                if restarted.load(Ordering::SeqCst) {
                    after_restart += 1;
                    if after_restart >= 50 {
                        break;
                    }
                }
            }
            publisher.sink().reconnects()
        }
    };
    let restarting = {
        let (confirmed, restarted) = (confirmed.clone(), restarted.clone());
        let node = &mut node;
        async move {
            let start = Instant::now();
            while confirmed.lock().unwrap().len() < 50 {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "the publisher did not confirm 50 messages within 20 s"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let before = confirmed.lock().unwrap().len();
            node.kill();
            node.start().await;
            restarted.store(true, Ordering::SeqCst);
            before
        }
    };
    let (reconnects, confirmed_before_kill) =
        tokio::time::timeout(READY_WITHIN + Duration::from_secs(60), async {
            tokio::join!(publishing, restarting)
        })
        .await
        .expect("publishing through the restart finished in time");

    let confirmed = confirmed.lock().unwrap().clone();
    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "publishes that gave up: {failures:?}");
    assert!(
        reconnects >= 1,
        "the publisher never lost its connection: was the node restarted?"
    );
    assert!(confirmed.len() >= confirmed_before_kill + 50);

    let admin = broker(config).await;
    let queue = admin.config().group_queue(GROUP.name);
    let mut stored = HashSet::new();
    let mut copies = 0usize;
    while let Some(d) = admin.take(&queue).await.expect("drain the queue") {
        copies += 1;
        stored.insert(String::from_utf8(d.key.unwrap_or_default()).expect("utf-8 id"));
    }
    let lost: Vec<&String> = confirmed
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} confirmed messages lost after the restart: {lost:?}",
        lost.len(),
        confirmed.len()
    );
    eprintln!(
        "{} confirmed ({confirmed_before_kill} before the kill), {copies} stored ({} duplicates), \
         {reconnects} reconnect(s)",
        confirmed.len(),
        copies - stored.len()
    );
}
