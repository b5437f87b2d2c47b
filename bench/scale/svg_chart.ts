/**
 * A small SVG line chart with log-scaled axes, for the scale benches'
 * plots (no dependency: the chart is a few dozen elements).
 *
 * @module
 */

/** One line (or set of markers) on the chart. */
export interface ChartSeries {
  /** Legend text. */
  label: string;
  /** CSS colour. */
  color: string;
  /** Points, x ascending. */
  points: ReadonlyArray<readonly [number, number]>;
  /** Draw markers only, no line. */
  markersOnly?: boolean;
  /** Dash pattern of the line, e.g. "4 3". */
  dash?: string;
}

/** What to draw. */
export interface ChartOptions {
  /** Title above the plot. */
  title: string;
  /** X axis label. */
  xLabel: string;
  /** Y axis label. */
  yLabel: string;
  /** Lines. */
  series: readonly ChartSeries[];
  /** Lines of small print under the plot. */
  notes?: readonly string[];
  /** Width (px, default 940). */
  width?: number;
  /** Height (px, default 460). */
  height?: number;
}

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (
    let e = Math.floor(Math.log10(lo));
    e <= Math.ceil(Math.log10(hi));
    e++
  ) {
    out.push(10 ** e);
  }
  return out;
}

function tickText(v: number): string {
  return v >= 1 ? v.toLocaleString("en-US") : String(v);
}

/**
 * Render a log–log line chart.
 *
 * @param o title, axis labels and series
 * @returns the SVG document
 * @example
 * ```ts
 * const svg = logLogChart({
 *   title: "t", xLabel: "n", yLabel: "B/s",
 *   series: [{ label: "a", color: "#c00", points: [[10, 5], [100, 6]] }],
 * });
 * ```
 */
export function logLogChart(o: ChartOptions): string {
  const w = o.width ?? 940;
  const notes = o.notes ?? [];
  const h = (o.height ?? 460) + 16 * notes.length;
  const m = {
    left: 70,
    right: 300,
    top: 40,
    bottom: 50 + 16 * notes.length,
  };
  const all = o.series.flatMap((s) => s.points).filter(([x, y]) =>
    x > 0 && y > 0
  );
  const xs = decades(
    Math.min(...all.map((p) => p[0])),
    Math.max(...all.map((p) => p[0])),
  );
  const ys = decades(
    Math.min(...all.map((p) => p[1])),
    Math.max(...all.map((p) => p[1])),
  );
  const lx = (x: number): number =>
    m.left + (w - m.left - m.right) *
      (Math.log10(x) - Math.log10(xs[0])) /
      (Math.log10(xs[xs.length - 1]) - Math.log10(xs[0]));
  const ly = (y: number): number =>
    h - m.bottom - (h - m.top - m.bottom) *
      (Math.log10(y) - Math.log10(ys[0])) /
      (Math.log10(ys[ys.length - 1]) - Math.log10(ys[0]));
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${m.left}" y="22" font-size="14" font-weight="bold">${
      escape(o.title)
    }</text>`,
  );
  for (const x of xs) {
    out.push(
      `<line x1="${lx(x)}" x2="${lx(x)}" y1="${m.top}" y2="${
        h - m.bottom
      }" stroke="#ddd"/>`,
      `<text x="${lx(x)}" y="${h - m.bottom + 16}" text-anchor="middle">${
        tickText(x)
      }</text>`,
    );
  }
  for (const y of ys) {
    out.push(
      `<line x1="${m.left}" x2="${w - m.right}" y1="${ly(y)}" y2="${
        ly(y)
      }" stroke="#ddd"/>`,
      `<text x="${m.left - 6}" y="${ly(y) + 4}" text-anchor="end">${
        tickText(y)
      }</text>`,
    );
  }
  out.push(
    `<rect x="${m.left}" y="${m.top}" width="${w - m.left - m.right}" height="${
      h - m.top - m.bottom
    }" fill="none" stroke="#444"/>`,
    `<text x="${(m.left + w - m.right) / 2}" y="${
      h - m.bottom + 34
    }" text-anchor="middle">${escape(o.xLabel)}</text>`,
    `<text transform="translate(16 ${
      (m.top + h - m.bottom) / 2
    }) rotate(-90)" text-anchor="middle">${escape(o.yLabel)}</text>`,
  );
  notes.forEach((line, i) => {
    out.push(
      `<text x="${m.left}" y="${
        h - 16 * (notes.length - i) + 2
      }" font-size="11" fill="#555">${escape(line)}</text>`,
    );
  });
  o.series.forEach((s, i) => {
    const pts = s.points.filter(([x, y]) => x > 0 && y > 0);
    if (!s.markersOnly && pts.length > 1) {
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2"${
          s.dash ? ` stroke-dasharray="${s.dash}"` : ""
        } points="${
          pts.map(([x, y]) => `${lx(x).toFixed(1)},${ly(y).toFixed(1)}`).join(
            " ",
          )
        }"/>`,
      );
    }
    for (const [x, y] of pts) {
      out.push(
        s.markersOnly
          ? `<rect x="${(lx(x) - 4).toFixed(1)}" y="${
            (ly(y) - 4).toFixed(1)
          }" width="8" height="8" fill="none" stroke="${s.color}" stroke-width="2"/>`
          : `<circle cx="${lx(x).toFixed(1)}" cy="${
            ly(y).toFixed(1)
          }" r="3" fill="${s.color}"/>`,
      );
    }
    const ly0 = m.top + 10 + i * 20;
    const lx0 = w - m.right + 14;
    out.push(
      s.markersOnly
        ? `<rect x="${lx0 + 6}" y="${
          ly0 - 4
        }" width="8" height="8" fill="none" stroke="${s.color}" stroke-width="2"/>`
        : `<line x1="${lx0}" x2="${
          lx0 + 20
        }" y1="${ly0}" y2="${ly0}" stroke="${s.color}" stroke-width="2"${
          s.dash ? ` stroke-dasharray="${s.dash}"` : ""
        }/>`,
      `<text x="${lx0 + 26}" y="${ly0 + 4}">${escape(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
