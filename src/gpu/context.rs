//! Adapter choice and the device.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::backend::AdapterSummary;
use crate::error::{Error, Result};
use crate::kernels::KernelDesc;

use super::pipeline::Pipeline;

/// A device and queue on the chosen adapter, its limits, and the pipelines built so far.
pub struct GpuContext {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: AdapterSummary,
    limits: wgpu::Limits,
    pipelines: Mutex<HashMap<String, Arc<Pipeline>>>,
}

fn backends() -> wgpu::Backends {
    // Vulkan, Metal and DX12 are compiled in; GL only with the `gles` feature.
    wgpu::Backends::all()
}

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends &= backends();
    // No validation layers or debug labels in release builds: they cost time per dispatch.
    if !cfg!(debug_assertions) {
        desc.flags = wgpu::InstanceFlags::empty();
    }
    wgpu::Instance::new(desc)
}

fn summary(info: &wgpu::AdapterInfo) -> AdapterSummary {
    AdapterSummary {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
    }
}

/// Ranks adapters: real GPUs before software ones, native APIs before GL.
fn rank(info: &wgpu::AdapterInfo) -> (u8, u8) {
    let device = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let api = match info.backend {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 0,
        _ => 1,
    };
    (device, api)
}

/// Every adapter wgpu can see, best first (the one `GpuContext::new` takes comes first unless
/// `NEUROPOP_ADAPTER` selects another).
pub fn list_adapters() -> Vec<AdapterSummary> {
    let mut adapters = pollster::block_on(instance().enumerate_adapters(backends()));
    adapters.sort_by_key(|a| rank(&a.get_info()));
    adapters.iter().map(|a| summary(&a.get_info())).collect()
}

/// The adapter `GpuContext::new` opens: the best one (with several MPI ranks on a machine,
/// the local rank's among the equally good ones), or the first whose name contains
/// `NEUROPOP_ADAPTER` (case-insensitive).
fn pick_adapter() -> Result<wgpu::Adapter> {
    let mut adapters = pollster::block_on(instance().enumerate_adapters(backends()));
    adapters.sort_by_key(|a| rank(&a.get_info()));
    let wanted = std::env::var("NEUROPOP_ADAPTER")
        .ok()
        .filter(|s| !s.is_empty());
    match &wanted {
        Some(w) => {
            let w = w.to_lowercase();
            adapters
                .into_iter()
                .find(|a| a.get_info().name.to_lowercase().contains(&w))
                .ok_or_else(|| Error::NoAdapter {
                    detail: format!(" whose name contains NEUROPOP_ADAPTER=`{w}`"),
                })
        }
        None => {
            // MPI ranks on one machine spread over its best adapters of the best kind
            // (several GPUs: one per local rank, round robin).
            let best = adapters.first().map(|a| rank(&a.get_info()));
            let peers: Vec<wgpu::Adapter> = adapters
                .into_iter()
                .filter(|a| Some(rank(&a.get_info())) == best)
                .collect();
            let n = peers.len().max(1);
            let local = if crate::ranks::size() > 1 {
                crate::ranks::local_rank() % n
            } else {
                0
            };
            peers.into_iter().nth(local).ok_or(Error::NoAdapter {
                detail: String::new(),
            })
        }
    }
}

/// Every adapter wgpu can see, best first, each with a device opened on it (or why not).
pub fn open_all() -> Vec<(AdapterSummary, Result<Arc<GpuContext>>)> {
    let mut adapters = pollster::block_on(instance().enumerate_adapters(backends()));
    adapters.sort_by_key(|a| rank(&a.get_info()));
    adapters
        .into_iter()
        .map(|a| {
            let s = summary(&a.get_info());
            (s, GpuContext::from_adapter(a).map(Arc::new))
        })
        .collect()
}

/// The adapter `--backend gpu` would use, without opening a device on it.
pub fn chosen_adapter() -> Result<AdapterSummary> {
    if let Some(Ok(ctx)) = SHARED.get() {
        return Ok(ctx.info().clone());
    }
    pick_adapter().map(|a| summary(&a.get_info()))
}

/// Why the process-wide context could not be opened (kept to answer every later call alike).
enum SharedFailure {
    /// No adapter, with [`Error::NoAdapter`]'s detail.
    NoAdapter(String),
    /// Anything else, as text.
    Other(String),
}

static SHARED: OnceLock<std::result::Result<Arc<GpuContext>, SharedFailure>> = OnceLock::new();

impl GpuContext {
    /// Opens the best adapter (or the first whose name contains `NEUROPOP_ADAPTER`,
    /// case-insensitive) with the adapter's own limits, so large buffers work on real GPUs.
    pub fn new() -> Result<Self> {
        Self::from_adapter(pick_adapter()?)
    }

    /// The process-wide context, opened on first use: pipelines and the device are shared by
    /// every run in the process (tests included) instead of being rebuilt.
    pub fn shared() -> Result<Arc<Self>> {
        let opened = SHARED.get_or_init(|| {
            Self::new().map(Arc::new).map_err(|e| match e {
                Error::NoAdapter { detail } => SharedFailure::NoAdapter(detail),
                e => SharedFailure::Other(e.to_string()),
            })
        });
        match opened {
            Ok(ctx) => Ok(ctx.clone()),
            Err(SharedFailure::NoAdapter(detail)) => Err(Error::NoAdapter {
                detail: detail.clone(),
            }),
            Err(SharedFailure::Other(msg)) => Err(Error::Gpu(msg.clone())),
        }
    }

    /// Opens a device on a given adapter (wgpu's examples inject the device the same way, so
    /// tests can pick an adapter).
    pub fn from_adapter(adapter: wgpu::Adapter) -> Result<Self> {
        let info = summary(&adapter.get_info());
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("neuropop"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| Error::Gpu(format!("requesting a device on {}: {e}", info.name)))?;
        Ok(Self {
            device,
            queue,
            info,
            limits,
            pipelines: Mutex::new(HashMap::new()),
        })
    }

    /// The adapter in plain strings.
    pub fn info(&self) -> &AdapterSummary {
        &self.info
    }

    /// The limits the device was opened with (the adapter's own).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The wgpu device, for code that records its own passes.
    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// The pipeline of a kernel, built on first use and reused afterwards.
    pub fn pipeline(&self, desc: &'static KernelDesc) -> Result<Arc<Pipeline>> {
        self.pipeline_with(desc, &[])
    }

    /// The pipeline of a kernel with values for its `override` constants; one pipeline per
    /// distinct set of values, built on first use.
    pub fn pipeline_with(
        &self,
        desc: &'static KernelDesc,
        constants: &[(&'static str, f64)],
    ) -> Result<Arc<Pipeline>> {
        for (name, _) in constants {
            if !desc.overrides.contains(name) {
                return Err(Error::Gpu(format!(
                    "kernel `{}` has no override `{name}`",
                    desc.name
                )));
            }
        }
        let key = format!("{}{constants:?}", desc.name);
        let mut cache = self
            .pipelines
            .lock()
            .map_err(|_| Error::Gpu("pipeline cache poisoned by a panic".into()))?;
        if let Some(p) = cache.get(&key) {
            return Ok(p.clone());
        }
        let p = Arc::new(Pipeline::new(self, desc, constants)?);
        cache.insert(key, p.clone());
        Ok(p)
    }

    /// Threads per workgroup for a kernel whose workgroup size is the override `WG`: 8 (one
    /// SIMD batch) on CPU adapters, where a workgroup runs on one core, else the default.
    pub fn workgroup_for(&self, desc: &KernelDesc) -> u32 {
        if let Some(wg) = std::env::var(format!("NEUROPOP_WG_{}", desc.name.to_uppercase()))
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|&w| w > 0)
        {
            return wg;
        }
        if self.info.device_type == "Cpu" {
            8
        } else {
            desc.workgroup_size[0]
        }
    }

    /// Blocks until all submitted work has finished.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))
    }

    /// Runs `f` inside a validation and out-of-memory error scope and turns a captured error
    /// into an [`Error::Gpu`] that names `what`.
    pub(crate) fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let val = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = pollster::block_on(val.pop());
        let o = pollster::block_on(oom.pop());
        match (v, o) {
            (Some(e), _) | (None, Some(e)) => Err(Error::Gpu(format!("{what}: {e}"))),
            (None, None) => Ok(out),
        }
    }
}
