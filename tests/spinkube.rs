//! The SpinKube manifests under `deploy/spinkube/`, checked as the cluster and the Spin
//! manifests would check them, offline:
//! - every `SpinApp` against the `openAPIV3Schema` of SpinKube's CRD (spin-operator v0.6.1,
//!   vendored in `tests/data/spinkube/`), strictly: a field the schema does not know is an
//!   error here, where the API server would drop it without a word;
//! - every `SpinApp` against the Spin manifest its image is pushed from: image name and tag,
//!   each variable one the manifest declares, every required one bound, secrets only from a
//!   Kubernetes `Secret`, a runtime-config database for each database the component opens
//!   and none it does not, health checks on the API's probes;
//! - every `HorizontalPodAutoscaler` against the `SpinApp` it scales.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every document of every YAML file under `deploy/spinkube/`, with the file it is in.
fn documents() -> Vec<(PathBuf, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repository().join("deploy/spinkube"))
        .expect("deploy/spinkube/")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(document)
                .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
            documents.push((file.clone(), value));
        }
    }
    assert!(!documents.is_empty(), "no manifests under deploy/spinkube/");
    documents
}

fn of_kind(kind: &str) -> Vec<(PathBuf, Value)> {
    documents()
        .into_iter()
        .filter(|(_, document)| document["kind"] == kind)
        .collect()
}

/// The CRD's group/version and its schema, made strict: every object whose properties it
/// lists takes no others (unless it says it keeps unknown fields).
fn spinapp_schema() -> (String, Value) {
    let path = repository().join("tests/data/spinkube/core.spinkube.dev_spinapps.yaml");
    let crd: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let version = &crd["spec"]["versions"][0];
    let api_version = format!(
        "{}/{}",
        crd["spec"]["group"].as_str().unwrap(),
        version["name"].as_str().unwrap()
    );
    let mut schema = version["schema"]["openAPIV3Schema"].clone();
    make_strict(&mut schema);
    (api_version, schema)
}

fn make_strict(schema: &mut Value) {
    if let Some(object) = schema.as_object_mut() {
        if object.contains_key("properties")
            && !object.contains_key("additionalProperties")
            && object.get("x-kubernetes-preserve-unknown-fields") != Some(&json!(true))
        {
            object.insert("additionalProperties".into(), json!(false));
        }
        object.values_mut().for_each(make_strict);
    } else if let Some(items) = schema.as_array_mut() {
        items.iter_mut().for_each(make_strict);
    }
}

/// What the schema (and the operator's own rule on autoscaling) finds wrong with `app`.
fn spinapp_errors(app: &Value) -> Vec<String> {
    let (api_version, schema) = spinapp_schema();
    let validator = jsonschema::validator_for(&schema).expect("the CRD's schema compiles");
    let mut errors: Vec<String> = validator
        .iter_errors(app)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect();
    if app["apiVersion"] != api_version.as_str() {
        errors.push(format!("apiVersion is not {api_version}"));
    }
    // spin-operator's webhook: "Replicas cannot be defined if this is enabled".
    if app["spec"]["enableAutoscaling"] == true && !app["spec"]["replicas"].is_null() {
        errors.push("replicas given with enableAutoscaling".into());
    }
    errors
}

#[test]
fn every_spinapp_is_valid_against_spinkubes_schema() {
    let apps = of_kind("SpinApp");
    assert!(apps.len() >= 3, "{} SpinApps", apps.len());
    for (file, app) in apps {
        let errors = spinapp_errors(&app);
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    }
}

#[test]
fn the_schema_check_finds_what_the_cluster_would_refuse_or_drop() {
    let (_, valid) = of_kind("SpinApp").remove(0);
    assert!(spinapp_errors(&valid).is_empty());
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut app = valid.clone();
        change(&mut app);
        spinapp_errors(&app)
    };
    // A wrong type, a missing required field, a misspelt field, a misplaced option.
    assert!(!broken(&|app| app["spec"]["replicas"] = json!("3")).is_empty());
    assert!(!broken(&|app| drop(app["spec"].as_object_mut().unwrap().remove("image"))).is_empty());
    assert!(!broken(&|app| app["spec"]["replica"] = json!(3)).is_empty());
    assert!(
        !broken(&|app| app["spec"]["variables"] = json!([{"name": "x", "secretKeyRef": {}}]))
            .is_empty()
    );
    assert!(!broken(&|app| app["apiVersion"] = json!("core.spinkube.dev/v1")).is_empty());
    assert!(
        !broken(&|app| {
            app["spec"]["enableAutoscaling"] = json!(true);
            app["spec"]["replicas"] = json!(2);
        })
        .is_empty()
    );
}

/// A Spin manifest of the repository, as TOML.
struct SpinManifest {
    file: &'static str,
    table: toml::Table,
}

impl SpinManifest {
    fn read(file: &'static str) -> Self {
        let text = std::fs::read_to_string(repository().join(file)).unwrap();
        Self {
            file,
            table: text
                .parse()
                .unwrap_or_else(|error| panic!("{file}: {error}")),
        }
    }

    fn application(&self, key: &str) -> &str {
        self.table["application"][key].as_str().unwrap()
    }

    /// The application variables: name, required, secret.
    fn variables(&self) -> Vec<(String, bool, bool)> {
        self.table["variables"]
            .as_table()
            .unwrap()
            .iter()
            .map(|(name, spec)| {
                let flag = |key| spec.get(key).and_then(toml::Value::as_bool) == Some(true);
                (name.clone(), flag("required"), flag("secret"))
            })
            .collect()
    }

    /// The SQLite databases the one component opens.
    fn sqlite_databases(&self) -> Vec<String> {
        let components = self.table["component"].as_table().unwrap();
        assert_eq!(components.len(), 1, "{}: one component", self.file);
        components
            .values()
            .next()
            .unwrap()
            .get("sqlite_databases")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .map(|label| label.as_str().unwrap().to_owned())
            .collect()
    }
}

/// The Spin manifest whose application the image of `app` holds: `spin registry push`
/// pushes an application as `REGISTRY/NAME:VERSION`.
fn manifest_of(app: &Value) -> SpinManifest {
    let image = app["spec"]["image"].as_str().expect("an image");
    let (repository, tag) = image.rsplit_once(':').expect("a tagged image");
    let name = repository.rsplit('/').next().unwrap();
    let manifest = ["spin.toml", "spin-postgres.toml"]
        .into_iter()
        .map(SpinManifest::read)
        .find(|manifest| manifest.application("name") == name)
        .unwrap_or_else(|| panic!("no Spin manifest has an application named {name}"));
    assert_eq!(
        tag,
        manifest.application("version"),
        "{image}: the tag is not {}'s version",
        manifest.file
    );
    manifest
}

#[test]
fn every_spinapp_matches_the_spin_manifest_it_is_built_from() {
    let mut built_from = Vec::new();
    for (file, app) in of_kind("SpinApp") {
        let file = file.display();
        let manifest = manifest_of(&app);
        built_from.push(manifest.file);
        let declared = manifest.variables();
        let bound: Vec<&Value> = app["spec"]["variables"]
            .as_array()
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        for binding in &bound {
            let name = binding["name"].as_str().unwrap();
            let Some((_, _, secret)) = declared.iter().find(|(declared, ..)| declared == name)
            else {
                panic!("{file}: {name} is no variable of {}", manifest.file);
            };
            if *secret {
                assert!(
                    binding["valueFrom"]["secretKeyRef"].is_object(),
                    "{file}: the secret {name} must come from a Secret"
                );
            }
        }
        for (name, required, _) in &declared {
            assert!(
                !required || bound.iter().any(|binding| binding["name"] == name.as_str()),
                "{file}: the required variable {name} of {} is not bound",
                manifest.file
            );
        }
        let configured: Vec<&Value> = app["spec"]["runtimeConfig"]["sqliteDatabases"]
            .as_array()
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let opened = manifest.sqlite_databases();
        for database in &configured {
            assert!(
                opened
                    .iter()
                    .any(|label| database["name"] == label.as_str()),
                "{file}: runtime config for a database {} does not open",
                manifest.file
            );
        }
        for label in &opened {
            // Replicas share data only through a database all of them reach.
            let database = configured
                .iter()
                .find(|database| database["name"] == label.as_str())
                .unwrap_or_else(|| panic!("{file}: no runtime config for database {label}"));
            assert_eq!(database["type"], "libsql", "{file}: {label}");
            let options: Vec<&str> = database["options"]
                .as_array()
                .unwrap()
                .iter()
                .map(|option| option["name"].as_str().unwrap())
                .collect();
            assert!(
                options.contains(&"url") && options.contains(&"token"),
                "{file}: {label} needs url and token, has {options:?}"
            );
        }
        assert_eq!(
            app["spec"]["checks"]["liveness"]["httpGet"]["path"],
            "/healthz"
        );
        assert_eq!(
            app["spec"]["checks"]["readiness"]["httpGet"]["path"],
            "/readyz"
        );
    }
    built_from.sort();
    built_from.dedup();
    assert_eq!(
        built_from,
        ["spin-postgres.toml", "spin.toml"],
        "a SpinApp per build"
    );
}

#[test]
fn every_autoscaler_scales_an_autoscaling_spinapp_by_what_it_requests() {
    let apps = of_kind("SpinApp");
    let autoscalers = of_kind("HorizontalPodAutoscaler");
    assert!(!autoscalers.is_empty(), "no autoscaling variant");
    for (file, autoscaler) in autoscalers {
        let file = file.display();
        let target = &autoscaler["spec"]["scaleTargetRef"];
        // The operator runs a SpinApp as a Deployment of the same name.
        assert_eq!(target["apiVersion"], "apps/v1", "{file}");
        assert_eq!(target["kind"], "Deployment", "{file}");
        let (_, app) = apps
            .iter()
            .find(|(app_file, app)| {
                app_file.display().to_string() == file.to_string()
                    && app["metadata"]["name"] == target["name"]
            })
            .unwrap_or_else(|| panic!("{file}: no SpinApp {} beside it", target["name"]));
        assert_eq!(
            app["spec"]["enableAutoscaling"], true,
            "{file}: the operator would fight the autoscaler over the replica count"
        );
        for metric in autoscaler["spec"]["metrics"].as_array().unwrap() {
            let resource = metric["resource"]["name"].as_str().unwrap();
            assert!(
                app["spec"]["resources"]["requests"][resource].is_string(),
                "{file}: utilization of {resource} needs a request to measure against"
            );
        }
        let (min, max) = (
            autoscaler["spec"]["minReplicas"].as_u64().unwrap(),
            autoscaler["spec"]["maxReplicas"].as_u64().unwrap(),
        );
        assert!(1 <= min && min <= max, "{file}: {min}..{max} replicas");
    }
}
