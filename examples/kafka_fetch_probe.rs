//! `cargo run --release --example kafka_fetch_probe -- BROKERS TOPIC OFFSET...`: asks a Kafka
//! broker for partition 0 of `TOPIC` from each `OFFSET` with a bare librdkafka consumer (no
//! group, no commit, none of this workspace's code) and prints what came back within 5 s:
//! the first record's offset, or that the broker answered nothing, with its high watermark.
//! It is how the Kafka soak stall was traced to tansu (see README "Commands").

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: kafka_fetch_probe BROKERS TOPIC OFFSET...";
    let brokers = args.next().ok_or(usage)?;
    let topic = args.next().ok_or(usage)?;
    let offsets: Vec<i64> = args.map(|o| o.parse()).collect::<Result<_, _>>()?;
    if offsets.is_empty() {
        return Err(usage.into());
    }
    for offset in offsets {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", "kafka-fetch-probe")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .set(
                "fetch.wait.max.ms",
                std::env::var("PROBE_FETCH_WAIT_MS").unwrap_or_else(|_| "500".into()),
            )
            .create()?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, 0, Offset::Offset(offset))?;
        // PROBE_ALSO=topic: fetch partition 0 of that topic in the same requests (as a
        // KafkaSource does with its retry topic).
        if let Ok(also) = std::env::var("PROBE_ALSO") {
            tpl.add_partition_offset(&also, 0, Offset::Beginning)?;
        }
        consumer.assign(&tpl)?;
        let start = Instant::now();
        let mut answer = String::from("nothing within 5 s");
        while start.elapsed() < Duration::from_secs(5) {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(m)) => {
                    answer = format!("a record at offset {}", m.offset());
                    break;
                }
                Some(Err(e)) => {
                    answer = format!("error: {e}");
                    break;
                }
                None => {}
            }
        }
        let (low, high) = consumer.fetch_watermarks(&topic, 0, Duration::from_secs(5))?;
        println!("fetch {topic}[0] from {offset}: {answer} (watermarks {low}..{high})");
    }
    Ok(())
}
