//! Creating the table as the store uses it, and as `template.yaml`
//! declares it (`create-table`).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType,
    SseSpecification, StreamSpecification, StreamViewType, TableStatus, TimeToLiveSpecification,
};
use serde_json::{Value, json};

use super::convert::classify;
use crate::store::keys::{INDEXES, PK, SK, attr};
use crate::store::table::StoreError;

/// The table's key schema and GSIs, as the store uses them: what tests create
/// in DynamoDB Local. Without a stream: DynamoDB Local writes several times
/// slower with one, and only the change events' tests read it.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    create(client, name, false, false).await
}

/// The same table streaming new and old images, as the template has it
/// (the change events' capture).
pub async fn create_streaming_table(client: &Client, name: &str) -> Result<(), StoreError> {
    create(client, name, true, false).await
}

/// What the table is, in the words of a CloudFormation `AWS::DynamoDB::Table`
/// (all but `DeletionProtectionEnabled`, a choice): what `template.yaml`
/// declares and what [`create_declared_table`] creates.
pub fn declared_properties() -> Value {
    let s = |n: &str| json!({"AttributeName": n, "AttributeType": "S"});
    let key = |pk: &str, sk: &str| json!([{"AttributeName": pk, "KeyType": "HASH"}, {"AttributeName": sk, "KeyType": "RANGE"}]);
    let mut defs = vec![s(PK), s(SK)];
    let mut gsis = Vec::new();
    for ix in INDEXES {
        defs.extend([s(ix.pk), s(ix.sk)]);
        gsis.push(json!({"IndexName": ix.name, "KeySchema": key(ix.pk, ix.sk),
            "Projection": {"ProjectionType": "ALL"}}));
    }
    json!({
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        "SSESpecification": {"SSEEnabled": true},
        "TimeToLiveSpecification": {"AttributeName": attr::EXPIRES, "Enabled": true},
        "AttributeDefinitions": defs,
        "KeySchema": key(PK, SK),
        "GlobalSecondaryIndexes": gsis,
    })
}

/// What [`create_declared_table`] could not turn on (DynamoDB Local has no
/// point-in-time recovery); everything else is as declared.
#[derive(Debug, Default)]
pub struct Shortfall {
    pub point_in_time_recovery: Option<String>,
}

/// Creates the table as `template.yaml` declares it: keys, GSIs, on-demand
/// billing, the stream of new and old images, encryption with the AWS
/// managed key, then (once it is active) the TTL attribute of page marks
/// and point-in-time recovery.
pub async fn create_declared_table(
    client: &Client,
    name: &str,
    deletion_protection: bool,
) -> Result<Shortfall, StoreError> {
    create(client, name, true, deletion_protection).await?;
    wait_active(client, name).await?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(attr::EXPIRES)
                .enabled(true)
                .build()
                .map_err(bad)?,
        )
        .send()
        .await
        .map_err(|e| classify("UpdateTimeToLive", &e))?;
    // Right after a table becomes active, AWS may answer
    // ContinuousBackupsUnavailableException for a while: ask again.
    let mut pitr;
    let mut tries = 0;
    loop {
        pitr = client
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(bad)?,
            )
            .send()
            .await;
        let unavailable = pitr.as_ref().err().and_then(|e| {
            use aws_sdk_dynamodb::error::ProvideErrorMetadata;
            e.code()
        }) == Some("ContinuousBackupsUnavailableException");
        tries += 1;
        if !unavailable || tries >= 24 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    Ok(Shortfall {
        point_in_time_recovery: pitr.err().map(|e| {
            use aws_sdk_dynamodb::error::ProvideErrorMetadata;
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                _ => aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string(),
            }
        }),
    })
}

/// Waits (up to a minute) for a new table to become active.
async fn wait_active(client: &Client, name: &str) -> Result<(), StoreError> {
    for _ in 0..120 {
        let d = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeTable", &e))?;
        if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Backend(format!(
        "table {name} was not active a minute after its creation"
    )))
}

fn bad(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(e.to_string())
}

async fn create(
    client: &Client,
    name: &str,
    declared: bool,
    deletion_protection: bool,
) -> Result<(), StoreError> {
    let s = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(bad)
    };
    let k = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .map_err(bad)
    };
    let mut defs = vec![s(PK)?, s(SK)?];
    let mut gsis = Vec::new();
    for ix in INDEXES {
        defs.push(s(ix.pk)?);
        defs.push(s(ix.sk)?);
        gsis.push(
            GlobalSecondaryIndex::builder()
                .index_name(ix.name)
                .key_schema(k(ix.pk, KeyType::Hash)?)
                .key_schema(k(ix.sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(bad)?,
        );
    }
    let mut request = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(defs))
        .key_schema(k(PK, KeyType::Hash)?)
        .key_schema(k(SK, KeyType::Range)?)
        .set_global_secondary_indexes(Some(gsis))
        .billing_mode(BillingMode::PayPerRequest);
    if declared {
        request = request
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(bad)?,
            )
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .deletion_protection_enabled(deletion_protection);
    }
    request
        .send()
        .await
        .map_err(|e| classify("CreateTable", &e))?;
    Ok(())
}
