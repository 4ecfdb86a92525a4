//! Creating the table as the store uses it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
};

use super::convert::classify;
use crate::store::keys::{INDEXES, PK, SK};
use crate::store::table::StoreError;

/// The table's key schema and GSIs, as the store uses them: what tests create
/// in DynamoDB Local and what `template.yaml` must declare. Without a
/// stream: DynamoDB Local writes several times slower with one, and only
/// the change events' tests read it.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    create(client, name, false).await
}

/// The same table streaming new and old images, as the template has it
/// (the change events' capture).
pub async fn create_streaming_table(client: &Client, name: &str) -> Result<(), StoreError> {
    create(client, name, true).await
}

async fn create(client: &Client, name: &str, streaming: bool) -> Result<(), StoreError> {
    let bad = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Backend(e.to_string());
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
    client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(defs))
        .key_schema(k(PK, KeyType::Hash)?)
        .key_schema(k(SK, KeyType::Range)?)
        .set_global_secondary_indexes(Some(gsis))
        .billing_mode(BillingMode::PayPerRequest)
        .set_stream_specification(if streaming {
            Some(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .map_err(bad)?,
            )
        } else {
            None
        })
        .send()
        .await
        .map_err(|e| classify("CreateTable", &e))?;
    Ok(())
}
