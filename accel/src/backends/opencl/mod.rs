//! The OpenCL backend: `kernels/cl` built for one device, batches run one work-item per item.
//!
//! ```text
//!  verify_batch ──> host: B1, B2, B5 (scalar range checks, t = r + s) ──> pack 25 words/item ─┐
//!  sm3_batch ─────> packed bytes + end offsets ──────────────────────────────────────────────┤
//!  merkle_level ──> 32-byte nodes ───────────────────────────────────────────────────────────┤
//!                                                                                             v
//!     chunks alternate over two lanes (queue + buffers): write ─> kernel ─> read, so chunk k+1's
//!     upload overlaps chunk k's kernel; one result byte per signature, 32 bytes per digest
//! ```
//!
//! Files: [`device`] (discovery, `--device SPEC`), [`program`] (build, binary cache, build
//! log), [`buffers`] (device buffers kept and grown), `chunks` (how a batch is cut, and the
//! largest message a device takes), this file (the backend and its batches).
//!
//! Owns: the backend, its start-up and its batches. Every `unsafe` OpenCL call of the
//! workspace is in this folder (here, `buffers` and `program`), each with a `// SAFETY:` note.
//! Never: decoding (items arrive prepared), verdicts from device faults (an API failure is an
//! [`AccelError::DeviceLost`], an impossible result byte [`AccelError::Corrupt`]).
//!
//! Start-up: the program is built once per backend (from the binary cache when it can be, see
//! [`program`]), then the base-point table is built on the device by `sm2_build_g_table` and
//! stays there, then each batch kernel is launched once empty (POCL compiles at first launch).
//! Every launch uses one work-group size (64, `WORK_GROUP`). Per-key tables
//! (`PreparedVerify::table`) are ignored: the device uses the key.
//!
//! Figures (POCL 3.1 on AMD EPYC Zen 4, 2 cores, AVX-512; the cpu backend on both cores in the
//! same run; `cargo bench -p xinlian-benches --bench opencl`, `XINLIAN_BENCH_FULL=1` for every
//! size; the machine was shared, so expect a few percent of noise):
//!
//! ```text
//!   batch   verify opencl   verify cpu    SM3 (128 B msgs) opencl   SM3 cpu
//!       1        5.0k/s        14.7k/s          2.7 MiB/s            211 MiB/s
//!     256       10.2k/s        98.2k/s          253 MiB/s            1.76 GiB/s
//!   4,096       10.3k/s       102.0k/s          426 MiB/s            2.10 GiB/s
//!   start-up, empty caches (xinlian's and POCL's): 3.3 s (program 2.0 s, G table 0.23 s,
//!     first launches 1.05 s); POCL's cache only: 0.12 s; binary cache: 18-31 ms
//! ```
//!
//! Upload and download are well under 1% of a verify batch (0.054 ms against 398 ms wall at
//! 4,096); the kernel is the cost. On a GPU the same source runs thousands of work-items at
//! once, and what would change: 32-bit limbs (GPUs have no 64-bit multiplier; see
//! `kernels/cl/fp.cl`), the G table in constant or texture-cached memory, SM3 loads laid out
//! for coalescing (one work-item per message reads from scattered offsets; on POCL, unrolling
//! the rounds so that the message schedule stays in registers gave +46%), and larger chunks so
//! that transfers over PCIe overlap kernels.

pub mod buffers;
mod chunks;
pub mod device;
pub mod program;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opencl3::command_queue::{CommandQueue, CL_QUEUE_PROFILING_ENABLE};
use opencl3::context::Context;
use opencl3::event::Event;
use opencl3::kernel::{ExecuteKernel, Kernel};
use opencl3::memory::{Buffer, CL_MEM_READ_WRITE};
use opencl3::types::{cl_uint, CL_NON_BLOCKING};
use xinlian_kernels::sm2::curve::{N_BYTES, P_BYTES};
use xinlian_kernels::sm2::scalar::Scalar;
use xinlian_kernels::sm2::{check_scalars, CheckedScalars, Rejection};
use xinlian_kernels::sm3::Digest;

use crate::backend::{AccelError, Backend, BackendInfo, BackendKind};
use crate::verdict::{PreparedVerify, Verdict};
use crate::{self_test, MessageBatch};

use buffers::Lane;
use chunks::{chunk_ranges, MAX_CHUNK_BYTES};
pub use device::{devices, select, DeviceInfo};
pub use program::{cache_dir, ProgramSource, CACHE_DIR_ENV};

/// Words per signature in the verify kernel's input (see `kernels/cl/sm2_verify.cl`).
const ITEM_WORDS: usize = 25;
/// Base-point table: 32 windows x 255 points x 8 words.
const G_TABLE_WORDS: usize = 32 * 255 * 8;
/// Result bytes of `sm2_verify_batch`.
const RESULT_VALID: u8 = 0;
const RESULT_IDENTITY: u8 = 4;
const RESULT_MISMATCH: u8 = 5;
/// Work-group size of every launch (lowered to what a kernel allows on the device). Fixed, so
/// that POCL, which compiles a kernel once per work-group size it sees (on first use, then from
/// its cache), compiles each kernel once: left to the driver, the size follows the batch size, and
/// a fresh machine spent minutes compiling for every new batch size in the tests. 64 is a
/// multiple of the SIMD width of every current GPU (32 or 64) and of AVX-512's 8 lanes.
const WORK_GROUP: usize = 64;
/// Global work size for `n` items: `n` rounded up to a whole number of work-groups (the
/// kernels return early for ids at or past their count).
fn global_size(n: usize, local: usize) -> usize {
    n.div_ceil(local).max(1) * local
}

/// What the OpenCL backend's start-up answered before the one error enum of the crate took
/// its place: kept as a name so that callers matching `OpenClError::DeviceNotFound { .. }` still
/// compile. New code names [`AccelError`].
pub type OpenClError = AccelError;

/// An OpenCL call that failed: the device failed it (at start-up or in a batch), so
/// [`AccelError::DeviceLost`] with the call and its error code.
pub(crate) fn api(call: &'static str) -> impl Fn(opencl3::error_codes::ClError) -> AccelError {
    move |e| AccelError::DeviceLost(format!("{call} failed with OpenCL error {}", e.0))
}

/// How start-up went: where the program came from and what each step cost.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StartupReport {
    /// Compiled now, or loaded from the binary cache.
    pub program: ProgramSource,
    /// Seconds to obtain the built program.
    pub program_seconds: f64,
    /// Seconds to build the base-point table on the device.
    pub table_seconds: f64,
    /// Seconds of one empty launch of each batch kernel (drivers that compile at first launch
    /// do it here).
    pub first_launch_seconds: f64,
    /// Seconds from `new` to ready (context, queues, program, kernels, table).
    pub total_seconds: f64,
}

/// Where the time of the last batch went (from OpenCL profiling events, summed over chunks;
/// with overlap the parts can add up to more than `wall`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    /// Host to device copies.
    pub upload: Duration,
    /// Kernel execution.
    pub kernel: Duration,
    /// Device to host copies.
    pub download: Duration,
    /// The whole call as the caller saw it, host packing included.
    pub wall: Duration,
    /// Chunks the batch was cut into.
    pub chunks: usize,
}

/// A device as `xinlian devices` shows it: what it is, and whether the known answers pass.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceReport {
    /// Platform, name, compute units, memory, versions.
    pub info: DeviceInfo,
    /// Start-up figures, when the backend started.
    pub startup: Option<StartupReport>,
    /// `Ok` when the backend started and [`Backend::self_test`] passed; else why not.
    pub self_test: Result<(), String>,
}

impl std::fmt::Display for DeviceReport {
    /// One line: `opencl:0 Platform / Device (cpu, 2 CUs, 4771 MiB, OpenCL 3.0 ...): self-test ok`,
    /// or `... : self-test FAILED: why`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "opencl:{} {}", self.info.index, self.info.describe())?;
        match &self.self_test {
            Ok(()) => f.write_str(": self-test ok"),
            Err(why) => write!(f, ": self-test FAILED: {why}"),
        }
    }
}

/// Every OpenCL device, each started as a backend and self-tested. Empty when there is no
/// OpenCL platform; [`devices`] gives the reason.
pub fn list_devices() -> Vec<DeviceReport> {
    let Ok(all) = devices() else { return Vec::new() };
    all.iter()
        .map(|info| match OpenClBackend::on_device(info) {
            Ok(backend) => DeviceReport {
                info: info.clone(),
                startup: Some(backend.startup()),
                self_test: backend.self_test().map_err(|e| e.to_string()),
            },
            Err(e) => DeviceReport { info: info.clone(), startup: None, self_test: Err(e.to_string()) },
        })
        .collect()
}

/// Everything a batch touches on the device, behind one lock (kernel arguments are shared
/// state in OpenCL).
struct State {
    queues: [CommandQueue; 2],
    lanes: [Lane; 2],
    sm3: Kernel,
    merkle: Kernel,
    verify: Kernel,
    /// Work-group size of every launch (see [`WORK_GROUP`]).
    local: usize,
    g_table: Buffer<u64>,
    last: Option<Timings>,
    // Dropped last: everything above belongs to it.
    context: Context,
}

/// SM2 verification, SM3 and Merkle levels on one OpenCL device.
pub struct OpenClBackend {
    info: BackendInfo,
    device: DeviceInfo,
    startup: StartupReport,
    state: Mutex<State>,
}

impl OpenClBackend {
    /// Start on the device `spec` names: `None` for the first GPU (else the first device), a
    /// decimal index into [`devices`], or a case-insensitive substring of "platform / name".
    pub fn new(spec: Option<&str>) -> Result<OpenClBackend, AccelError> {
        OpenClBackend::on_device(select(spec)?)
    }

    /// Start on a device from [`devices`].
    pub fn on_device(device: &DeviceInfo) -> Result<OpenClBackend, AccelError> {
        let start = Instant::now();
        let context = Context::from_device(&device.device()).map_err(api("clCreateContext"))?;
        let queue = || {
            // SAFETY: the device is the context's own (the context was made from it above).
            unsafe { CommandQueue::create(&context, device.id as _, CL_QUEUE_PROFILING_ENABLE) }
                .map_err(api("clCreateCommandQueue"))
        };
        let queues = [queue()?, queue()?];
        let (program, source, program_seconds) = program::build(&context, device)?;
        let kernel = |name: &str| Kernel::create(&program, name).map_err(api("clCreateKernel"));
        let (sm3, merkle, verify, build_table) = (
            kernel("sm3_digest_batch")?,
            kernel("merkle_parent_level")?,
            kernel("sm2_verify_batch")?,
            kernel("sm2_build_g_table")?,
        );

        // One work-group size for every kernel, within what each kernel allows on this device.
        let local = [&sm3, &merkle, &verify, &build_table]
            .iter()
            .map(|k| k.get_work_group_size(device.id as _).unwrap_or(1))
            .fold(WORK_GROUP, usize::min)
            .max(1);
        let table_start = Instant::now();
        let create = |words: usize| {
            // SAFETY: null host pointer and no host-pointer flags: the driver allocates `words`
            // words and reads nothing from the host.
            unsafe { Buffer::<u64>::create(&context, CL_MEM_READ_WRITE, words, std::ptr::null_mut()) }
                .map_err(api("clCreateBuffer"))
        };
        let g_table = create(G_TABLE_WORDS)?;
        let scratch = create(2 * G_TABLE_WORDS)?;
        // SAFETY: sm2_build_g_table(__global ulong *table, __global ulong *scratch): `g_table`
        // has room for every entry (32 * 255 entries of 8 words), `scratch` for 16 words per
        // entry; one work-item per window.
        unsafe {
            ExecuteKernel::new(&build_table)
                .set_arg(&g_table)
                .set_arg(&scratch)
                .set_global_work_size(global_size(32, local))
                .set_local_work_size(local)
                .enqueue_nd_range(&queues[0])
        }
        .map_err(api("clEnqueueNDRangeKernel"))?;
        queues[0].finish().map_err(api("clFinish"))?;
        drop(scratch);
        let table_seconds = table_start.elapsed().as_secs_f64();

        // One empty launch of each batch kernel (count 0: every work-item returns at once), so
        // that a driver compiling at first launch (POCL does, per work-group size) does it now
        // rather than in the first batch.
        let launch_start = Instant::now();
        let mut lanes = [Lane::new(), Lane::new()];
        {
            let lane = &mut lanes[0];
            let bytes = lane.bytes_in.ensure(&context, 1)? as &Buffer<u8>;
            let words = lane.words_in.ensure(&context, 1)? as &Buffer<u64>;
            let out = lane.bytes_out.ensure(&context, 1)? as &Buffer<u8>;
            let zero: cl_uint = 0;
            // SAFETY: each kernel gets buffers of the types its signature names and a count of
            // 0, so no work-item reads or writes any buffer.
            unsafe {
                ExecuteKernel::new(&sm3)
                    .set_arg(bytes)
                    .set_arg(words)
                    .set_arg(&zero)
                    .set_arg(out)
                    .set_global_work_size(local)
                    .set_local_work_size(local)
                    .enqueue_nd_range(&queues[0])
                    .map_err(api("clEnqueueNDRangeKernel"))?;
                ExecuteKernel::new(&merkle)
                    .set_arg(bytes)
                    .set_arg(&zero)
                    .set_arg(out)
                    .set_global_work_size(local)
                    .set_local_work_size(local)
                    .enqueue_nd_range(&queues[0])
                    .map_err(api("clEnqueueNDRangeKernel"))?;
                ExecuteKernel::new(&verify)
                    .set_arg(words)
                    .set_arg(&g_table)
                    .set_arg(&zero)
                    .set_arg(out)
                    .set_global_work_size(local)
                    .set_local_work_size(local)
                    .enqueue_nd_range(&queues[0])
                    .map_err(api("clEnqueueNDRangeKernel"))?;
            }
            queues[0].finish().map_err(api("clFinish"))?;
        }
        let first_launch_seconds = launch_start.elapsed().as_secs_f64();
        let total_seconds = start.elapsed().as_secs_f64();
        tracing::info!(
            backend = "opencl",
            device = %device.label(),
            program = ?source,
            seconds = total_seconds,
            "OpenCL device started"
        );

        let info = BackendInfo {
            name: "opencl".to_string(),
            kind: BackendKind::OpenCl,
            device: format!(
                "{} ({}, {} compute units, {} MiB, {})",
                device.label(),
                device.device_type,
                device.compute_units,
                device.global_mem_bytes >> 20,
                device.version
            ),
            max_batch: usize::MAX,
            parallelism: usize::try_from(device.compute_units).unwrap_or(1),
        };
        Ok(OpenClBackend {
            info,
            device: device.clone(),
            startup: StartupReport {
                program: source,
                program_seconds,
                table_seconds,
                first_launch_seconds,
                total_seconds,
            },
            state: Mutex::new(State { queues, lanes, sm3, merkle, verify, local, g_table, last: None, context }),
        })
    }

    /// The device this backend runs on.
    pub fn device(&self) -> &DeviceInfo {
        &self.device
    }

    /// How start-up went.
    pub fn startup(&self) -> StartupReport {
        self.startup
    }

    /// Where the time of the last batch went (upload / kernel / download).
    pub fn last_timings(&self) -> Option<Timings> {
        self.lock().last
    }

    /// Device memory held by the batch buffers now (they grow with the largest batch seen).
    pub fn buffer_bytes(&self) -> usize {
        self.lock().lanes.iter().map(Lane::bytes).sum()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock can only come from a bug between enqueue and finish;
        // the queues are finished by `Flight`'s drop either way, so the state stays usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Commands in flight on both queues. Dropping it waits for them, so that no host slice a
/// non-blocking copy reads or writes is freed while the device still uses it.
struct Flight<'a> {
    queues: &'a [CommandQueue; 2],
    uploads: Vec<Event>,
    kernels: Vec<Event>,
    downloads: Vec<Event>,
}

impl<'a> Flight<'a> {
    fn new(queues: &'a [CommandQueue; 2]) -> Flight<'a> {
        Flight { queues, uploads: Vec::new(), kernels: Vec::new(), downloads: Vec::new() }
    }

    /// Wait for everything, then sum the profiled times.
    fn finish(self, started: Instant, chunks: usize) -> Result<Timings, AccelError> {
        for q in self.queues {
            q.finish().map_err(api("clFinish"))?;
        }
        let total = |events: &[Event]| {
            events
                .iter()
                .map(|e| {
                    let start = e.profiling_command_start().unwrap_or(0);
                    let end = e.profiling_command_end().unwrap_or(start);
                    Duration::from_nanos(end.saturating_sub(start))
                })
                .sum()
        };
        Ok(Timings {
            upload: total(&self.uploads),
            kernel: total(&self.kernels),
            download: total(&self.downloads),
            wall: started.elapsed(),
            chunks,
        })
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        for q in self.queues {
            // Nothing better to do with an error here: the caller already has one, or `finish`
            // reported it.
            let _ = q.finish();
        }
    }
}

/// Upload `data` into `buffer` without blocking.
///
/// # Safety
/// `data` must stay alive and unchanged until the queue finishes (the caller's `Flight`).
unsafe fn upload<T>(queue: &CommandQueue, buffer: &mut Buffer<T>, data: &[T]) -> Result<Option<Event>, AccelError> {
    if data.is_empty() {
        return Ok(None);
    }
    // SAFETY: the buffer was sized (DeviceBuffer::ensure) for at least data.len() elements;
    // the caller keeps `data` alive until the queue is finished.
    let event = unsafe { queue.enqueue_write_buffer(buffer, CL_NON_BLOCKING, 0, data, &[]) }
        .map_err(api("clEnqueueWriteBuffer"))?;
    Ok(Some(event))
}

/// Download into `out` without blocking.
///
/// # Safety
/// `out` must stay alive and untouched until the queue finishes (the caller's `Flight`).
unsafe fn download<T>(queue: &CommandQueue, buffer: &Buffer<T>, out: &mut [T]) -> Result<Option<Event>, AccelError> {
    if out.is_empty() {
        return Ok(None);
    }
    // SAFETY: the buffer holds at least out.len() elements written by the kernel before it
    // on this in-order queue; the caller keeps `out` alive until the queue is finished.
    let event = unsafe { queue.enqueue_read_buffer(buffer, CL_NON_BLOCKING, 0, out, &[]) }
        .map_err(api("clEnqueueReadBuffer"))?;
    Ok(Some(event))
}

/// Little-endian limbs of 32 big-endian bytes.
fn limbs_be(bytes: &[u8; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, limb) in out.iter_mut().enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[32 - 8 * (i + 1)..32 - 8 * i]);
        *limb = u64::from_be_bytes(word);
    }
    out
}

/// Steps B1, B2, B5 on the host (the kernels' own [`check_scalars`], so a rejection here is
/// the CPU's), then the 25 words the device needs for B6-B7.
fn pack_item(item: &PreparedVerify, out: &mut Vec<u64>) -> Result<(), Rejection> {
    let CheckedScalars { r, s, t } = check_scalars(&item.r, &item.s)?;
    // B3, B4 (e' = SM3(Z_A ‖ M')) were done by `prepare`; e' is reduced mod n for B7.
    let e = Scalar::reduce_bytes(&item.e);
    // B7 is checked as x1 == c or x1 == c + n (when c + n < p), with c = (r' - e') mod n.
    let c = r.sub(&e).limbs();
    let n = limbs_be(&N_BYTES);
    let p = limbs_be(&P_BYTES);
    let mut c_plus_n = [0u64; 4];
    let mut carry = false;
    for i in 0..4 {
        let (a, c1) = c[i].overflowing_add(n[i]);
        let (b, c2) = a.overflowing_add(u64::from(carry));
        c_plus_n[i] = b;
        carry = c1 || c2;
    }
    let below_p = !carry && c_plus_n.iter().rev().cmp(p.iter().rev()) == std::cmp::Ordering::Less;
    out.extend_from_slice(&limbs_be(&item.key.x_bytes()));
    out.extend_from_slice(&limbs_be(&item.key.y_bytes()));
    out.extend_from_slice(&s.limbs());
    out.extend_from_slice(&t.limbs());
    out.extend_from_slice(&c);
    out.extend_from_slice(&c_plus_n);
    out.push(u64::from(below_p));
    Ok(())
}

fn count_arg(n: usize) -> Result<cl_uint, AccelError> {
    cl_uint::try_from(n).map_err(|_| AccelError::BatchTooLarge { got: n, max: cl_uint::MAX as usize })
}

impl Backend for OpenClBackend {
    fn info(&self) -> &BackendInfo {
        &self.info
    }

    fn verify_batch(&self, items: &[PreparedVerify]) -> Result<Vec<Verdict>, AccelError> {
        let started = Instant::now();
        let mut verdicts: Vec<Option<Verdict>> = vec![None; items.len()];
        let mut packed = Vec::with_capacity(items.len() * ITEM_WORDS);
        let mut on_device = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match pack_item(item, &mut packed) {
                Ok(()) => on_device.push(i),
                Err(rejection) => verdicts[i] = Some(Verdict::Invalid(rejection)),
            }
        }
        let mut results = vec![0xFFu8; on_device.len()];
        let ranges = chunk_ranges(on_device.len());
        let mut guard = self.lock();
        let state = &mut *guard;
        if !on_device.is_empty() {
            let mut flight = Flight::new(&state.queues);
            let mut rest: &mut [u8] = &mut results;
            for (k, &(start, end)) in ranges.iter().enumerate() {
                let (out, tail) = rest.split_at_mut(end - start);
                rest = tail;
                let queue = &state.queues[k % 2];
                let lane = &mut state.lanes[k % 2];
                let words = &packed[start * ITEM_WORDS..end * ITEM_WORDS];
                let input = lane.words_in.ensure(&state.context, words.len())?;
                // SAFETY: `packed` outlives `flight`, which waits for the queues when dropped.
                flight.uploads.extend(unsafe { upload(queue, input, words) }?);
                let output = lane.bytes_out.ensure(&state.context, out.len())?;
                let input = lane.words_in.ensure(&state.context, words.len())?;
                // SAFETY: sm2_verify_batch(items, g_table, count, results): `input` holds count
                // items of ITEM_WORDS words, `g_table` the full table built at start-up,
                // `output` count bytes; argument types match the kernel's (cl_uint count).
                let event = unsafe {
                    ExecuteKernel::new(&state.verify)
                        .set_arg(input)
                        .set_arg(&state.g_table)
                        .set_arg(&count_arg(end - start)?)
                        .set_arg(output)
                        .set_global_work_size(global_size(end - start, state.local))
                        .set_local_work_size(state.local)
                        .enqueue_nd_range(queue)
                }
                .map_err(api("clEnqueueNDRangeKernel"))?;
                flight.kernels.push(event);
                // SAFETY: `results` outlives `flight`; `out` is this chunk's own part of it.
                flight.downloads.extend(unsafe { download(queue, output, out) }?);
            }
            state.last = Some(flight.finish(started, ranges.len())?);
        } else {
            state.last = Some(Timings { wall: started.elapsed(), ..Timings::default() });
        }
        drop(guard);
        for (&i, &code) in on_device.iter().zip(&results) {
            verdicts[i] = Some(match code {
                RESULT_VALID => Verdict::Valid,
                RESULT_IDENTITY => Verdict::Invalid(Rejection::Identity),
                RESULT_MISMATCH => Verdict::Invalid(Rejection::Mismatch),
                other => return Err(AccelError::Corrupt(format!("verify result byte {other} for item {i}"))),
            });
        }
        verdicts
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| AccelError::Corrupt(format!("no verdict for item {i}"))))
            .collect()
    }

    fn sm3_batch(&self, msgs: &MessageBatch) -> Result<Vec<Digest>, AccelError> {
        let started = Instant::now();
        let (data, ends) = msgs.as_parts();
        if ends.is_empty() {
            return Ok(Vec::new());
        }
        let ranges = chunks::sm3_ranges(ends, MAX_CHUNK_BYTES, self.max_message_bytes())?;
        let rebased: Vec<Vec<u64>> = ranges
            .iter()
            .map(|&(s, e)| {
                let base = if s == 0 { 0 } else { ends[s - 1] };
                ends[s..e].iter().map(|&x| (x - base) as u64).collect()
            })
            .collect();
        let mut out = vec![0u8; 32 * ends.len()];
        let mut guard = self.lock();
        let state = &mut *guard;
        {
            let mut flight = Flight::new(&state.queues);
            let mut rest: &mut [u8] = &mut out;
            for (k, (&(start, end), local_ends)) in ranges.iter().zip(&rebased).enumerate() {
                let (digests, tail) = rest.split_at_mut(32 * (end - start));
                rest = tail;
                let base = if start == 0 { 0 } else { ends[start - 1] };
                let bytes = &data[base..ends[end - 1]];
                let queue = &state.queues[k % 2];
                let lane = &mut state.lanes[k % 2];
                let data_buf = lane.bytes_in.ensure(&state.context, bytes.len())?;
                // SAFETY: `data` (the caller's batch) outlives `flight`.
                flight.uploads.extend(unsafe { upload(queue, data_buf, bytes) }?);
                let ends_buf = lane.words_in.ensure(&state.context, local_ends.len())?;
                // SAFETY: `rebased` outlives `flight`.
                flight.uploads.extend(unsafe { upload(queue, ends_buf, local_ends) }?);
                let (data_buf, ends_buf, out_buf) = (
                    lane.bytes_in.ensure(&state.context, bytes.len())?,
                    lane.words_in.ensure(&state.context, local_ends.len())?,
                    lane.bytes_out.ensure(&state.context, digests.len())?,
                );
                let (data_buf, ends_buf) = (&*data_buf, &*ends_buf);
                // SAFETY: sm3_digest_batch(data, ends, count, digests): `ends_buf` holds count
                // ends, each at most bytes.len() (the data buffer's content), `out_buf` 32 bytes
                // per message; the types match the kernel's (cl_uint count).
                let event = unsafe {
                    ExecuteKernel::new(&state.sm3)
                        .set_arg(data_buf)
                        .set_arg(ends_buf)
                        .set_arg(&count_arg(end - start)?)
                        .set_arg(&*out_buf)
                        .set_global_work_size(global_size(end - start, state.local))
                        .set_local_work_size(state.local)
                        .enqueue_nd_range(queue)
                }
                .map_err(api("clEnqueueNDRangeKernel"))?;
                flight.kernels.push(event);
                // SAFETY: `out` outlives `flight`; `digests` is this chunk's own part of it.
                flight.downloads.extend(unsafe { download(queue, out_buf, digests) }?);
            }
            state.last = Some(flight.finish(started, ranges.len())?);
        }
        drop(guard);
        Ok(out.chunks_exact(32).map(|c| c.try_into().unwrap_or([0u8; 32])).collect())
    }

    /// The device's largest single allocation (no limit when the driver did not say).
    fn max_message_bytes(&self) -> usize {
        match self.device.max_alloc_bytes {
            0 => usize::MAX,
            bytes => usize::try_from(bytes).unwrap_or(usize::MAX),
        }
    }

    fn merkle_level(&self, nodes: &[Digest]) -> Result<Vec<Digest>, AccelError> {
        let started = Instant::now();
        if nodes.len() < 2 {
            return Ok(nodes.to_vec());
        }
        let flat: Vec<u8> = nodes.iter().flatten().copied().collect();
        let parents = nodes.len().div_ceil(2);
        let mut out = vec![0u8; 32 * parents];
        let mut guard = self.lock();
        let state = &mut *guard;
        {
            let mut flight = Flight::new(&state.queues);
            let queue = &state.queues[0];
            let lane = &mut state.lanes[0];
            let input = lane.bytes_in.ensure(&state.context, flat.len())?;
            // SAFETY: `flat` outlives `flight`.
            flight.uploads.extend(unsafe { upload(queue, input, &flat) }?);
            let (input, output) =
                (lane.bytes_in.ensure(&state.context, flat.len())?, lane.bytes_out.ensure(&state.context, out.len())?);
            let input = &*input;
            // SAFETY: merkle_parent_level(nodes, count, parents): `input` holds count nodes of
            // 32 bytes, `output` ceil(count/2) * 32 bytes; one work-item per parent.
            let event = unsafe {
                ExecuteKernel::new(&state.merkle)
                    .set_arg(input)
                    .set_arg(&count_arg(nodes.len())?)
                    .set_arg(&*output)
                    .set_global_work_size(global_size(parents, state.local))
                    .set_local_work_size(state.local)
                    .enqueue_nd_range(queue)
            }
            .map_err(api("clEnqueueNDRangeKernel"))?;
            flight.kernels.push(event);
            // SAFETY: `out` outlives `flight`.
            flight.downloads.extend(unsafe { download(queue, output, &mut out) }?);
            state.last = Some(flight.finish(started, 1)?);
        }
        drop(guard);
        Ok(out.chunks_exact(32).map(|c| c.try_into().unwrap_or([0u8; 32])).collect())
    }

    fn self_test(&self) -> Result<(), AccelError> {
        self_test::run(self)
    }
}
