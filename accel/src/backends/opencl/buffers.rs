//! Device buffers kept across batches, grown when a batch needs more.
//!
//! Owns: `DeviceBuffer`, a device allocation that only ever grows (to the next power of two
//! of what was asked, so a stream of similar batches allocates once), and `Lane`, the set of
//! buffers one chunk in flight uses (two lanes give double buffering). Never: enqueueing
//! commands, or freeing a buffer a queued command still uses (OpenCL keeps a released buffer
//! alive until the commands that use it finish, so growing is always safe).

use std::ptr;

use opencl3::context::Context;
use opencl3::memory::{Buffer, CL_MEM_READ_ONLY, CL_MEM_WRITE_ONLY};
use opencl3::types::cl_mem_flags;

use super::api;
use crate::backend::AccelError;

/// A device allocation of `T`s that grows on demand.
pub(crate) struct DeviceBuffer<T> {
    buffer: Option<Buffer<T>>,
    capacity: usize,
    flags: cl_mem_flags,
}

impl<T> DeviceBuffer<T> {
    fn new(flags: cl_mem_flags) -> DeviceBuffer<T> {
        DeviceBuffer { buffer: None, capacity: 0, flags }
    }

    /// A buffer of at least `count` elements (at least one: OpenCL has no empty buffers).
    pub(crate) fn ensure(&mut self, context: &Context, count: usize) -> Result<&mut Buffer<T>, AccelError> {
        let count = count.max(1);
        if self.buffer.is_none() || self.capacity < count {
            let capacity = count.next_power_of_two();
            // SAFETY: the host pointer is null and no CL_MEM_USE_HOST_PTR / COPY_HOST_PTR flag is
            // given, so the driver allocates device memory of capacity * size_of::<T>() bytes and
            // reads nothing from the host.
            let buffer = unsafe { Buffer::<T>::create(context, self.flags, capacity, ptr::null_mut()) }
                .map_err(api("clCreateBuffer"))?;
            self.buffer = Some(buffer);
            self.capacity = capacity;
        }
        // Set just above when it was not; `None` here would be a bug in this function.
        self.buffer.as_mut().ok_or_else(|| AccelError::DeviceLost("clCreateBuffer: no buffer held".to_string()))
    }

    /// Bytes allocated on the device.
    pub(crate) fn bytes(&self) -> usize {
        self.capacity * std::mem::size_of::<T>()
    }
}

/// The buffers of one chunk in flight: packed input bytes, 64-bit words (message ends, or
/// verify items), and the output bytes (digests, or one result byte per signature).
pub(crate) struct Lane {
    pub(crate) bytes_in: DeviceBuffer<u8>,
    pub(crate) words_in: DeviceBuffer<u64>,
    pub(crate) bytes_out: DeviceBuffer<u8>,
}

impl Lane {
    pub(crate) fn new() -> Lane {
        Lane {
            bytes_in: DeviceBuffer::new(CL_MEM_READ_ONLY),
            words_in: DeviceBuffer::new(CL_MEM_READ_ONLY),
            bytes_out: DeviceBuffer::new(CL_MEM_WRITE_ONLY),
        }
    }

    /// Device bytes this lane holds.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes_in.bytes() + self.words_in.bytes() + self.bytes_out.bytes()
    }
}
