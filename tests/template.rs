//! `template.yaml` declares exactly the table the store uses (the keys and
//! GSIs the DynamoDB tests create), so the two cannot drift; the
//! function's settings the code relies on are there; and the change events'
//! stream function, bus, queues and webhook are wired and fenced in.

use scim_lambda::store::keys::{INDEXES, PK, SK};
use serde_yaml::Value;

fn template() -> Value {
    let path = format!("{}/template.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A template fragment written as YAML, tags (`!Ref`, `!GetAtt`, `!If`) and all.
fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn text(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap_or_default()
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

/// `create-table` creates what `declared_properties` says; the template
/// declares exactly that (deletion protection aside, a parameter there and
/// a flag of the command).
#[test]
fn create_table_and_the_template_declare_the_same_table() {
    let t = template();
    let mut table = t["Resources"]["Table"]["Properties"].clone();
    if let Some(m) = table.as_mapping_mut() {
        assert!(m.remove("DeletionProtectionEnabled").is_some());
    }
    let table: serde_json::Value = serde_json::to_value(&table).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(table, scim_lambda::store::dynamo::declared_properties());
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
        "SCIM_ACCESS_TOKEN_SECONDS",
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
    // The token endpoint the outputs name is the function's own route.
    let endpoint = text(&t["Outputs"]["TokenEndpoint"]["Value"]);
    assert!(
        endpoint.trim_end().ends_with("/scim/v2/oauth2/token"),
        "{endpoint}"
    );
    let lifetime = &t["Parameters"]["AccessTokenSeconds"];
    assert_eq!(
        (lifetime["MinValue"].as_u64(), lifetime["MaxValue"].as_u64()),
        (Some(3600), Some(21_600))
    );
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

#[test]
fn the_table_streams_new_and_old_images() {
    let t = template();
    assert_eq!(
        t["Resources"]["Table"]["Properties"]["StreamSpecification"],
        yaml("StreamViewType: NEW_AND_OLD_IMAGES")
    );
}

#[test]
fn the_stream_function_runs_the_same_binary_as_its_stream_front_door() {
    let t = template();
    let (http, stream) = (
        &t["Resources"]["Function"],
        &t["Resources"]["EventsFunction"],
    );
    assert_eq!(stream["Type"].as_str(), Some("AWS::Serverless::Function"));
    // Built the same way (the checkov skips beside it differ, each with its reason).
    assert_eq!(
        stream["Metadata"]["BuildMethod"],
        http["Metadata"]["BuildMethod"]
    );
    assert_eq!(
        stream["Metadata"]["BuildMethod"].as_str(),
        Some("rust-cargolambda")
    );
    for p in ["CodeUri", "Handler", "Runtime", "Architectures", "Tracing"] {
        assert_eq!(stream["Properties"][p], http["Properties"][p], "{p}");
    }
    let logging = &stream["Properties"]["LoggingConfig"];
    assert_eq!(logging["LogGroup"], yaml("!Ref EventsLogGroup"));
    assert_eq!(logging["LogFormat"].as_str(), Some("JSON"));
    let env = &stream["Properties"]["Environment"]["Variables"];
    assert_eq!(
        *env,
        yaml(
            r#"
            SCIM_HANDLER: stream
            SCIM_EVENT_BUS_NAME: !Ref EventBus
            SCIM_EVENT_SOURCE: !Ref EventSource
            SCIM_EVENT_ISSUER: !If [CustomDomain, !Sub "https://${DomainName}/scim/v2", !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/scim/v2"]
            SCIM_EVENT_AUDIENCE: !Ref EventAudience
            SCIM_EVENT_DEAD_LETTER_QUEUE_URL: !Ref EventsDeadLetterQueue
            RUST_LOG: !Ref LogLevel
            SCIM_BASE_PATH: /scim/v2
            "#
        ),
        "the stream function does not read the table, so it is not told of it"
    );
    // The events' issuer is the URL the identity providers are given.
    assert_eq!(env["SCIM_EVENT_ISSUER"], t["Outputs"]["TenantUrl"]["Value"]);
}

#[test]
fn the_event_parameters_default_to_a_bus_only_setup() {
    let t = template();
    let p = &t["Parameters"];
    assert_eq!(p["EventSource"]["Default"].as_str(), Some("scim-lambda"));
    // EventBridge refuses PutEvents from a source in the aws. namespace.
    let pattern = p["EventSource"]["AllowedPattern"]
        .as_str()
        .unwrap_or_default();
    assert!(pattern.starts_with(r"^(?!aws\.)"), "{pattern}");
    assert_eq!(p["EventAudience"]["Default"].as_str(), Some(""));
    assert_eq!(p["EventRetryAttempts"]["Default"].as_u64(), Some(10));
    assert_eq!(p["EventRetryAttempts"]["MinValue"].as_u64(), Some(0));
    assert_eq!(p["EventRetryAttempts"]["MaxValue"].as_u64(), Some(10000));
    assert_eq!(p["EventQueue"]["Default"].as_str(), Some("Disabled"));
    assert_eq!(p["EventWebhookUrl"]["Default"].as_str(), Some(""));
    assert_eq!(p["EventWebhookAuth"]["Default"].as_str(), Some("ApiKey"));
    assert_eq!(p["EventWebhookSecret"]["NoEcho"].as_bool(), Some(true));
    assert_eq!(p["EventWebhookTenant"]["Default"].as_str(), Some(""));
}

#[test]
fn the_stream_reports_batch_item_failures_bisects_and_sends_failed_batches_to_the_dead_letter_queue()
 {
    let t = template();
    let events = &t["Resources"]["EventsFunction"]["Properties"]["Events"];
    let sources: Vec<&Value> = events
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(sources.len(), 1, "{}", text(events));
    assert_eq!(sources[0]["Type"].as_str(), Some("DynamoDB"));
    assert_eq!(
        sources[0]["Properties"],
        yaml(
            r#"
            Stream: !If [UseExistingTable, !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingTableName}/stream/${ExistingTableStreamLabel}", !GetAtt Table.StreamArn]
            StartingPosition: TRIM_HORIZON
            BatchSize: 100
            MaximumBatchingWindowInSeconds: 0
            FilterCriteria:
              Filters:
                - Pattern: '{"dynamodb": {"Keys": {"sk": {"S": ["RESOURCE", {"prefix": "MEMBER#"}]}}}}'
            ParallelizationFactor: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
            BisectBatchOnFunctionError: true
            MaximumRetryAttempts: !Ref EventRetryAttempts
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt EventsDeadLetterQueue.Arn
            "#
        )
    );
    let dlq = &t["Resources"]["EventsDeadLetterQueue"];
    assert_eq!(dlq["Type"].as_str(), Some("AWS::SQS::Queue"));
    assert_eq!(
        dlq["Properties"]["MessageRetentionPeriod"].as_u64(),
        Some(14 * 24 * 3600)
    );
    assert_eq!(
        dlq["Properties"]["SqsManagedSseEnabled"].as_bool(),
        Some(true)
    );
}

/// (condition, actions, resource) of each statement of a role's inline
/// policies; the condition is the name an `!If` guarding the statement tests.
fn statements(role: &Value) -> Vec<(Option<String>, Value, Value)> {
    let mut out = Vec::new();
    for policy in role["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for s in policy["PolicyDocument"]["Statement"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            match s {
                Value::Tagged(t) if t.tag == "If" => {
                    let condition = t.value[0].as_str().map(str::to_string);
                    assert_eq!(t.value[2], yaml("!Ref AWS::NoValue"), "{}", text(s));
                    out.push((
                        condition,
                        t.value[1]["Action"].clone(),
                        t.value[1]["Resource"].clone(),
                    ));
                }
                _ => out.push((None, s["Action"].clone(), s["Resource"].clone())),
            }
        }
    }
    out
}

#[test]
fn the_stream_functions_role_names_only_the_stream_the_bus_the_dead_letter_queue_and_its_log_group()
{
    let t = template();
    let function = &t["Resources"]["EventsFunction"]["Properties"];
    // With a role of its own, SAM adds no managed policy for the stream
    // or the destination; and nothing else may add to it.
    assert_eq!(function["Role"], yaml("!GetAtt EventsFunctionRole.Arn"));
    assert!(
        function["Policies"].is_null(),
        "{}",
        text(&function["Policies"])
    );
    let role = &t["Resources"]["EventsFunctionRole"];
    assert_eq!(role["Type"].as_str(), Some("AWS::IAM::Role"));
    for p in ["ManagedPolicyArns", "PermissionsBoundary"] {
        assert!(role["Properties"][p].is_null(), "{p}");
    }
    assert_eq!(
        role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        yaml("Service: lambda.amazonaws.com")
    );
    let want: Vec<(Option<String>, Value, Value)> = [
        (
            None,
            "[dynamodb:DescribeStream, dynamodb:GetRecords, dynamodb:GetShardIterator]",
            r#"!If [UseExistingTable, !Sub "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ExistingTableName}/stream/${ExistingTableStreamLabel}", !GetAtt Table.StreamArn]"#,
        ),
        (
            None,
            "dynamodb:ListStreams",
            r#"!Sub ["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Name}/stream/*", {Name: !If [UseExistingTable, !Ref ExistingTableName, !Ref Table]}]"#,
        ),
        (None, "events:PutEvents", "!GetAtt EventBus.Arn"),
        (None, "sqs:SendMessage", "!GetAtt EventsDeadLetterQueue.Arn"),
        (
            None,
            "[logs:CreateLogStream, logs:PutLogEvents]",
            "!GetAtt EventsLogGroup.Arn",
        ),
        // X-Ray takes no resource; only when tracing is on.
        (
            Some("TracingActive"),
            "[xray:PutTraceSegments, xray:PutTelemetryRecords]",
            "'*'",
        ),
    ]
    .into_iter()
    .map(|(c, a, r)| (c.map(str::to_string), yaml(a), yaml(r)))
    .collect();
    assert_eq!(statements(role), want);
    // No other resource of the template attaches a policy to it.
    for (name, r) in t["Resources"].as_mapping().into_iter().flatten() {
        let kind = r["Type"].as_str().unwrap_or_default();
        if kind.starts_with("AWS::IAM::") && kind != "AWS::IAM::Role" {
            assert!(!text(r).contains("EventsFunctionRole"), "{name:?}");
        }
    }
}

#[test]
fn the_webhook_rule_sends_the_claims_and_filters_by_tenant_when_asked() {
    let t = template();
    let rule = &t["Resources"]["EventWebhookRule"]["Properties"];
    assert_eq!(rule["EventBusName"], yaml("!Ref EventBus"));
    assert_eq!(
        rule["EventPattern"],
        yaml(
            r#"
            source: [!Ref EventSource]
            detail: !If
              - EventWebhookForOneTenant
              - tenant: [!Ref EventWebhookTenant]
              - !Ref AWS::NoValue
            "#
        )
    );
    assert_eq!(
        t["Conditions"]["EventWebhookForOneTenant"],
        yaml(r#"!Not [!Equals [!Ref EventWebhookTenant, ""]]"#)
    );
    let target = &rule["Targets"][0];
    assert_eq!(rule["Targets"].as_sequence().map(Vec::len), Some(1));
    assert_eq!(target["Arn"], yaml("!GetAtt EventWebhookDestination.Arn"));
    assert_eq!(target["RoleArn"], yaml("!GetAtt EventWebhookRole.Arn"));
    assert_eq!(target["InputPath"].as_str(), Some("$.detail"));
    assert_eq!(
        target["RetryPolicy"],
        yaml("{MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400}")
    );
    assert_eq!(
        target["DeadLetterConfig"]["Arn"],
        yaml("!GetAtt EventsDeadLetterQueue.Arn")
    );
    let destination = &t["Resources"]["EventWebhookDestination"]["Properties"];
    assert_eq!(destination["HttpMethod"].as_str(), Some("POST"));
    assert_eq!(
        destination["InvocationEndpoint"],
        yaml("!Ref EventWebhookUrl")
    );
    assert_eq!(
        t["Resources"]["EventWebhookConnection"]["Properties"]["AuthorizationType"],
        yaml("!If [EventWebhookBasic, BASIC, API_KEY]")
    );
}

#[test]
fn the_webhook_role_may_only_invoke_its_destination() {
    let t = template();
    let role = &t["Resources"]["EventWebhookRole"];
    assert_eq!(
        role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        yaml("Service: events.amazonaws.com")
    );
    assert!(role["Properties"]["ManagedPolicyArns"].is_null());
    assert_eq!(
        statements(role),
        vec![(
            None,
            yaml("events:InvokeApiDestination"),
            yaml("!GetAtt EventWebhookDestination.Arn")
        )]
    );
}

#[test]
fn each_queue_takes_messages_only_from_its_rule() {
    let t = template();
    for (policy, queue, rule) in [
        ("EventQueuePolicy", "EventSubscriberQueue", "EventQueueRule"),
        (
            "EventsDeadLetterQueuePolicy",
            "EventsDeadLetterQueue",
            "EventWebhookRule",
        ),
    ] {
        let p = &t["Resources"][policy]["Properties"];
        assert_eq!(p["Queues"], yaml(&format!("[!Ref {queue}]")), "{policy}");
        let statements = p["PolicyDocument"]["Statement"].as_sequence();
        assert_eq!(statements.map(Vec::len), Some(1), "{policy}");
        let s = &p["PolicyDocument"]["Statement"][0];
        assert_eq!(
            s["Principal"],
            yaml("Service: events.amazonaws.com"),
            "{policy}"
        );
        assert_eq!(s["Action"].as_str(), Some("sqs:SendMessage"), "{policy}");
        assert_eq!(
            s["Resource"],
            yaml(&format!("!GetAtt {queue}.Arn")),
            "{policy}"
        );
        assert_eq!(
            s["Condition"],
            yaml(&format!("ArnEquals: {{aws:SourceArn: !GetAtt {rule}.Arn}}")),
            "{policy}"
        );
    }
    let subscription = &t["Resources"]["EventQueueRule"]["Properties"];
    assert_eq!(
        subscription["EventPattern"],
        yaml("source: [!Ref EventSource]")
    );
    assert_eq!(
        subscription["Targets"][0]["Arn"],
        yaml("!GetAtt EventSubscriberQueue.Arn")
    );
}

#[test]
fn the_optional_event_resources_carry_their_conditions() {
    let t = template();
    let resources = &t["Resources"];
    for (name, condition) in [
        ("EventSubscriberQueue", "EventQueueEnabled"),
        ("EventQueueRule", "EventQueueEnabled"),
        ("EventQueuePolicy", "EventQueueEnabled"),
        ("EventWebhookConnection", "EventWebhookEnabled"),
        ("EventWebhookDestination", "EventWebhookEnabled"),
        ("EventWebhookRole", "EventWebhookEnabled"),
        ("EventWebhookRule", "EventWebhookEnabled"),
        ("EventsDeadLetterQueuePolicy", "EventWebhookEnabled"),
    ] {
        assert_eq!(
            resources[name]["Condition"].as_str(),
            Some(condition),
            "{name}"
        );
    }
    for name in [
        "EventBus",
        "EventsDeadLetterQueue",
        "EventsLogGroup",
        "EventsFunctionRole",
        "EventsFunction",
    ] {
        assert!(resources[name]["Condition"].is_null(), "{name}");
    }
    assert_eq!(
        t["Outputs"]["EventQueueUrl"]["Condition"].as_str(),
        Some("EventQueueEnabled")
    );
    assert_eq!(
        t["Conditions"]["EventQueueEnabled"],
        yaml("!Equals [!Ref EventQueue, Enabled]")
    );
    // No webhook without its URL.
    let webhook = text(&t["Conditions"]["EventWebhookEnabled"]);
    assert!(webhook.contains("EventWebhookUrl"), "{webhook}");
}

#[test]
fn the_outputs_name_the_bus_the_dead_letter_queue_and_the_stream_function() {
    let t = template();
    let outputs = &t["Outputs"];
    for (name, value) in [
        ("EventBusName", "!Ref EventBus"),
        ("EventBusArn", "!GetAtt EventBus.Arn"),
        ("EventsDeadLetterQueueUrl", "!Ref EventsDeadLetterQueue"),
        ("EventsFunctionName", "!Ref EventsFunction"),
        ("EventQueueUrl", "!Ref EventSubscriberQueue"),
    ] {
        assert_eq!(outputs[name]["Value"], yaml(value), "{name}");
    }
    assert_eq!(
        t["Resources"]["EventBus"]["Properties"]["Name"],
        yaml(r#"!Sub "${AWS::StackName}-directory""#)
    );
}

/// Whether the stream filter's pattern (`sk` equal to one string, or with
/// one prefix) lets an item's key through.
fn filter_admits(pattern: &serde_json::Value, sk: &str) -> bool {
    pattern["dynamodb"]["Keys"]["sk"]["S"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|m| match (m.as_str(), m["prefix"].as_str()) {
            (Some(exact), _) => exact == sk,
            (None, Some(prefix)) => sk.starts_with(prefix),
            _ => false,
        })
}

#[test]
fn the_stream_filter_admits_exactly_the_records_that_make_events() {
    use scim_lambda::scim::Kind;
    use scim_lambda::store::keys::{Keys, changed};
    let t = template();
    let filters = &t["Resources"]["EventsFunction"]["Properties"]["Events"]["TableChanges"]["Properties"]
        ["FilterCriteria"]["Filters"];
    let pattern: serde_json::Value = serde_json::from_str(
        filters[0]["Pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("no filter pattern")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let k = Keys::default();
    let keys = [
        k.resource(Kind::User, "u1"),
        k.resource(Kind::Group, "g1"),
        k.member_edge("g1", "u1"),
        k.user_name_guard("alice"),
        k.email_lookup("u1", "a@example.com"),
        k.cleanup_task("2026-12-01T00:00:00Z", Kind::User, "u1"),
    ];
    for key in keys {
        assert_eq!(
            filter_admits(&pattern, &key.sk),
            changed(&key).is_some(),
            "{key:?}"
        );
    }
}

/// Each alarm, its metric, statistic, period × periods and threshold: what
/// the README's table of alarms says.
#[test]
fn the_stack_alarms_on_what_hurts_and_tells_the_alarm_topic() {
    let t = template();
    let resources = t["Resources"].as_mapping().cloned().unwrap_or_default();
    let mut alarms: Vec<(String, String)> = Vec::new();
    for (name, r) in &resources {
        if r["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let name = name.as_str().unwrap_or_default().to_string();
        let p = &r["Properties"];
        assert_eq!(p["AlarmActions"], yaml("[!Ref AlarmTopic]"), "{name}");
        assert_eq!(p["OKActions"], yaml("[!Ref AlarmTopic]"), "{name}");
        assert_eq!(
            p["TreatMissingData"].as_str(),
            Some("notBreaching"),
            "{name}"
        );
        assert!(
            p["AlarmDescription"].as_str().is_some_and(|d| d.len() > 20),
            "{name}"
        );
        let what = match p["MetricName"].as_str() {
            Some(metric) => format!(
                "{}/{metric}[{}] {} {}x{} {}",
                p["Namespace"].as_str().unwrap_or_default(),
                p["Dimensions"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .map(|d| format!("{}={}", d["Name"].as_str().unwrap_or_default(), text(&d["Value"]).trim()))
                    .collect::<Vec<_>>()
                    .join(","),
                p["Statistic"].as_str().or(p["ExtendedStatistic"].as_str()).unwrap_or_default(),
                p["Period"].as_u64().unwrap_or_default(),
                p["EvaluationPeriods"].as_u64().unwrap_or_default(),
                p["Threshold"].as_u64().unwrap_or_default(),
            ),
            None => format!(
                "{} {}",
                text(&p["Metrics"][p["Metrics"].as_sequence().map_or(0, |m| m.len() - 1)]["Expression"]).trim(),
                p["Threshold"].as_f64().unwrap_or_default()
            ),
        };
        alarms.push((name, what));
    }
    alarms.sort();
    let want = [
        (
            "ApiLatencyAlarm",
            "AWS/ApiGateway/Latency[ApiId=!Ref Api] p95 300x3 5000",
        ),
        (
            "ApiServerErrorsAlarm",
            "AWS/ApiGateway/5xx[ApiId=!Ref Api] Sum 300x1 5",
        ),
        (
            "EventsDeadLetterAlarm",
            "AWS/SQS/ApproximateNumberOfMessagesVisible[QueueName=!GetAtt EventsDeadLetterQueue.QueueName] Maximum 300x1 1",
        ),
        (
            "EventsFunctionErrorsAlarm",
            "AWS/Lambda/Errors[FunctionName=!Ref EventsFunction] Sum 300x1 1",
        ),
        (
            "EventsIteratorAgeAlarm",
            "AWS/Lambda/IteratorAge[FunctionName=!Ref EventsFunction] Maximum 60x3 60000",
        ),
        (
            "FunctionDurationAlarm",
            "!Sub duration / (${Timeout} * 1000) 0.8",
        ),
        (
            "FunctionErrorsAlarm",
            "AWS/Lambda/Errors[FunctionName=!Ref Function] Sum 300x1 1",
        ),
        (
            "FunctionThrottlesAlarm",
            "AWS/Lambda/Throttles[FunctionName=!Ref Function] Sum 300x1 1",
        ),
        (
            "TableThrottlesAlarm",
            "FILL(reads, 0) + FILL(writes, 0) + FILL(gsi1reads, 0) + FILL(gsi1writes, 0) + FILL(gsi2reads, 0) + FILL(gsi2writes, 0) + FILL(gsi3reads, 0) + FILL(gsi3writes, 0) 1",
        ),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(alarms, want);
    // The throttle alarm watches the table and each of the store's GSIs.
    let watched: Vec<String> = t["Resources"]["TableThrottlesAlarm"]["Properties"]["Metrics"]
        .as_sequence()
        .into_iter()
        .flatten()
        .flat_map(|m| {
            m["MetricStat"]["Metric"]["Dimensions"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|d| d["Name"].as_str() == Some("GlobalSecondaryIndexName"))
        .filter_map(|d| d["Value"].as_str().map(str::to_string))
        .collect();
    let mut want_gsis: Vec<String> = INDEXES
        .iter()
        .flat_map(|ix| [ix.name.to_string(), ix.name.to_string()])
        .collect();
    want_gsis.sort();
    let mut watched = watched;
    watched.sort();
    assert_eq!(watched, want_gsis);
    // The topic is always there; the e-mail subscription only when given.
    assert_eq!(
        t["Resources"]["AlarmTopic"]["Type"].as_str(),
        Some("AWS::SNS::Topic")
    );
    let sub = &t["Resources"]["AlarmEmailSubscription"];
    assert_eq!(sub["Condition"].as_str(), Some("AlarmEmailGiven"));
    assert_eq!(sub["Properties"]["Endpoint"], yaml("!Ref AlarmEmail"));
}

#[test]
fn the_api_access_log_is_json_without_addresses_paths_or_headers() {
    let t = template();
    let settings = &t["Resources"]["Api"]["Properties"]["AccessLogSettings"];
    assert_eq!(
        settings["DestinationArn"],
        yaml("!GetAtt ApiAccessLogGroup.Arn")
    );
    let format = settings["Format"].as_str().unwrap_or_default();
    // `messageString` is quoted by API Gateway itself.
    let quoted = format.replace("$context.error.messageString", "\"\"");
    let line: serde_json::Value =
        serde_json::from_str(&quoted).unwrap_or_else(|e| panic!("{e}: {format}"));
    for field in ["requestId", "route", "status", "latencyMs"] {
        assert!(line[field].is_string(), "{field} in {format}");
    }
    for personal in [
        "sourceIp",
        "$context.path",
        "userAgent",
        "authorizer",
        "identity",
    ] {
        assert!(!format.contains(personal), "{personal} in {format}");
    }
    assert_eq!(
        t["Resources"]["ApiAccessLogGroup"]["Properties"]["RetentionInDays"],
        yaml("!Ref LogRetentionDays")
    );
    let env = &t["Resources"]["Function"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["SCIM_METRICS_NAMESPACE"], yaml("!Ref MetricsNamespace"));
}

/// With ExistingTableName, the stack makes no table and every use of the
/// table names the given one; without it, its own.
#[test]
fn an_existing_table_replaces_the_stacks_own_everywhere() {
    let t = template();
    assert_eq!(
        t["Resources"]["Table"]["Condition"].as_str(),
        Some("CreateTable")
    );
    let name = yaml("!If [UseExistingTable, !Ref ExistingTableName, !Ref Table]");
    let env = &t["Resources"]["Function"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["TABLE_NAME"], name);
    assert_eq!(t["Outputs"]["TableName"]["Value"], name);
    // Every reference to the conditional table is the `else` of an `!If`
    // on UseExistingTable.
    for (key, r) in t["Resources"].as_mapping().into_iter().flatten() {
        if key.as_str() != Some("Table") {
            assert_eq!(bare_table_references(r, false), 0, "{key:?}: {}", text(r));
        }
    }
    assert_eq!(bare_table_references(&t["Outputs"], false), 0);
    let rules = &t["Rules"]["ExistingTableHasItsStream"];
    assert!(text(rules).contains("ExistingTableStreamLabel"));
}

/// A custom domain maps to the API's stage, and the URLs the outputs give
/// (and the events' iss) are then on it.
#[test]
fn a_custom_domain_maps_to_the_api_and_becomes_the_tenant_url() {
    let t = template();
    for r in ["ApiDomain", "ApiDomainMapping"] {
        assert_eq!(
            t["Resources"][r]["Condition"].as_str(),
            Some("CustomDomain"),
            "{r}"
        );
    }
    let mapping = &t["Resources"]["ApiDomainMapping"]["Properties"];
    assert_eq!(mapping["ApiId"], yaml("!Ref Api"));
    assert_eq!(mapping["Stage"], yaml("!Ref Api.Stage"));
    for output in ["TenantUrl", "TokenEndpoint", "TenantUrlPattern"] {
        let v = text(&t["Outputs"][output]["Value"]);
        assert!(
            v.contains("CustomDomain") && v.contains("https://${DomainName}/scim/v2"),
            "{output}: {v}"
        );
    }
    assert_eq!(
        t["Outputs"]["CustomDomainTarget"]["Condition"].as_str(),
        Some("CustomDomain")
    );
}

/// References to the `Table` resource (`!Ref Table`, `!GetAtt Table.*`,
/// `${Table.*}`) that are not guarded by an `!If [UseExistingTable, ...]`.
fn bare_table_references(v: &Value, guarded: bool) -> usize {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let names_table = match (&*tag, &t.value) {
                ("!Ref", Value::String(s)) => s == "Table",
                ("!GetAtt", Value::String(s)) => s.starts_with("Table."),
                ("!Sub", Value::String(s)) => s.contains("${Table.") || s.contains("${Table}"),
                ("!GetAtt", Value::Sequence(p)) => {
                    p.first().and_then(Value::as_str) == Some("Table")
                }
                _ => false,
            };
            if names_table {
                return usize::from(!guarded);
            }
            // Only the `else` of `!If [UseExistingTable, then, else]` is
            // where the stack's own table may be named.
            if tag == "!If" && t.value[0].as_str() == Some("UseExistingTable") {
                return bare_table_references(&t.value[1], guarded)
                    + bare_table_references(&t.value[2], true);
            }
            bare_table_references(&t.value, guarded)
        }
        Value::Sequence(items) => items
            .iter()
            .map(|i| bare_table_references(i, guarded))
            .sum(),
        Value::Mapping(m) => m.values().map(|i| bare_table_references(i, guarded)).sum(),
        _ => 0,
    }
}
