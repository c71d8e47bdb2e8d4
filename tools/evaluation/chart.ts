// The bar chart of `sam-lora eval`: mean Dice and IoU per model, as an SVG string rasterised to PNG
// with sharp (librsvg). Text uses DejaVu Sans / Liberation Sans / Arial / any sans-serif font the
// system's fontconfig finds; every bar carries its value printed above it.

import sharp from 'sharp';

export interface ChartBar {
  /** Model name (x-axis label). */
  name: string;
  dice: number;
  iou: number;
}

export interface ChartOptions {
  title?: string;
  subtitle?: string;
}

const DICE_COLOUR = '#1f77b4';
const IOU_COLOUR = '#ff7f0e';
const FONT = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

/** Escapes text for an SVG text node or attribute. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** Shortens a label to at most max characters (with an ellipsis). */
function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const clamp01 = (v: number): number => (Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0);

/** The chart as an SVG document (pixel units). */
export function chartSvg(bars: readonly ChartBar[], opts: ChartOptions = {}): string {
  const left = 70;
  const right = 30;
  const top = opts.subtitle ? 104 : 76;
  const bottom = 70;
  const group = 150;
  const plotW = Math.max(420, bars.length * group);
  const plotH = 320;
  const width = left + plotW + right;
  const height = top + plotH + bottom;
  const slot = plotW / Math.max(1, bars.length);
  const barW = Math.min(48, slot * 0.3);
  const y = (v: number): number => top + plotH * (1 - clamp01(v));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="30" font-size="20" font-weight="bold" text-anchor="middle" fill="#111111">${escapeXml(opts.title ?? 'Mean Dice and IoU per model')}</text>`);
  if (opts.subtitle) out.push(`<text x="${width / 2}" y="54" font-size="14" text-anchor="middle" fill="#444444">${escapeXml(opts.subtitle)}</text>`);
  // Grid and y axis.
  for (let i = 0; i <= 5; i++) {
    const v = i / 5;
    const yy = y(v);
    out.push(`<line x1="${left}" y1="${yy}" x2="${left + plotW}" y2="${yy}" stroke="${i === 0 ? '#333333' : '#dddddd'}" stroke-width="1"/>`);
    out.push(`<text x="${left - 8}" y="${yy + 5}" font-size="14" text-anchor="end" fill="#333333">${v.toFixed(1)}</text>`);
  }
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333333" stroke-width="1"/>`);
  out.push(`<text x="20" y="${top + plotH / 2}" font-size="14" text-anchor="middle" fill="#333333" transform="rotate(-90 20 ${top + plotH / 2})">score</text>`);
  // Bars.
  bars.forEach((b, i) => {
    const cx = left + slot * (i + 0.5);
    const series: [number, string][] = [
      [b.dice, DICE_COLOUR],
      [b.iou, IOU_COLOUR],
    ];
    series.forEach(([v, colour], j) => {
      const x = cx + (j === 0 ? -barW - 3 : 3);
      const yy = y(v);
      out.push(`<rect x="${x}" y="${yy}" width="${barW}" height="${top + plotH - yy}" fill="${colour}"/>`);
      out.push(`<text x="${x + barW / 2}" y="${yy - 6}" font-size="13" text-anchor="middle" fill="#111111">${fmt(v)}</text>`);
    });
    out.push(`<text x="${cx}" y="${top + plotH + 24}" font-size="14" text-anchor="middle" fill="#111111">${escapeXml(clip(b.name, 18))}</text>`);
  });
  // Legend (above the plot, right-aligned).
  const lx = left + plotW - 170;
  const ly = top - 22;
  out.push(`<rect x="${lx}" y="${ly - 11}" width="14" height="14" fill="${DICE_COLOUR}"/>`);
  out.push(`<text x="${lx + 20}" y="${ly + 1}" font-size="14" fill="#111111">Dice</text>`);
  out.push(`<rect x="${lx + 80}" y="${ly - 11}" width="14" height="14" fill="${IOU_COLOUR}"/>`);
  out.push(`<text x="${lx + 100}" y="${ly + 1}" font-size="14" fill="#111111">IoU</text>`);
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 54}" font-size="14" text-anchor="middle" fill="#444444">model</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** The chart as PNG bytes. */
export async function renderChartPng(bars: readonly ChartBar[], opts: ChartOptions = {}): Promise<Buffer> {
  return sharp(Buffer.from(chartSvg(bars, opts))).png().toBuffer();
}
