//! Publishes one run's CloudEvents (`ai.run.started` … `ai.run.completed`, `seq` 1..n, one
//! trace) to the ingest endpoint started by `cargo run --example orchestrator_consumer`, then
//! shows what the endpoint answers to a resent duplicate, an event out of order, a binary-mode
//! event, a batch, and an invalid event.
//!
//! ```sh
//! cargo run --example orchestrator_producer
//! ```
//!
//! Environment: `ORCHESTRATOR_URL` (default `http://127.0.0.1:3000`).

use event_contracts::orchestrator::{
    RunCompletedData, RunStageCompletedData, RunStageProgressData, RunStageStartedData,
    RunStartedData,
};
use event_contracts::runtime::transport::http::{prepare, HttpConfig, HttpSink, SendMode};
use event_contracts::runtime::transport::{trace, Meta, Publisher};
use event_contracts::{orchestrator, Event};

/// The catalog example of `E` (its schema's `examples[0]`), with this run's id.
fn example<E: Event>(run_id: &str) -> Result<E, Box<dyn std::error::Error>> {
    let schema = event_contracts::SCHEMAS
        .documents()
        .get(E::SCHEMA_ID)
        .ok_or("schema embedded")?
        .to_string();
    let mut value: serde_json::Value =
        serde_json::from_str::<serde_json::Value>(&schema)?["examples"][0].clone();
    value["run_id"] = serde_json::Value::String(run_id.to_owned());
    Ok(serde_json::from_value(value)?)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("ORCHESTRATOR_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".into());
    let run_id = uuid::Uuid::new_v4().to_string();
    let defaults = Meta {
        source: Some("worker/example-producer".into()),
        subject: Some(format!("run/{run_id}")),
        traceparent: Some(trace::child_or_new(None)),
        ..Meta::default()
    };
    let client = HttpSink::connect(&HttpConfig::new(url)).await?;
    let publisher = Publisher::<orchestrator::System, _>::new(client.clone(), defaults.clone());
    let at = |seq: u64| Meta {
        seq: Some(seq),
        ..Meta::default()
    };

    let id = publisher
        .publish_with(example::<RunStartedData>(&run_id)?, &at(1))
        .await?;
    println!("published ai.run.started {id}");
    publisher
        .publish_with(example::<RunStageStartedData>(&run_id)?, &at(2))
        .await?;
    for seq in 3..=5 {
        let id = publisher
            .publish_with(example::<RunStageProgressData>(&run_id)?, &at(seq))
            .await?;
        println!("published ai.run.stage_progress seq={seq} {id}");
    }

    // Resending an event: a duplicate by source + id, answered 200 and not handled again.
    let stage_done = prepare::<orchestrator::System, _>(
        example::<RunStageCompletedData>(&run_id)?,
        &at(7).or(&defaults),
    )?;
    println!("seq 7 (gap): {:?}", client.post(&stage_done).await?);
    println!("resent: {:?}", client.post(&stage_done).await?);
    // seq 6 arrives late: recorded as out-of-order, still handled.
    let late = prepare::<orchestrator::System, _>(
        example::<RunStageProgressData>(&run_id)?,
        &at(6).or(&defaults),
    )?;
    println!(
        "seq 6 (late), binary mode: {:?}",
        client
            .clone()
            .with_mode(SendMode::Binary)
            .post(&late)
            .await?
    );

    let batch = vec![
        prepare::<orchestrator::System, _>(
            example::<RunStageProgressData>(&run_id)?,
            &at(8).or(&defaults),
        )?,
        prepare::<orchestrator::System, _>(
            example::<RunCompletedData>(&run_id)?,
            &at(9).or(&defaults),
        )?,
    ];
    for result in client.post_batch(&batch).await? {
        println!("batch: {result:?}");
    }

    // An invalid event is refused by the publisher before it leaves...
    let mut bad = example::<RunStageProgressData>(&run_id)?;
    bad.progress = 5.0; // the schema says 0.0 ..= 1.0
    println!(
        "refused locally: {}",
        publisher
            .publish(bad)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    );
    // ...and by the server (400 problem+json, dead-lettered) when sent anyway.
    let mut raw =
        prepare::<orchestrator::System, _>(example::<RunStartedData>(&run_id)?, &defaults)?;
    raw.payload = br#"{"specversion":"1.0","id":"bad-1","source":"worker/example-producer","type":"ai.run.started","subject":"run/x","time":"2024-01-01T00:00:00Z","datacontenttype":"application/json","data":{"run_id":42}}"#.to_vec();
    match client.post(&raw).await {
        Ok(result) => println!("unexpectedly accepted: {result:?}"),
        Err(e) => println!("refused by the server: {e}"),
    }
    Ok(())
}
