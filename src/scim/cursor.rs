//! Cursors for RFC 9865 paging: opaque, tamper-evident (HMAC-SHA256 with a
//! configured key), bound to the query they page and to a lifetime. A cursor
//! names the last resource of the previous page; the next page starts after
//! it in the store's order, so a page costs the same at any depth.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::error::{ScimError, ScimType};

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks cursors.
#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
    /// Seconds a cursor stays valid.
    pub ttl_seconds: u64,
}

/// What a cursor says: where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The id of the last resource already returned.
    pub after: String,
}

fn error(scim_type: ScimType, detail: &str) -> ScimError {
    ScimError::bad_request(scim_type, detail)
}

/// A short digest of the query a cursor belongs to (type, filter, sort).
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    URL_SAFE_NO_PAD.encode(&h.finalize()[..12])
}

impl CursorCodec {
    pub fn new(key: Vec<u8>, ttl_seconds: u64) -> Self {
        Self { key, ttl_seconds }
    }

    fn mac(&self) -> Result<HmacSha256, ScimError> {
        // HMAC takes keys of any length; the error cannot happen.
        <HmacSha256 as Mac>::new_from_slice(&self.key).map_err(|_| ScimError::internal())
    }

    /// A cursor for the page after `after`, for the query `query` with page
    /// size `count`, issued at `now` (Unix seconds).
    pub fn encode(
        &self,
        after: &str,
        query: &str,
        count: usize,
        now: u64,
    ) -> Result<String, ScimError> {
        let expires = now.saturating_add(self.ttl_seconds);
        let payload = format!("1|{query}|{count}|{expires}|{after}");
        let mut m = self.mac()?;
        m.update(payload.as_bytes());
        let body = URL_SAFE_NO_PAD.encode(payload.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        Ok(format!("{body}.{sig}"))
    }

    /// Checks a cursor against the query it must belong to.
    pub fn decode(
        &self,
        cursor: &str,
        query: &str,
        count: usize,
        now: u64,
    ) -> Result<Position, ScimError> {
        let invalid = || {
            error(
                ScimType::InvalidCursor,
                "the cursor is not one this service issued for this query",
            )
        };
        let (body, sig) = cursor.split_once('.').ok_or_else(invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
        let payload = String::from_utf8(payload).map_err(|_| invalid())?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| invalid())?;
        let mut m = self.mac()?;
        m.update(payload.as_bytes());
        m.verify_slice(&sig).map_err(|_| invalid())?;
        let mut parts = payload.splitn(5, '|');
        let (Some("1"), Some(q), Some(c), Some(e), Some(after)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        if q != query {
            return Err(invalid());
        }
        if c.parse::<usize>().ok() != Some(count) {
            return Err(error(
                ScimType::InvalidCount,
                "count must stay the same from page to page",
            ));
        }
        if e.parse::<u64>().map_err(|_| invalid())? < now {
            return Err(error(
                ScimType::ExpiredCursor,
                "the cursor has expired; start again without one",
            ));
        }
        Ok(Position {
            after: after.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec() -> CursorCodec {
        CursorCodec::new(b"k".to_vec(), 60)
    }

    #[test]
    fn a_cursor_round_trips_for_its_own_query() {
        let c = codec().encode("id-42", "q1", 10, 1000).unwrap_or_default();
        assert!(
            c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-._~".contains(ch)),
            "{c}"
        );
        assert_eq!(
            codec().decode(&c, "q1", 10, 1010).map(|p| p.after),
            Ok("id-42".into())
        );
    }

    #[test]
    fn tampered_foreign_expired_or_recounted_cursors_are_refused() {
        let c = codec().encode("id-42", "q1", 10, 1000).unwrap_or_default();
        let t = |r: Result<Position, ScimError>| r.err().and_then(|e| e.scim_type);
        let mut forged = c.clone();
        forged.replace_range(0..1, if c.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            t(codec().decode(&forged, "q1", 10, 1000)),
            Some(ScimType::InvalidCursor)
        );
        assert_eq!(
            t(CursorCodec::new(b"other".to_vec(), 60).decode(&c, "q1", 10, 1000)),
            Some(ScimType::InvalidCursor)
        );
        assert_eq!(
            t(codec().decode(&c, "q2", 10, 1000)),
            Some(ScimType::InvalidCursor)
        );
        assert_eq!(
            t(codec().decode(&c, "q1", 11, 1000)),
            Some(ScimType::InvalidCount)
        );
        assert_eq!(
            t(codec().decode(&c, "q1", 10, 2000)),
            Some(ScimType::ExpiredCursor)
        );
        assert_eq!(
            t(codec().decode("garbage", "q1", 10, 1000)),
            Some(ScimType::InvalidCursor)
        );
    }
}
