//! Signing SETs for push delivery: a compact JWS (RFC 7515) with HS256
//! (HMAC-SHA-256 over `header.claims`), `typ` `secevent+jwt` as RFC 8417
//! asks. The key is shared with the receiver, which checks the signature
//! with any JWT library (the README shows one).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

/// The shortest key accepted: HS256 wants at least the hash's 32 bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// One part of a compact JWS: the JSON, base64url without padding.
fn part(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

/// The SET (its claims as JSON) as a signed compact JWS.
pub fn hs256(claims: &str, key: &[u8]) -> String {
    let header = json!({"alg": "HS256", "typ": "secevent+jwt"}).to_string();
    let signing_input = format!("{}.{}", part(&header), part(claims));
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let signature = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(signing_input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("{signing_input}.{signature}")
}

/// An unsecured JWT (RFC 7519 §6), for a poll without a signing key: it
/// runs over the directory's own authenticated connection.
pub fn unsecured(claims: &str) -> String {
    let header = json!({"alg": "none", "typ": "secevent+jwt"}).to_string();
    format!("{}.{}.", part(&header), part(claims))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_header_names_hs256_and_the_set_type() {
        let jws = hs256(
            &json!({"jti": "1"}).to_string(),
            b"0123456789abcdef0123456789abcdef",
        );
        let header = jws.split('.').next().unwrap();
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(header, json!({"alg": "HS256", "typ": "secevent+jwt"}));
        assert_eq!(jws.split('.').count(), 3);
    }
}
