//! The soft card's state: the one open device, its sessions by handle, and what happens to a
//! call before it computes (faults rolled, engine time scheduled) and after (paced).
//!
//! Owns: the registry of handles (plain numbers: an unknown handle is `SDR_INARGERR`, never a
//! dangling pointer), [`Device`] (settings, keys, timing model, fault generator, reset epoch,
//! counters), [`Session`] (hash state and key access rights) and [`Ticket`]. Never: raw pointers
//! (that is `exports`) or the meaning of a call (that is `ops`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use xinlian_hw_sim::faults::FaultRng;
use xinlian_hw_sim::sdf_abi::{
    self, DeviceInfo, FieldLayout, SDR_COMMFAIL, SDR_HARDFAIL, SDR_INARGERR, SDR_OPENDEVICE, SDR_OPENSESSION,
};
use xinlian_hw_sim::timing::{TimingModel, Work};
use xinlian_hw_sim::{FaultConfig, Pacing};

use crate::config::Settings;
use crate::crypto::Hash;
use crate::keystore::KeyStore;

/// The base of the codes a `status` fault returns: no code the standard defines.
const GARBAGE_CODE: u32 = 0x0BAD_0000;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every value behind these locks is valid between statements; a panic in a call (caught at
    // the export) leaves it usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Faults {
    config: FaultConfig,
    rng: FaultRng,
}

/// The opened card.
pub(crate) struct Device {
    pub(crate) settings: Settings,
    pub(crate) keys: KeyStore,
    started: Instant,
    timing: Mutex<TimingModel>,
    faults: Mutex<Faults>,
    /// Incremented by every reset: a session opened in an older epoch is gone.
    epoch: AtomicU64,
    calls: AtomicU64,
    faults_fired: AtomicU64,
}

/// A session's own state.
#[derive(Default)]
pub(crate) struct SessionState {
    /// The SM3 computation between `HashInit` and `HashFinal`.
    pub(crate) hash: Option<Hash>,
    /// Key indices whose access right this session holds.
    pub(crate) rights: BTreeSet<u32>,
}

/// An open session.
pub(crate) struct Session {
    pub(crate) device: Arc<Device>,
    epoch: u64,
    state: Mutex<SessionState>,
}

struct Registry {
    next: usize,
    device: Option<(usize, Arc<Device>)>,
    sessions: BTreeMap<usize, Arc<Session>>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { next: 1, device: None, sessions: BTreeMap::new() });

impl Registry {
    fn fresh_id(&mut self) -> usize {
        let id = self.next;
        self.next += 1;
        id
    }
}

/// Open the device: settings and keys read now. One open device at a time, as some vendors'
/// libraries allow.
pub(crate) fn open_device() -> Result<usize, u32> {
    let mut reg = lock(&REGISTRY);
    if reg.device.is_some() {
        eprintln!("xinlian-sdf-sim: SDF_OpenDevice: the device is already open (one per process)");
        return Err(SDR_OPENDEVICE);
    }
    let device = Device::load().map_err(|e| {
        // A vendor library logs why it cannot open; so does this one, on stderr.
        eprintln!("xinlian-sdf-sim: SDF_OpenDevice: {e}");
        SDR_OPENDEVICE
    })?;
    let id = reg.fresh_id();
    reg.device = Some((id, Arc::new(device)));
    Ok(id)
}

/// Close the device and every session on it.
pub(crate) fn close_device(id: usize) -> Result<(), u32> {
    let mut reg = lock(&REGISTRY);
    match &reg.device {
        Some((open, _)) if *open == id => {
            reg.device = None;
            reg.sessions.clear();
            Ok(())
        }
        _ => Err(SDR_INARGERR),
    }
}

/// Open a session on the device `device_id`.
pub(crate) fn open_session(device_id: usize) -> Result<usize, u32> {
    let mut reg = lock(&REGISTRY);
    let device = match &reg.device {
        Some((open, device)) if *open == device_id => Arc::clone(device),
        _ => return Err(SDR_INARGERR),
    };
    let epoch = device.epoch.load(Ordering::Acquire);
    let id = reg.fresh_id();
    reg.sessions.insert(id, Arc::new(Session { device, epoch, state: Mutex::new(SessionState::default()) }));
    Ok(id)
}

/// Close a session (its hash state and access rights go with it).
pub(crate) fn close_session(id: usize) -> Result<(), u32> {
    lock(&REGISTRY).sessions.remove(&id).map(drop).ok_or(SDR_INARGERR)
}

/// The session behind a handle.
pub(crate) fn session(id: usize) -> Result<Arc<Session>, u32> {
    lock(&REGISTRY).sessions.get(&id).cloned().ok_or(SDR_INARGERR)
}

/// The open device, if any.
pub(crate) fn open_device_state() -> Option<Arc<Device>> {
    lock(&REGISTRY).device.as_ref().map(|(_, d)| Arc::clone(d))
}

impl Device {
    fn load() -> Result<Device, crate::Error> {
        let settings = Settings::load()?;
        let keys = match &settings.keystore {
            Some(path) => KeyStore::load(path)?,
            None => KeyStore::empty(),
        };
        Ok(Device {
            timing: Mutex::new(TimingModel::new(&settings.profile)),
            faults: Mutex::new(Faults { config: settings.faults, rng: FaultRng::new(settings.seed) }),
            settings,
            keys,
            started: Instant::now(),
            epoch: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            faults_fired: AtomicU64::new(0),
        })
    }

    /// Replace the fault rates (the generator keeps its sequence).
    pub(crate) fn set_faults(&self, config: FaultConfig) {
        lock(&self.faults).config = config;
    }

    /// (work calls, faults fired) so far.
    pub(crate) fn counters(&self) -> (u64, u64) {
        (self.calls.load(Ordering::Relaxed), self.faults_fired.load(Ordering::Relaxed))
    }

    /// What `SDF_GetDeviceInfo` reports. `DeviceName` ends in ` xN`, N the SM2 engines: the
    /// standard has no field for it, and accel's driver sizes its session pool by it.
    pub(crate) fn info(&self) -> DeviceInfo {
        let p = &self.settings.profile;
        let mut info = DeviceInfo::default();
        sdf_abi::set_field_text(&mut info.issuer_name, "xinlian soft card (GM/T 0018 sim)");
        let suffix = format!(" x{}", p.sm2.engines);
        let room = info.device_name.len() - suffix.len();
        let name: String = p.name.chars().take(room).collect();
        sdf_abi::set_field_text(&mut info.device_name, &format!("{name}{suffix}"));
        sdf_abi::set_field_text(&mut info.device_serial, &self.settings.serial);
        info.device_version = 0x0001_0000;
        info.standard_version = 1;
        info.asym_alg_ability = [0x0002_0100 | sdf_abi::SGD_SM2_1, sdf_abi::SM2_BITS];
        info.hash_alg_ability = sdf_abi::SGD_SM3;
        info.buffer_size = u32::try_from(p.dma_bytes / p.queue_depth as usize).unwrap_or(u32::MAX);
        info
    }

    /// When, in real time, work arriving now is due (realtime pacing only).
    fn schedule(&self, work: &Work, in_bytes: u64, out_bytes: u64) -> Option<Instant> {
        if self.settings.pacing != Pacing::Realtime {
            return None;
        }
        let now_ns = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let due_ns = lock(&self.timing).schedule(now_ns, in_bytes, out_bytes, work).due_ns;
        Some(self.started + Duration::from_nanos(due_ns))
    }
}

/// A work call admitted past the fault roll: whether to flip its answer, and when it is due.
pub(crate) struct Ticket {
    due: Option<Instant>,
    /// Flip the answer.
    pub(crate) corrupt: bool,
    /// Random bits for choosing what to flip.
    pub(crate) pick: u64,
}

impl Ticket {
    /// Block until the answer is due (realtime pacing); at once otherwise.
    pub(crate) fn wait(&self) {
        if let Some(due) = self.due {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    }
}

impl Session {
    /// The struct layout of this card.
    pub(crate) fn layout(&self) -> FieldLayout {
        self.device.settings.layout
    }

    /// This session's state, unless a reset since it opened has ended it.
    pub(crate) fn state(&self) -> Result<MutexGuard<'_, SessionState>, u32> {
        if self.device.epoch.load(Ordering::Acquire) != self.epoch {
            return Err(SDR_OPENSESSION);
        }
        Ok(lock(&self.state))
    }

    /// Admit one work call: roll its faults (see the crate docs for what each does) and take
    /// its engine time.
    pub(crate) fn begin(&self, work: Work, in_bytes: u64, out_bytes: u64) -> Result<Ticket, u32> {
        drop(self.state()?);
        let d = &self.device;
        d.calls.fetch_add(1, Ordering::Relaxed);
        let roll = {
            let mut f = lock(&d.faults);
            let config = f.config;
            f.rng.roll(&config)
        };
        if roll.any() {
            d.faults_fired.fetch_add(1, Ordering::Relaxed);
        }
        if roll.reset {
            d.epoch.fetch_add(1, Ordering::AcqRel);
            return Err(SDR_HARDFAIL);
        }
        if roll.drop {
            return Err(SDR_COMMFAIL);
        }
        if roll.status {
            return Err(GARBAGE_CODE | u32::from(roll.pick.to_le_bytes()[0]));
        }
        if roll.hang {
            std::thread::sleep(d.settings.hang);
        }
        Ok(Ticket { due: d.schedule(&work, in_bytes, out_bytes), corrupt: roll.corrupt, pick: roll.pick })
    }
}
