//! Reading encoder weights from GGUF (possibly quantized: dequantized on read) or safetensors
//! (mmaped) files.

use super::bert::{Table, WeightSource};
use candle_core::quantized::{gguf_file, QTensor};
use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Result, Tensor};
use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

/// Tensor names may carry a `bert.` prefix (checkpoints saved from a task head); try both.
fn candidates(name: &str) -> [String; 2] {
    [name.to_string(), format!("bert.{name}")]
}

pub struct Gguf {
    content: gguf_file::Content,
    reader: BufReader<File>,
    device: Device,
}

impl Gguf {
    pub fn open(path: &Path, device: &Device) -> Result<Self> {
        let file = File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut reader = BufReader::new(file);
        let content = gguf_file::Content::read(&mut reader)?;
        // A truncated download parses fine (the header is at the front) and fails only when a
        // tensor is read; check every tensor fits in the file so the error names the cause.
        for (name, info) in &content.tensor_infos {
            let bytes = info.shape.elem_count() / info.ggml_dtype.block_size()
                * info.ggml_dtype.type_size();
            let end = content.tensor_data_offset + info.offset + bytes as u64;
            if end > file_len {
                candle_core::bail!(
                    "file is truncated: tensor {name} ends at byte {end} but the file has {file_len}"
                );
            }
        }
        Ok(Self {
            content,
            reader,
            device: device.clone(),
        })
    }

    fn qtensor(&mut self, name: &str) -> Result<QTensor> {
        for n in candidates(name) {
            if self.content.tensor_infos.contains_key(&n) {
                return self.content.tensor(&mut self.reader, &n, &self.device);
            }
        }
        candle_core::bail!("tensor {name} not found in the GGUF file")
    }
}

impl WeightSource for Gguf {
    fn dense(&mut self, name: &str) -> Result<Tensor> {
        self.qtensor(name)?.dequantize(&self.device)
    }

    fn table(&mut self, name: &str) -> Result<Table> {
        let q = self.qtensor(name)?;
        // Dequantizing Q4_0 is exact, so looking up quantized rows gives the same vectors as a
        // dense table while keeping 250k×384 floats (370 MB) out of memory and load time.
        if q.dtype().block_size() > 1 && self.device.is_cpu() {
            Ok(Table::Quantized(Arc::new(q)))
        } else {
            Ok(Table::Dense(q.dequantize(&self.device)?))
        }
    }
}

pub struct Safetensors {
    tensors: MmapedSafetensors,
    device: Device,
}

impl Safetensors {
    pub fn open(paths: &[std::path::PathBuf], device: &Device) -> Result<Self> {
        // SAFETY: the files are mapped read-only; like every mmap user we assume nobody
        // truncates them while the process runs.
        let tensors = unsafe { MmapedSafetensors::multi(paths)? };
        Ok(Self {
            tensors,
            device: device.clone(),
        })
    }
}

impl WeightSource for Safetensors {
    fn dense(&mut self, name: &str) -> Result<Tensor> {
        for n in candidates(name) {
            if self.tensors.get(&n).is_ok() {
                return self.tensors.load(&n, &self.device)?.to_dtype(DType::F32);
            }
        }
        candle_core::bail!("tensor {name} not found in the safetensors file")
    }

    fn table(&mut self, name: &str) -> Result<Table> {
        Ok(Table::Dense(self.dense(name)?))
    }
}
