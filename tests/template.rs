//! `template.yaml` declares exactly the table the store uses (the keys and
//! GSIs the DynamoDB tests create), so the two cannot drift; and the
//! function's settings the code relies on are there.

use scim_lambda::store::keys::{INDEXES, PK, SK};
use serde_yaml::Value;

fn template() -> Value {
    let path = format!("{}/template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (attribute, key type) pairs of a key schema.
type Keys = Vec<(String, String)>;
/// (index name, key schema, projection) of a GSI.
type Gsi = (String, Keys, String);

fn key_schema(v: &Value) -> Vec<(String, String)> {
    v.as_sequence()
        .into_iter()
        .flatten()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap_or_default().to_string(),
                k["KeyType"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_templates_table_has_exactly_the_stores_keys_and_indexes() {
    let t = template();
    let table = &t["Resources"]["Table"]["Properties"];
    assert_eq!(
        key_schema(&table["KeySchema"]),
        vec![(PK.into(), "HASH".into()), (SK.into(), "RANGE".into())]
    );
    let gsis: Vec<Gsi> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|g| {
            (
                g["IndexName"].as_str().unwrap_or_default().to_string(),
                key_schema(&g["KeySchema"]),
                g["Projection"]["ProjectionType"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let want: Vec<Gsi> = INDEXES
        .iter()
        .map(|ix| {
            (
                ix.name.to_string(),
                vec![
                    (ix.pk.to_string(), "HASH".to_string()),
                    (ix.sk.to_string(), "RANGE".to_string()),
                ],
                "ALL".to_string(),
            )
        })
        .collect();
    assert_eq!(gsis, want);
    // Every key attribute is declared, as a string, and nothing else is.
    let mut declared: Vec<(String, String)> = table["AttributeDefinitions"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap_or_default().to_string(),
                a["AttributeType"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    declared.sort();
    let mut keys: Vec<(String, String)> = [PK, SK]
        .iter()
        .map(|k| (k.to_string(), "S".to_string()))
        .collect();
    keys.extend(INDEXES.iter().flat_map(|ix| {
        [
            (ix.pk.to_string(), "S".to_string()),
            (ix.sk.to_string(), "S".to_string()),
        ]
    }));
    keys.sort();
    assert_eq!(declared, keys);
    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        table["SSESpecification"]["SSEEnabled"].as_bool(),
        Some(true)
    );
}

#[test]
fn the_function_is_configured_as_the_code_expects() {
    let t = template();
    let f = &t["Resources"]["Function"]["Properties"];
    assert_eq!(f["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(f["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(
        t["Resources"]["Function"]["Metadata"]["BuildMethod"].as_str(),
        Some("rust-cargolambda")
    );
    let env = &f["Environment"]["Variables"];
    for var in [
        "TABLE_NAME",
        "SCIM_TOKEN_SECRET_ID",
        "SCIM_CURSOR_KEY_SECRET_ID",
        "SCIM_TENANT_SECRET_PREFIX",
        "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH",
    ] {
        assert!(!env[var].is_null(), "{var} is not set");
    }
    // The function may read the tenants' secrets: those under the prefix
    // and no others.
    let prefix = serde_yaml::to_string(&env["SCIM_TENANT_SECRET_PREFIX"]).unwrap_or_default();
    assert!(prefix.contains("${AWS::StackName}/tenants/"), "{prefix}");
    let policies = serde_yaml::to_string(&f["Policies"]).unwrap_or_default();
    assert!(
        policies.contains(":secret:${AWS::StackName}/tenants/*"),
        "{policies}"
    );
    assert_eq!(env["SCIM_BASE_PATH"].as_str(), Some("/scim/v2"));
    // The IAM statements name no wildcard action and no wildcard resource.
    let text = serde_yaml::to_string(&f["Policies"]).unwrap_or_default();
    assert!(
        !text.contains("dynamodb:*") && !text.contains("secretsmanager:*"),
        "{text}"
    );
    assert!(
        !text.contains("Resource: '*'") && !text.contains("Resource: \"*\""),
        "{text}"
    );
}
