//! One directory's credentials as they are stored: bearer tokens, HTTP
//! Basic username/password pairs and OAuth 2.0 clients, each read-write or
//! read-only, its secret kept as a SHA-256 digest only. A rotated
//! credential keeps its previous digest until the end of its overlap; a
//! credential may expire. What a presented credential opens is decided
//! here, comparing digests in constant time.
//!
//! Stored as JSON (`{"credentials": [...]}`) in a Secrets Manager secret or
//! in a tenants file entry. A secret holding a bare token (or `{"token":
//! ...}`), as earlier releases and the template's first value do, is one
//! read-write bearer credential named `token`.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::{Digest32, digest, from_hex};

/// How a credential is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `Authorization: Bearer <secret>`.
    Bearer,
    /// `Authorization: Basic <username:password>` (RFC 7617).
    Basic,
    /// An OAuth 2.0 client: its id and secret get access tokens at the
    /// token endpoint (RFC 6749 §4.4), sent as `Bearer`.
    OauthClient,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Basic => "basic",
            Self::OauthClient => "oauth-client",
        }
    }
}

/// What a credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every route.
    #[default]
    ReadWrite,
    /// GET, and POST of a `.search`; every write is 403.
    ReadOnly,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadWrite => "read-write",
            Self::ReadOnly => "read-only",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read-write" => Some(Self::ReadWrite),
            "read-only" => Some(Self::ReadOnly),
            _ => None,
        }
    }

    /// Whether a token of scope `self` may be given to a credential of
    /// scope `granted`.
    pub fn within(self, granted: Self) -> bool {
        self == granted || granted == Self::ReadWrite
    }
}

/// The secret a rotated credential had, valid until its overlap ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Previous {
    pub secret_sha256: String,
    /// Unix seconds.
    pub until: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Names the credential in the commands; an OAuth client's `client_id`.
    pub id: String,
    pub kind: Kind,
    #[serde(default)]
    pub scope: Scope,
    /// Basic's username (none for the other kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub secret_sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
    /// Unix seconds after which the credential opens nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    /// Unix seconds.
    #[serde(default)]
    pub created: u64,
}

/// The id of the credential a bare token (an earlier release's secret, or
/// `SCIM_TOKEN`) stands for.
pub const LEGACY_TOKEN_ID: &str = "token";

/// A directory's credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialSet {
    #[serde(default)]
    pub credentials: Vec<Credential>,
}

/// A credential as presented, its parts digested.
pub enum Presented {
    Bearer(Digest32),
    Basic {
        username: Digest32,
        password: Digest32,
    },
    Client {
        id: Digest32,
        secret: Digest32,
    },
}

impl Presented {
    pub fn bearer(token: &str) -> Self {
        Self::Bearer(digest(token))
    }
    pub fn basic(username: &str, password: &str) -> Self {
        Self::Basic {
            username: digest(username),
            password: digest(password),
        }
    }
    pub fn client(id: &str, secret: &str) -> Self {
        Self::Client {
            id: digest(id),
            secret: digest(secret),
        }
    }
}

/// What an accepted credential opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The credential's id.
    pub credential: String,
    pub scope: Scope,
}

fn same(a: &Digest32, b: &Digest32) -> bool {
    a.ct_eq(b).into()
}

/// Whether `presented` is the digest written as `hex`.
fn is_digest(presented: &Digest32, hex: &str) -> bool {
    from_hex(hex).is_some_and(|d| same(presented, &d))
}

impl Credential {
    /// A credential with a fresh secret's digest.
    pub fn new(id: String, kind: Kind, scope: Scope, secret: &str, now: u64) -> Self {
        Self {
            id,
            kind,
            scope,
            username: None,
            secret_sha256: super::hex(&digest(secret)),
            previous: None,
            expires: None,
            created: now,
        }
    }

    fn live(&self, now: u64) -> bool {
        self.expires.is_none_or(|e| now < e)
    }

    /// Whether `secret` is this credential's, or its previous one still in
    /// its overlap.
    fn secret_is(&self, secret: &Digest32, now: u64) -> bool {
        let current = is_digest(secret, &self.secret_sha256);
        let previous = self
            .previous
            .as_ref()
            .is_some_and(|p| now < p.until && is_digest(secret, &p.secret_sha256));
        current | previous
    }

    fn accepts(&self, presented: &Presented, now: u64) -> bool {
        if !self.live(now) {
            return false;
        }
        match (presented, self.kind) {
            (Presented::Bearer(t), Kind::Bearer) => self.secret_is(t, now),
            (Presented::Basic { username, password }, Kind::Basic) => {
                same(username, &digest(self.basic_name())) & self.secret_is(password, now)
            }
            (Presented::Client { id, secret }, Kind::OauthClient) => {
                same(id, &digest(&self.id)) & self.secret_is(secret, now)
            }
            _ => false,
        }
    }

    /// Rotates the secret: `secret` is current, the old one stays valid
    /// until `until` (not at all when that is not later than now), and
    /// never past the credential's expiry as it was.
    pub fn rotate(&mut self, secret: &str, now: u64, until: u64) {
        let until = self.expires.map_or(until, |e| until.min(e));
        let old = std::mem::replace(&mut self.secret_sha256, super::hex(&digest(secret)));
        self.previous = (until > now).then_some(Previous {
            secret_sha256: old,
            until,
        });
    }

    /// Until when the previous secret still works, if it does.
    pub fn overlap_until(&self, now: u64) -> Option<u64> {
        self.previous
            .as_ref()
            .map(|p| p.until)
            .filter(|until| *until > now)
    }

    /// The name Basic matches: the username, else the id.
    pub fn basic_name(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.id)
    }
}

impl CredentialSet {
    /// One read-write bearer token (`SCIM_TOKEN`, an earlier release's
    /// secret).
    pub fn token(token: &str) -> Self {
        Self {
            credentials: vec![Credential::new(
                LEGACY_TOKEN_ID.into(),
                Kind::Bearer,
                Scope::ReadWrite,
                token,
                0,
            )],
        }
    }

    /// The credentials in a secret string, as the request path reads
    /// them: a credentials document (an entry it cannot read is left out,
    /// and opens nothing), or a bare token (plain, or the `token` field of
    /// a JSON object). `None` when it holds neither.
    pub fn from_secret(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        match serde_json::from_str::<serde_json::Value>(s) {
            Ok(serde_json::Value::Object(mut o)) if o.contains_key("credentials") => {
                let entries = match o.remove("credentials") {
                    Some(serde_json::Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                let total = entries.len();
                let credentials: Vec<Credential> = entries
                    .into_iter()
                    .filter_map(|e| serde_json::from_value(e).ok())
                    .collect();
                if credentials.len() < total {
                    tracing::warn!(
                        unreadable = total - credentials.len(),
                        "credentials that cannot be read are left out"
                    );
                }
                Some(Self { credentials })
            }
            Ok(serde_json::Value::Object(o)) => {
                let t = o.get("token")?.as_str()?.trim();
                (!t.is_empty()).then(|| Self::token(t))
            }
            _ => Some(Self::token(s)),
        }
    }

    /// The credentials in a secret string, as the operator's commands read
    /// them before writing them back: anything they cannot read whole is an
    /// error (a command must not drop what it does not understand). An
    /// empty string holds none.
    pub fn from_secret_strictly(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(Self::default());
        }
        match serde_json::from_str::<serde_json::Value>(s) {
            Ok(serde_json::Value::Object(o)) if o.contains_key("credentials") => {
                serde_json::from_value(serde_json::Value::Object(o)).map_err(|e| {
                    format!(
                        "the credentials document cannot be read (line {}, column {}): fix it, or restore its AWSPREVIOUS version",
                        e.line(),
                        e.column()
                    )
                })
            }
            Ok(serde_json::Value::Object(o)) => match o.get("token").and_then(|t| t.as_str()) {
                Some(t) if !t.trim().is_empty() => Ok(Self::token(t.trim())),
                _ => Err("the secret is a JSON object with neither credentials nor a token".into()),
            },
            _ => Ok(Self::token(s)),
        }
    }

    /// Whether a secret string is a credentials document (not a bare token).
    pub fn is_document(s: &str) -> bool {
        matches!(
            serde_json::from_str::<serde_json::Value>(s.trim()),
            Ok(serde_json::Value::Object(o)) if o.contains_key("credentials")
        )
    }

    /// The grant of the credential that accepts `presented`, if one does.
    /// Every credential is tried, so the time taken does not tell which.
    pub fn accept(&self, presented: &Presented, now: u64) -> Option<Grant> {
        let mut found = None;
        for c in &self.credentials {
            if c.accepts(presented, now) && found.is_none() {
                found = Some(Grant {
                    credential: c.id.clone(),
                    scope: c.scope,
                });
            }
        }
        found
    }

    /// The live OAuth client with this id (access tokens it was given stop
    /// working once it is gone or expired).
    pub fn has_client(&self, id: &str, now: u64) -> Option<Scope> {
        self.credentials
            .iter()
            .find(|c| c.kind == Kind::OauthClient && c.id == id && c.live(now))
            .map(|c| c.scope)
    }

    /// The set with `other`'s credentials added (the environment's and the
    /// file's, for the local single-tenant directory).
    pub fn merged(mut self, other: &Self) -> Self {
        self.credentials.extend(other.credentials.iter().cloned());
        self
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Credential> {
        self.credentials.iter_mut().find(|c| c.id == id)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> CredentialSet {
        let mut basic = Credential::new("b1".into(), Kind::Basic, Scope::ReadOnly, "pw", 0);
        basic.username = Some("okta".into());
        let mut client = Credential::new(
            "client-1".into(),
            Kind::OauthClient,
            Scope::ReadWrite,
            "cs",
            0,
        );
        client.expires = Some(1_000);
        CredentialSet {
            credentials: vec![
                Credential::new("t1".into(), Kind::Bearer, Scope::ReadWrite, "tok", 0),
                basic,
                client,
            ],
        }
    }

    #[test]
    fn each_kind_opens_only_as_its_own_kind() {
        let s = set();
        let grant = |p: Presented| s.accept(&p, 10).map(|g| (g.credential, g.scope));
        assert_eq!(
            grant(Presented::bearer("tok")),
            Some(("t1".into(), Scope::ReadWrite))
        );
        assert_eq!(
            grant(Presented::basic("okta", "pw")),
            Some(("b1".into(), Scope::ReadOnly))
        );
        assert_eq!(
            grant(Presented::client("client-1", "cs")),
            Some(("client-1".into(), Scope::ReadWrite))
        );
        // The right secret presented as another kind, or with another name.
        assert_eq!(grant(Presented::bearer("pw")), None);
        assert_eq!(grant(Presented::bearer("cs")), None);
        assert_eq!(grant(Presented::basic("b1", "pw")), None);
        assert_eq!(grant(Presented::basic("client-1", "cs")), None);
        assert_eq!(grant(Presented::client("t1", "tok")), None);
        assert_eq!(grant(Presented::client("client-2", "cs")), None);
        assert_eq!(grant(Presented::basic("okta", "pW")), None);
    }

    #[test]
    fn an_expired_client_opens_nothing() {
        let s = set();
        assert!(
            s.accept(&Presented::client("client-1", "cs"), 999)
                .is_some()
        );
        assert!(
            s.accept(&Presented::client("client-1", "cs"), 1_000)
                .is_none()
        );
        assert_eq!(s.has_client("client-1", 999), Some(Scope::ReadWrite));
        assert_eq!(s.has_client("client-1", 1_000), None);
    }

    #[test]
    fn a_rotated_secret_overlaps_until_its_end_then_only_the_new_one_works() {
        let mut s = set();
        if let Some(c) = s.get_mut("t1") {
            c.rotate("tok2", 100, 200);
        }
        for (at, old, new) in [(150, true, true), (199, true, true), (200, false, true)] {
            assert_eq!(
                s.accept(&Presented::bearer("tok"), at).is_some(),
                old,
                "{at}"
            );
            assert_eq!(
                s.accept(&Presented::bearer("tok2"), at).is_some(),
                new,
                "{at}"
            );
        }
        // No overlap: the old secret stops at once.
        if let Some(c) = s.get_mut("t1") {
            c.rotate("tok3", 300, 300);
        }
        assert!(s.accept(&Presented::bearer("tok2"), 300).is_none());
        assert!(s.accept(&Presented::bearer("tok3"), 300).is_some());
    }

    #[test]
    fn an_overlap_never_outlasts_the_expiry_it_had() {
        let mut c = Credential::new("c".into(), Kind::OauthClient, Scope::ReadWrite, "old", 0);
        c.expires = Some(150);
        c.rotate("new", 100, 200);
        assert_eq!(c.overlap_until(100), Some(150));
        // Already expired: no overlap at all.
        let mut expired =
            Credential::new("e".into(), Kind::OauthClient, Scope::ReadWrite, "old", 0);
        expired.expires = Some(50);
        expired.rotate("new", 100, 200);
        assert_eq!(expired.overlap_until(100), None);
    }

    #[test]
    fn an_unreadable_entry_opens_nothing_and_the_commands_refuse_the_document() {
        let doc = r#"{"credentials": [{"id": "x", "kind": "laser", "secret_sha256": "00"},
            {"id": "t1", "kind": "bearer", "secret_sha256": "8c6976e5b5410415bde908bd4dee15dfb167a9c873fc4bb8a81f6f2ab448a918"}]}"#;
        let lenient = CredentialSet::from_secret(doc).map(|s| s.credentials.len());
        assert_eq!(lenient, Some(1));
        assert!(CredentialSet::from_secret_strictly(doc).is_err());
        assert!(CredentialSet::from_secret_strictly(r#"{"other": 1}"#).is_err());
        assert_eq!(
            CredentialSet::from_secret_strictly(" bare "),
            Ok(CredentialSet::token("bare"))
        );
        assert!(CredentialSet::is_document(doc));
        assert!(!CredentialSet::is_document(r#"{"token": "x"}"#));
    }

    #[test]
    fn reads_bare_tokens_and_credentials_documents() {
        let bare = CredentialSet::from_secret(" abc \n");
        let field = CredentialSet::from_secret(r#"{"token": "abc"}"#);
        assert_eq!(bare, Some(CredentialSet::token("abc")));
        assert_eq!(bare, field);
        assert_eq!(CredentialSet::from_secret(r#"{"other": "x"}"#), None);
        assert_eq!(CredentialSet::from_secret(""), None);
        let doc = set().to_json();
        assert_eq!(CredentialSet::from_secret(&doc), Some(set()));
        assert!(
            !doc.contains("\"pw\"") && !doc.contains("\"cs\""),
            "digests only"
        );
    }
}
