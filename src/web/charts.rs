//! Charts of the monitor's dashboard, drawn with plotters' SVG backend into a string that
//! the page embeds inline (no image files, no JavaScript).

use plotters::prelude::*;

use crate::http::error::ApiError;

/// Colours of the arms, in protocol order (distinguishable also in greyscale print).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 92, 153),
    RGBColor(214, 96, 0),
    RGBColor(0, 128, 96),
    RGBColor(153, 51, 153),
    RGBColor(102, 102, 102),
    RGBColor(179, 0, 0),
];

/// A drawing's size and type sizes, in the SVG's own units (the page scales it to its width).
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub width: u32,
    pub height: u32,
    label: u32,
    description: u32,
    x_labels: usize,
}

/// For a desktop's width (shown at about its own size).
pub const WIDE: Layout = Layout {
    width: 900,
    height: 360,
    label: 16,
    description: 17,
    x_labels: 10,
};

/// For a phone: scaled to about 340 px, its 22-unit type is still about 16 px.
pub const NARROW: Layout = Layout {
    width: 480,
    height: 420,
    label: 22,
    description: 22,
    x_labels: 5,
};

fn drawing<E: std::fmt::Display>(e: E) -> ApiError {
    ApiError::internal(format!("drawing a chart: {e}"))
}

/// For each arm, the running count after each randomization: `(sequence, count)` points
/// starting at `(0, 0)`.
pub fn cumulative(arm_codes: &[&str], sequence: &[&str]) -> Vec<Vec<(i64, i64)>> {
    let mut counts = vec![0i64; arm_codes.len()];
    let mut series: Vec<Vec<(i64, i64)>> = arm_codes.iter().map(|_| vec![(0, 0)]).collect();
    for (i, arm) in sequence.iter().enumerate() {
        if let Some(k) = arm_codes.iter().position(|a| a == arm) {
            counts[k] += 1;
        }
        for (k, s) in series.iter_mut().enumerate() {
            s.push((i as i64 + 1, counts[k]));
        }
    }
    series
}

/// SVG of the cumulative allocations by arm over the randomization sequence.
/// `arms` are (code, name) in protocol order; `sequence` the arm code of each subject in
/// sequence order; `axes` the x and y axes' descriptions, in the reader's language.
pub fn cumulative_allocations(
    arms: &[(&str, &str)],
    sequence: &[&str],
    layout: Layout,
    axes: (&str, &str),
) -> Result<String, ApiError> {
    let codes: Vec<&str> = arms.iter().map(|(c, _)| *c).collect();
    let series = cumulative(&codes, sequence);
    let x_max = (sequence.len() as i64).max(1);
    let y_max = series
        .iter()
        .filter_map(|s| s.last().map(|p| p.1))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (layout.width, layout.height)).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(16)
            .x_label_area_size(layout.label * 11 / 4)
            .y_label_area_size(layout.label * 13 / 4)
            .build_cartesian_2d(0..x_max, 0..y_max)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc(axes.0)
            .y_desc(axes.1)
            .x_labels(layout.x_labels)
            .y_labels(8)
            .label_style(("sans-serif", layout.label))
            .axis_desc_style(("sans-serif", layout.description))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(drawing)?;
        for (k, ((_, name), points)) in arms.iter().zip(series).enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(3)))
                .map_err(drawing)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", layout.description))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AXES: (&str, &str) = ("Randomization sequence", "累计分配");

    #[test]
    fn running_counts_per_arm() {
        let s = cumulative(&["A", "B"], &["A", "A", "B"]);
        assert_eq!(s[0], vec![(0, 0), (1, 1), (2, 2), (3, 2)]);
        assert_eq!(s[1], vec![(0, 0), (1, 0), (2, 0), (3, 1)]);
    }

    #[test]
    fn svg_with_a_line_per_arm() {
        let svg =
            cumulative_allocations(&[("A", "Arm A"), ("B", "Arm <B>")], &["A", "B"], WIDE, AXES)
                .unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("Arm A"));
        assert!(svg.contains("Arm &lt;B&gt;"), "labels are escaped");
        assert!(svg.contains("累计分配"), "axes in the reader's language");
        assert!(svg.matches("<polyline").count() >= 2, "{svg}");
        // Empty trial: axes only, no failure.
        assert!(cumulative_allocations(&[("A", "Arm A")], &[], WIDE, AXES).is_ok());
        let narrow = cumulative_allocations(&[("A", "Arm A")], &["A"], NARROW, AXES).unwrap();
        assert!(narrow.contains("viewBox=\"0 0 480 420\""), "{narrow}");
    }
}
