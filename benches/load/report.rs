//! The table the benchmark prints: one column per path, one row per metric,
//! each target with its figure and whether it is met; and the statistics
//! over rounds (median, min–max) the rows are made of.

/// The paths, in column order. `strait-base` (another strait binary, for
/// A/B comparisons) is a column only when it ran.
pub const PATHS: [&str; 5] = ["direct", "nginx", "bare", "strait", "strait-base"];

/// One row of the report: formatted cells by path name.
#[derive(Default)]
pub struct Row {
    pub scenario: String,
    pub metric: String,
    pub cells: Vec<(&'static str, String)>,
    /// How strait compares (a ratio, a difference, a note).
    pub compare: String,
    pub target: String,
    pub met: Option<bool>,
}

impl Row {
    pub fn new(scenario: &str, metric: impl Into<String>) -> Row {
        Row {
            scenario: scenario.into(),
            metric: metric.into(),
            ..Row::default()
        }
    }

    /// One numeric cell per path that has a value.
    pub fn values(mut self, get: impl Fn(&str) -> Option<f64>) -> Row {
        for p in PATHS {
            if let Some(v) = get(p) {
                self.cells.push((p, num(v)));
            }
        }
        self
    }

    pub fn cell(mut self, path: &'static str, text: String) -> Row {
        self.cells.push((path, text));
        self
    }

    pub fn compare(mut self, text: String) -> Row {
        self.compare = text;
        self
    }

    pub fn target(mut self, target: &str, met: Option<bool>) -> Row {
        self.target = target.into();
        self.met = met;
        self
    }
}

/// A number with as many digits as it deserves.
pub fn num(v: f64) -> String {
    match v {
        v if v.is_nan() => "—".into(),
        v if v.abs() >= 1000.0 => format!("{v:.0}"),
        v if v.abs() >= 10.0 => format!("{v:.1}"),
        v => format!("{v:.2}"),
    }
}

pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// "min–max" of the rounds.
pub fn spread(values: &[f64]) -> String {
    if values.is_empty() {
        return "—".into();
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{}–{}", num(min), num(max))
}

/// "1.10× bare", or "—" when either side is missing.
pub fn ratio(a: Option<f64>, b: Option<f64>, name: &str) -> Option<String> {
    Some(format!("{:.2}× {name}", a? / b?))
}

pub fn print(rows: &[Row], with_base: bool) {
    let paths: Vec<&str> = PATHS
        .iter()
        .copied()
        .filter(|p| with_base || *p != "strait-base")
        .collect();
    let rule = paths.iter().map(|_| "---:|").collect::<String>();
    println!(
        "\n| scenario | metric | {} | strait compared | target | met |",
        paths.join(" | ")
    );
    println!("|---|---|{rule}---|---|---|");
    for r in rows {
        let cells: Vec<&str> = paths
            .iter()
            .map(|p| {
                r.cells
                    .iter()
                    .find(|(n, _)| n == p)
                    .map_or("—", |(_, v)| v.as_str())
            })
            .collect();
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.metric,
            cells.join(" | "),
            r.compare,
            r.target,
            match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
        );
    }
}

pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    format!("{cpus} CPUs ({model})")
}
