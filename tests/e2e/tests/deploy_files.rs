//! The deployment files (`deploy/`, `docker-compose.yml`) checked the only way this machine
//! can: by parsing them and holding them against the built binary. No container engine, cluster
//! or network is needed. What each test checks is in its name; the settings palier reads are
//! taken from `palier --help`, never from a list kept here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use palier_e2e::{Server, palier_bin};
use serde::Deserialize;
use serde_norway::Value;

// ---------------------------------------------------------------------------------------------
// Reading the files

/// The repository root (this crate is `tests/e2e`).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every YAML file under `deploy/` (recursively) and the root `docker-compose.yml`, as paths
/// relative to the repository root.
fn yaml_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, root, out);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
            {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let root = repo();
    let mut files = vec!["docker-compose.yml".to_owned()];
    walk(&root.join("deploy"), &root, &mut files);
    files
}

/// The documents of a YAML file (a multi-document file gives several), empty ones left out.
fn yaml_docs(rel: &str) -> Result<Vec<Value>, String> {
    let text = read(rel);
    let mut docs = Vec::new();
    for doc in serde_norway::Deserializer::from_str(&text) {
        let value = Value::deserialize(doc).map_err(|e| format!("{rel}: {e}"))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

fn yaml_one(rel: &str) -> Value {
    let mut docs = yaml_docs(rel).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(docs.len(), 1, "{rel} should hold one YAML document");
    docs.remove(0)
}

/// Every Kubernetes object under `deploy/k8s` (the Kustomization itself left out), with its file.
fn k8s_objects() -> Vec<(String, Value)> {
    yaml_files()
        .into_iter()
        .filter(|f| f.starts_with("deploy/k8s/"))
        .flat_map(|f| {
            yaml_docs(&f)
                .unwrap_or_else(|e| panic!("{e}"))
                .into_iter()
                .map(move |doc| (f.clone(), doc))
        })
        .filter(|(_, doc)| doc["kind"].as_str().is_some_and(|k| k != "Kustomization"))
        .collect()
}

/// The one Kubernetes object of `kind`.
fn k8s_one(kind: &str) -> Value {
    let mut found: Vec<Value> = k8s_objects()
        .into_iter()
        .filter(|(_, doc)| doc["kind"].as_str() == Some(kind))
        .map(|(_, doc)| doc)
        .collect();
    assert_eq!(found.len(), 1, "deploy/k8s should hold exactly one {kind}");
    found.remove(0)
}

fn s(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, found {value:?}"))
}

fn seq(value: &Value) -> &[Value] {
    value
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("expected a list, found {value:?}"))
}

/// The `palier` container of the Deployment.
fn palier_container(deployment: &Value) -> &Value {
    seq(&deployment["spec"]["template"]["spec"]["containers"])
        .iter()
        .find(|c| c["name"].as_str() == Some("palier"))
        .expect("the Deployment has a container named palier")
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

/// One Dockerfile instruction: its keyword (upper case) and the rest of its logical line.
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The instructions of `deploy/Dockerfile`: comments and blank lines dropped, continuation lines
/// (ending in `\`) joined, as Docker reads them.
fn dockerfile() -> Vec<Instruction> {
    let text = read("deploy/Dockerfile");
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(stripped) = trimmed.strip_suffix('\\') {
            pending.push_str(stripped);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let logical = std::mem::take(&mut pending);
        let logical = logical.trim();
        if logical.is_empty() {
            continue;
        }
        let (keyword, args) = logical
            .split_once(char::is_whitespace)
            .unwrap_or((logical, ""));
        out.push(Instruction {
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_owned(),
        });
    }
    assert!(
        pending.trim().is_empty(),
        "the Dockerfile ends inside a continued line"
    );
    out
}

/// The instructions of the last stage (from its `FROM` on): the image that ships.
fn final_stage(instructions: &[Instruction]) -> &[Instruction] {
    let last_from = instructions
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .expect("the Dockerfile has a FROM");
    &instructions[last_from..]
}

/// Drops leading `--flag[=value]` options (`--platform=…`, `--mount=…`, `--interval=…`).
fn strip_flags(args: &str) -> &str {
    let mut rest = args.trim_start();
    while rest.starts_with("--") {
        rest = rest
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r)
            .trim_start();
    }
    rest
}

/// `KEY=value` pairs of an `ENV` instruction (also the legacy `ENV KEY value` form); values may
/// be quoted.
fn env_pairs(args: &str) -> Vec<(String, String)> {
    let words = shell_words(args);
    if words.len() >= 2 && !words[0].contains('=') {
        return vec![(words[0].clone(), words[1..].join(" "))];
    }
    words
        .iter()
        .map(|w| {
            let (k, v) = w
                .split_once('=')
                .unwrap_or_else(|| panic!("ENV word without '=': {w}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Splits on whitespace, keeping single- or double-quoted runs together (quotes removed).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The images of the Dockerfile's `FROM` lines (references to an earlier stage left out).
fn dockerfile_base_images(instructions: &[Instruction]) -> Vec<String> {
    let mut stages = BTreeSet::new();
    let mut images = Vec::new();
    for from in instructions.iter().filter(|i| i.keyword == "FROM") {
        let words: Vec<&str> = strip_flags(&from.args).split_whitespace().collect();
        let image = words[0];
        if !stages.contains(&image.to_ascii_lowercase()) {
            images.push(image.to_owned());
        }
        if words.len() == 3 && words[1].eq_ignore_ascii_case("as") {
            stages.insert(words[2].to_ascii_lowercase());
        }
    }
    images
}

/// The command of the Dockerfile's `HEALTHCHECK … CMD …`, as an argument vector.
fn healthcheck_command(instructions: &[Instruction]) -> Vec<String> {
    let checks: Vec<&Instruction> = final_stage(instructions)
        .iter()
        .filter(|i| i.keyword == "HEALTHCHECK")
        .collect();
    assert_eq!(checks.len(), 1, "the final image has one HEALTHCHECK");
    let rest = strip_flags(&checks[0].args);
    let command = rest
        .strip_prefix("CMD")
        .expect("HEALTHCHECK … CMD <command> (not NONE)")
        .trim();
    if command.starts_with('[') {
        serde_json::from_str(command).expect("the HEALTHCHECK exec form is a JSON array")
    } else {
        vec!["/bin/sh".into(), "-c".into(), command.into()]
    }
}

// ---------------------------------------------------------------------------------------------
// Images and settings

/// `Ok` when `image` names a fixed version: a digest, or a tag that is not `latest` and holds a
/// version number (`bookworm-slim` alone moves with every point release).
fn pinned(image: &str) -> Result<(), String> {
    if let Some((_, digest)) = image.split_once('@') {
        return if digest.starts_with("sha256:") {
            Ok(())
        } else {
            Err(format!("{image}: unknown digest"))
        };
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Err(format!("{image}: no tag (means latest)")),
        Some((_, "latest")) => Err(format!("{image}: tag latest")),
        Some((_, tag)) if !tag.chars().any(|c| c.is_ascii_digit()) => {
            Err(format!("{image}: tag {tag} names no version"))
        }
        Some(_) => Ok(()),
    }
}

/// The environment variable names `palier --help` and `palier serve --help` list
/// (`[env: PALIER_BIND=]`, or `[env: PALIER_ADMIN_TOKEN]` for a hidden value).
fn palier_env_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for args in [&["--help"][..], &["serve", "--help"][..]] {
        let output = std::process::Command::new(palier_bin())
            .args(args)
            .output()
            .expect("running palier --help");
        assert!(output.status.success(), "palier {args:?} failed");
        let help = String::from_utf8(output.stdout).unwrap();
        for (at, _) in help.match_indices("[env: ") {
            let name: String = help[at + "[env: ".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.insert(name);
        }
    }
    assert!(
        names.contains("PALIER_BIND") && names.contains("PALIER_DATA_DIR"),
        "palier --help lists its environment variables: {names:?}"
    );
    names
}

/// The standard variables palier's OpenTelemetry exporter and log filter read.
fn standard_env_allowed(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "RUST_LOG",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_SERVICE_NAME",
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ];
    NAMES.contains(&name) || name.starts_with("OTEL_BSP_")
}

/// Every environment variable the deployment files set for palier, as (where, name, value).
fn palier_env_settings() -> Vec<(String, String, String)> {
    let mut out = Vec::new();

    // docker-compose.yml: the palier service's environment (a map or a list of KEY=value).
    let compose = yaml_one("docker-compose.yml");
    match &compose["services"]["palier"]["environment"] {
        Value::Mapping(map) => {
            for (k, v) in map {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => serde_norway::to_string(other).unwrap().trim().to_owned(),
                };
                out.push(("docker-compose.yml".into(), s(k).to_owned(), value));
            }
        }
        Value::Sequence(list) => {
            for item in list {
                let (k, v) = s(item).split_once('=').unwrap_or((s(item), ""));
                out.push(("docker-compose.yml".into(), k.to_owned(), v.to_owned()));
            }
        }
        Value::Null => {}
        other => panic!("compose palier.environment: unexpected {other:?}"),
    }

    // Kubernetes: ConfigMap and Secret keys (they become palier's environment), and the
    // Deployment's env entries.
    for (file, doc) in k8s_objects() {
        match doc["kind"].as_str() {
            Some("ConfigMap") | Some("Secret") => {
                for field in ["data", "stringData"] {
                    if let Some(map) = doc[field].as_mapping() {
                        for (k, v) in map {
                            let value = v.as_str().unwrap_or_default().to_owned();
                            out.push((file.clone(), s(k).to_owned(), value));
                        }
                    }
                }
            }
            Some("Deployment") => {
                for container in seq(&doc["spec"]["template"]["spec"]["containers"]) {
                    if let Some(env) = container["env"].as_sequence() {
                        for entry in env {
                            let value = entry["value"].as_str().unwrap_or_default().to_owned();
                            out.push((file.clone(), s(&entry["name"]).to_owned(), value));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    // Dockerfile: ENV of the image that ships.
    for env in final_stage(&dockerfile())
        .iter()
        .filter(|i| i.keyword == "ENV")
    {
        for (k, v) in env_pairs(&env.args) {
            out.push(("deploy/Dockerfile".into(), k, v));
        }
    }

    // systemd: Environment= lines (several KEY=value each).
    for value in systemd_values("Service", "Environment") {
        for word in shell_words(&value) {
            let (k, v) = word.split_once('=').unwrap_or((&word, ""));
            out.push(("deploy/palier.service".into(), k.to_owned(), v.to_owned()));
        }
    }
    out
}

fn env_value(settings: &[(String, String, String)], file: &str, name: &str) -> Option<String> {
    settings
        .iter()
        .find(|(f, k, _)| f == file && k == name)
        .map(|(_, _, v)| v.clone())
}

// ---------------------------------------------------------------------------------------------
// The systemd unit

/// `[section] → key → values` of `deploy/palier.service` (a key may repeat).
fn systemd_unit() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut unit: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut section = String::new();
    for line in read("deploy/palier.service").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("palier.service: not KEY=value: {line}"));
        assert!(
            !section.is_empty(),
            "palier.service: {key} outside a section"
        );
        unit.entry(section.clone())
            .or_default()
            .entry(key.trim().to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    unit
}

fn systemd_values(section: &str, key: &str) -> Vec<String> {
    systemd_unit()
        .get(section)
        .and_then(|s| s.get(key))
        .cloned()
        .unwrap_or_default()
}

fn systemd_value(section: &str, key: &str) -> String {
    let values = systemd_values(section, key);
    assert_eq!(
        values.len(),
        1,
        "palier.service [{section}] sets {key} once: {values:?}"
    );
    values[0].clone()
}

// ---------------------------------------------------------------------------------------------
// README

/// The lines of the Markdown section whose heading contains `title`, up to the next heading of
/// the same or a higher level.
fn markdown_section(text: &str, title: &str) -> Option<Vec<String>> {
    let mut lines = text.lines();
    let level = loop {
        let line = lines.next()?;
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes > 0 && line[hashes..].starts_with(' ') && line.contains(title) {
            break hashes;
        }
    };
    let mut in_code = false;
    let mut body = Vec::new();
    for line in lines {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if !in_code && hashes > 0 && hashes <= level && line[hashes..].starts_with(' ') {
            break;
        }
        body.push(line.to_owned());
    }
    Some(body)
}

/// The build command of a section: its line starting with `cargo build --release`.
fn build_command_in(section: &[String]) -> Option<String> {
    section
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("cargo build --release"))
        .map(|l| l.split(" #").next().unwrap_or(l).trim().to_owned())
}

/// The Dockerfile's `RUN cargo build …` command (mount options stripped).
fn dockerfile_build_command() -> String {
    let builds: Vec<String> = dockerfile()
        .iter()
        .filter(|i| i.keyword == "RUN")
        .map(|i| strip_flags(&i.args).trim().to_owned())
        .filter(|cmd| cmd.starts_with("cargo build"))
        .collect();
    assert_eq!(
        builds.len(),
        1,
        "the Dockerfile has one RUN cargo build: {builds:?}"
    );
    builds[0].clone()
}

// =============================================================================================
// Tests

#[test]
fn every_yaml_file_under_deploy_and_the_compose_file_parses() {
    let files = yaml_files();
    for expected in [
        "docker-compose.yml",
        "deploy/otel-collector.yaml",
        "deploy/k8s/kustomization.yaml",
        "deploy/k8s/deployment.yaml",
    ] {
        assert!(
            files.iter().any(|f| f == expected),
            "{expected} is missing: {files:?}"
        );
    }
    let mut failures = Vec::new();
    for file in &files {
        match yaml_docs(file) {
            Ok(docs) if docs.is_empty() => failures.push(format!("{file}: no document")),
            Ok(docs) => {
                for doc in docs {
                    if !doc.is_mapping() {
                        failures.push(format!("{file}: a document is not a mapping"));
                    }
                }
            }
            Err(e) => failures.push(e),
        }
    }
    // The reader splits multi-document files (a manifest bundle is one file of several).
    let bundle = "a: 1\n---\nb: 2\n---\n";
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(bundle)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect();
    assert_eq!(docs.len(), 2);
    assert!(
        failures.is_empty(),
        "YAML problems:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_image_in_compose_k8s_and_dockerfile_from_is_pinned_to_a_version() {
    // The checker itself refuses what it should.
    for bad in [
        "debian",
        "debian:latest",
        "debian:bookworm-slim",
        "ghcr.io/x/y",
        "host:5000/y",
    ] {
        assert!(pinned(bad).is_err(), "{bad} should not count as pinned");
    }
    for good in ["debian:12.12-slim", "host:5000/y:1.2", "y@sha256:abc"] {
        assert!(pinned(good).is_ok(), "{good} should count as pinned");
    }

    let mut images: Vec<(String, String)> = Vec::new();
    let compose = yaml_one("docker-compose.yml");
    for (name, service) in compose["services"].as_mapping().expect("compose services") {
        let image = service["image"]
            .as_str()
            .unwrap_or_else(|| panic!("compose service {name:?} names its image (and tag)"));
        images.push(("docker-compose.yml".into(), image.to_owned()));
    }
    for (file, doc) in k8s_objects() {
        let spec = &doc["spec"]["template"]["spec"];
        for list in ["containers", "initContainers"] {
            for container in spec[list].as_sequence().into_iter().flatten() {
                images.push((file.clone(), s(&container["image"]).to_owned()));
            }
        }
    }
    for image in dockerfile_base_images(&dockerfile()) {
        images.push(("deploy/Dockerfile FROM".into(), image));
    }
    for expected in [
        "docker-compose.yml",
        "deploy/k8s/deployment.yaml",
        "deploy/Dockerfile FROM",
    ] {
        assert!(
            images.iter().any(|(f, _)| f == expected),
            "no image found in {expected}"
        );
    }
    let unpinned: Vec<String> = images
        .iter()
        .filter_map(|(file, image)| pinned(image).err().map(|e| format!("{file}: {e}")))
        .collect();
    assert!(
        unpinned.is_empty(),
        "unpinned images:\n{}",
        unpinned.join("\n")
    );
}

#[test]
fn every_environment_variable_set_for_palier_is_one_palier_reads() {
    let known = palier_env_names();
    let settings = palier_env_settings();
    for source in [
        "docker-compose.yml",
        "deploy/k8s/configmap.yaml",
        "deploy/k8s/deployment.yaml",
        "deploy/Dockerfile",
        "deploy/palier.service",
    ] {
        assert!(
            settings.iter().any(|(f, _, _)| f == source),
            "no environment found in {source}"
        );
    }
    let unknown: Vec<String> = settings
        .iter()
        .filter(|(_, name, _)| {
            if name.starts_with("PALIER_") {
                !known.contains(name)
            } else {
                !standard_env_allowed(name)
            }
        })
        .map(|(file, name, _)| format!("{file}: {name}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "variables palier does not read (palier --help lists {known:?}):\n{}",
        unknown.join("\n")
    );
    // The ones the issue names.
    let compose = |k: &str| env_value(&settings, "docker-compose.yml", k);
    assert_eq!(
        compose("OTEL_EXPORTER_OTLP_ENDPOINT").as_deref(),
        Some("http://otel-collector:4318")
    );
    assert_eq!(compose("OTEL_SERVICE_NAME").as_deref(), Some("palier"));
    let image = |k: &str| env_value(&settings, "deploy/Dockerfile", k);
    assert_eq!(image("PALIER_DATA_DIR").as_deref(), Some("/data"));
    assert_eq!(image("PALIER_BIND").as_deref(), Some("0.0.0.0:8080"));
    assert_eq!(
        env_value(&settings, "deploy/palier.service", "PALIER_DATA_DIR").as_deref(),
        Some("/var/lib/palier")
    );
}

#[test]
fn dockerfile_build_command_is_the_one_in_the_readme_deploying_section() {
    let readme = read("README.md");
    let section = markdown_section(&readme, "Deploying").expect(
        "README.md has no \"Deploying\" section yet (its text is in deploy/README.md, \
         \"For the main README\")",
    );
    let documented = build_command_in(&section)
        .expect("README.md's Deploying section has a line starting with `cargo build --release`");
    assert_eq!(dockerfile_build_command(), documented);
}

#[test]
fn deploy_readme_text_for_the_main_readme_has_the_dockerfile_build_command() {
    let text = read("deploy/README.md");
    let section = markdown_section(&text, "For the main README")
        .expect("deploy/README.md has a \"For the main README\" section");
    assert_eq!(
        build_command_in(&section).as_deref(),
        Some("cargo build --release --locked -p palier-api --bin palier")
    );
    assert_eq!(
        dockerfile_build_command(),
        "cargo build --release --locked -p palier-api --bin palier"
    );
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_data_volume_port_8080_and_healthz_check() {
    let instructions = dockerfile();
    let froms = instructions.iter().filter(|i| i.keyword == "FROM").count();
    assert!(froms >= 2, "multi-stage: a builder and a runtime image");
    let stage = final_stage(&instructions);
    let args_of = |keyword: &str| -> Vec<&str> {
        stage
            .iter()
            .filter(|i| i.keyword == keyword)
            .map(|i| i.args.as_str())
            .collect()
    };

    assert!(
        args_of("COPY")
            .iter()
            .any(|a| a.starts_with("--from=") && a.contains("/release/palier")),
        "the runtime image copies the release binary from the builder"
    );

    let users = args_of("USER");
    let user = users.last().expect("the runtime image sets USER");
    let name = user.split(':').next().unwrap();
    assert!(name != "root" && name != "0", "USER {user} is root");
    assert_eq!(
        name, "10001",
        "a numeric uid, so that runAsNonRoot can check it"
    );

    let volumes: Vec<String> = args_of("VOLUME")
        .iter()
        .flat_map(|a| {
            if a.starts_with('[') {
                serde_json::from_str::<Vec<String>>(a).expect("VOLUME JSON form")
            } else {
                a.split_whitespace().map(str::to_owned).collect()
            }
        })
        .collect();
    assert!(
        volumes.iter().any(|v| v == "/data"),
        "VOLUME /data: {volumes:?}"
    );

    assert!(
        args_of("EXPOSE")
            .iter()
            .any(|a| a.split_whitespace().any(|p| p == "8080" || p == "8080/tcp")),
        "EXPOSE 8080"
    );

    let check = healthcheck_command(&instructions).join(" ");
    assert!(
        check.contains("/healthz"),
        "HEALTHCHECK hits /healthz: {check}"
    );
    assert!(
        check.contains("8080"),
        "HEALTHCHECK uses the served port: {check}"
    );

    let entry = args_of("ENTRYPOINT").join(" ") + " " + &args_of("CMD").join(" ");
    assert!(
        entry.contains("palier") && entry.contains("serve"),
        "{entry}"
    );
}

/// The HEALTHCHECK command is run as written (only the port changed) against a real server:
/// it passes on `/healthz`, fails on a path that answers 404, and fails with nothing listening.
/// So it checks the HTTP answer, not merely that a port is open.
#[tokio::test]
async fn dockerfile_healthcheck_gets_200_from_a_running_palier_and_fails_otherwise() {
    let command = healthcheck_command(&dockerfile());
    let script = command.last().unwrap().clone();
    assert!(
        script.contains("/8080"),
        "the check names port 8080: {script}"
    );
    let run = |script: String| {
        let mut argv = command.clone();
        *argv.last_mut().unwrap() = script;
        async move {
            let run = tokio::process::Command::new(&argv[0])
                .args(&argv[1..])
                .output();
            let output = tokio::time::timeout(std::time::Duration::from_secs(10), run)
                .await
                .expect("the health check ends within its time-out")
                .expect("running the health check");
            output.status.success()
        }
    };

    let server = Server::start().await;
    let port = server.port;
    let on_port = script.replace("/8080", &format!("/{port}"));
    assert!(
        run(on_port.clone()).await,
        "the health check fails on a healthy server"
    );
    assert!(
        !run(on_port.replace("/healthz", "/no-such-path")).await,
        "the health check passes on a 404"
    );
    drop(server);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !run(on_port).await,
        "the health check passes with no server listening"
    );
}

#[test]
fn k8s_deployment_probes_healthz_and_readyz_has_resources_and_mounts_the_pvc_at_data() {
    let deployment = k8s_one("Deployment");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"].as_u64(), Some(1), "one writer: replicas 1");
    assert_eq!(spec["strategy"]["type"].as_str(), Some("Recreate"));
    let text = read("deploy/k8s/deployment.yaml");
    assert!(
        text.contains("lock"),
        "deployment.yaml says why: the store's file lock"
    );

    let container = palier_container(&deployment);
    let port_names: Vec<&str> = seq(&container["ports"])
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        match &get["port"] {
            Value::String(name) => assert!(port_names.contains(&name.as_str()), "{probe} port"),
            Value::Number(n) => assert_eq!(n.as_u64(), Some(8080), "{probe} port"),
            other => panic!("{probe} port: {other:?}"),
        }
    }
    for kind in ["requests", "limits"] {
        for resource in ["cpu", "memory"] {
            assert!(
                !container["resources"][kind][resource].is_null(),
                "resources.{kind}.{resource}"
            );
        }
    }

    let pod = &spec["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );

    let pvc = k8s_one("PersistentVolumeClaim");
    let claim = s(&pvc["metadata"]["name"]);
    let mount = seq(&container["volumeMounts"])
        .iter()
        .find(|m| m["mountPath"].as_str() == Some("/data"))
        .expect("a volume mounted at /data");
    let volume = seq(&pod["volumes"])
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the /data mount's volume");
    assert_eq!(
        volume["persistentVolumeClaim"]["claimName"].as_str(),
        Some(claim)
    );

    // Settings from the ConfigMap, the admin token from the Secret.
    let config = k8s_one("ConfigMap");
    assert!(
        seq(&container["envFrom"])
            .iter()
            .any(|e| e["configMapRef"]["name"] == config["metadata"]["name"]),
        "envFrom the ConfigMap"
    );
    assert_eq!(config["data"]["PALIER_DATA_DIR"].as_str(), Some("/data"));
    let secret = k8s_one("Secret");
    let token = seq(&container["env"])
        .iter()
        .find(|e| e["name"].as_str() == Some("PALIER_ADMIN_TOKEN"))
        .expect("PALIER_ADMIN_TOKEN in env");
    let key_ref = &token["valueFrom"]["secretKeyRef"];
    assert_eq!(key_ref["name"], secret["metadata"]["name"]);
    assert!(
        !secret["stringData"][s(&key_ref["key"])].is_null(),
        "the Secret holds the key the Deployment reads"
    );
    assert!(
        read("deploy/k8s/secret.yaml").contains("REPLACE"),
        "the placeholder is marked for replacement"
    );

    // The Service reaches the container's named port.
    let service = k8s_one("Service");
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    for port in seq(&service["spec"]["ports"]) {
        assert!(
            port_names.contains(&s(&port["targetPort"])),
            "Service targetPort"
        );
    }
}

#[test]
fn kustomization_lists_every_k8s_manifest_and_only_existing_ones() {
    let kustomization = yaml_one("deploy/k8s/kustomization.yaml");
    let listed: BTreeSet<String> = seq(&kustomization["resources"])
        .iter()
        .map(|r| format!("deploy/k8s/{}", s(r)))
        .collect();
    let present: BTreeSet<String> = yaml_files()
        .into_iter()
        .filter(|f| f.starts_with("deploy/k8s/") && !f.ends_with("/kustomization.yaml"))
        .collect();
    assert_eq!(listed, present);
    let kinds: BTreeSet<String> = k8s_objects()
        .iter()
        .map(|(_, d)| s(&d["kind"]).to_owned())
        .collect();
    for kind in [
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "PersistentVolumeClaim",
    ] {
        assert!(kinds.contains(kind), "deploy/k8s has a {kind}");
    }
}

#[test]
fn otel_collector_receives_otlp_and_exports_traces_to_jaeger_and_debug() {
    let config = yaml_one("deploy/otel-collector.yaml");
    let protocols = &config["receivers"]["otlp"]["protocols"];
    assert!(s(&protocols["grpc"]["endpoint"]).ends_with(":4317"));
    assert!(s(&protocols["http"]["endpoint"]).ends_with(":4318"));
    let jaeger = &config["exporters"]["otlp/jaeger"];
    assert_eq!(jaeger["endpoint"].as_str(), Some("jaeger:4317"));
    assert_eq!(jaeger["tls"]["insecure"].as_bool(), Some(true));
    assert!(
        config["exporters"].get("debug").is_some(),
        "a debug exporter"
    );
    assert!(config["processors"].get("batch").is_some());

    // Every component a pipeline names is defined.
    let traces = &config["service"]["pipelines"]["traces"];
    for kind in ["receivers", "processors", "exporters"] {
        for name in seq(&traces[kind]) {
            assert!(
                config[kind].get(s(name)).is_some(),
                "pipeline uses {kind} {name:?}, which is not defined"
            );
        }
    }
    let exporters: Vec<&str> = seq(&traces["exporters"]).iter().map(s).collect();
    assert!(exporters.contains(&"otlp/jaeger") && exporters.contains(&"debug"));
    assert!(
        seq(&traces["processors"])
            .iter()
            .any(|p| p.as_str() == Some("batch"))
    );
    for name in seq(&config["service"]["extensions"]) {
        assert!(
            config["extensions"].get(s(name)).is_some(),
            "extension {name:?}"
        );
    }
}

#[test]
fn compose_builds_palier_from_deploy_dockerfile_with_collector_jaeger_and_a_data_volume() {
    let compose = yaml_one("docker-compose.yml");
    let services = &compose["services"];
    let palier = &services["palier"];
    assert_eq!(palier["build"]["context"].as_str(), Some("."));
    assert_eq!(
        palier["build"]["dockerfile"].as_str(),
        Some("deploy/Dockerfile")
    );
    let volume = seq(&palier["volumes"])
        .iter()
        .map(s)
        .find(|v| v.ends_with(":/data"))
        .expect("a volume at /data");
    let name = volume.trim_end_matches(":/data");
    assert!(
        compose["volumes"].get(name).is_some(),
        "{name} is a named volume"
    );

    let collector = &services["otel-collector"];
    assert!(
        s(&collector["image"]).starts_with("otel/opentelemetry-collector-contrib:"),
        "the contrib collector"
    );
    assert!(
        seq(&collector["volumes"])
            .iter()
            .any(|v| s(v).starts_with("./deploy/otel-collector.yaml:")),
        "the collector config is mounted"
    );
    let jaeger = &services["jaeger"];
    assert!(s(&jaeger["image"]).starts_with("jaegertracing/all-in-one:"));
    assert!(
        seq(&jaeger["ports"])
            .iter()
            .any(|p| s(p).ends_with(":16686")),
        "the Jaeger UI is published"
    );
}

#[test]
fn systemd_unit_runs_palier_serve_stops_on_sigterm_and_is_hardened() {
    let exec = systemd_value("Service", "ExecStart");
    let words: Vec<&str> = exec.split_whitespace().collect();
    assert!(
        words[0].starts_with('/') && words[0].ends_with("/palier") && words[1] == "serve",
        "ExecStart=<absolute path>/palier serve: {exec}"
    );
    for (key, value) in [
        ("KillSignal", "SIGTERM"),
        ("TimeoutStopSec", "30"),
        ("Restart", "on-failure"),
        ("User", "palier"),
        ("StateDirectory", "palier"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(systemd_value("Service", key), value, "[Service] {key}");
    }
    let writable = systemd_values("Service", "ReadWritePaths").join(" ");
    assert!(
        writable.split_whitespace().any(|p| p == "/var/lib/palier"),
        "the data directory stays writable under ProtectSystem=strict"
    );
    assert_eq!(systemd_value("Install", "WantedBy"), "multi-user.target");
}

/// The environment of a compose service, as (name, value).
fn compose_env(service: &Value) -> Vec<(String, String)> {
    match &service["environment"] {
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| (s(k).to_owned(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        Value::Null => Vec::new(),
        other => panic!("compose environment: unexpected {other:?}"),
    }
}

#[test]
fn postgres_variants_run_several_replicas_on_one_store_with_pinned_images_and_known_settings() {
    let known = palier_env_names();
    assert!(known.contains("PALIER_STORE"), "{known:?}");

    // Compose: a pinned PostgreSQL and at least two palier services on it.
    let compose = yaml_one("deploy/compose.postgres.yml");
    let services = compose["services"].as_mapping().expect("compose services");
    let mut replicas = 0;
    for (name, service) in services {
        let image = service["image"]
            .as_str()
            .unwrap_or_else(|| panic!("compose service {name:?} names its image (and tag)"));
        pinned(image).unwrap_or_else(|e| panic!("deploy/compose.postgres.yml: {e}"));
        if image.starts_with("postgres:") {
            let tag = image.trim_start_matches("postgres:");
            assert!(
                tag.split('.').count() >= 2,
                "PostgreSQL pinned to an exact release (like 15.10), not {image}"
            );
            continue;
        }
        replicas += 1;
        let env = compose_env(service);
        let store = env
            .iter()
            .find(|(k, _)| k == "PALIER_STORE")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name:?} sets PALIER_STORE"));
        assert!(store.starts_with("postgres://"), "{name:?}: {store}");
        for (k, _) in &env {
            assert!(
                if k.starts_with("PALIER_") {
                    known.contains(k)
                } else {
                    standard_env_allowed(k)
                },
                "deploy/compose.postgres.yml {name:?}: palier does not read {k}"
            );
        }
    }
    assert!(
        replicas >= 2,
        "two palier replicas in deploy/compose.postgres.yml"
    );

    // Kubernetes overlay: builds on k8s/, PALIER_STORE from a Secret, several replicas, no PVC.
    let kustomization = yaml_one("deploy/k8s-postgres/kustomization.yaml");
    let resources: Vec<&str> = seq(&kustomization["resources"]).iter().map(s).collect();
    assert!(resources.contains(&"../k8s"), "{resources:?}");
    let secret = yaml_one("deploy/k8s-postgres/store-secret.yaml");
    assert_eq!(s(&secret["kind"]), "Secret");
    for (k, _) in secret["stringData"].as_mapping().expect("stringData") {
        assert!(known.contains(s(k)), "the store Secret sets {}", s(k));
    }
    let patch = yaml_one("deploy/k8s-postgres/deployment-patch.yaml");
    assert!(patch["spec"]["replicas"].as_u64().unwrap() >= 2);
    assert_eq!(s(&patch["spec"]["strategy"]["type"]), "RollingUpdate");
    let container = palier_container(&patch);
    let env = seq(&container["env"]);
    let store = env
        .iter()
        .find(|e| e["name"].as_str() == Some("PALIER_STORE"))
        .expect("the patch sets PALIER_STORE");
    assert_eq!(
        s(&store["valueFrom"]["secretKeyRef"]["name"]),
        s(&secret["metadata"]["name"])
    );
    let drop_pvc = yaml_one("deploy/k8s-postgres/drop-pvc.yaml");
    assert_eq!(s(&drop_pvc["$patch"]), "delete");
    assert_eq!(s(&drop_pvc["kind"]), "PersistentVolumeClaim");
}
