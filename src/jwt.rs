//! JSON Web Token (RFC 7519) bearer tokens, verified with configured keys.
//!
//! A token is accepted when all of this holds:
//! - it is a JWS in compact form (`header.payload.signature`, base64url without padding);
//! - its header names `HS256` or `ES256` and no `crit` extension, and a configured key of
//!   that very algorithm verifies the signature (so `none`, other algorithms, and an
//!   HS256 token "signed" with a public key are refused: the algorithm picks the key type,
//!   never the other way round). A `kid` in the header narrows ES256 keys to that id;
//! - its claims are a JSON object with a numeric `exp` not more than [`LEEWAY_SECONDS`] in
//!   the past, and an `nbf`, if any, not more than that in the future;
//! - `iss` equals the configured issuer and `aud` (a string or an array) holds the
//!   configured audience, where those are configured.
//!
//! Only verification happens here: the component holds no private key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use serde_json::{Map, Value};
use sha2::Sha256;

/// Clock skew tolerated between the token's issuer and this host, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;
/// Longer tokens are refused before any decoding work.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// RFC 7518 3.2: an HS256 key must be at least as long as the hash.
const MIN_HS256_SECRET_BYTES: usize = 32;

/// A key tokens are verified with; its type fixes the one algorithm it verifies.
#[derive(Clone)]
pub enum Key {
    /// HMAC with SHA-256 over a shared secret.
    Hs256(Vec<u8>),
    /// ECDSA over P-256 with SHA-256, with the key's `kid` if its JWK had one.
    Es256 {
        kid: Option<String>,
        key: VerifyingKey,
    },
}

// Secrets stay out of logs and debug output.
impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hs256(_) => f.write_str("Hs256(..)"),
            Self::Es256 { kid, .. } => write!(f, "Es256 {{ kid: {kid:?} }}"),
        }
    }
}

impl Key {
    /// An HS256 key from a shared secret of at least 32 bytes.
    pub fn hs256(secret: Vec<u8>) -> Result<Self, String> {
        if secret.len() < MIN_HS256_SECRET_BYTES {
            return Err(format!(
                "the secret must be at least {MIN_HS256_SECRET_BYTES} bytes long; it has {}",
                secret.len()
            ));
        }
        Ok(Self::Hs256(secret))
    }

    /// The keys of a JSON Web Key Set (RFC 7517), `{"keys": [...]}`, as an identity
    /// provider publishes it. Every key must be an EC P-256 public key (`kty` `EC`, `crv`
    /// `P-256`, `x`, `y`), for ES256; a key of another kind is an error, not skipped.
    pub fn parse_jwks(json: &str) -> Result<Vec<Self>, String> {
        let set: Value =
            serde_json::from_str(json).map_err(|error| format!("not valid JSON: {error}"))?;
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("not a JSON Web Key Set: no \"keys\" array")?;
        if keys.is_empty() {
            return Err("the key set holds no key".into());
        }
        keys.iter()
            .enumerate()
            .map(|(index, jwk)| parse_jwk(jwk).map_err(|error| format!("key {index}: {error}")))
            .collect()
    }

    fn verifies(&self, signing_input: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Hs256(secret) => {
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
                    return false;
                };
                mac.update(signing_input);
                // Constant-time comparison.
                mac.verify_slice(signature).is_ok()
            }
            Self::Es256 { key, .. } => Signature::from_slice(signature)
                .is_ok_and(|signature| key.verify(signing_input, &signature).is_ok()),
        }
    }
}

fn parse_jwk(jwk: &Value) -> Result<Key, String> {
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    match text("kty") {
        Some("EC") => {}
        Some(other) => {
            return Err(format!(
                "kty {other} is not supported; use EC keys on P-256 (ES256), or \
                 jwt_hs256_secret for HS256"
            ));
        }
        None => return Err("no kty".into()),
    }
    if text("crv") != Some("P-256") {
        return Err("only the P-256 curve (ES256) is supported".into());
    }
    if let Some(alg) = text("alg")
        && alg != "ES256"
    {
        return Err(format!("alg {alg} does not fit a P-256 key; use ES256"));
    }
    if let Some(usage) = text("use")
        && usage != "sig"
    {
        return Err(format!("use {usage} is not for signatures"));
    }
    if jwk.get("d").is_some() {
        return Err("this is a private key; configure only the public part".into());
    }
    let coordinate = |name: &str| -> Result<Vec<u8>, String> {
        let bytes = text(name)
            .and_then(|value| URL_SAFE_NO_PAD.decode(value).ok())
            .ok_or_else(|| format!("{name} is missing or not base64url"))?;
        if bytes.len() == 32 {
            Ok(bytes)
        } else {
            Err(format!("{name} must be 32 bytes; it has {}", bytes.len()))
        }
    };
    // SEC1 uncompressed point: 0x04 || x || y.
    let mut point = vec![0x04];
    point.extend(coordinate("x")?);
    point.extend(coordinate("y")?);
    let key = VerifyingKey::from_sec1_bytes(&point).map_err(|_| "x, y is not a P-256 point")?;
    Ok(Key::Es256 {
        kid: text("kid").map(str::to_owned),
        key,
    })
}

/// How bearer tokens are checked, and what they are needed for.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    pub keys: Vec<Key>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// A scope every write needs (`scope`, space-separated, or `scp`).
    pub write_scope: Option<String>,
    /// Whether reading todos needs a token too.
    pub protect_reads: bool,
    /// Owner mode: the claim whose value (a non-empty string) names whose todos a token
    /// reaches.
    pub owner_claim: Option<String>,
    /// A scope whose tokens reach every owner's todos.
    pub admin_scope: Option<String>,
}

/// Why a token was refused. The text is fixed (never echoes the token), fit for the
/// `error_description` of `WWW-Authenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected(pub &'static str);

/// What a verified token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub scopes: Vec<String>,
    /// The token's `sub`, where it has a string one: whose requests these are (the rate
    /// limit's key).
    pub subject: Option<String>,
    /// The owner claim's value, where the policy names one and the token carries it as
    /// a non-empty string.
    pub owner: Option<String>,
}

impl TokenPolicy {
    /// Verifies `token` at `now` (seconds since the Unix epoch).
    pub fn verify(&self, token: &str, now: u64) -> Result<Grant, Rejected> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejected("The token is too long."));
        }
        let mut segments = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(Rejected("The token is not a signed JWT in compact form."));
        };
        let header = decode_object(header).ok_or(Rejected("The token header is malformed."))?;
        if header.contains_key("crit") {
            return Err(Rejected(
                "The token uses extensions this API does not know.",
            ));
        }
        let algorithm = header.get("alg").and_then(Value::as_str);
        let kid = header.get("kid").and_then(Value::as_str);
        let candidates: Vec<&Key> = self
            .keys
            .iter()
            .filter(|key| match (key, algorithm) {
                (Key::Hs256(_), Some("HS256")) => true,
                (Key::Es256 { kid: key_id, .. }, Some("ES256")) => {
                    kid.is_none() || key_id.as_deref() == kid
                }
                _ => false,
            })
            .collect();
        if candidates.is_empty() {
            return Err(Rejected(
                "The token's algorithm or key id matches no configured key.",
            ));
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Rejected("The token signature is malformed."))?;
        // The signature covers the first two segments exactly as sent.
        let signing_input = &token.as_bytes()[..header_and_payload_len(token)];
        if !candidates
            .iter()
            .any(|key| key.verifies(signing_input, &signature))
        {
            return Err(Rejected("The token signature is invalid."));
        }
        let claims = decode_object(payload).ok_or(Rejected("The token claims are malformed."))?;
        self.check_claims(&claims, now)?;
        let owner = self.owner_claim.as_ref().and_then(|claim| {
            claims
                .get(claim)
                .and_then(Value::as_str)
                .filter(|owner| !owner.is_empty())
                .map(str::to_owned)
        });
        Ok(Grant {
            owner,
            scopes: scopes(&claims),
            subject: claims
                .get("sub")
                .and_then(Value::as_str)
                .filter(|sub| !sub.is_empty())
                .map(str::to_owned),
        })
    }

    fn check_claims(&self, claims: &Map<String, Value>, now: u64) -> Result<(), Rejected> {
        let now = now as f64;
        let leeway = LEEWAY_SECONDS as f64;
        match claims.get("exp").and_then(Value::as_f64) {
            None => return Err(Rejected("The token has no expiry (exp).")),
            Some(exp) if now > exp + leeway => return Err(Rejected("The token has expired.")),
            Some(_) => {}
        }
        match claims.get("nbf") {
            None => {}
            Some(nbf) => match nbf.as_f64() {
                Some(nbf) if now + leeway >= nbf => {}
                Some(_) => return Err(Rejected("The token is not valid yet (nbf).")),
                None => return Err(Rejected("The token's nbf is not a number.")),
            },
        }
        if let Some(issuer) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err(Rejected("The token is from another issuer."));
        }
        if let Some(audience) = &self.audience {
            let matches = match claims.get("aud") {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
                _ => false,
            };
            if !matches {
                return Err(Rejected("The token is meant for another audience."));
            }
        }
        Ok(())
    }
}

impl Grant {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|granted| granted == scope)
    }
}

/// The length of `header.payload` within a token known to have three segments.
fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn decode_object(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(object) => Some(object),
        _ => None,
    }
}

/// Scopes as OAuth 2.0 (`scope`, space-separated) or as some providers send them (`scp`,
/// a string or an array).
fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut scopes = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(list)) => {
                scopes.extend(list.split_whitespace().map(str::to_owned));
            }
            Some(Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            _ => {}
        }
    }
    scopes
}
