//! The built binary's command line, as an operator meets it: help for the
//! whole and for each command, the version, one readable line for whatever
//! fails, and the service itself when no command is given.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary with an environment of its own (no AWS, no table), so that
/// nothing set around the test run reaches it.
fn scim_lambda(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scim-lambda"));
    cmd.env_clear()
        .env("SCIM_TENANTS_FILE", dir.join("tenants.json"))
        .env("SCIM_DB_PATH", dir.join("scim.redb"))
        .env("SCIM_LISTEN_ADDR", "127.0.0.1:0");
    cmd
}

/// Runs a command in `dir`'s environment and waits for it.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    scim_lambda(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    run_in(dir.path(), args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that the run failed with exactly one `error: ` line on stderr
/// mentioning `what`, and nothing on stdout.
fn assert_one_error_line(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(what), "{stderr}");
    assert!(
        !stderr.contains("\\n") && !stderr.contains("\\\""),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn help_lists_the_commands_and_says_no_command_runs_the_service() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in [
        "rotate-token",
        "credentials",
        "tenant",
        "--version",
        "With no command, runs the service",
    ] {
        assert!(help.contains(word), "{word} in {help}");
    }
}

#[test]
fn version_prints_the_package_version() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout).trim(),
        format!("scim-lambda {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn each_command_has_help_naming_its_arguments() {
    for (args, words) in [
        (&["tenant", "--help"][..], &["add", "list", "remove"][..]),
        (&["rotate-token", "--help"], &["--secret-id", "--tenant"]),
        (&["tenant", "add", "--help"], &["<TENANT>", "--base-url"]),
        (
            &["tenant", "remove", "--help"],
            &["<TENANT>", "--batch", "--sweep", "--no-wait"],
        ),
        (&["help", "tenant", "list"], &["Lists the tenants"]),
        (
            &["credentials", "--help"],
            &["add", "list", "revoke", "rotate"],
        ),
        (
            &["credentials", "add", "--help"],
            &[
                "--kind",
                "--scope",
                "--username",
                "--expires-days",
                "--tenant",
            ],
        ),
        (&["export", "--help"], &["<FILE>", "--tenant"]),
        (
            &["import", "--help"],
            &["<FILE>", "--tenant", "passes over"],
        ),
        (&["create-table", "--help"], &["--no-deletion-protection"]),
        (
            &["credentials", "rotate", "--help"],
            &["<ID>", "--overlap-hours", "--tenant"],
        ),
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        for word in words {
            assert!(help.contains(word), "{args:?}: {word} in {help}");
        }
    }
}

#[test]
fn an_unknown_command_is_one_error_line() {
    assert_one_error_line(&run(&["frobnicate"]), "'frobnicate'");
    assert_one_error_line(&run(&["tenant", "rename", "acme"]), "'rename'");
}

#[test]
fn a_bad_flag_or_value_is_one_error_line() {
    assert_one_error_line(&run(&["tenant", "remove", "acme", "--bogus"]), "--bogus");
    assert_one_error_line(
        &run(&["tenant", "remove", "acme", "--batch", "0"]),
        "--batch",
    );
    assert_one_error_line(&run(&["tenant", "add", "Not-A-Slug"]), "Not-A-Slug");
    assert_one_error_line(
        &run(&["rotate-token", "--secret-id", "s", "--tenant", "acme"]),
        "cannot be used with",
    );
}

#[test]
fn a_failing_command_is_one_error_line_whatever_its_message_holds() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // A file name with a line break, which the message quotes.
    let file = dir.path().join("two\nlines.json");
    std::fs::write(&file, "{not json").unwrap_or_else(|e| panic!("{e}"));
    let out = scim_lambda(dir.path())
        .env("SCIM_TENANTS_FILE", &file)
        .args(["tenant", "list"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&out, "is not a tenants file");

    let out = run(&["rotate-token", "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(1));
    assert_one_error_line(&out, "no tenant 'acme'");
}

#[test]
fn without_a_command_the_local_server_starts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut child = scim_lambda(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let first = child.stdout.take().map(|out| {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        line
    });
    let _ = child.kill();
    let _ = child.wait();
    let first = first.unwrap_or_default();
    assert!(
        first.starts_with("SCIM base URL: http://127.0.0.1:"),
        "{first}"
    );
}

/// The value printed after `label` (`Client secret:   ...`).
fn printed<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label} in {stdout}"))
}

#[test]
fn credentials_are_added_listed_rotated_and_revoked_in_the_local_file_as_digests() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cmd = |args: &[&str]| run_in(dir.path(), args);
    let added = cmd(&["credentials", "add", "--kind", "oauth-client"]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let out = text(&added.stdout);
    let id = printed(&out, "Client ID:").to_string();
    let secret = printed(&out, "Client secret:").to_string();
    assert_eq!(
        printed(&out, "Token endpoint:"),
        "http://127.0.0.1:0/scim/v2/oauth2/token"
    );
    assert!(
        text(&added.stderr).contains("expires"),
        "{}",
        text(&added.stderr)
    );
    let basic = cmd(&[
        "credentials",
        "add",
        "--kind",
        "basic",
        "--scope",
        "read-only",
        "--username",
        "okta",
    ]);
    assert!(basic.status.success(), "{}", text(&basic.stderr));
    let password = printed(&text(&basic.stdout), "Password:").to_string();
    let file =
        std::fs::read_to_string(dir.path().join("tenants.json")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !file.contains(&secret) && !file.contains(&password),
        "{file}"
    );

    let listed = text(&cmd(&["credentials", "list"]).stdout);
    assert!(
        listed.contains(&id) && listed.contains("oauth-client"),
        "{listed}"
    );
    assert!(
        listed.contains("okta") && listed.contains("read-only"),
        "{listed}"
    );
    assert!(!listed.contains(&secret), "{listed}");

    let rotated = cmd(&["credentials", "rotate", &id, "--overlap-hours", "24"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    let new = printed(&text(&rotated.stdout), "Client secret:").to_string();
    assert_ne!(new, secret);
    assert!(text(&rotated.stderr).contains("the old one works until"));
    let listed = text(&cmd(&["credentials", "list"]).stdout);
    let row = listed
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_default();
    assert!(
        row.matches('T').count() >= 2,
        "expiry and overlap end: {row}"
    );

    assert!(cmd(&["credentials", "revoke", &id]).status.success());
    assert!(!text(&cmd(&["credentials", "list"]).stdout).contains(&id));
    let again = cmd(&["credentials", "revoke", &id]);
    assert_one_error_line(&again, "no credential");
    // A tenant's credentials need the tenant.
    assert_one_error_line(
        &cmd(&["credentials", "add", "--kind", "bearer", "--tenant", "acme"]),
        "no tenant 'acme'",
    );
    assert_one_error_line(
        &cmd(&[
            "credentials",
            "add",
            "--kind",
            "oauth-client",
            "--expires-days",
            "30",
        ]),
        "365 to 1095",
    );
    assert_one_error_line(
        &cmd(&["credentials", "add", "--kind", "bearer", "--username", "x"]),
        "--kind basic",
    );
}

#[test]
fn create_table_export_and_import_move_a_directory_through_files_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cmd = |args: &[&str]| run_in(dir.path(), args);
    let out = cmd(&["create-table"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("scim.redb").exists());
    assert_one_error_line(&cmd(&["create-table"]), "exists already");

    let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/events/seed.ndjson");
    let out = cmd(&["import", seed]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("3 new, 0 there already, 1 memberships"),
        "{}",
        text(&out.stderr)
    );
    // Run again: everything is there already, and nothing is counted twice.
    let out = cmd(&["import", seed]);
    assert!(
        text(&out.stderr).contains("0 new, 3 there already"),
        "{}",
        text(&out.stderr)
    );

    let file = dir.path().join("backup.ndjson");
    let file_arg = file.to_string_lossy().into_owned();
    let out = cmd(&["export", &file_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("users 2, groups 1, memberships 1"),
        "{}",
        text(&out.stderr)
    );
    let exported = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}"));
    let parse = |t: &str| -> Vec<serde_json::Value> {
        t.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    };
    let seed_text = std::fs::read_to_string(seed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        parse(&exported),
        parse(&seed_text),
        "the export is the seed it was loaded from"
    );
    assert!(!dir.path().join("backup.ndjson.partial").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600), "an export is its owner's only");
    }
    // An export of a store that is not there is refused, not empty.
    let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = run_in(
        empty.path(),
        &["export", &empty.path().join("x.ndjson").to_string_lossy()],
    );
    assert_one_error_line(&out, "create-table");

    // A file with a broken line between good ones: the good ones load, the
    // broken one is named, and the command fails.
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mixed = other.path().join("mixed.ndjson");
    let lines: Vec<&str> = exported.lines().collect();
    std::fs::write(&mixed, format!("{}\n{{\"id\": \n{}\n", lines[0], lines[1]))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = run_in(other.path(), &["import", &mixed.to_string_lossy()]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("line 2: refused"), "{stderr}");
    assert!(stderr.contains("2 new, 0 there already"), "{stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("error: 1 lines were refused")),
        "{stderr}"
    );
}

/// A group of more members than one line holds is imported from its lines
/// in a row, counted once as new, its further lines apart; run again, it is
/// there already and its members are not counted twice.
#[test]
fn an_import_of_a_group_over_several_lines_counts_it_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let user = "urn:ietf:params:scim:schemas:core:2.0:User";
    let mut lines: Vec<String> = (0..1_001)
        .map(|i| {
            serde_json::json!({"schemas": [user], "id": format!("u{i:04}"),
                "userName": format!("u{i:04}@example.com")})
            .to_string()
        })
        .collect();
    let members = |range: std::ops::Range<usize>| -> Vec<serde_json::Value> {
        range
            .map(|i| serde_json::json!({"value": format!("u{i:04}"), "type": "User"}))
            .collect()
    };
    for part in [members(0..1_000), members(1_000..1_001)] {
        lines.push(
            serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": "big", "displayName": "Big", "members": part})
            .to_string(),
        );
    }
    let file = dir.path().join("big.ndjson");
    std::fs::write(&file, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let import = || {
        let out = run_in(dir.path(), &["import", &file.to_string_lossy()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let first = import();
    assert!(
        first.contains("1002 new, 0 there already, 1001 memberships written, 0 lines refused, 1 further lines of groups"),
        "{first}"
    );
    let again = import();
    assert!(again.contains("0 new, 1002 there already"), "{again}");
    let out = run_in(dir.path(), &["export", "-"]);
    assert!(
        text(&out.stderr).contains("users 1001, groups 1, memberships 1001"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).lines().count(), 1_003);
}
