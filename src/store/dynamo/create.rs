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
/// in DynamoDB Local and what `template.yaml` must declare.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
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
        // As the template has it: the change events' capture.
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(bad)?,
        )
        .send()
        .await
        .map_err(|e| classify("CreateTable", &e))?;
    Ok(())
}
