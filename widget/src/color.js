// Colour helpers that keep the clinic's brand colour readable (WCAG 2.1 AA).

const HEX = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i;
export const DEFAULT_PRIMARY = "#1f6f5c";
const DARK_TEXT = "#111827";
const LIGHT_TEXT = "#ffffff";

/** @returns {number[]|null} [r, g, b] in 0..255 */
export function parseHex(value) {
  if (typeof value !== "string" || !HEX.test(value.trim())) return null;
  let hex = value.trim().slice(1);
  if (hex.length === 3) hex = hex.split("").map((c) => c + c).join("");
  return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

function luminance([r, g, b]) {
  const channel = (v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

/** WCAG contrast ratio of two "#rrggbb" colours (1..21). */
export function contrast(a, b) {
  const la = luminance(parseHex(a));
  const lb = luminance(parseHex(b));
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

function toHex(rgb) {
  return "#" + rgb.map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
}

/** The colour mixed towards black until it reaches `ratio` against `background`. */
export function darkenUntil(color, background, ratio) {
  const rgb = parseHex(color);
  for (let k = 0; k <= 20; k += 1) {
    const candidate = toHex(rgb.map((v) => v * (1 - k / 20)));
    if (contrast(candidate, background) >= ratio) return candidate;
  }
  return DARK_TEXT;
}

/**
 * The theme derived from one brand colour: text on it, and versions of it that stay
 * readable as link, button-border and focus-ring colours on white.
 * @param {string} primary "#rgb" or "#rrggbb"; anything else falls back to the default
 */
export function theme(primary) {
  const base = parseHex(primary) ? toHex(parseHex(primary)) : DEFAULT_PRIMARY;
  const onPrimary = contrast(base, LIGHT_TEXT) >= 4.5 ? LIGHT_TEXT : DARK_TEXT;
  return {
    primary: base,
    onPrimary,
    // Text-sized use on white or light grey needs 4.5:1; borders and focus rings need 3:1.
    accent: darkenUntil(base, "#f3f4f6", 4.5),
    focus: darkenUntil(base, LIGHT_TEXT, 3),
  };
}
