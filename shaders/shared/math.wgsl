// Elementary functions from basic IEEE operations only (add, multiply, divide, floor, bit
// casts), so that the GPU and the CPU twin (src/math.rs) round identically: WGSL leaves the
// accuracy of the builtin exp/log/sin/cos to the driver (log near 1 and cos have only an
// absolute error bound), which would make the two paths drift apart. Cephes single-precision
// algorithms (S. Moshier): about 1 ulp in their domains.

const NPM_LOG2E: f32 = 1.44269504088896341;
const NPM_LN2_HI: f32 = 0.693359375;
const NPM_LN2_LO: f32 = -2.12194440e-4;
const NPM_SQRT_HALF: f32 = 0.707106781186547524;
const NPM_FOUR_OVER_PI: f32 = 1.27323954473516;
const NPM_DP1: f32 = 0.78515625;
const NPM_DP2: f32 = 2.4187564849853515625e-4;
const NPM_DP3: f32 = 3.77489497744594108e-8;

// 2^n for whole n in [-126, 127], built from its bit pattern.
fn npm_pow2i(n: i32) -> f32 {
    return bitcast<f32>(u32(n + 127) << 23u);
}

// e^x. Returns 0 below -87 (where the result would be subnormal; many GPUs flush those) and
// the largest finite f32 above 88.7.
fn npm_exp(x: f32) -> f32 {
    if (x > 88.72283) {
        return 3.4028235e38;
    }
    if (x < -87.0) {
        return 0.0;
    }
    let n = floor(x * NPM_LOG2E + 0.5);
    var r = x - n * NPM_LN2_HI;
    r = r - n * NPM_LN2_LO;
    let z = r * r;
    var p = 1.9875691500e-4;
    p = p * r + 1.3981999507e-3;
    p = p * r + 8.3334519073e-3;
    p = p * r + 4.1665795894e-2;
    p = p * r + 1.6666665459e-1;
    p = p * r + 5.0000001201e-1;
    let q = p * z + r;
    let ni = i32(n);
    // e^x = 2^n (1 + q), evaluated as s q + s with s = 2^h: no literal constant is added to a
    // sum, which Mesa's NIR would reassociate (see ARCHITECTURE.md, "bit-identical paths").
    // The scale is split in two so that n = 128 (x just below 88.72) stays finite.
    let h = ni / 2;
    let s = npm_pow2i(h);
    return (q * s + s) * npm_pow2i(ni - h);
}

// Natural log for positive normal x (x >= 2^-126). Returns -1e30 for x <= 0.
fn npm_log(x0: f32) -> f32 {
    if (!(x0 > 0.0)) {
        return -1.0e30;
    }
    let bits = bitcast<u32>(x0);
    var e = f32(i32((bits >> 23u) & 0xFFu) - 126);
    let m = bitcast<f32>((bits & 0x807FFFFFu) | 0x3F000000u);
    var x: f32;
    if (m < NPM_SQRT_HALF) {
        e = e - 1.0;
        x = m + m - 1.0;
    } else {
        x = m - 1.0;
    }
    let z = x * x;
    var y = 7.0376836292e-2;
    y = y * x - 1.1514610310e-1;
    y = y * x + 1.1676998740e-1;
    y = y * x - 1.2420140846e-1;
    y = y * x + 1.4249322787e-1;
    y = y * x - 1.6668057665e-1;
    y = y * x + 2.0000714765e-1;
    y = y * x - 2.4999993993e-1;
    y = y * x + 3.3333331174e-1;
    y = y * x * z;
    y = y + e * NPM_LN2_LO;
    y = y - 0.5 * z;
    var r = x + y;
    r = r + e * NPM_LN2_HI;
    return r;
}

// (sin x, cos x) for |x| <= 2 pi (the Box-Muller angle lies in [-pi, pi)).
fn npm_sincos(x: f32) -> vec2<f32> {
    let ax = abs(x);
    var j = u32(i32(ax * NPM_FOUR_OVER_PI));
    var y = f32(j);
    if ((j & 1u) == 1u) {
        j = j + 1u;
        y = y + 1.0;
    }
    j = j & 7u;
    var r = ax - y * NPM_DP1;
    r = r - y * NPM_DP2;
    r = r - y * NPM_DP3;
    let z = r * r;
    var sp = -1.9515295891e-4;
    sp = sp * z + 8.3321608736e-3;
    sp = sp * z - 1.6666654611e-1;
    sp = sp * z * r + r;
    var cp = 2.443315711809948e-5;
    cp = cp * z - 1.388731625493765e-3;
    cp = cp * z + 4.166664568298827e-2;
    // 1 - z/2 + z^2 P(z), summed in the order Mesa's NIR uses for a*b + c + constant.
    cp = cp * z * z + (1.0 - 0.5 * z);
    let swap = (j & 2u) == 2u;
    var s = select(sp, cp, swap);
    var c = select(cp, sp, swap);
    if ((j > 3u) != (x < 0.0)) {
        s = -s;
    }
    if (j == 2u || j == 4u) {
        c = -c;
    }
    return vec2<f32>(s, c);
}
