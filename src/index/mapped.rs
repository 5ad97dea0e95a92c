//! Typed, memory-mapped views of a generation's binary files, checked when opened.
//!
//! Every binary file starts with a 64-byte header: magic, the file's kind, row count and
//! row width. Opening a file maps it (no read) and checks the header and the length
//! against what the manifest says, which is constant work however large the file: a
//! truncated or foreign file is an error at once, and a row is only paged in when a query
//! reads it. Full checksums are for `recommend verify` and `recommend index`.
//!
//! Mapping is sound here because a generation's files are never written after the
//! generation is published (a new index is a new generation; an old one is only ever
//! unlinked, which leaves existing maps intact).

use super::store::StoreError;
use bytemuck::Pod;
use memmap2::Mmap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// `b"recmnd"` + the byte 3 (the format that introduced these headers; format 4 changed a
/// file, not the header, so its tables carry the same bytes) + 0.
pub const MAGIC: [u8; 8] = *b"recmnd\x03\0";
pub const HEADER: usize = 64;

/// What a binary file says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Eight ASCII bytes naming the content (`b"f32 rows"`, `b"offsets "`, …).
    pub kind: [u8; 8],
    pub rows: u64,
    /// Values per row.
    pub cols: u64,
}

impl Header {
    pub fn new(kind: &[u8; 8], rows: usize, cols: usize) -> Self {
        Header {
            kind: *kind,
            rows: rows as u64,
            cols: cols as u64,
        }
    }

    pub fn encode(&self) -> [u8; HEADER] {
        let mut out = [0u8; HEADER];
        out[..8].copy_from_slice(&MAGIC);
        out[8..16].copy_from_slice(&self.kind);
        out[16..24].copy_from_slice(&self.rows.to_le_bytes());
        out[24..32].copy_from_slice(&self.cols.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < HEADER || bytes[..8] != MAGIC {
            return None;
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        Some(Header {
            kind: bytes[8..16].try_into().expect("8 bytes"),
            rows: u64_at(16),
            cols: u64_at(24),
        })
    }
}

/// A read-only map of one file.
#[derive(Clone)]
pub struct MappedFile {
    map: Option<Arc<Mmap>>,
    /// The same file, for reads that copy scattered rows out (`Array::read_ranges`) instead of
    /// faulting them into the map.
    file: Option<Arc<File>>,
}

impl MappedFile {
    /// Maps `dir/name`, checking that its length is `bytes` (from the manifest).
    pub fn open(
        dir: &Path,
        name: &str,
        bytes: u64,
        corrupt: &dyn Fn(String) -> StoreError,
    ) -> Result<Self, StoreError> {
        let path = dir.join(name);
        let file = File::open(&path).map_err(|e| corrupt(format!("{name}: {e}")))?;
        let len = file
            .metadata()
            .map_err(|e| corrupt(format!("{name}: {e}")))?
            .len();
        if len != bytes {
            return Err(corrupt(format!(
                "{name} holds {len} bytes, the manifest says {bytes} (truncated or changed)"
            )));
        }
        if len == 0 {
            return Ok(MappedFile {
                map: None,
                file: None,
            });
        }
        // SAFETY: generation files are immutable once published (see the module doc).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| corrupt(format!("{name}: {e}")))?;
        // Copied-out reads are scattered rows: no read-ahead around them either.
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: an advisory call on a descriptor this function owns; a refusal only
            // changes the I/O, so its result is not needed.
            unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM) };
        }
        let file = MappedFile {
            map: Some(Arc::new(map)),
            file: Some(Arc::new(file)),
        };
        // Before the header is read: its fault would otherwise read megabytes around it.
        file.advise(Advice::Random, 0..len as usize);
        Ok(file)
    }

    /// Starts reading the whole file, for a reader that goes through all of it.
    pub fn will_need_all(&self) {
        self.advise(Advice::WillNeed, 0..self.bytes().len());
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().map_or(&[], |m| &m[..])
    }

    /// Tells the kernel how `bytes` of the map will be read. Advice only: where the
    /// system refuses it (or has no `madvise`), reads are as correct and only the I/O
    /// differs, so a refusal is not an error.
    fn advise(&self, how: Advice, bytes: std::ops::Range<usize>) {
        #[cfg(unix)]
        if let Some(map) = &self.map {
            let end = bytes.end.min(map.len());
            if bytes.start < end {
                let advice = match how {
                    Advice::Random => memmap2::Advice::Random,
                    Advice::WillNeed => memmap2::Advice::WillNeed,
                };
                let _ = map.advise_range(advice, bytes.start, end - bytes.start);
            }
        }
        #[cfg(not(unix))]
        let _ = (how, bytes);
    }

    /// The header, checked to be of `kind` with `cols` values per row (any width when
    /// `cols` is `None`), and the body after it, checked to hold exactly `rows × cols`
    /// values of `elem` bytes.
    pub fn checked_body(
        &self,
        name: &str,
        kind: &[u8; 8],
        cols: Option<usize>,
        elem: usize,
        corrupt: &dyn Fn(String) -> StoreError,
    ) -> Result<(Header, std::ops::Range<usize>), StoreError> {
        let bytes = self.bytes();
        let header = Header::decode(bytes)
            .filter(|h| &h.kind == kind)
            .ok_or_else(|| corrupt(format!("{name} is not a recommend {} file", show(kind))))?;
        if cols.is_some_and(|c| header.cols != c as u64) {
            return Err(corrupt(format!(
                "{name} has rows of {} values, expected {}",
                header.cols,
                cols.unwrap_or(0)
            )));
        }
        let body = (bytes.len() - HEADER) as u128;
        if header.rows as u128 * header.cols as u128 * elem as u128 != body {
            return Err(corrupt(format!(
                "{name} holds {body} bytes of data for {} rows of {}",
                header.rows, header.cols
            )));
        }
        Ok((header, HEADER..bytes.len()))
    }
}

/// What a reader tells the kernel about a mapped table (`madvise`).
///
/// Why it matters: on a page fault in a file map the kernel reads around the faulting
/// page, as much as the device's read-ahead window (`read_ahead_kb`: 8 MiB on the disks
/// these benchmarks ran on). That suits a scan, but a query reads scattered rows (a
/// thousand candidates' vectors, two hundred papers' passages, ten texts): where the
/// index is not in the page cache, each of those rows pulled megabytes from disk, and a
/// million-paper index (29.6 GB on a 24 GB machine) is never wholly cached; even the
/// header check of opening read megabytes per file. So every file is mapped for random
/// reads (one page per fault), and a reader that knows which rows it will need next (a
/// probed list, a shortlist's passages, a whole table it scans) asks for exactly those
/// first, which the kernel then reads side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Advice {
    Random,
    WillNeed,
}

/// Fills `buf` from `file` at `at` only where those bytes are already in the page cache
/// (`preadv2` with `RWF_NOWAIT`): `true` when all of `buf` was read. Never blocks on the
/// disk; where the kernel or file system does not offer it, reads nothing.
#[cfg(unix)]
fn read_if_cached(file: &File, buf: &mut [u8], at: u64) -> bool {
    if buf.is_empty() {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: one iovec over `buf`, which outlives the call; the descriptor is open.
        let got = unsafe {
            libc::preadv2(
                file.as_raw_fd(),
                &iov,
                1,
                at as libc::off_t,
                libc::RWF_NOWAIT,
            )
        };
        got >= 0 && got as usize == buf.len()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, at);
        false
    }
}

fn show(kind: &[u8; 8]) -> String {
    String::from_utf8_lossy(kind).trim().to_string()
}

/// A table of plain values, either owned (indexes built in memory, older formats) or a
/// range of a mapped file.
#[derive(Clone)]
pub enum Array<T: Pod> {
    Owned(Arc<Vec<T>>),
    Mapped(MappedFile, std::ops::Range<usize>),
}

impl<T: Pod> Array<T> {
    pub fn owned(v: Vec<T>) -> Self {
        Array::Owned(Arc::new(v))
    }

    pub fn as_slice(&self) -> &[T] {
        match self {
            Array::Owned(v) => v,
            // The body starts 64 bytes into a page-aligned map, so it is aligned for any
            // 1-, 2-, 4- or 8-byte value; `cast_slice` checks this and the length.
            Array::Mapped(f, range) => bytemuck::cast_slice(&f.bytes()[range.clone()]),
        }
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// Asks the kernel to start reading values `values` (indices into `as_slice`) now,
    /// ahead of the reads: what a reader does before it scans a range of a table (every
    /// map is read a page per fault, see `Advice`), or before it reads many scattered
    /// rows.
    pub fn will_need(&self, values: std::ops::Range<usize>) {
        if let Array::Mapped(f, body) = self {
            let n = size_of::<T>();
            f.advise(
                Advice::WillNeed,
                body.start + values.start * n..body.start + values.end * n,
            );
        }
    }

    /// Copies the values of each of `ranges` (indices into `as_slice`), one range after
    /// another, into `out`, reading them from the file rather than through the map where
    /// the table is mapped; `false` (and `out` untouched) where the table lacks any of them.
    ///
    /// Why not the map: a fault on a mapped page also maps the cached pages around it (the
    /// kernel's fault-around, 64 KB; `MADV_RANDOM` does not stop it), so a query that
    /// touches a few thousand scattered rows of a cached table shows a hundred megabytes
    /// more resident memory than it read (measured at 1M papers: 152 MB of `papers.f32`).
    /// A copied row costs a system call and maps nothing.
    ///
    /// Why in one call: where some rows are not in the page cache they should be read side
    /// by side, not one blocking read after another, so they are asked for first
    /// (`will_need`); but asking costs a system call per row even when every row is
    /// cached (a warm `similar` at 100,000 papers made 2,900 of them, a seventh of its
    /// time). So each row is first read with `RWF_NOWAIT`, which copies it only if it is
    /// cached (a miss also starts the kernel reading it), and only the rows that missed
    /// are advised and then read. Where the read fails, the map is read.
    pub fn read_ranges(&self, ranges: &[std::ops::Range<usize>], out: &mut [T]) -> bool {
        let total: usize = ranges.iter().map(|r| r.len()).sum();
        assert_eq!(
            total,
            out.len(),
            "read_ranges: {total} values into {}",
            out.len()
        );
        let all = self.as_slice();
        if ranges.iter().any(|r| r.start > r.end || r.end > all.len()) {
            return false;
        }
        let mut chunks = Vec::with_capacity(ranges.len());
        let mut rest = &mut *out;
        for r in ranges {
            let (chunk, tail) = rest.split_at_mut(r.len());
            chunks.push(chunk);
            rest = tail;
        }
        #[cfg(unix)]
        if let Array::Mapped(
            MappedFile {
                file: Some(file), ..
            },
            body,
        ) = self
        {
            use std::os::unix::fs::FileExt;
            let at = |r: &std::ops::Range<usize>| (body.start + r.start * size_of::<T>()) as u64;
            let missed: Vec<usize> = (0..ranges.len())
                .filter(|&i| {
                    !read_if_cached(file, bytemuck::cast_slice_mut(chunks[i]), at(&ranges[i]))
                })
                .collect();
            if missed.len() > 1 {
                missed
                    .iter()
                    .for_each(|&i| self.will_need(ranges[i].clone()));
            }
            for i in missed {
                let r = &ranges[i];
                if file
                    .read_exact_at(bytemuck::cast_slice_mut(chunks[i]), at(r))
                    .is_err()
                {
                    chunks[i].copy_from_slice(&all[r.clone()]);
                }
            }
            return true;
        }
        for (chunk, r) in chunks.into_iter().zip(ranges) {
            chunk.copy_from_slice(&all[r.clone()]);
        }
        true
    }

    /// Maps `name`, a file of `kind` holding rows of `cols` values of `T`.
    pub fn open(
        dir: &Path,
        name: &str,
        bytes: u64,
        kind: &[u8; 8],
        cols: Option<usize>,
        corrupt: &dyn Fn(String) -> StoreError,
    ) -> Result<(Header, Self), StoreError> {
        let file = MappedFile::open(dir, name, bytes, corrupt)?;
        let (header, body) = file.checked_body(name, kind, cols, size_of::<T>(), corrupt)?;
        if cfg!(target_endian = "big") {
            // Files are little-endian; a big-endian machine reads a converted copy.
            let values = body_values_le::<T>(&file.bytes()[body]);
            return Ok((header, Array::owned(values)));
        }
        Ok((header, Array::Mapped(file, body)))
    }
}

fn body_values_le<T: Pod>(bytes: &[u8]) -> Vec<T> {
    let n = size_of::<T>();
    bytes
        .chunks_exact(n)
        .map(|c| {
            let mut v = c.to_vec();
            v.reverse();
            bytemuck::pod_read_unaligned(&v)
        })
        .collect()
}

/// Variable-length rows (JSON records, texts, id lists): a data file and an offsets file
/// (`rows + 1` little-endian u64), so row `i` is one slice of the data.
#[derive(Clone)]
pub struct Records {
    data: Array<u8>,
    offsets: Array<u64>,
}

pub const OFFSETS: &[u8; 8] = b"offsets ";

impl Records {
    pub fn owned(rows: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Self {
        let mut data = Vec::new();
        let mut offsets = vec![0u64];
        for r in rows {
            data.extend_from_slice(r.as_ref());
            offsets.push(data.len() as u64);
        }
        Records {
            data: Array::owned(data),
            offsets: Array::owned(offsets),
        }
    }

    /// Maps the data file `name` and its offsets file `name.idx` (lengths from the
    /// manifest), checking that there are `rows` rows and the last one ends where the data
    /// does.
    pub fn open(
        dir: &Path,
        name: &str,
        sizes: (u64, u64),
        rows: Option<usize>,
        corrupt: &dyn Fn(String) -> StoreError,
    ) -> Result<Self, StoreError> {
        let data = MappedFile::open(dir, name, sizes.0, corrupt)?;
        let len = data.bytes().len();
        let idx = format!("{name}.idx");
        let (header, offsets) = Array::<u64>::open(dir, &idx, sizes.1, OFFSETS, Some(1), corrupt)?;
        let o = offsets.as_slice();
        let rows_ok = rows.is_none_or(|r| header.rows == r as u64 + 1);
        if !rows_ok || o.first() != Some(&0) || o.last() != Some(&(len as u64)) {
            return Err(corrupt(format!(
                "{idx} does not describe the rows of {name}"
            )));
        }
        Ok(Records {
            data: Array::Mapped(data, 0..len),
            offsets,
        })
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// See `Array::will_need`: every row, for a reader that goes through them all.
    pub fn will_need_all(&self) {
        self.data.will_need(0..self.data.len());
    }

    /// Row `i`'s bytes; `None` where the offsets are out of order (a damaged file).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let o = self.offsets.as_slice();
        let (start, end) = (*o.get(i)? as usize, *o.get(i + 1)? as usize);
        self.data.as_slice().get(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corrupt(reason: String) -> StoreError {
        StoreError::Corrupt {
            dir: "x".into(),
            reason,
        }
    }

    /// Pages of `bytes` (a range of a map) that are in the page cache (`mincore`).
    #[cfg(target_os = "linux")]
    fn resident(bytes: &[u8]) -> usize {
        let page = 4096;
        let start = bytes.as_ptr() as usize / page * page;
        let end = bytes.as_ptr() as usize + bytes.len();
        let pages = (end - start).div_ceil(page);
        let mut vec = vec![0u8; pages];
        // SAFETY: the range lies within a live map; `vec` has one byte per page.
        let rc =
            unsafe { libc::mincore(start as *mut libc::c_void, end - start, vec.as_mut_ptr()) };
        assert_eq!(rc, 0, "mincore");
        vec.iter().filter(|v| **v & 1 == 1).count()
    }

    #[test]
    fn advice_changes_no_value_and_will_need_reads_the_asked_rows_in() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let rows = 4096usize;
        let cols = 64usize;
        let values: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let mut bytes = Header::new(b"f32 rows", rows, cols).encode().to_vec();
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(d.join("t"), &bytes).unwrap();
        let n = bytes.len() as u64;
        let (_, a) = Array::<f32>::open(d, "t", n, b"f32 rows", Some(cols), &corrupt).unwrap();
        // Ranges past the end or empty are clamped, never an error or a fault.
        a.will_need(0..0);
        a.will_need(rows * cols - 5..rows * cols + 1000);
        assert_eq!(a.as_slice(), &values[..]);
        drop(a);

        // Out of the page cache (the file is clean once synced, and no longer mapped),
        // then asked for: the rows asked for are read in and the others stay out.
        #[cfg(target_os = "linux")]
        {
            // A file of its own, never mapped by this process.
            std::fs::write(d.join("u"), &bytes).unwrap();
            let file = std::fs::File::open(d.join("u")).unwrap();
            file.sync_all().unwrap();
            use std::os::fd::AsRawFd;
            // SAFETY: a plain advisory call on an open descriptor.
            let rc =
                unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
            assert_eq!(rc, 0);
            // Whether the system let the file go (tmpfs, say, keeps it whatever it is
            // told; then there is nothing to see), asked of a map that reads nothing.
            // SAFETY: the file is not changed while mapped.
            let evicted = resident(&unsafe { Mmap::map(&file) }.unwrap()) == 0;
            let (_, a) = Array::<f32>::open(d, "u", n, b"f32 rows", Some(cols), &corrupt).unwrap();
            let body: &[u8] = bytemuck::cast_slice(a.as_slice());
            let row_bytes = cols * 4;
            // Rows past the first page (which the header check read), and the last
            // quarter.
            let asked = 16..272;
            let first = &body[asked.start * row_bytes..asked.end * row_bytes];
            let last = &body[3072 * row_bytes..];
            if evicted {
                // Opening read the header's page, not the megabytes around it.
                assert_eq!(resident(first) + resident(last), 0, "opening read the file");
                a.will_need(asked.start * cols..asked.end * cols);
                let mut waited = 0;
                let mut got = resident(first);
                while got * 4096 < first.len() && waited < 200 {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    waited += 1;
                    got = resident(first);
                }
                assert!(
                    got * 4096 >= first.len(),
                    "{got} pages of the asked rows read in"
                );
                assert_eq!(resident(last), 0, "rows not asked for were read too");
            }
            assert_eq!(a.as_slice(), &values[..]);
        }
    }

    #[test]
    fn read_ranges_copies_the_rows_the_map_holds() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (rows, cols) = (3000, 24);
        let values: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.25 - 7.0).collect();
        let mut bytes = Header::new(b"f32 rows", rows, cols).encode().to_vec();
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(d.join("t"), &bytes).unwrap();
        let n = bytes.len() as u64;
        let (_, mapped) = Array::<f32>::open(d, "t", n, b"f32 rows", Some(cols), &corrupt).unwrap();
        assert!(matches!(mapped, Array::Mapped(..)) || cfg!(target_endian = "big"));
        let owned = Array::owned(values.clone());
        // One range at a time (each read alone).
        let one = |a: &Array<f32>, r: std::ops::Range<usize>, out: &mut [f32]| {
            a.read_ranges(std::slice::from_ref(&r), out)
        };
        for a in [&mapped, &owned] {
            for row in [0, 1, 170, 171, 1500, rows - 1] {
                let mut out = vec![f32::NAN; cols];
                assert!(one(a, row * cols..(row + 1) * cols, &mut out));
                assert_eq!(out, values[row * cols..(row + 1) * cols], "row {row}");
            }
            // A span across pages, and nothing at all.
            let mut out = vec![0f32; 5 * cols];
            assert!(one(a, 1020 * cols..1025 * cols, &mut out));
            assert_eq!(out, values[1020 * cols..1025 * cols]);
            assert!(one(a, 0..0, &mut []));
            // Past the end: refused, the buffer untouched.
            let mut out = vec![1.5f32; cols];
            assert!(!one(a, rows * cols..(rows + 1) * cols, &mut out));
            assert_eq!(out, vec![1.5f32; cols]);
        }
    }

    #[test]
    fn read_ranges_copies_rows_whether_cached_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (rows, cols) = (4000, 96);
        let values: Vec<f32> = (0..rows * cols).map(|i| i as f32 * 0.5 - 3.0).collect();
        let mut bytes = Header::new(b"f32 rows", rows, cols).encode().to_vec();
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        let n = bytes.len() as u64;
        let ranges = [
            3999 * cols..4000 * cols,
            0..cols,
            1200 * cols..1203 * cols,
            7..7,
            5 * cols..5 * cols + 3,
        ];
        let want: Vec<f32> = ranges
            .iter()
            .flat_map(|r| values[r.clone()].to_vec())
            .collect();
        let check = |a: &Array<f32>| {
            let mut out = vec![f32::NAN; want.len()];
            assert!(a.read_ranges(&ranges, &mut out));
            assert_eq!(out, want);
            // A range past the end: refused, the buffer untouched.
            let mut out = vec![1.5f32; 2 * cols];
            assert!(!a.read_ranges(&[0..cols, rows * cols..(rows + 1) * cols], &mut out));
            assert_eq!(out, vec![1.5f32; 2 * cols]);
        };
        check(&Array::owned(values.clone()));
        // Cached: the file was just written.
        std::fs::write(d.join("t"), &bytes).unwrap();
        let (_, a) = Array::<f32>::open(d, "t", n, b"f32 rows", Some(cols), &corrupt).unwrap();
        check(&a);

        // Not cached: a file of its own, synced and dropped from the page cache before it
        // is mapped, so the reads that take only cached pages miss and the rows are asked
        // for and read from the disk.
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            std::fs::write(d.join("u"), &bytes).unwrap();
            let file = File::open(d.join("u")).unwrap();
            file.sync_all().unwrap();
            // SAFETY: advisory calls on a descriptor this test owns (no read-ahead, so
            // that the reads below bring in only their own pages).
            unsafe {
                libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM);
                libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED);
            }
            let at = |row: usize| (HEADER + row * cols * 4) as u64;
            let mut row = vec![0u8; cols * 4];
            // Whether this file system reads without waiting at all (some FUSE or network
            // ones refuse `RWF_NOWAIT`; then every row takes the advised path, and there is
            // nothing more to see), asked of the cached file.
            let t = File::open(d.join("t")).unwrap();
            let nowait = read_if_cached(&t, &mut row, at(1200));
            // Whether the system let the file go (tmpfs keeps it whatever it is told).
            let evicted = nowait && !read_if_cached(&file, &mut row, at(1200));
            let (_, a) = Array::<f32>::open(d, "u", n, b"f32 rows", Some(cols), &corrupt).unwrap();
            check(&a);
            if !nowait {
                return;
            }
            // The rows missed were read in, and are now read without waiting.
            assert!(read_if_cached(&file, &mut row, at(1200)));
            assert_eq!(
                bytemuck::cast_slice::<u8, f32>(&row),
                &values[1200 * cols..1201 * cols]
            );
            if evicted {
                // One not asked for is still out.
                assert!(!read_if_cached(&file, &mut row, at(2500)));
            }
        }
    }

    #[test]
    fn tables_and_records_check_header_length_and_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let values = [1.5f32, -2.0, 3.25, 4.0, 5.0, 6.0];
        let mut bytes = Header::new(b"f32 rows", 3, 2).encode().to_vec();
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(d.join("t"), &bytes).unwrap();
        let n = bytes.len() as u64;
        let (h, a) = Array::<f32>::open(d, "t", n, b"f32 rows", Some(2), &corrupt).unwrap();
        assert_eq!((h.rows, h.cols), (3, 2));
        assert_eq!(a.as_slice(), &values);
        // Wrong kind, wrong width, wrong length (manifest or header), foreign bytes.
        let err = |r: Result<(Header, Array<f32>), StoreError>| r.err().unwrap().to_string();
        assert!(err(Array::open(d, "t", n, b"u32 rows", Some(2), &corrupt)).contains("not a"));
        assert!(err(Array::open(d, "t", n, b"f32 rows", Some(3), &corrupt)).contains("rows of"));
        assert!(
            err(Array::open(d, "t", n + 4, b"f32 rows", Some(2), &corrupt)).contains("truncated")
        );
        std::fs::write(d.join("t"), &bytes[..bytes.len() - 4]).unwrap();
        assert!(err(Array::open(d, "t", n - 4, b"f32 rows", Some(2), &corrupt)).contains("holds"));
        std::fs::write(d.join("t"), vec![7u8; bytes.len()]).unwrap();
        assert!(err(Array::open(d, "t", n, b"f32 rows", Some(2), &corrupt)).contains("not a"));

        let rows = ["alpha", "", "감마"];
        let owned = Records::owned(rows);
        std::fs::write(d.join("r"), rows.concat()).unwrap();
        let offsets: Vec<u64> = vec![0, 5, 5, 11];
        let mut idx = Header::new(OFFSETS, 4, 1).encode().to_vec();
        idx.extend(offsets.iter().flat_map(|v| v.to_le_bytes()));
        std::fs::write(d.join("r.idx"), &idx).unwrap();
        let sizes = (11, idx.len() as u64);
        let mapped = Records::open(d, "r", sizes, Some(3), &corrupt).unwrap();
        for r in [&owned, &mapped] {
            assert_eq!(r.len(), 3);
            assert_eq!(r.get(2), Some("감마".as_bytes()));
            assert_eq!(r.get(1), Some(&b""[..]));
            assert_eq!(r.get(3), None);
        }
        assert!(Records::open(d, "r", sizes, Some(4), &corrupt).is_err());
    }
}
