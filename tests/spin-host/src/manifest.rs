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
        Ok(Self {
            component_id,
            source: base.join(source),
            sqlite_databases,
            variables,
        })
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
        if self.read_environment
            && let Ok(value) = std::env::var(format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()))
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
