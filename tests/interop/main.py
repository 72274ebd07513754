"""The Python side of tests/interop.rs:

    python tests/interop/main.py SYSTEM publish|read|serve CONFIG.json OUT.json

`publish` sends document-following messages into the Rust consumers and writes what it sent
with each message's expected outcome; `read` reads what the Rust producers wrote and writes
every problem found; `serve` (orchestrator) is the HTTP endpoint the Rust client posts to.
CONFIG.json (written by the Rust test) names the brokers and this run's namespace.
"""

import json
import sys

import agents_nats
import audio_redis
import dam_amqp
import livepeer_kafka
import orchestrator_http

SYSTEMS = {
    "livepeer": livepeer_kafka,
    "audio": audio_redis,
    "dam": dam_amqp,
    "agents": agents_nats,
    "orchestrator": orchestrator_http,
}


def main() -> int:
    if len(sys.argv) != 5 or sys.argv[1] not in SYSTEMS:
        print(__doc__, file=sys.stderr)
        return 2
    system, command, config_path, out = sys.argv[1:]
    module = SYSTEMS[system]
    run = getattr(module, command, None)
    if run is None:
        print(f"{system} has no `{command}`", file=sys.stderr)
        return 2
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    run(config, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
