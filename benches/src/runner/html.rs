//! `report.html`: one self-contained page (no script, no fetch: it opens from a file on a
//! machine with no network) with one inline SVG plot per op and the tables.
//!
//! Each plot is throughput against batch size, both axes logarithmic (batch sizes and rates
//! both span orders of magnitude): a line per backend, a dashed horizontal line per software
//! baseline (they run one item at a time, so batch size does not apply to them), and a ringed
//! point where a device's line crosses above the cpu backend's.

use super::measure::Baseline;
use super::report::{self, CrossoverKind, Report, Status, Table};
use super::Op;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 430.0;
const LEFT: f64 = 80.0;
/// Room for the baselines' labels right of the plot area.
const RIGHT: f64 = 210.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 58.0;

/// Text for HTML and SVG: the five characters that could end or start markup.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn colour(backend: &str) -> &'static str {
    match backend {
        "cpu" => "#1f5fa8",
        "opencl" => "#e8710a",
        "card" => "#188038",
        "auto" => "#c5221f",
        _ => "#7b3fa0",
    }
}

const BASELINE_STYLES: [(&str, &str); 3] = [("#6d4c41", "8 5"), ("#5f6368", "3 4"), ("#a142f4", "12 4 3 4")];

/// An axis label: 3 significant digits without trailing zeros (50k, not 50.0k).
fn tick(v: f64) -> String {
    let s = report::si(v);
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let num = if num.contains('.') { num.trim_end_matches('0').trim_end_matches('.') } else { num };
    format!("{num}{suffix}")
}

/// Log-log axes over the plot area.
struct Axes {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Axes {
    fn x(&self, n: f64) -> f64 {
        LEFT + (n.log10() - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        let h = HEIGHT - TOP - BOTTOM;
        TOP + h - (v.log10() - self.y0) / (self.y1 - self.y0) * h
    }
}

/// One op's plot.
fn plot(report: &Report, op: Op) -> String {
    let cells: Vec<_> = report.cells.iter().filter(|c| c.op == op.as_str()).collect();
    let mut backends: Vec<&str> = Vec::new();
    for c in &cells {
        if c.status != Status::Skipped && !backends.contains(&c.backend.as_str()) {
            backends.push(&c.backend);
        }
    }
    let series: Vec<(&str, Vec<(usize, f64)>)> = backends
        .iter()
        .map(|&b| {
            let points = cells
                .iter()
                .filter(|c| c.backend == b && c.status == Status::Ok)
                .filter_map(|c| op.plot_value(c.ops_per_s, c.bytes_per_s).map(|v| (c.batch_size, v)))
                .filter(|&(_, v)| v > 0.0)
                .collect();
            (b, points)
        })
        .collect();
    let baselines: Vec<(String, f64)> = Baseline::for_op(op)
        .iter()
        .filter_map(|b| {
            let r = report.baselines.iter().find(|r| r.id == b.id())?;
            op.plot_value(r.ops_per_s, r.bytes_per_s).filter(|v| *v > 0.0).map(|v| (r.name.clone(), v))
        })
        .collect();
    let values: Vec<f64> =
        series.iter().flat_map(|(_, p)| p.iter().map(|&(_, v)| v)).chain(baselines.iter().map(|b| b.1)).collect();
    let sizes = &report.settings.sizes;
    let (Some(&smin), Some(&smax)) = (sizes.iter().min(), sizes.iter().max()) else { return String::new() };
    let mut svg = format!(
        r#"<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{} throughput against batch size">"#,
        op.as_str()
    );
    svg.push_str(&format!(r##"<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>"##));
    if values.is_empty() {
        svg.push_str(&format!(
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#5f6368">no successful measurement to plot</text></svg>"##,
            WIDTH / 2.0,
            HEIGHT / 2.0
        ));
        return svg;
    }
    let (vmin, vmax) = values.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (mut x0, mut x1) = ((smin as f64).log10(), (smax as f64).log10());
    if x1 - x0 < 1e-9 {
        (x0, x1) = (x0 - 0.5, x1 + 0.5);
    }
    let pad = (x1 - x0) * 0.04;
    let y0 = vmin.log10().floor();
    let y1 = vmax.log10().ceil().max(y0 + 1.0);
    let axes = Axes { x0: x0 - pad, x1: x1 + pad, y0, y1 };
    let (left, right, top, bottom) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);

    // Grid: every decade, and 2x and 5x when the range is short enough to label them.
    let decades = y1 - y0;
    let mut e = y0;
    while e <= y1 + 1e-9 {
        for (m, major) in [(1.0, true), (2.0, false), (5.0, false)] {
            let v = m * 10f64.powf(e);
            if v.log10() > y1 + 1e-9 || (!major && decades > 3.0) {
                continue;
            }
            let y = axes.y(v);
            let (stroke, width) = if major { ("#c8ccd0", 1.0) } else { ("#eceef0", 1.0) };
            svg.push_str(&format!(
                r#"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="{stroke}" stroke-width="{width}"/>"#
            ));
            if major || decades <= 2.0 {
                svg.push_str(&format!(
                    r##"<text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="#3c4043">{}</text>"##,
                    left - 6.0,
                    y + 4.0,
                    tick(v)
                ));
            }
        }
        e += 1.0;
    }
    for &n in sizes {
        let x = axes.x(n as f64);
        svg.push_str(&format!(r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#eceef0"/>"##));
        svg.push_str(&format!(
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="12" fill="#3c4043">{}</text>"##,
            bottom + 16.0,
            report::count(n)
        ));
    }
    svg.push_str(&format!(
        r##"<rect x="{left}" y="{top}" width="{:.1}" height="{:.1}" fill="none" stroke="#80868b"/>"##,
        right - left,
        bottom - top
    ));
    svg.push_str(&format!(
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13" fill="#202124">batch size (items per call, log scale)</text>"##,
        (left + right) / 2.0,
        HEIGHT - 12.0
    ));
    svg.push_str(&format!(
        r##"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle" font-size="13" fill="#202124">{} (log scale)</text>"##,
        (top + bottom) / 2.0,
        op.plot_unit()
    ));

    // Baselines: dashed, labelled in the right margin, labels pushed apart when close.
    let mut labels: Vec<(f64, String, &str)> = Vec::new();
    for (i, (name, v)) in baselines.iter().enumerate() {
        let (stroke, dash) = BASELINE_STYLES[i % BASELINE_STYLES.len()];
        let y = axes.y(*v);
        svg.push_str(&format!(
            r#"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="{stroke}" stroke-width="1.8" stroke-dasharray="{dash}"><title>{}</title></line>"#,
            esc(&format!("{name}: {} {}, one item at a time, one thread", report::si(*v), op.plot_unit()))
        ));
        let unit = if op == Op::Sm3 { " MB/s" } else { "/s" };
        labels.push((y, format!("{name} {}{unit}", tick(*v)), stroke));
    }
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut last = f64::MIN;
    for (y, text, stroke) in labels {
        let y = (y + 4.0).max(last + 14.0);
        last = y;
        svg.push_str(&format!(
            r#"<text x="{:.1}" y="{y:.1}" font-size="12" fill="{stroke}">{}</text>"#,
            right + 6.0,
            esc(&text)
        ));
    }
    svg.push_str(&format!(
        r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#5f6368">dashed: software baselines,</text><text x="{:.1}" y="{:.1}" font-size="11" fill="#5f6368">one item at a time, one thread</text>"##,
        right + 6.0,
        bottom + 16.0,
        right + 6.0,
        bottom + 30.0
    ));

    // Backends: a line and points each, with the legend along the top.
    let mut lx = left;
    for (b, points) in &series {
        let c = colour(b);
        svg.push_str(&format!(
            r##"<line x1="{lx:.1}" y1="20" x2="{:.1}" y2="20" stroke="{c}" stroke-width="3"/><text x="{:.1}" y="24" font-size="13" fill="#202124">{}</text>"##,
            lx + 22.0,
            lx + 27.0,
            esc(b)
        ));
        lx += 40.0 + 8.0 * b.chars().count() as f64;
        let path: Vec<String> =
            points.iter().map(|&(n, v)| format!("{:.1},{:.1}", axes.x(n as f64), axes.y(v))).collect();
        if path.len() > 1 {
            svg.push_str(&format!(
                r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="2.5" stroke-linejoin="round"/>"#,
                path.join(" ")
            ));
        }
        for &(n, v) in points {
            svg.push_str(&format!(
                r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="{c}" stroke="#fff" stroke-width="1"><title>{}</title></circle>"##,
                axes.x(n as f64),
                axes.y(v),
                esc(&format!("{b}, batch {}: {} {}", report::count(n), report::si(v), op.plot_unit()))
            ));
        }
    }

    // Crossovers: a ring where the device's line passes above the cpu's, and a label.
    for x in report.crossovers.iter().filter(|x| x.op == op.as_str()) {
        let verb = match x.kind {
            CrossoverKind::Overtakes => "overtakes",
            CrossoverKind::FallsBehind => "falls behind",
            CrossoverKind::AheadAtEverySize | CrossoverKind::BehindAtEverySize | CrossoverKind::LevelAtEverySize => {
                continue
            }
        };
        let (Some(n), Some(v)) = (x.batch_size, x.at) else { continue };
        let (cx, cy) = (axes.x(n), axes.y(v));
        let c = colour(&x.backend);
        svg.push_str(&format!(
            r#"<line x1="{cx:.1}" y1="{cy:.1}" x2="{cx:.1}" y2="{bottom}" stroke="{c}" stroke-width="1.2" stroke-dasharray="2 3"/>"#
        ));
        svg.push_str(&format!(
            r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="8" fill="none" stroke="#202124" stroke-width="2"/>"##
        ));
        let text = format!("{} {verb} cpu at ~{}", x.backend, report::approx_count(n));
        let (tx, anchor) = if cx > left + (right - left) * 0.65 { (cx - 12.0, "end") } else { (cx + 12.0, "start") };
        svg.push_str(&format!(
            r##"<text x="{tx:.1}" y="{:.1}" text-anchor="{anchor}" font-size="13" font-weight="bold" fill="{c}" stroke="#fff" stroke-width="4" paint-order="stroke">{}</text>"##,
            cy - 12.0,
            esc(&text)
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn table_html(t: &Table) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in &t.header {
        s.push_str(&format!("<th>{}</th>", esc(h)));
    }
    s.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        let class = if r.iter().any(|c| c == "ERROR") {
            " class=\"error\""
        } else if r.iter().any(|c| c == "skipped") {
            " class=\"skipped\""
        } else {
            ""
        };
        s.push_str(&format!("<tr{class}>"));
        for c in r {
            s.push_str(&format!("<td>{}</td>", esc(c)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    if !t.notes.is_empty() {
        s.push_str("<ul class=\"notes\">");
        for n in &t.notes {
            s.push_str(&format!("<li>{}</li>", esc(n)));
        }
        s.push_str("</ul>");
    }
    s
}

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#202124;\
margin:24px auto;max-width:1000px;padding:0 16px}h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;\
margin-top:32px;border-bottom:1px solid #dadce0;padding-bottom:4px}.meta{color:#5f6368;margin-top:0}\
svg.plot{width:100%;height:auto;border:1px solid #dadce0;border-radius:4px}table{border-collapse:collapse;\
margin-top:12px;font-variant-numeric:tabular-nums}th,td{padding:3px 9px;border-bottom:1px solid #eceef0;\
text-align:right;white-space:nowrap}th{background:#f1f3f4;font-weight:600}td:nth-child(2),th:nth-child(2)\
{text-align:left}tr.error td{color:#c5221f}tr.skipped td{color:#80868b}ul.notes{color:#3c4043}\
dt{font-weight:600;float:left;clear:left;width:150px}dd{margin-left:160px}";

/// The whole page.
pub(super) fn render(report: &Report, ops: &[Op]) -> String {
    let m = &report.machine;
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>xinlian bench: {}</title><style>{STYLE}</style></head><body>",
        esc(&format!("{}, {}", m.cpu_model, m.timestamp))
    );
    s.push_str(&format!(
        "<h1>xinlian bench</h1><p class=\"meta\">{} &middot; xinlian {} &middot; {:.1} s{}</p>",
        esc(&m.timestamp),
        esc(&m.xinlian_version),
        report.wall_seconds,
        if report.settings.quick { " &middot; --quick" } else { "" }
    ));
    s.push_str("<h2>Machine</h2><dl>");
    let flags = if m.cpu_flags.is_empty() { "none of interest".to_string() } else { m.cpu_flags.join(", ") };
    for (k, v) in [
        ("CPU", format!("{} ({} logical CPUs; flags: {flags})", m.cpu_model, m.cores)),
        ("CPU paths", format!("SM2 {}, SM3 in {} lanes", m.sm2_path, m.sm3_lanes)),
        ("OS", m.os.clone()),
        ("threads", report.settings.threads.to_string()),
    ] {
        s.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v)));
    }
    for d in &m.devices {
        let used = if d.used { "" } else { " (not measured)" };
        s.push_str(&format!("<dt>{}</dt><dd>{}{used}</dd>", esc(&d.name), esc(&d.description)));
    }
    for k in &report.skipped {
        s.push_str(&format!("<dt>{} skipped</dt><dd>{}</dd>", esc(&k.backend), esc(&k.reason)));
    }
    s.push_str("</dl><h2>How to read this</h2><ul>");
    for n in &report.notes {
        s.push_str(&format!("<li>{}</li>", esc(n)));
    }
    s.push_str("</ul>");
    for &op in ops {
        s.push_str(&format!("<h2>{}</h2>", esc(&op.title(report.settings.msg_bytes))));
        s.push_str(&plot(report, op));
        s.push_str(&table_html(&report::table(report, op)));
    }
    let st = &report.settings;
    s.push_str(&format!(
        "<h2>Settings</h2><p>backends {}; ops {}; sizes {}; up to {} s or {} batches per cell (at least {}); {}-byte messages; \
         a pool of {} items per op (seed {}). The full data is in <code>report.json</code> beside this file.</p></body></html>\n",
        esc(&st.backends.join(", ")),
        esc(&st.ops.join(", ")),
        esc(&st.sizes.iter().map(|&n| report::count(n)).collect::<Vec<_>>().join(", ")),
        st.seconds_per_cell,
        st.target_iterations,
        st.min_iterations,
        st.msg_bytes,
        report::count(st.pool),
        st.seed
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_drop_trailing_zeros_and_text_is_escaped() {
        assert_eq!(tick(50_000.0), "50k");
        assert_eq!(tick(1.0), "1");
        assert_eq!(tick(2_000_000.0), "2M");
        assert_eq!(tick(0.5), "0.5");
        assert_eq!(tick(100.0), "100");
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    /// A report where a device overtakes the cpu between 64 and 1,024 (synthetic numbers).
    pub(crate) fn sample_report() -> Report {
        use super::super::report::{BaselineRecord, Cell, Machine, Settings};
        let cell = |backend: &str, n: usize, ops: f64| Cell {
            iterations: 10,
            ops_per_s: Some(ops),
            p50_us: Some(100.0),
            p99_us: Some(200.0),
            ..Cell::new(backend, &format!("{backend} <device>"), "verify", n)
        };
        let cells = vec![
            cell("cpu", 1, 14_000.0),
            cell("gpu", 1, 900.0),
            cell("cpu", 64, 60_000.0),
            cell("gpu", 64, 40_000.0),
            cell("cpu", 1024, 75_000.0),
            cell("gpu", 1024, 400_000.0),
            cell("cpu", 16_384, 76_000.0),
            cell("gpu", 16_384, 900_000.0),
        ];
        let crossovers = report::crossovers(&cells, &[Op::Verify]);
        Report {
            schema: 1,
            machine: Machine {
                cpu_model: "Test CPU".into(),
                cores: 2,
                cpu_flags: vec![],
                sm2_path: "portable".into(),
                sm3_lanes: 1,
                os: "test".into(),
                devices: vec![],
                xinlian_version: "0".into(),
                timestamp: "2026-01-01T00:00:00Z".into(),
            },
            settings: Settings {
                quick: true,
                backends: vec!["cpu".into(), "gpu".into()],
                ops: vec!["verify".into()],
                sizes: vec![1, 64, 1024, 16_384],
                seconds_per_cell: 0.1,
                target_iterations: 10,
                min_iterations: 3,
                threads: 2,
                msg_bytes: 128,
                pool: 16_384,
                seed: 1,
            },
            cells,
            baselines: vec![BaselineRecord {
                id: "libsm".into(),
                name: "libsm".into(),
                op: "verify".into(),
                call: String::new(),
                mode: String::new(),
                status: Status::Ok,
                error: None,
                iterations: 10,
                ops_per_s: Some(2_000.0),
                bytes_per_s: None,
                p50_us: Some(500.0),
                p99_us: Some(600.0),
            }],
            crossovers,
            skipped: vec![],
            notes: vec![],
            wall_seconds: 1.0,
        }
    }

    #[test]
    fn the_crossover_is_marked_and_labelled_inside_the_plot() {
        let report = sample_report();
        let page = render(&report, &[Op::Verify]);
        assert_eq!(page.matches("<svg").count(), 1);
        assert!(page.contains("gpu overtakes cpu at ~"), "no crossover label");
        assert!(page.contains(r#"r="8" fill="none""#), "no ring at the crossover");
        assert!(page.contains("libsm 2k/s"), "baseline unlabelled");
        let x = report.crossovers[0].batch_size.unwrap();
        assert!((64.0..1024.0).contains(&x), "{x}");
    }
}
