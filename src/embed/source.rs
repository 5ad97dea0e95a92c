//! Which model files to load: a local directory, a hub id, or the model bundled in the repo.

use super::EmbedError;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// The directory name of the bundled model under `models/`.
pub const BUNDLED: &str = "multilingual-e5-small";

/// The files of one model in Hugging Face layout.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// What the user asked for (`bundled:multilingual-e5-small`, a hub id, or a path).
    pub name: String,
    pub config: PathBuf,
    pub tokenizer: PathBuf,
    pub weights: WeightsFile,
}

#[derive(Debug, Clone)]
pub enum WeightsFile {
    Gguf(PathBuf),
    Safetensors(Vec<PathBuf>),
}

impl WeightsFile {
    pub fn paths(&self) -> Vec<&Path> {
        match self {
            WeightsFile::Gguf(p) => vec![p.as_path()],
            WeightsFile::Safetensors(ps) => ps.iter().map(PathBuf::as_path).collect(),
        }
    }
}

/// The bundled model directory: next to the binary's sources, or `models/` under the current
/// directory for a binary that was moved.
pub fn bundled_dir() -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(BUNDLED);
    if built.is_dir() {
        return built;
    }
    Path::new("models").join(BUNDLED)
}

/// Resolves `--model` / `RECOMMEND_MODEL`: an existing directory wins, then a hub id
/// (`owner/name`), and with nothing given, the bundled model.
pub fn resolve(spec: Option<&str>) -> Result<ModelFiles, EmbedError> {
    match spec.map(str::trim).filter(|s| !s.is_empty()) {
        None => local(&bundled_dir(), format!("bundled:{BUNDLED}")),
        Some(s) if Path::new(s).is_dir() => local(Path::new(s), s.to_string()),
        Some(s) if looks_like_hub_id(s) => hub(s),
        Some(s) => Err(EmbedError::Model {
            path: PathBuf::from(s),
            message:
                "no such directory, and not a hub model id like \"intfloat/multilingual-e5-small\""
                    .into(),
        }),
    }
}

fn looks_like_hub_id(s: &str) -> bool {
    let mut parts = s.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

fn local(dir: &Path, name: String) -> Result<ModelFiles, EmbedError> {
    let missing = |what: &str| {
        EmbedError::Model {
        path: dir.to_path_buf(),
        message: format!(
            "not a model directory: {what} is missing (expected config.json, tokenizer.json, and model.safetensors or model.gguf)"
        ),
    }
    };
    if !dir.is_dir() {
        return Err(EmbedError::Model {
            path: dir.to_path_buf(),
            message: "model directory not found".into(),
        });
    }
    let config = dir.join("config.json");
    let tokenizer = dir.join("tokenizer.json");
    if !config.is_file() {
        return Err(missing("config.json"));
    }
    if !tokenizer.is_file() {
        return Err(missing("tokenizer.json"));
    }
    let weights = if dir.join("model.safetensors").is_file() {
        WeightsFile::Safetensors(vec![dir.join("model.safetensors")])
    } else if dir.join("model.gguf").is_file() {
        WeightsFile::Gguf(dir.join("model.gguf"))
    } else {
        return Err(missing("the weights file"));
    };
    Ok(ModelFiles {
        name,
        config,
        tokenizer,
        weights,
    })
}

fn hub(id: &str) -> Result<ModelFiles, EmbedError> {
    let fail = |reason: String| EmbedError::Hub {
        id: id.to_string(),
        reason,
    };
    let api = hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let repo = api.model(id.to_string());
    let get = |f: &str| repo.get(f).map_err(|e| fail(first_line(&e.to_string())));
    let config = get("config.json")?;
    let tokenizer = get("tokenizer.json")?;
    let weights = match repo.get("model.safetensors") {
        Ok(p) => WeightsFile::Safetensors(vec![p]),
        Err(_) => WeightsFile::Gguf(get("model.gguf")?),
    };
    Ok(ModelFiles {
        name: id.to_string(),
        config,
        tokenizer,
        weights,
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

/// A fingerprint of the model that an index records, so vectors from another model are never
/// mixed in. Hashing 67 MB on every query would cost more than the query, so it covers the
/// config, the tokenizer, each weights file's length and its first and last MiB.
pub fn fingerprint(files: &ModelFiles) -> Result<String, EmbedError> {
    let io = |p: &Path, e: std::io::Error| EmbedError::Model {
        path: p.to_path_buf(),
        message: e.to_string(),
    };
    let mut h = Sha256::new();
    for p in [&files.config, &files.tokenizer] {
        h.update(std::fs::read(p).map_err(|e| io(p, e))?);
    }
    for p in files.weights.paths() {
        let mut f = std::fs::File::open(p).map_err(|e| io(p, e))?;
        let len = f.metadata().map_err(|e| io(p, e))?.len();
        h.update(len.to_le_bytes());
        let mut buf = vec![0u8; (1 << 20).min(len as usize)];
        f.read_exact(&mut buf).map_err(|e| io(p, e))?;
        h.update(&buf);
        f.seek(SeekFrom::End(-(buf.len() as i64)))
            .map_err(|e| io(p, e))?;
        f.read_exact(&mut buf).map_err(|e| io(p, e))?;
        h.update(&buf);
    }
    Ok(format!("{:x}", h.finalize()))
}
