//! What the host takes from a Spin manifest (`spin.toml`, manifest version 2), read as Spin
//! reads it: the component the HTTP trigger routes to, its source, the SQLite databases it
//! is granted, and its variables.
//!
//! A component variable is a template (`"{{ name }}"`, literal text around it allowed) over
//! application variables. Like `spin up`, the host resolves a template each time the
//! component asks for a variable: an application variable comes from the first provider
//! that has it (values given to the host, standing for `SPIN_VARIABLE_<NAME>`; then the
//! process environment, if the host reads it), else from its `default`. A required
//! variable nobody sets makes the manifest unusable at start, as it does for Spin.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The parts of a manifest this host serves.
#[derive(Debug, Clone)]
pub struct App {
    pub component_id: String,
    /// The component's `source`, relative to the manifest's directory.
    pub source: PathBuf,
    /// `sqlite_databases`: the labels the component may open.
    pub sqlite_databases: Vec<String>,
    /// `allowed_outbound_hosts`, templates resolved as Spin resolves them when it loads the
    /// application: where the component may connect.
    pub allowed_outbound_hosts: AllowedHosts,
    pub variables: Variables,
}

impl App {
    /// Reads `manifest`, for the component behind its catch-all HTTP route (`/...`), or its
    /// only HTTP route.
    pub fn load(
        manifest: &Path,
        overrides: &[(String, String)],
        read_environment: bool,
    ) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(manifest)
            .with_context(|| format!("read {}", manifest.display()))?;
        let table: toml::Table = text
            .parse()
            .with_context(|| format!("parse {}", manifest.display()))?;
        if table
            .get("spin_manifest_version")
            .and_then(toml::Value::as_integer)
            != Some(2)
        {
            bail!(
                "{}: only spin_manifest_version = 2 is served",
                manifest.display()
            );
        }
        let triggers = table
            .get("trigger")
            .and_then(|t| t.get("http"))
            .and_then(toml::Value::as_array)
            .context("no [[trigger.http]]")?;
        let trigger = match triggers.as_slice() {
            [only] => only,
            many => many
                .iter()
                .find(|t| t.get("route").and_then(toml::Value::as_str) == Some("/..."))
                .context("no [[trigger.http]] with route \"/...\"")?,
        };
        let component_id = trigger
            .get("component")
            .and_then(toml::Value::as_str)
            .context("the HTTP trigger names no component")?
            .to_owned();
        let component = table
            .get("component")
            .and_then(|c| c.get(&component_id))
            .with_context(|| format!("no [component.{component_id}]"))?;
        let source = component
            .get("source")
            .and_then(toml::Value::as_str)
            .context("the component has no file source")?;
        let base = manifest.parent().unwrap_or(Path::new("."));
        let sqlite_databases = component
            .get("sqlite_databases")
            .and_then(toml::Value::as_array)
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let variables = Variables::from_manifest(&table, component, overrides, read_environment)?;
        let mut allowed = Vec::new();
        for entry in component
            .get("allowed_outbound_hosts")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
        {
            let template = entry
                .as_str()
                .context("allowed_outbound_hosts holds a non-string")?;
            let parts = parse_template(template)?;
            let resolved = variables.render(&parts).map_err(anyhow::Error::msg)?;
            allowed.push(
                AllowedHost::parse(&resolved)
                    .with_context(|| format!("allowed_outbound_hosts: {resolved:?}"))?,
            );
        }
        Ok(Self {
            component_id,
            source: base.join(source),
            sqlite_databases,
            allowed_outbound_hosts: AllowedHosts(allowed),
            variables,
        })
    }
}

/// One entry of `allowed_outbound_hosts`: `scheme://host[:port]`, where host or port may be
/// `*`, and a missing port is the scheme's own (Spin's rules, for the schemes served here).
#[derive(Debug, Clone, PartialEq)]
pub struct AllowedHost {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl AllowedHost {
    fn parse(entry: &str) -> anyhow::Result<Self> {
        let (scheme, rest) = entry.split_once("://").context("no scheme://")?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, "*")) => (host, None),
            Some((host, port)) => (host, Some(port.parse().context("not a port")?)),
            None => (rest, default_port(scheme)),
        };
        if host.is_empty() || host.contains(['/', '@']) {
            bail!("not a host");
        }
        Ok(Self {
            scheme: scheme.to_owned(),
            host: host.to_owned(),
            port,
        })
    }

    fn admits(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.scheme == scheme
            && (self.host == "*" || self.host.eq_ignore_ascii_case(host))
            && self.port.is_none_or(|allowed| allowed == port)
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Where a component may connect.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts(Vec<AllowedHost>);

impl AllowedHosts {
    /// Whether a PostgreSQL connection string (`postgres://[user[:password]@]host[:port][/db]`)
    /// points at an allowed host; key-value strings and anything unparsable are refused.
    pub fn admits_postgres(&self, address: &str) -> bool {
        let Some(rest) = address
            .strip_prefix("postgres://")
            .or_else(|| address.strip_prefix("postgresql://"))
        else {
            return false;
        };
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => match port.parse() {
                Ok(port) => (host, port),
                Err(_) => return false,
            },
            None => (host_port, 5432),
        };
        !host.is_empty()
            && self
                .0
                .iter()
                .any(|allowed| allowed.admits("postgres", host, port))
    }
}

/// One piece of a component variable's template.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Variable(String),
}

/// The component's variables and what they resolve against.
#[derive(Debug, Clone)]
pub struct Variables {
    templates: Vec<(String, Vec<Part>)>,
    /// Application variables and their defaults (`None`: required).
    application: HashMap<String, Option<String>>,
    overrides: HashMap<String, String>,
    read_environment: bool,
}

impl Variables {
    fn from_manifest(
        manifest: &toml::Table,
        component: &toml::Value,
        overrides: &[(String, String)],
        read_environment: bool,
    ) -> anyhow::Result<Self> {
        let mut application = HashMap::new();
        if let Some(declared) = manifest.get("variables").and_then(toml::Value::as_table) {
            for (name, declaration) in declared {
                let default = declaration
                    .get("default")
                    .and_then(toml::Value::as_str)
                    .map(str::to_owned);
                let required =
                    declaration.get("required").and_then(toml::Value::as_bool) == Some(true);
                if default.is_none() && !required {
                    bail!("variable {name}: declare a default or required = true");
                }
                application.insert(name.clone(), default);
            }
        }
        let mut templates = Vec::new();
        if let Some(declared) = component.get("variables").and_then(toml::Value::as_table) {
            for (name, template) in declared {
                let template = template
                    .as_str()
                    .with_context(|| format!("component variable {name} is not a string"))?;
                let parts = parse_template(template)
                    .with_context(|| format!("component variable {name}"))?;
                for part in &parts {
                    if let Part::Variable(source) = part
                        && !application.contains_key(source)
                    {
                        bail!("component variable {name} refers to undeclared variable {source}");
                    }
                }
                templates.push((name.clone(), parts));
            }
        }
        let variables = Self {
            templates,
            application,
            overrides: overrides.iter().cloned().collect(),
            read_environment,
        };
        // As `spin up` does: refuse to start when a variable cannot be resolved.
        variables.get_all().map_err(anyhow::Error::msg)?;
        Ok(variables)
    }

    /// `fermyon:spin/variables.get`: the component variable `name`, or `None` where the
    /// manifest does not define it.
    pub fn get(&self, name: &str) -> Result<Option<String>, String> {
        self.templates
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, parts)| self.render(parts))
            .transpose()
    }

    /// `wasi:config/store.get-all`: every component variable, resolved.
    pub fn get_all(&self) -> Result<Vec<(String, String)>, String> {
        self.templates
            .iter()
            .map(|(name, parts)| Ok((name.clone(), self.render(parts)?)))
            .collect()
    }

    fn render(&self, parts: &[Part]) -> Result<String, String> {
        let mut value = String::new();
        for part in parts {
            match part {
                Part::Text(text) => value.push_str(text),
                Part::Variable(name) => value.push_str(&self.application_value(name)?),
            }
        }
        Ok(value)
    }

    fn application_value(&self, name: &str) -> Result<String, String> {
        if let Some(value) = self.overrides.get(name) {
            return Ok(value.clone());
        }
        // Spin asks its environment provider first, inside `tokio::task::block_in_place`
        // (Spin 3.6.3 and 4.0.2, `crates/variables-env`), whether or not the value is
        // there; a host that does not read its environment (the in-process tests) pays the
        // same call and ignores the answer. Outside a runtime (loading the manifest)
        // `block_in_place` just runs the lookup.
        let variable = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
        let found = tokio::task::block_in_place(|| std::env::var(&variable));
        if self.read_environment
            && let Ok(value) = found
        {
            return Ok(value);
        }
        match self.application.get(name) {
            Some(Some(default)) => Ok(default.clone()),
            _ => Err(format!("no value for required variable {name}")),
        }
    }
}

/// Splits `"prefix {{ name }} suffix"` into text and variable references.
fn parse_template(template: &str) -> anyhow::Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").context("a {{ without }}")?;
        let name = after[..end].trim();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !valid {
            bail!("'{name}' is not a variable name");
        }
        parts.push(Part::Variable(name.to_owned()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_connections_go_only_where_allowed_outbound_hosts_say() {
        let allowed = |entries: &[&str]| {
            AllowedHosts(
                entries
                    .iter()
                    .map(|e| AllowedHost::parse(e).unwrap())
                    .collect(),
            )
        };
        let one = allowed(&["postgres://db.example.com:6543"]);
        assert!(one.admits_postgres("postgres://u:p@db.example.com:6543/todos"));
        assert!(one.admits_postgres("postgresql://DB.example.com:6543"));
        assert!(
            !one.admits_postgres("postgres://u@db.example.com/todos"),
            "port 5432"
        );
        assert!(!one.admits_postgres("postgres://u@other.example.com:6543/todos"));
        assert!(!one.admits_postgres("host=db.example.com port=6543"));
        assert!(!one.admits_postgres("mysql://db.example.com:6543"));
        let default_port = allowed(&["postgres://db.example.com"]);
        assert!(default_port.admits_postgres("postgres://u@db.example.com/todos"));
        assert!(default_port.admits_postgres("postgres://u@db.example.com:5432/todos"));
        assert!(!default_port.admits_postgres("postgres://u@db.example.com:5433/todos"));
        let any = allowed(&["postgres://*:*"]);
        assert!(any.admits_postgres("postgres://u@anywhere:1/x"));
        assert!(!allowed(&[]).admits_postgres("postgres://u@db.example.com/todos"));
        assert!(AllowedHost::parse("db.example.com").is_err());
        assert!(AllowedHost::parse("postgres://").is_err());
    }

    #[test]
    fn templates_mix_text_and_variables() {
        assert_eq!(
            parse_template("postgres://{{ host }}/db").unwrap(),
            vec![
                Part::Text("postgres://".into()),
                Part::Variable("host".into()),
                Part::Text("/db".into())
            ]
        );
        assert!(parse_template("{{ Host }}").is_err());
        assert!(parse_template("{{ host").is_err());
    }
}
