// Linear thread index over a 2-D dispatch grid. One dimension holds at most 65535 workgroups
// on many devices, so large launches spread over y; CPU twin: kernels::dispatch_grid.
fn linear_index(gid: vec3<u32>, nwg: vec3<u32>, wg_size: u32) -> u32 {
    return gid.x + gid.y * nwg.x * wg_size;
}
