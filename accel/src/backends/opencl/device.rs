//! OpenCL platform and device discovery, and the `--device SPEC` rule.
//!
//! Owns: the one enumeration of platforms and devices per process (some ICDs answer 0 devices
//! to concurrent first queries, so the list is taken once, under a lock, and kept), the
//! [`DeviceInfo`] of each, and how a spec picks one. Never: contexts, programs or buffers
//! (those belong to [`super::program`] and [`super::buffers`]).

use std::sync::OnceLock;

use opencl3::device::{Device, CL_DEVICE_TYPE_ALL, CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_GPU};
use opencl3::platform::get_platforms;
use opencl3::types::cl_device_id;

use crate::backend::AccelError;

/// One OpenCL device as the system reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Position in [`devices`]'s list (what `--device N` takes).
    pub index: usize,
    /// Platform name (e.g. "Portable Computing Language").
    pub platform: String,
    /// Device name.
    pub name: String,
    /// Device vendor.
    pub vendor: String,
    /// `CL_DEVICE_VERSION`, e.g. "OpenCL 3.0 PoCL ...".
    pub version: String,
    /// `CL_DEVICE_OPENCL_C_VERSION`, e.g. "OpenCL C 1.2 PoCL".
    pub opencl_c_version: String,
    /// Driver version.
    pub driver_version: String,
    /// "gpu", "cpu" or "other".
    pub device_type: String,
    /// Compute units.
    pub compute_units: u32,
    /// Global memory, bytes.
    pub global_mem_bytes: u64,
    /// Largest single allocation, bytes.
    pub max_alloc_bytes: u64,
    /// The raw device id (process-lifetime handle), as an integer so that the list is `Send`.
    pub(crate) id: usize,
}

impl DeviceInfo {
    /// `platform / name`, what a name spec is matched against.
    pub fn label(&self) -> String {
        format!("{} / {}", self.platform, self.name)
    }

    /// The label and what the device is: `Platform / Device (cpu, 2 compute units, 4771 MiB,
    /// OpenCL 3.0 ..., OpenCL C 1.2 ...)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}, {} compute units, {} MiB, {}, {})",
            self.label(),
            self.device_type,
            self.compute_units,
            self.global_mem_bytes >> 20,
            self.version,
            self.opencl_c_version
        )
    }

    pub(crate) fn device(&self) -> Device {
        Device::new(self.id as cl_device_id)
    }
}

/// Every OpenCL device of every platform, in platform order. Taken once per process; an error
/// (no OpenCL loader, no platform) is kept too and answered to every caller.
pub fn devices() -> Result<&'static [DeviceInfo], AccelError> {
    static DEVICES: OnceLock<Result<Vec<DeviceInfo>, AccelError>> = OnceLock::new();
    DEVICES.get_or_init(enumerate).as_ref().map(|v| v.as_slice()).map_err(Clone::clone)
}

fn enumerate() -> Result<Vec<DeviceInfo>, AccelError> {
    // `get_platforms` loads libOpenCL.so.1 on first use (the `dynamic` feature of opencl3): a
    // machine without an OpenCL loader answers an error here, never a crash.
    let platforms = get_platforms().map_err(|e| AccelError::NoDevice(format!("no OpenCL platform ({e})")))?;
    let mut out = Vec::new();
    for platform in platforms {
        let platform_name = platform.name().unwrap_or_else(|_| "unknown platform".to_string());
        // A platform with no device answers CL_DEVICE_NOT_FOUND: skip it.
        let Ok(ids) = platform.get_devices(CL_DEVICE_TYPE_ALL) else { continue };
        for id in ids {
            let d = Device::new(id);
            let ty = d.dev_type().unwrap_or(0);
            out.push(DeviceInfo {
                index: out.len(),
                platform: platform_name.trim().to_string(),
                name: d.name().unwrap_or_default().trim().to_string(),
                vendor: d.vendor().unwrap_or_default().trim().to_string(),
                version: d.version().unwrap_or_default().trim().to_string(),
                opencl_c_version: d.opencl_c_version().unwrap_or_default().trim().to_string(),
                driver_version: d.driver_version().unwrap_or_default().trim().to_string(),
                device_type: if ty & CL_DEVICE_TYPE_GPU != 0 {
                    "gpu"
                } else if ty & CL_DEVICE_TYPE_CPU != 0 {
                    "cpu"
                } else {
                    "other"
                }
                .to_string(),
                compute_units: d.max_compute_units().unwrap_or(1),
                global_mem_bytes: d.global_mem_size().unwrap_or(0),
                max_alloc_bytes: d.max_mem_alloc_size().unwrap_or(0),
                id: id as usize,
            });
        }
    }
    Ok(out)
}

/// Pick a device. `None`: the first GPU, else the first device. `Some(spec)`: a decimal index
/// into [`devices`], or a case-insensitive substring of "platform / name".
pub fn select(spec: Option<&str>) -> Result<&'static DeviceInfo, AccelError> {
    let all = devices()?;
    if all.is_empty() {
        return Err(AccelError::NoDevice("the OpenCL platforms list no device".to_string()));
    }
    let available = || all.iter().map(|d| format!("{}: {}", d.index, d.label())).collect::<Vec<_>>().join("; ");
    match spec.map(str::trim) {
        None | Some("") => Ok(all.iter().find(|d| d.device_type == "gpu").unwrap_or(&all[0])),
        Some(spec) => {
            if let Ok(index) = spec.parse::<usize>() {
                return all
                    .get(index)
                    .ok_or_else(|| AccelError::DeviceNotFound { spec: spec.to_string(), available: available() });
            }
            let needle = spec.to_lowercase();
            all.iter()
                .find(|d| d.label().to_lowercase().contains(&needle))
                .ok_or_else(|| AccelError::DeviceNotFound { spec: spec.to_string(), available: available() })
        }
    }
}
