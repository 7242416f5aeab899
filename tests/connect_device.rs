//! Stored `fixed_indegree` connectivity built on the device (`connect_count`,
//! `connect_fill`) gives the same synapses as the host build, so the same spikes. On CPU
//! adapters such as CI's lavapipe the runtime builds on the host (faster there); this test
//! forces the device build with `NEUROPOP_CONNECT=device`, in its own test binary because the
//! variable holds for the whole process.

mod common;

use common::example;

use neuropop::backend::Backend;
use neuropop::models::levels::{at_level, Level};
use neuropop::output::MemoryRecorder;
use neuropop::progress::Progress;
use neuropop::run::{compare, Model, Report};
use neuropop::spec::Spec;

fn run(spec: &Spec, backend: &Backend) -> (MemoryRecorder, Report) {
    let model = Model::build(spec).expect("model");
    let mut rec = MemoryRecorder::new();
    let report = model
        .run(backend, &mut rec, &Progress::hidden())
        .expect("run");
    (rec, report)
}

#[test]
fn device_built_connectivity_gives_the_host_build_spikes() {
    let Some(ctx) = common::gpu() else { return };
    std::env::set_var("NEUROPOP_CONNECT", "device");
    let text = example("brunel_gif.toml")
        .replace("replicas = 10", "replicas = 2")
        .replace("t_end = 2000.0", "t_end = 400.0")
        .replace("times = [1500.0]", "times = [200.0]")
        .replace("activity_replicas = 10", "activity_replicas = 2")
        .replace(
            "windows = [[500.0, 1500.0], [1600.0, 2000.0]]",
            "windows = [[100.0, 200.0], [250.0, 400.0]]",
        );
    let spec = Spec::parse(&text, "test.toml").expect("spec");
    let (micro, _) = at_level(&spec, Level::Micro).expect("micro level");
    let (gpu, report) = run(&micro, &Backend::Gpu(ctx));
    let (cpu, _) = run(&micro, &Backend::Cpu);
    let built: Vec<String> = report.meta["projections"]
        .as_array()
        .expect("projections in meta")
        .iter()
        .map(|p| p["built_on"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(built.len(), 4);
    assert!(built.iter().all(|b| b.starts_with("device")), "{built:?}");
    let mut checked = 0;
    for c in compare(&gpu, &cpu, 0.0) {
        if ["activity_E", "activity_I"].contains(&c.name.as_str()) {
            assert_eq!(
                c.first_row_differing, None,
                "{}: first differs at row {:?}",
                c.name, c.first_row_differing
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
    // The network is connected and active: E fires at a few Hz.
    let a = common::values(&cpu, "activity_E");
    assert!(a.iter().sum::<f64>() / a.len() as f64 > 1.0);
}
