//! Bearer tokens signed as an identity provider signs them (HS256, ES256), key sets, and
//! forgeries: for the tests and `examples/mint_token.rs`. Test keys only: the ES256 keys
//! come from a one-byte seed.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::SigningKey;
use p256::ecdsa::signature::Signer;
use serde_json::{Value, json};
use sha2::Sha256;

/// An HS256 secret of the required 32 bytes or more.
pub const SECRET: &str = "an-hs256-secret-of-32-bytes-or-more";

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims that pass when no issuer or audience is configured: valid for ten minutes.
pub fn fresh() -> Value {
    json!({"sub": "tester", "exp": now() + 600})
}

/// `header.payload.signature` with `sign` over the first two.
pub fn compact(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = URL_SAFE_NO_PAD.encode(sign(input.as_bytes()));
    format!("{input}.{signature}")
}

pub fn hs256(secret: &[u8], claims: &Value) -> String {
    compact(&json!({"alg": "HS256", "typ": "JWT"}), claims, |input| {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    })
}

/// A fixed P-256 key, so runs are repeatable; `seed` picks one of several.
pub fn es_key(seed: u8) -> SigningKey {
    SigningKey::from_slice(&[seed; 32]).unwrap()
}

pub fn es256(key: &SigningKey, kid: &str, claims: &Value) -> String {
    compact(
        &json!({"alg": "ES256", "typ": "JWT", "kid": kid}),
        claims,
        |input| {
            let signature: p256::ecdsa::Signature = key.sign(input);
            signature.to_bytes().to_vec()
        },
    )
}

/// The public half of `key` as a JWK, in a key set, as a provider publishes it.
pub fn jwks(key: &SigningKey, kid: &str) -> String {
    json!({"keys": [public_jwk(key, kid)]}).to_string()
}

pub fn public_jwk(key: &SigningKey, kid: &str) -> Value {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&bytes[33..65]),
    })
}

/// `token` with its claims replaced by `claims` and its signature kept: a forgery.
pub fn tampered(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}
