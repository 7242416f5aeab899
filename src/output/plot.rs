//! PNG plots with plotters' bitmap backend and an embedded font (DejaVu Sans), so no system
//! fonts are needed: line plots with optional markers, and heat maps with a colour bar.

use std::path::Path;
use std::sync::Once;

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::{Error, Result};
use crate::output::Recorder;

const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font bytes are embedded and valid; a failure would only lose the labels.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// matplotlib's tab10 palette.
const TAB10: [(u8, u8, u8); 10] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// Colour `i` of the palette.
pub fn color(i: usize) -> RGBColor {
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

/// Viridis colour map at `t` in [0, 1] (piecewise linear through 9 of its stops).
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 9] = [
        (0.267, 0.005, 0.329),
        (0.283, 0.141, 0.458),
        (0.254, 0.265, 0.530),
        (0.207, 0.372, 0.553),
        (0.164, 0.471, 0.558),
        (0.128, 0.567, 0.551),
        (0.135, 0.659, 0.518),
        (0.267, 0.749, 0.441),
        (0.993, 0.906, 0.144),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f64;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: f64, b: f64| ((a + (b - a) * f) * 255.0).round() as u8;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

fn err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Output {
        path: path.to_path_buf(),
        message: format!("plot: {e}"),
    }
}

/// A figure written as a PNG into a run's output folder.
pub trait Figure {
    /// Writes the PNG at `path`.
    fn save(&self, path: &Path) -> Result<()>;

    /// Saves the figure as `dir/name` and lists it among the run's outputs with
    /// `description`, so the file and its listing cannot name different files.
    fn write_to(
        &self,
        rec: &mut dyn Recorder,
        dir: &Path,
        name: &str,
        description: &str,
    ) -> Result<()> {
        self.save(&dir.join(name))?;
        rec.plot_written(name, description);
        Ok(())
    }
}

/// One line of a [`LinePlot`].
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend entry (empty: none).
    pub name: String,
    /// Points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Palette index.
    pub color: usize,
    /// Line width in pixels.
    pub width: u32,
    /// Opacity in (0, 1].
    pub alpha: f64,
    /// Draw each point as a dot instead of joining them (rasters).
    pub dots: bool,
}

impl Series {
    /// A solid line of width 2.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, color: usize) -> Self {
        Self {
            name: name.into(),
            points,
            color,
            width: 2,
            alpha: 1.0,
            dots: false,
        }
    }
}

/// A marker (e.g. a fixed point): filled or open circle.
#[derive(Debug, Clone, Copy)]
pub struct Marker {
    /// Position.
    pub x: f64,
    /// Position.
    pub y: f64,
    /// Filled (stable) or open (unstable).
    pub filled: bool,
}

/// A line plot.
#[derive(Debug, Clone, Default)]
pub struct LinePlot {
    /// Title above the plot.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Lines.
    pub series: Vec<Series>,
    /// Markers drawn on top.
    pub markers: Vec<Marker>,
    /// A horizontal reference line (e.g. dr/dt = 0).
    pub hline: Option<f64>,
    /// Logarithmic y axis (power spectra); points with y <= 0 are left out.
    pub log_y: bool,
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * (1.0 + lo.abs()) {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// A tick label with as few decimals as the value needs: `200` for 200.0, `0.25`, `1e-4`
/// (ms and neuron indices print as integers; no float noise such as `0.30000000000000004`).
pub fn tick_label(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        let s = format!("{v:.2e}");
        // 1.00e-5 -> 1e-5, 2.50e7 -> 2.5e7
        return match s.split_once('e') {
            Some((m, e)) => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            None => s,
        };
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// Tick values of a logarithmic axis over [lo, hi]: the powers of ten, with 2 and 5 times
/// them when the range spans fewer than three decades (plotters' own choice repeats labels).
fn decades(lo: f64, hi: f64) -> Vec<f64> {
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mantissas: &[f64] = if (hi / lo).log10() < 3.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    (k0..=k1)
        .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
        .filter(|v| (lo..=hi).contains(v))
        .collect()
}

/// Font sizes of every text are even: plotters places a glyph at `size / 2 + top`, truncated
/// towards zero, so with an odd size glyphs above and below the middle (digits vs `.`, `,`)
/// round in opposite directions and the decimal point floats a pixel above the baseline.
const TITLE_PX: u32 = 22;
const DESC_PX: u32 = 18;
const TICK_PX: u32 = 16;
const LEGEND_PX: u32 = 14;

/// Pixel offsets whose union draws a line `width` pixels wide out of 1-pixel paths.
/// plotters' own wide strokes draw each short segment as a separate polygon, which leaves
/// gaps (and spikes) along dense, steep traces; 1-pixel paths are always connected.
fn stroke_offsets(width: u32) -> Vec<(i32, i32)> {
    let w = width.max(1) as i32;
    let lo = -(w - 1) / 2;
    let hi = lo + w - 1;
    (lo..=hi)
        .flat_map(|dx| (lo..=hi).map(move |dy| (dx, dy)))
        .collect()
}

/// Draws the plot body on a chart whose y axis is `Y` (linear or logarithmic).
fn draw_lines<'a, 'b: 'a, Y>(
    plot: &LinePlot,
    root: &DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    chart: &mut ChartContext<'a, BitMapBackend<'b>, Cartesian2d<RangedCoordf64, Y>>,
    x: (f64, f64),
    path: &Path,
) -> Result<()>
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let fmt = |v: &f64| tick_label(*v);
    chart
        .configure_mesh()
        .x_desc(&plot.x_label)
        .y_desc(&plot.y_label)
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .label_style((FONT, TICK_PX))
        .axis_desc_style((FONT, DESC_PX))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| err(path, e))?;
    if let Some(h) = plot.hline {
        chart
            .draw_series(LineSeries::new(
                vec![(x.0, h), (x.1, h)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(|e| err(path, e))?;
    }
    let mut legend = false;
    for s in &plot.series {
        let drawn = if s.dots {
            let fill = color(s.color).mix(s.alpha).filled();
            chart
                .draw_series(s.points.iter().map(move |&p| Circle::new(p, 1, fill)))
                .map_err(|e| err(path, e))?
        } else {
            // One connected path in pixel coordinates (repeated points dropped), widened by
            // offset copies; non-finite points (log axis of a zero) break the path.
            let mut runs: Vec<Vec<(i32, i32)>> = vec![Vec::new()];
            for &(px, py) in &s.points {
                let ok = px.is_finite() && py.is_finite() && (!plot.log_y || py > 0.0);
                if !ok {
                    if runs.last().is_some_and(|r| !r.is_empty()) {
                        runs.push(Vec::new());
                    }
                    continue;
                }
                let c = chart.backend_coord(&(px, py));
                if let Some(run) = runs.last_mut() {
                    if run.last() != Some(&c) {
                        run.push(c);
                    }
                }
            }
            let style = color(s.color).mix(s.alpha).stroke_width(1);
            for run in runs.iter().filter(|r| !r.is_empty()) {
                for (dx, dy) in stroke_offsets(s.width) {
                    let shifted: Vec<(i32, i32)> =
                        run.iter().map(|&(a, b)| (a + dx, b + dy)).collect();
                    root.draw(&PathElement::new(shifted, style))
                        .map_err(|e| err(path, e))?;
                }
            }
            // An empty series carries the legend entry.
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
                .map_err(|e| err(path, e))?
        };
        if !s.name.is_empty() {
            legend = true;
            let lc = color(s.color);
            drawn.label(&s.name).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], lc.stroke_width(3))
            });
        }
    }
    for m in &plot.markers {
        let style = if m.filled {
            BLACK.filled()
        } else {
            BLACK.stroke_width(2)
        };
        chart
            .draw_series(std::iter::once(Circle::new((m.x, m.y), 7, style)))
            .map_err(|e| err(path, e))?;
        if !m.filled {
            chart
                .draw_series(std::iter::once(Circle::new((m.x, m.y), 5, WHITE.filled())))
                .map_err(|e| err(path, e))?;
        }
    }
    if legend {
        chart
            .configure_series_labels()
            .label_font((FONT, LEGEND_PX))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| err(path, e))?;
    }
    Ok(())
}

impl Figure for LinePlot {
    /// Writes the plot as a 1000 x 560 PNG.
    fn save(&self, path: &Path) -> Result<()> {
        register_font();
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .chain(self.markers.iter().map(|m| m.x));
        let (x0, x1) = bounds(xs);
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .chain(self.markers.iter().map(|m| m.y))
            .chain(self.hline)
            .filter(|y| !self.log_y || *y > 0.0);
        let (y0, y1) = bounds(ys);
        let root = BitMapBackend::new(path, (1000, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(&self.title, (FONT, TITLE_PX))
            .margin(12)
            // Room for the last x tick label, centred on the right edge.
            .margin_right(36)
            .x_label_area_size(50)
            .y_label_area_size(78);
        if self.log_y {
            let (lo, hi) = if y0 > 0.0 { (y0, y1) } else { (1e-12, 1.0) };
            let (lo, hi) = if hi / lo < 1.0001 {
                (lo / 2.0, hi * 2.0)
            } else {
                (lo / 1.2, hi * 1.2)
            };
            let mut chart = builder
                .build_cartesian_2d(
                    x0..x1,
                    (lo..hi).log_scale().with_key_points(decades(lo, hi)),
                )
                .map_err(|e| err(path, e))?;
            draw_lines(self, &root, &mut chart, (x0, x1), path)?;
        } else {
            let pad = 0.05 * (y1 - y0);
            let mut chart = builder
                .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
                .map_err(|e| err(path, e))?;
            draw_lines(self, &root, &mut chart, (x0, x1), path)?;
        }
        root.present().map_err(|e| err(path, e))
    }
}

/// A heat map of `z[iy * nx + ix]` over the grid `x[ix]`, `y[iy]`, with a colour bar.
#[derive(Debug, Clone, Default)]
pub struct HeatMap {
    /// Title above the plot.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Colour-bar label.
    pub z_label: String,
    /// Grid values along x (increasing).
    pub x: Vec<f64>,
    /// Grid values along y (increasing).
    pub y: Vec<f64>,
    /// Values, y-major.
    pub z: Vec<f64>,
}

fn cell_edges(v: &[f64]) -> Vec<f64> {
    match v.len() {
        0 => vec![0.0, 1.0],
        1 => vec![v[0] - 0.5, v[0] + 0.5],
        n => {
            let mut e = Vec::with_capacity(n + 1);
            e.push(v[0] - 0.5 * (v[1] - v[0]));
            for i in 0..n - 1 {
                e.push(0.5 * (v[i] + v[i + 1]));
            }
            e.push(v[n - 1] + 0.5 * (v[n - 1] - v[n - 2]));
            e
        }
    }
}

impl Figure for HeatMap {
    /// Writes the heat map as a 1000 x 700 PNG.
    fn save(&self, path: &Path) -> Result<()> {
        register_font();
        let (nx, ny) = (self.x.len(), self.y.len());
        if nx * ny != self.z.len() || nx == 0 || ny == 0 {
            return Err(err(
                path,
                format!(
                    "heat map of {nx} x {ny} cells given {} values",
                    self.z.len()
                ),
            ));
        }
        let (zmin, zmax) = bounds(self.z.iter().copied());
        let ex = cell_edges(&self.x);
        let ey = cell_edges(&self.y);
        let root = BitMapBackend::new(path, (1000, 700)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        let (main, bar) = root.split_horizontally(860);
        let mut chart = ChartBuilder::on(&main)
            .caption(&self.title, (FONT, TITLE_PX))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(50)
            .y_label_area_size(78)
            .build_cartesian_2d(ex[0]..ex[nx], ey[0]..ey[ny])
            .map_err(|e| err(path, e))?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| tick_label(*v))
            .y_label_formatter(&|v| tick_label(*v))
            .label_style((FONT, TICK_PX))
            .axis_desc_style((FONT, DESC_PX))
            .disable_mesh()
            .draw()
            .map_err(|e| err(path, e))?;
        let cells = (0..ny)
            .flat_map(|iy| (0..nx).map(move |ix| (ix, iy)))
            .map(|(ix, iy)| {
                let v = self.z[iy * nx + ix];
                let c = viridis((v - zmin) / (zmax - zmin));
                Rectangle::new([(ex[ix], ey[iy]), (ex[ix + 1], ey[iy + 1])], c.filled())
            });
        chart.draw_series(cells).map_err(|e| err(path, e))?;
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(50)
            .margin_bottom(57)
            .margin_right(10)
            .y_label_area_size(60)
            .caption(&self.z_label, (FONT, TICK_PX))
            .build_cartesian_2d(0.0..1.0, zmin..zmax)
            .map_err(|e| err(path, e))?;
        cb.configure_mesh()
            .disable_x_axis()
            .disable_mesh()
            .y_label_formatter(&|v| tick_label(*v))
            .label_style((FONT, LEGEND_PX))
            .draw()
            .map_err(|e| err(path, e))?;
        let steps = 100;
        cb.draw_series((0..steps).map(|i| {
            let a = zmin + (zmax - zmin) * i as f64 / steps as f64;
            let b = zmin + (zmax - zmin) * (i + 1) as f64 / steps as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis(i as f64 / (steps - 1) as f64).filled(),
            )
        }))
        .map_err(|e| err(path, e))?;
        root.present().map_err(|e| err(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_render_without_system_fonts() {
        let dir = std::env::temp_dir().join(format!("neuropop-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("line.png");
        LinePlot {
            title: "test".into(),
            x_label: "t (ms)".into(),
            y_label: "r".into(),
            series: vec![Series::new(
                "a",
                (0..100)
                    .map(|i| (i as f64, (i as f64 * 0.1).sin()))
                    .collect(),
                0,
            )],
            markers: vec![Marker {
                x: 10.0,
                y: 0.0,
                filled: false,
            }],
            hline: Some(0.0),
            log_y: false,
        }
        .save(&p)
        .expect("line plot");
        let img = std::fs::read(&p).expect("png");
        assert_eq!(&img[1..4], b"PNG");
        let h = dir.join("heat.png");
        HeatMap {
            title: "heat".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            z_label: "z".into(),
            x: vec![0.0, 1.0, 2.0],
            y: vec![0.0, 1.0],
            z: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
        }
        .save(&h)
        .expect("heat map");
        assert!(std::fs::metadata(&h).expect("png").len() > 1000);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}

/// Bars, one per named category (e.g. the mean rate of each population).
#[derive(Debug, Clone, Default)]
pub struct BarPlot {
    /// Title above the plot.
    pub title: String,
    /// y-axis label.
    pub y_label: String,
    /// Category names, left to right.
    pub labels: Vec<String>,
    /// Bar heights (NaN: no bar).
    pub values: Vec<f64>,
}

impl Figure for BarPlot {
    /// Writes the plot as a 1000 x 560 PNG, each bar in its category's palette colour.
    fn save(&self, path: &Path) -> Result<()> {
        register_font();
        let n = self.values.len().max(1);
        let top = self
            .values
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.1 } else { 1.0 };
        let root = BitMapBackend::new(path, (1000, 560)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(path, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, (FONT, TITLE_PX))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(78)
            .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..top)
            .map_err(|e| err(path, e))?;
        let labels = &self.labels;
        let xfmt = |v: &f64| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                labels.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .y_desc(&self.y_label)
            .x_labels(n)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&|v| tick_label(*v))
            .label_style((FONT, TICK_PX))
            .axis_desc_style((FONT, DESC_PX))
            .disable_x_mesh()
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| err(path, e))?;
        chart
            .draw_series(
                self.values
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, &v)| {
                        let x = i as f64;
                        Rectangle::new([(x - 0.35, 0.0), (x + 0.35, v)], color(i).filled())
                    }),
            )
            .map_err(|e| err(path, e))?;
        root.present().map_err(|e| err(path, e))
    }
}
