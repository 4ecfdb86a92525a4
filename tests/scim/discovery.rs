//! Discovery endpoints, served from the schema definitions the service
//! validates with.

use serde_json::Value;

use crate::common::Harness;

async fn service_provider_config_tells_what_is_supported(h: Harness) {
    let r = h.send("GET", "/scim/v2/ServiceProviderConfig", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/scim+json"));
    let b = &r.body;
    assert_eq!(
        b["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(b["patch"]["supported"], true);
    assert_eq!(b["filter"]["supported"], true);
    assert_eq!(b["bulk"]["supported"], true);
    assert_eq!(b["bulk"]["maxOperations"], 1000);
    assert_eq!(b["bulk"]["maxPayloadSize"], 1024 * 1024);
    assert_eq!(b["sort"]["supported"], true);
    assert_eq!(b["pagination"]["cursor"], true);
    assert_eq!(b["pagination"]["index"], true);
    assert_eq!(b["pagination"]["defaultPaginationMethod"], "index");
    assert_eq!(b["pagination"]["defaultPageSize"], 1000);
    assert_eq!(b["pagination"]["maxPageSize"], 1000);
    assert_eq!(b["pagination"]["cursorTimeout"], 3600);
    assert_eq!(b["etag"]["supported"], true);
    assert_eq!(b["changePassword"]["supported"], false);
    assert_eq!(b["filter"]["maxResults"], 1000);
    assert_eq!(b["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        b["meta"]["location"],
        "http://scim.example.test/scim/v2/ServiceProviderConfig"
    );
}

async fn resource_types_list_users_with_the_enterprise_extension(h: Harness) {
    let r = h.send("GET", "/scim/v2/ResourceTypes", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 2);
    let user = &r.body["Resources"][0];
    assert_eq!(user["id"], "User");
    assert_eq!(user["endpoint"], "/Users");
    assert_eq!(user["schema"], "urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(
        user["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    assert_eq!(user["schemaExtensions"][0]["required"], false);
    let one = h.send("GET", "/scim/v2/ResourceTypes/User", None).await;
    assert_eq!(&one.body, user);
    h.send("GET", "/scim/v2/ResourceTypes/Printer", None)
        .await
        .assert_error(404, None);
}

async fn schemas_describe_core_user_and_enterprise_attributes(h: Harness) {
    let r = h.send("GET", "/scim/v2/Schemas", None).await;
    assert_eq!(r.status, 200);
    let ids: Vec<&str> = r.body["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        vec![
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ]
    );
    let group = h
        .send(
            "GET",
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
            None,
        )
        .await;
    let members = group.body["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["name"] == "members")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(members["multiValued"], true);
    let subs: Vec<&str> = members["subAttributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(subs, vec!["value", "$ref", "type", "display"]);
    let user = h
        .send(
            "GET",
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
        )
        .await;
    assert_eq!(user.status, 200);
    let attr = |name: &str| -> Value {
        user.body["attributes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let user_name = attr("userName");
    for (k, v) in [
        ("type", "string"),
        ("mutability", "readWrite"),
        ("returned", "default"),
        ("uniqueness", "server"),
    ] {
        assert_eq!(user_name[k], v, "userName.{k}");
    }
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["caseExact"], false);
    assert_eq!(user_name["multiValued"], false);
    assert_eq!(attr("password")["returned"], "never");
    assert_eq!(attr("password")["mutability"], "writeOnly");
    assert_eq!(attr("groups")["mutability"], "readOnly");
    let emails = attr("emails");
    assert_eq!(emails["multiValued"], true);
    let subs: Vec<&str> = emails["subAttributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(subs, vec!["value", "display", "type", "primary"]);
    let ent = h
        .send(
            "GET",
            "/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            None,
        )
        .await;
    let names: Vec<&str> = ent.body["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        vec![
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager"
        ]
    );
    h.send("GET", "/scim/v2/Schemas/urn:nope", None)
        .await
        .assert_error(404, None);
}

crate::on_both_drivers!(
    service_provider_config_tells_what_is_supported,
    resource_types_list_users_with_the_enterprise_extension,
    schemas_describe_core_user_and_enterprise_attributes,
);

#[tokio::test]
async fn serves_under_a_configured_base_path() {
    let mut config = crate::common::config();
    config.base_path = "/tenant-a/scim".into();
    let h = Harness::embedded_with(&config).await;
    let r = h
        .send("GET", "/tenant-a/scim/ServiceProviderConfig", None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["meta"]["location"],
        "http://scim.example.test/tenant-a/scim/ServiceProviderConfig"
    );
    h.send("GET", "/scim/v2/ServiceProviderConfig", None)
        .await
        .assert_error(404, None);
}
