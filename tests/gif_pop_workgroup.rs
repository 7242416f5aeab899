//! `gif_pop_step` gives the same numbers for every workgroup size: its sums over ages are
//! formed per chunk of the age walk and then over chunks in order, whatever the number of
//! invocations that share the chunks. CI runs lavapipe, where the runtime picks 8 invocations;
//! this test runs 64 (the GPU default) and 16 on the same adapter against the CPU twin, with
//! t_ref = 0 (the Brunel GIF network's t_ref = 4 ms is covered by tests/gif_pop.rs). Its
//! own test binary, because it sets `NEUROPOP_WG_GIF_POP_STEP` for the whole process.

mod common;

use common::{example, run};

use neuropop::backend::Backend;
use neuropop::run::compare;

#[test]
fn gif_pop_step_results_do_not_depend_on_the_workgroup_size() {
    let Some(ctx) = common::gpu() else { return };
    let text = example("brunel_gif.toml")
        .replace("replicas = 10", "replicas = 2")
        .replace("t_end = 2000.0", "t_end = 400.0")
        .replace("times = [1500.0]", "times = [200.0]")
        .replace("activity_bin = 1.0", "activity_bin = 0.5")
        .replace("activity_replicas = 10", "activity_replicas = 2")
        // No refractory ages: the newest cohort enters the threshold sums at once (its own
        // branch in the kernel; the Brunel GIF network's 4 ms never take it).
        .replace("t_ref = 4.0", "t_ref = 0.0")
        .replace(
            "windows = [[500.0, 1500.0], [1600.0, 2000.0]]",
            "windows = [[100.0, 200.0], [250.0, 400.0]]",
        );
    let cpu = run(&text, &Backend::Cpu);
    for wg in ["64", "16"] {
        std::env::set_var("NEUROPOP_WG_GIF_POP_STEP", wg);
        let gpu = run(&text, &Backend::Gpu(ctx.clone()));
        let mut checked = 0;
        for c in compare(&gpu, &cpu, 0.0) {
            if ["activity_E", "activity_I", "abar_E", "abar_I"].contains(&c.name.as_str()) {
                assert_eq!(c.values, 800 * 2, "{}", c.name);
                assert_eq!(
                    c.first_row_differing, None,
                    "WG {wg}: {} first differs at step {:?}",
                    c.name, c.first_row_differing
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 4, "A_N and Abar of both populations compared");
    }
}
