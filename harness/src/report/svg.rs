//! Small SVG building blocks written by hand (no plotting crate: the page
//! stays light and every text node goes through [`esc`]).

use crate::nemesis::FaultKind;
use std::fmt::Write;

/// Escapes text for SVG/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Colours for series, Tableau 10: distinct and readable on white.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// The colour of series `i`.
pub fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// The colour of a fault family's shading (by its name, as intervals
/// carry it; grey for one this build does not know).
pub fn fault_colour(kind: &str) -> &'static str {
    match kind.parse::<FaultKind>() {
        Ok(FaultKind::Partition) => "#e15759",
        Ok(FaultKind::Kill) => "#b07aa1",
        Ok(FaultKind::Pause) => "#f28e2b",
        Ok(FaultKind::Clock) => "#4e79a7",
        Ok(FaultKind::Packet) => "#9c755f",
        Ok(FaultKind::File) => "#edc948",
        Err(_) => "#bab0ac",
    }
}

/// A linear map from a data range onto a pixel range.
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
}

impl Scale {
    /// Maps `[d0, d1]` onto `[p0, p1]`; an empty data range is widened.
    pub fn new(d0: f64, d1: f64, p0: f64, p1: f64) -> Scale {
        let d1 = if d1 > d0 { d1 } else { d0 + 1.0 };
        Scale { d0, d1, p0, p1 }
    }

    /// Pixel position of `d`.
    pub fn at(&self, d: f64) -> f64 {
        self.p0 + (d - self.d0) / (self.d1 - self.d0) * (self.p1 - self.p0)
    }

    /// About `n` round tick values within the data range.
    pub fn ticks(&self, n: usize) -> Vec<f64> {
        let span = self.d1 - self.d0;
        let raw = span / n.max(1) as f64;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag);
        let first = (self.d0 / step).ceil() as i64;
        let last = (self.d1 / step).floor() as i64;
        (first..=last).map(|k| k as f64 * step).collect()
    }
}

/// A tick label: no trailing zeros.
pub fn num(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

/// Appends `<text>` at (x, y) with escaped content.
pub fn text(out: &mut String, x: f64, y: f64, attrs: &str, content: &str) {
    let _ = write!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" {attrs}>{}</text>"#,
        esc(content)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;"
        );
    }

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        let s = Scale::new(0.0, 47.0, 0.0, 100.0);
        assert_eq!(s.ticks(5), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(s.at(47.0), 100.0);
    }
}
