//! `math_eval`: one elementary function of shaders/shared/math.wgsl over an array, and its
//! CPU twin; used to test that both paths compute the same bits.

use super::{Binding, BindingKind, KernelDesc, Layout};
use crate::math;

/// Which function `math_eval` applies (the shader's `FN_*` constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum MathFn {
    /// `npm_exp`.
    Exp = 0,
    /// `npm_log`.
    Log = 1,
    /// `npm_sincos(x).x`.
    Sin = 2,
    /// `npm_sincos(x).y`.
    Cos = 3,
}

/// Uniform parameters. Keep in sync with `struct MathEvalParams` in shaders/math_eval.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MathEvalParams {
    /// Number of inputs.
    pub n: u32,
    /// A [`MathFn`] as u32.
    pub func: u32,
    /// Padding to 16 bytes.
    pub _pad: [u32; 2],
}

/// Descriptor of the `math_eval` kernel.
pub const DESC: KernelDesc = KernelDesc {
    name: "math_eval",
    shader: "math_eval.wgsl",
    entry: "math_eval",
    workgroup_size: [64, 1, 1],
    overrides: &[],
    bindings: &[
        Binding::uniform::<MathEvalParams>("params"),
        Binding::new("x", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("y", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// CPU twin of the `math_eval` entry point.
pub fn math_eval(params: &MathEvalParams, x: &[f32], y: &mut [f32]) {
    for (yi, &v) in y.iter_mut().zip(x).take(params.n as usize) {
        *yi = match params.func {
            0 => math::exp(v),
            1 => math::ln(v),
            2 => math::sincos(v).0,
            _ => math::sincos(v).1,
        };
    }
}
