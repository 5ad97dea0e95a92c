//! Vector tables as bytes (little-endian f32 rows), and the passage vectors, which format 4
//! stores in half precision.

pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

use super::mapped::Array;
use half::slice::HalfFloatSliceExt;
use std::borrow::Cow;
use std::ops::Range;

/// `v` rounded to IEEE half precision, as format 4 stores passage vectors.
pub fn f16_bits(v: &[f32]) -> Vec<u16> {
    let mut out = vec![half::f16::ZERO; v.len()];
    out.convert_from_f32_slice(v);
    bytemuck::cast_slice(&out).to_vec()
}

/// Half-precision `bits` widened into `out` (as long).
pub fn widen(bits: &[u16], out: &mut [f32]) {
    let halves: &[half::f16] = bytemuck::cast_slice(bits);
    halves.convert_to_f32_slice(out);
}

/// `v` as format 4 stores it and reads it back: every value rounded to half precision.
pub fn rounded(v: &[f32]) -> Vec<f32> {
    let mut out = vec![0f32; v.len()];
    widen(&f16_bits(v), &mut out);
    out
}

/// A generation's passage vectors, `dim` values per row: half precision on disk (format 4)
/// or single (format 3, and tables made in memory).
///
/// Why half: at a million papers the passage vectors are the largest file by far (ten
/// million rows, 15.4 GB in f32), and a `similar` reads some of them on every query; in f16
/// (7.7 GB) the files a `similar` reads fit in the page cache of a 24 GB machine (21.7 →
/// 14.0 GB). The rounding moves a cosine by about 1e-5: on the judged seed corpus
/// `recommend eval` gives the same figures to the last digit (BENCHMARKS.md). Every
/// computation made from passage vectors at index time (paper vectors, lists, language
/// means) uses the rounded values, so an index re-written from stored vectors is the
/// index written from fresh ones.
#[derive(Clone)]
pub enum PassageRows {
    F32(Array<f32>),
    F16(Array<u16>),
}

impl PassageRows {
    /// Values in the table (rows × `dim`).
    pub fn len(&self) -> usize {
        match self {
            PassageRows::F32(a) => a.len(),
            PassageRows::F16(a) => a.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values `values` (indices into the table) as f32: borrowed where stored so.
    pub fn get(&self, values: Range<usize>) -> Cow<'_, [f32]> {
        match self {
            PassageRows::F32(a) => Cow::Borrowed(&a.as_slice()[values]),
            PassageRows::F16(a) => {
                let bits = &a.as_slice()[values];
                let mut out = vec![0f32; bits.len()];
                widen(bits, &mut out);
                Cow::Owned(out)
            }
        }
    }

    /// [`Array::read_ranges`], widened to f32 where the table is half precision.
    pub fn read_ranges(&self, ranges: &[Range<usize>], out: &mut [f32]) -> bool {
        match self {
            PassageRows::F32(a) => a.read_ranges(ranges, out),
            PassageRows::F16(a) => {
                let mut bits = vec![0u16; out.len()];
                let read = a.read_ranges(ranges, &mut bits);
                if read {
                    widen(&bits, out);
                }
                read
            }
        }
    }

    /// [`Array::will_need`].
    pub fn will_need(&self, values: Range<usize>) {
        match self {
            PassageRows::F32(a) => a.will_need(values),
            PassageRows::F16(a) => a.will_need(values),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_rows_round_once_and_read_back_as_stored() {
        let v: Vec<f32> = (0..96).map(|i| ((i as f32) * 0.37).sin() / 7.0).collect();
        let r = rounded(&v);
        // Half precision keeps about three decimal digits; rounding is idempotent.
        for (a, b) in v.iter().zip(&r) {
            assert!((a - b).abs() <= a.abs() / 1024.0 + 1e-7, "{a} {b}");
        }
        assert_eq!(rounded(&r), r);
        assert_ne!(r, v);
        let half = PassageRows::F16(Array::owned(f16_bits(&v)));
        let single = PassageRows::F32(Array::owned(r.clone()));
        for rows in [&half, &single] {
            assert_eq!(rows.len(), 96);
            assert_eq!(&*rows.get(32..64), &r[32..64]);
            let mut out = vec![f32::NAN; 40];
            assert!(rows.read_ranges(&[90..96, 0..34], &mut out));
            assert_eq!(&out[..6], &r[90..96]);
            assert_eq!(&out[6..], &r[..34]);
            assert!(!rows.read_ranges(&[90..96, 96..97], &mut out[..7]));
        }
    }
}
