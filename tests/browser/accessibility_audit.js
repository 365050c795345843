// The page audit of tests/browser/accessibility.py, run by Playwright's page.evaluate with the
// minimum contrast ratio as its argument; returns a list of problems, each a short sentence.
(minimum) => {
  const problems = [];
  const describe = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += "#" + el.id;
    if (el.className && typeof el.className === "string") text += "." + el.className.trim().split(/\s+/).join(".");
    const words = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 40);
    return words ? `${text} "${words}"` : text;
  };
  const visible = (el) => {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") return false;
    const box = el.getBoundingClientRect();
    return box.width > 1 && box.height > 1;
  };

  // The document: language, title, exactly one h1.
  if (!document.documentElement.getAttribute("lang")) problems.push("the page has no lang");
  if (!document.title.trim()) problems.push("the page has no title");
  const h1s = document.querySelectorAll("h1");
  if (h1s.length !== 1) problems.push(`the page has ${h1s.length} h1 elements, not one`);

  // Every form control has a label (a <label>, aria-label or aria-labelledby).
  for (const control of document.querySelectorAll("input, select, textarea")) {
    const type = (control.getAttribute("type") || "").toLowerCase();
    if (["hidden", "submit", "button", "reset", "image"].includes(type)) continue;
    const named = (control.labels && control.labels.length > 0 &&
                   [...control.labels].some((l) => l.textContent.trim())) ||
      (control.getAttribute("aria-label") || "").trim() ||
      (control.getAttribute("aria-labelledby") || "").split(/\s+/).some(
        (id) => id && document.getElementById(id) && document.getElementById(id).textContent.trim());
    if (!named) problems.push(`form control without a label: ${describe(control)}`);
  }
  // Buttons and links have words.
  for (const el of document.querySelectorAll("button, a[href]")) {
    const words = (el.textContent || "").trim() || el.getAttribute("aria-label") ||
      el.getAttribute("title") || [...el.querySelectorAll("img[alt]")].map((i) => i.alt).join("");
    if (!words) problems.push(`button or link without words: ${describe(el)}`);
  }

  // Images and SVGs: a text alternative, or hidden from assistive technology on purpose.
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push(`image without alt: ${img.outerHTML.slice(0, 80)}`);
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (svg.parentElement && svg.parentElement.closest("svg")) continue;
    if (svg.getAttribute("aria-hidden") === "true") continue;
    const title = svg.querySelector(":scope > title");
    const labelledBy = (svg.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    const named = (title && title.textContent.trim()) || (svg.getAttribute("aria-label") || "").trim() ||
      labelledBy.some((id) => document.getElementById(id) && document.getElementById(id).textContent.trim());
    if (!named) problems.push(`svg without a text alternative: ${describe(svg)}`);
  }

  // Status shown by colour must be in words too: badges and states carry text.
  for (const el of document.querySelectorAll(
      ".priority, .state, .tag, .alert, .badge, .status, [class*='status-'], [class*='state-']")) {
    if (!visible(el)) continue;
    if (!(el.textContent || "").trim() && !el.getAttribute("aria-label")) {
      problems.push(`colour-only indicator: ${describe(el)}`);
    }
  }
  // Links inside running text are underlined (not told apart by colour alone).
  for (const link of document.querySelectorAll("main p a[href], main li a[href], main td a[href], main dd a[href]")) {
    if (!visible(link) || link.closest("nav")) continue;
    const style = getComputedStyle(link);
    const underlined = style.textDecorationLine.includes("underline") ||
      (parseFloat(style.borderBottomWidth) > 0 && style.borderBottomStyle !== "none");
    const looksLikeButton = link.classList.contains("button") || parseFloat(style.paddingTop) >= 4 &&
      style.backgroundColor !== "rgba(0, 0, 0, 0)";
    if (!underlined && !looksLikeButton) problems.push(`link not underlined: ${describe(link)}`);
  }

  // Contrast of text with its background.
  const parse = (value) => {
    const m = value.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const parts = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const blend = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a),
    g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a),
    a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (style.backgroundImage && style.backgroundImage !== "none") return null;  // not computable
      const colour = parse(style.backgroundColor);
      if (colour && colour.a > 0) {
        layers.push(colour);
        if (colour.a >= 1) break;
      }
    }
    let result = { r: 255, g: 255, b: 255, a: 1 };  // the canvas
    for (const layer of layers.reverse()) result = blend(layer, result);
    return result;
  };
  const luminance = (c) => {
    const channel = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const checked = new Set();
  const selector = "body, p, li, dt, dd, th, td, label, a[href], button, nav a, h1, h2, h3, " +
    "caption, legend, .field-hint, .hint, .muted, .sub, .stat-label, .stat-note, span, time, small, strong";
  let measured = 0;
  for (const el of document.querySelectorAll(selector)) {
    if (!visible(el) || el.closest(".visually-hidden, svg")) continue;
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!ownText) continue;
    const style = getComputedStyle(el);
    const fg = parse(style.color);
    const bg = background(el);
    if (!fg || !bg) continue;
    const shown = fg.a < 1 ? blend(fg, bg) : fg;
    const value = ratio(shown, bg);
    measured += 1;
    // Large text (24px, or 18.66px bold) needs 3:1 under AA; everything else 4.5:1.
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
    const needed = large ? 3 : minimum;
    const key = `${style.color}|${JSON.stringify(bg)}|${needed}`;
    if (value < needed && !checked.has(key)) {
      checked.add(key);
      problems.push(`contrast ${value.toFixed(2)} < ${needed}: ${describe(el)} (${style.color} on rgb(${bg.r},${bg.g},${bg.b}))`);
    }
  }
  if (measured === 0) problems.push("no text was measured for contrast");
  return problems;
}
