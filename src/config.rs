//! Settings, read from the host on every request (an instance lives for one request),
//! each only when the request needs it ([`Settings`]).
//!
//! Each setting has one name. On Spin it is an application variable of that name (declared
//! in `spin.toml`, set with `SPIN_VARIABLE_<NAME>` or `spin deploy --variable name=value`);
//! under `wasmtime serve` it is the environment variable `TODO_<NAME>` (upper case, passed
//! with `--env`). An empty value means "not set": the default applies. A value that does
//! not parse is an error naming the setting, never a silent default.
//!
//! | setting                | default        | meaning                                       |
//! |------------------------|----------------|-----------------------------------------------|
//! | `cors_allowed_origins` | none (deny)    | `*`, or origins separated by commas           |
//! | `cors_max_age`         | `600`          | seconds a browser may cache a preflight       |
//! | `jwt_hs256_secret`     | none           | HS256 shared secret, at least 32 bytes        |
//! | `jwt_jwks`             | none           | a JSON Web Key Set of P-256 keys (ES256)      |
//! | `jwt_issuer`           | not checked    | the `iss` tokens must carry                   |
//! | `jwt_audience`         | not checked    | an `aud` tokens must carry                    |
//! | `jwt_write_scope`      | none           | a scope writes need (`403` without it)        |
//! | `jwt_protect_reads`    | `false`        | reads of todos need a token too               |
//! | `jwt_owner_claim`      | off            | owner mode: the claim naming a todo's owner (`sub`) |
//! | `jwt_admin_scope`      | none           | a scope that reaches every owner's todos      |
//! | `max_body_bytes`       | `65536`        | largest request body                          |
//! | `max_title_length`     | `500`          | longest title, in characters                  |
//! | `body_timeout_ms`      | `10000`        | time a request body may take to arrive        |
//! | `rate_limit`           | off            | `N/PERIOD` per client (`100/10s`, `30/1m`)    |
//! | `rate_limit_client_header` | none       | the header a trusted proxy sets to the client's address |

use std::cell::{OnceCell, RefCell};
use std::fmt;

use crate::cors::{AllowedOrigins, Cors};
use crate::jwt::{Key, TokenPolicy};
use crate::ratelimit::RateLimit;
use crate::todo::{DEFAULT_MAX_TITLE_CHARS, MAX_TITLE_CHARS_CEILING};

/// The largest request body accepted unless `max_body_bytes` says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// The largest `max_body_bytes` that may be configured: a component holds the body in memory.
pub const MAX_BODY_BYTES_CEILING: usize = 16 * 1024 * 1024;
pub const DEFAULT_CORS_MAX_AGE: u32 = 600;
/// Milliseconds a request body may take to arrive, counted from when its request did,
/// unless `body_timeout_ms` says otherwise: an unfinished body holds an instance.
pub const DEFAULT_BODY_TIMEOUT_MS: u32 = 10_000;
/// The longest `body_timeout_ms` that may be configured.
pub const BODY_TIMEOUT_MS_CEILING: u32 = 300_000;

/// Every setting's name, as a Spin variable. `tests/config.rs` checks that `spin.toml`
/// declares each one and binds it to the component.
pub const SETTINGS: &[&str] = &[
    "cors_allowed_origins",
    "cors_max_age",
    "jwt_hs256_secret",
    "jwt_jwks",
    "jwt_issuer",
    "jwt_audience",
    "jwt_write_scope",
    "jwt_protect_reads",
    "jwt_owner_claim",
    "jwt_admin_scope",
    "max_body_bytes",
    "max_title_length",
    "body_timeout_ms",
    "rate_limit",
    "rate_limit_client_header",
];

/// Everything the API applies to a request.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub limits: Limits,
    pub cors: Cors,
    /// Bearer-token checks; `None` (the default) when no key is configured.
    pub auth: Option<TokenPolicy>,
    pub rate_limit: Option<RateLimiting>,
}

/// The rate limit, and where a client's address comes from ([`crate::ratelimit`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimiting {
    pub limit: RateLimit,
    /// The header a trusted proxy sets to the client's address (lower case); for
    /// `x-forwarded-for`, its last address.
    pub client_header: Option<String>,
}

/// What the API accepts of a request body: sizes, and the time it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_title_chars: usize,
    /// Applied by the host adapter, which reads the body (`src/component/mod.rs`).
    pub body_timeout_ms: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_title_chars: DEFAULT_MAX_TITLE_CHARS,
            body_timeout_ms: DEFAULT_BODY_TIMEOUT_MS,
        }
    }
}

/// A setting that is present but wrong, or that the host could not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting {}: {}", self.setting, self.message)
    }
}

/// The environment variable that carries `setting` under `wasmtime serve`.
pub fn env_name(setting: &str) -> String {
    format!("TODO_{}", setting.to_ascii_uppercase())
}

/// A setting's raw value (`Ok(None)` when unset or empty), or why the host could not read
/// it.
type Lookup<'a> = dyn Fn(&'static str) -> Result<Option<String>, ConfigError> + 'a;

impl Config {
    /// Reads every setting through `lookup`, which answers a setting's raw value
    /// (`Ok(None)` when unset) or why the host could not read it.
    pub fn read(
        lookup: impl Fn(&'static str) -> Result<Option<String>, String>,
    ) -> Result<Self, ConfigError> {
        let get = raw(&lookup);
        let rate_limit = read_rate_limit(&get)?;
        // A client header without a limit to key would do nothing: name it instead.
        if rate_limit.is_none() && read_client_header(&get)?.is_some() {
            return Err(ConfigError {
                setting: "rate_limit_client_header",
                message: "is set, but rate_limit is not".into(),
            });
        }
        Ok(Self {
            limits: read_limits(&get)?,
            cors: read_cors(&get)?,
            auth: read_auth(&get)?,
            rate_limit,
        })
    }
}

/// `lookup` with empty values as unset and its failures naming the setting.
fn raw(
    lookup: &impl Fn(&'static str) -> Result<Option<String>, String>,
) -> impl Fn(&'static str) -> Result<Option<String>, ConfigError> + '_ {
    move |setting| match lookup(setting) {
        Ok(value) => Ok(value.filter(|value| !value.trim().is_empty())),
        Err(message) => Err(ConfigError { setting, message }),
    }
}

fn invalid(setting: &'static str) -> impl Fn(String) -> ConfigError {
    move |message| ConfigError { setting, message }
}

fn read_limits(get: &Lookup<'_>) -> Result<Limits, ConfigError> {
    Ok(Limits {
        max_body_bytes: parse_number(
            get("max_body_bytes")?,
            DEFAULT_MAX_BODY_BYTES,
            1..=MAX_BODY_BYTES_CEILING,
        )
        .map_err(invalid("max_body_bytes"))?,
        max_title_chars: parse_number(
            get("max_title_length")?,
            DEFAULT_MAX_TITLE_CHARS,
            1..=MAX_TITLE_CHARS_CEILING,
        )
        .map_err(invalid("max_title_length"))?,
        body_timeout_ms: parse_number(
            get("body_timeout_ms")?,
            DEFAULT_BODY_TIMEOUT_MS,
            1..=BODY_TIMEOUT_MS_CEILING,
        )
        .map_err(invalid("body_timeout_ms"))?,
    })
}

fn read_origins(get: &Lookup<'_>) -> Result<AllowedOrigins, ConfigError> {
    match get("cors_allowed_origins")? {
        None => Ok(AllowedOrigins::None),
        Some(value) => AllowedOrigins::parse(&value).map_err(invalid("cors_allowed_origins")),
    }
}

fn read_cors(get: &Lookup<'_>) -> Result<Cors, ConfigError> {
    Ok(Cors {
        origins: read_origins(get)?,
        max_age: parse_number(get("cors_max_age")?, DEFAULT_CORS_MAX_AGE, 0..=86_400)
            .map_err(invalid("cors_max_age"))?,
    })
}

/// The rate limit, where `rate_limit` is set; only then is its client header read.
fn read_rate_limit(get: &Lookup<'_>) -> Result<Option<RateLimiting>, ConfigError> {
    let Some(value) = get("rate_limit")? else {
        return Ok(None);
    };
    Ok(Some(RateLimiting {
        limit: RateLimit::parse(&value).map_err(invalid("rate_limit"))?,
        client_header: read_client_header(get)?,
    }))
}

fn read_client_header(get: &Lookup<'_>) -> Result<Option<String>, ConfigError> {
    get("rate_limit_client_header")?
        .map(|name| {
            let name = name.trim().to_ascii_lowercase();
            let token = name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if token {
                Ok(name)
            } else {
                Err(format!("'{name}' is not a header name"))
            }
        })
        .transpose()
        .map_err(invalid("rate_limit_client_header"))
}

fn read_protect_reads(get: &Lookup<'_>) -> Result<bool, ConfigError> {
    match get("jwt_protect_reads")? {
        None => Ok(false),
        Some(value) => parse_bool(&value).map_err(invalid("jwt_protect_reads")),
    }
}

/// `jwt_owner_claim`: the name of a claim (any JSON member name but an empty one).
fn read_owner_claim(get: &Lookup<'_>) -> Result<Option<String>, ConfigError> {
    Ok(get("jwt_owner_claim")?
        .map(|claim| claim.trim().to_owned())
        .filter(|claim| !claim.is_empty()))
}

fn read_auth(get: &Lookup<'_>) -> Result<Option<TokenPolicy>, ConfigError> {
    let mut keys = Vec::new();
    if let Some(secret) = get("jwt_hs256_secret")? {
        keys.push(Key::hs256(secret.into_bytes()).map_err(invalid("jwt_hs256_secret"))?);
    }
    if let Some(jwks) = get("jwt_jwks")? {
        keys.extend(Key::parse_jwks(&jwks).map_err(invalid("jwt_jwks"))?);
    }
    let issuer = get("jwt_issuer")?;
    let audience = get("jwt_audience")?;
    let write_scope = get("jwt_write_scope")?
        .map(|scope| parse_scope(scope.trim()))
        .transpose()
        .map_err(invalid("jwt_write_scope"))?;
    let protect_reads = read_protect_reads(get)?;
    let owner_claim = read_owner_claim(get)?;
    let admin_scope = get("jwt_admin_scope")?
        .map(|scope| parse_scope(scope.trim()))
        .transpose()
        .map_err(invalid("jwt_admin_scope"))?;
    if admin_scope.is_some() && owner_claim.is_none() {
        return Err(ConfigError {
            setting: "jwt_admin_scope",
            message: "is set, but jwt_owner_claim is not: admins reach other owners' todos, \
                      which exist only in owner mode"
                .into(),
        });
    }
    if !keys.is_empty() {
        return Ok(Some(TokenPolicy {
            keys,
            issuer,
            audience,
            write_scope,
            protect_reads,
            owner_claim,
            admin_scope,
        }));
    }
    // Token rules without a key to check tokens with would silently leave the API
    // open: name the first such setting instead.
    let stray = [
        ("jwt_issuer", issuer.is_some()),
        ("jwt_audience", audience.is_some()),
        ("jwt_write_scope", write_scope.is_some()),
        ("jwt_protect_reads", protect_reads),
        ("jwt_owner_claim", owner_claim.is_some()),
    ]
    .into_iter()
    .find(|(_, set)| *set);
    match stray {
        Some((setting, _)) => Err(ConfigError {
            setting,
            message: "is set, but no key is: set jwt_hs256_secret or jwt_jwks to turn on \
                      bearer-token authentication"
                .into(),
        }),
        None => Ok(None),
    }
}

/// The settings as a request asks for them: each part read when first needed. A host
/// lookup costs real time on Spin (each variable resolved through its provider chain, the
/// environment read inside `block_in_place`: about half of a request when all ten were
/// read), so a request reads only what it uses: CORS's origins on every request (they
/// decide `Vary: Origin`), `jwt_protect_reads` on reads of todos, every `jwt_*` setting
/// on writes, the limits where a body is read, `cors_max_age` on preflights. `/readyz`
/// reads them all, so that a replica with an invalid setting is never ready.
pub trait Settings {
    fn limits(&self) -> Result<Limits, ConfigError>;
    fn origins(&self) -> Result<Cors, ConfigError>;
    fn cors(&self) -> Result<Cors, ConfigError>;
    fn protect_reads(&self) -> Result<bool, ConfigError>;
    /// Whether todos belong to owners (`jwt_owner_claim` is set): then every request to
    /// todos needs a token.
    fn owner_mode(&self) -> Result<bool, ConfigError>;
    fn auth(&self) -> Result<Option<&TokenPolicy>, ConfigError>;
    fn rate_limit(&self) -> Result<Option<RateLimiting>, ConfigError>;
    /// Every setting, so that the first invalid one is named.
    fn check_all(&self) -> Result<(), ConfigError>;
}

/// Settings read already, all of them (tests, the native server).
impl Settings for Config {
    fn limits(&self) -> Result<Limits, ConfigError> {
        Ok(self.limits)
    }

    fn origins(&self) -> Result<Cors, ConfigError> {
        Ok(self.cors.clone())
    }

    fn cors(&self) -> Result<Cors, ConfigError> {
        Ok(self.cors.clone())
    }

    fn protect_reads(&self) -> Result<bool, ConfigError> {
        Ok(self
            .auth
            .as_ref()
            .is_some_and(|policy| policy.protect_reads))
    }

    fn owner_mode(&self) -> Result<bool, ConfigError> {
        Ok(self
            .auth
            .as_ref()
            .is_some_and(|policy| policy.owner_claim.is_some()))
    }

    fn auth(&self) -> Result<Option<&TokenPolicy>, ConfigError> {
        Ok(self.auth.as_ref())
    }

    fn rate_limit(&self) -> Result<Option<RateLimiting>, ConfigError> {
        Ok(self.rate_limit.clone())
    }

    fn check_all(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

/// A setting's raw value as a lookup answered it.
type Answer = Result<Option<String>, ConfigError>;

/// Settings read from the host as a request needs them, each setting at most once.
pub struct HostSettings<L> {
    lookup: L,
    seen: RefCell<Vec<(&'static str, Answer)>>,
    auth: OnceCell<Result<Option<TokenPolicy>, ConfigError>>,
}

impl<L: Fn(&'static str) -> Result<Option<String>, String>> HostSettings<L> {
    /// `lookup` answers a setting's raw value (`Ok(None)` when unset) or why the host
    /// could not read it; it is called at most once per setting.
    pub fn new(lookup: L) -> Self {
        Self {
            lookup,
            seen: RefCell::new(Vec::new()),
            auth: OnceCell::new(),
        }
    }

    fn get(&self, setting: &'static str) -> Answer {
        if let Some((_, value)) = self.seen.borrow().iter().find(|(name, _)| *name == setting) {
            return value.clone();
        }
        let value = raw(&self.lookup)(setting);
        self.seen.borrow_mut().push((setting, value.clone()));
        value
    }
}

impl<L: Fn(&'static str) -> Result<Option<String>, String>> Settings for HostSettings<L> {
    fn limits(&self) -> Result<Limits, ConfigError> {
        read_limits(&|name| self.get(name))
    }

    fn origins(&self) -> Result<Cors, ConfigError> {
        Ok(Cors {
            origins: read_origins(&|name| self.get(name))?,
            max_age: DEFAULT_CORS_MAX_AGE,
        })
    }

    fn cors(&self) -> Result<Cors, ConfigError> {
        read_cors(&|name| self.get(name))
    }

    fn protect_reads(&self) -> Result<bool, ConfigError> {
        read_protect_reads(&|name| self.get(name))
    }

    fn owner_mode(&self) -> Result<bool, ConfigError> {
        read_owner_claim(&|name| self.get(name)).map(|claim| claim.is_some())
    }

    fn auth(&self) -> Result<Option<&TokenPolicy>, ConfigError> {
        self.auth
            .get_or_init(|| read_auth(&|name| self.get(name)))
            .as_ref()
            .map(Option::as_ref)
            .map_err(Clone::clone)
    }

    fn rate_limit(&self) -> Result<Option<RateLimiting>, ConfigError> {
        read_rate_limit(&|name| self.get(name))
    }

    fn check_all(&self) -> Result<(), ConfigError> {
        Config::read(|name| {
            self.get(name)
                .map_err(|ConfigError { message, .. }| message)
        })
        .map(drop)
    }
}

fn parse_number<T: std::str::FromStr + PartialOrd + fmt::Display + Copy>(
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, String> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().parse::<T>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(format!(
            "'{value}' is not a whole number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

/// One OAuth 2.0 scope token (RFC 6749 3.3): printable ASCII without space, `"` or `\`,
/// so it can be quoted in `WWW-Authenticate`.
fn parse_scope(value: &str) -> Result<String, String> {
    if value
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
    {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "'{value}' is not one scope (printable ASCII, no space, quote or backslash)"
        ))
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("'{value}' is not true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let values: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Config::read(|name| Ok(values.get(name).cloned()))
    }

    #[test]
    fn nothing_set_gives_the_safe_defaults() {
        let config = read(&[]).unwrap();
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.limits.max_body_bytes, 64 * 1024);
        assert_eq!(config.cors.origins, AllowedOrigins::None);
        assert!(config.auth.is_none());
    }

    #[test]
    fn the_rate_limit_is_read_with_its_client_header() {
        assert_eq!(read(&[]).unwrap().rate_limit, None);
        let config = read(&[
            ("rate_limit", "100/10s"),
            ("rate_limit_client_header", "X-Forwarded-For"),
        ])
        .unwrap();
        let limiting = config.rate_limit.unwrap();
        assert_eq!(
            (limiting.limit.limit, limiting.limit.period_secs),
            (100, 10)
        );
        assert_eq!(limiting.client_header.as_deref(), Some("x-forwarded-for"));
        let named = |pairs: &[(&str, &str)]| read(pairs).unwrap_err().setting;
        assert_eq!(named(&[("rate_limit", "100")]), "rate_limit");
        assert_eq!(named(&[("rate_limit", "0/1s")]), "rate_limit");
        assert_eq!(
            named(&[
                ("rate_limit", "1/1s"),
                ("rate_limit_client_header", "x forwarded")
            ]),
            "rate_limit_client_header"
        );
        assert_eq!(
            named(&[("rate_limit_client_header", "x-real-ip")]),
            "rate_limit_client_header"
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = read(&[("max_body_bytes", ""), ("cors_allowed_origins", "  ")]).unwrap();
        assert_eq!(config.limits.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(config.cors.origins, AllowedOrigins::None);
    }

    #[test]
    fn limits_are_read_within_their_ranges() {
        let config = read(&[
            ("max_body_bytes", "1024"),
            ("max_title_length", "20"),
            ("body_timeout_ms", "2500"),
        ])
        .unwrap();
        assert_eq!(config.limits.max_body_bytes, 1024);
        assert_eq!(config.limits.max_title_chars, 20);
        assert_eq!(config.limits.body_timeout_ms, 2500);
        assert_eq!(Limits::default().body_timeout_ms, 10_000);
        for (setting, bad) in [
            ("max_body_bytes", "0"),
            ("max_body_bytes", "lots"),
            ("max_body_bytes", "99999999999"),
            ("max_title_length", "-1"),
            ("max_title_length", "10001"),
            ("body_timeout_ms", "0"),
            ("body_timeout_ms", "300001"),
            ("body_timeout_ms", "10s"),
            ("cors_max_age", "86401"),
        ] {
            let error = read(&[(setting, bad)]).unwrap_err();
            assert_eq!(error.setting, setting, "{bad}");
            assert!(error.message.contains(bad), "{error}");
        }
    }

    #[test]
    fn token_rules_without_a_key_are_an_error_not_an_open_api() {
        for setting in [
            "jwt_issuer",
            "jwt_audience",
            "jwt_write_scope",
            "jwt_protect_reads",
        ] {
            let error = read(&[(setting, "true")]).unwrap_err();
            assert_eq!(error.setting, setting);
        }
        assert!(
            read(&[("jwt_protect_reads", "false")])
                .unwrap()
                .auth
                .is_none()
        );
    }

    #[test]
    fn a_short_hs256_secret_is_rejected() {
        let error = read(&[("jwt_hs256_secret", "too short")]).unwrap_err();
        assert_eq!(error.setting, "jwt_hs256_secret");
        let config = read(&[
            ("jwt_hs256_secret", "0123456789abcdef0123456789abcdef"),
            ("jwt_protect_reads", "yes"),
        ])
        .unwrap();
        assert!(config.auth.unwrap().protect_reads);
    }

    #[test]
    fn the_write_scope_is_one_scope_token() {
        let secret = ("jwt_hs256_secret", "0123456789abcdef0123456789abcdef");
        let config = read(&[secret, ("jwt_write_scope", " todos:write ")]).unwrap();
        assert_eq!(
            config.auth.unwrap().write_scope.as_deref(),
            Some("todos:write")
        );
        for bad in ["todos write", "todos\"write", "tödos"] {
            let error = read(&[secret, ("jwt_write_scope", bad)]).unwrap_err();
            assert_eq!(error.setting, "jwt_write_scope");
        }
    }

    /// P-256's base point, a valid public key, as a JWK with `extra` members added.
    fn jwks_with(extra: &str) -> String {
        format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"g",{extra}
            "x":"axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
            "y":"T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU"}}]}}"#
        )
    }

    #[test]
    fn a_key_set_of_p256_keys_is_read_and_anything_else_is_an_error() {
        let config = read(&[("jwt_jwks", &jwks_with(r#""alg":"ES256","use":"sig","#))]).unwrap();
        assert_eq!(config.auth.unwrap().keys.len(), 1);
        for (bad, why) in [
            ("not json".to_owned(), "JSON"),
            (r#"{"keys":[]}"#.to_owned(), "no key"),
            (r#"{"kty":"EC"}"#.to_owned(), "keys"),
            (
                r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#.to_owned(),
                "RSA",
            ),
            (jwks_with(r#""alg":"ES384","#), "ES384"),
            (jwks_with(r#""use":"enc","#), "enc"),
            (jwks_with(r#""d":"AAAA","#), "private"),
            (jwks_with("").replace("axfR8", "bxfR8"), "point"),
            (jwks_with("").replace("P-256", "P-384"), "P-256"),
        ] {
            let error = read(&[("jwt_jwks", &bad)]).unwrap_err();
            assert_eq!(error.setting, "jwt_jwks");
            assert!(error.message.contains(why), "{why}: {error}");
        }
    }

    #[test]
    fn a_host_that_cannot_read_a_setting_names_it() {
        let error = Config::read(|name| {
            if name == "cors_max_age" {
                Err("provider failed".into())
            } else {
                Ok(None)
            }
        })
        .unwrap_err();
        assert_eq!(error.setting, "cors_max_age");
        assert_eq!(error.to_string(), "setting cors_max_age: provider failed");
    }

    #[test]
    fn the_reader_asks_for_exactly_the_declared_settings() {
        // A name read here but missing from SETTINGS would not be declared in spin.toml,
        // and Spin would answer it as undefined: silently unset.
        let asked = std::cell::RefCell::new(Vec::new());
        Config::read(|name| {
            asked.borrow_mut().push(name);
            Ok(None)
        })
        .unwrap();
        let mut asked = asked.into_inner();
        let mut declared = SETTINGS.to_vec();
        asked.sort_unstable();
        declared.sort_unstable();
        assert_eq!(asked, declared);
    }

    #[test]
    fn environment_names_are_prefixed_and_upper_case() {
        assert_eq!(env_name("jwt_jwks"), "TODO_JWT_JWKS");
    }
}
