// The map: every paper at its stored 2-D position (computed when the index was written),
// coloured by source or tag; hovering shows the title and joins the paper to its nearest
// neighbours, clicking opens it. Drawn as SVG from /api/map; text goes in with textContent.
(function () {
  "use strict";
  const box = document.getElementById("mapbox");
  if (!box) return;
  const SVG = "http://www.w3.org/2000/svg";
  const W = 1000, H = 600, PAD = 16;
  const PALETTE = ["#2f6fdf", "#e8743b", "#19a979", "#ed4a7b", "#945ecf", "#13a4b4",
                   "#d4a20c", "#6f8c2f", "#b5446e", "#5b6b8c"];
  const OTHER = "#b8c0cc";
  const hovered = document.getElementById("hovered");
  const legend = document.getElementById("legend");
  const select = document.getElementById("colour");
  const neighbours = new Map();
  let points = [], byId = new Map(), circles = new Map(), lines, selected = box.dataset.selected;

  function el(name, attrs) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function keysOf(p, by) {
    return by === "tag" ? (p.tags.length ? [p.tags[0]] : []) : (p.source ? [p.source] : []);
  }

  function colour(by) {
    const counts = new Map();
    points.forEach((p) => keysOf(p, by).forEach((k) => counts.set(k, (counts.get(k) || 0) + 1)));
    const top = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, PALETTE.length).map((e) => e[0]);
    const colourOf = new Map(top.map((k, i) => [k, PALETTE[i]]));
    points.forEach((p) => {
      const k = keysOf(p, by)[0];
      circles.get(p.id).setAttribute("fill", colourOf.get(k) || OTHER);
    });
    legend.replaceChildren();
    top.forEach((k) => {
      const s = document.createElement("span");
      s.style.setProperty("--c", colourOf.get(k));
      s.textContent = k;
      legend.append(s);
    });
    if (counts.size > top.length || points.some((p) => !keysOf(p, by).length)) {
      const s = document.createElement("span");
      s.style.setProperty("--c", OTHER);
      s.textContent = "other";
      legend.append(s);
    }
  }

  async function neighboursOf(id) {
    if (!neighbours.has(id)) {
      const r = await fetch("/api/similar?k=5&id=" + encodeURIComponent(id));
      neighbours.set(id, r.ok ? (await r.json()).results.map((h) => h.id) : []);
    }
    return neighbours.get(id);
  }

  async function focus(id) {
    const p = byId.get(id);
    if (!p) return;
    hovered.textContent = p.id + " — " + p.title;
    const near = await neighboursOf(id);
    lines.replaceChildren();
    near.forEach((n) => {
      const q = byId.get(n);
      if (q) lines.append(el("line", { x1: p.sx, y1: p.sy, x2: q.sx, y2: q.sy }));
    });
  }

  async function draw() {
    const r = await fetch("/api/map");
    points = (await r.json()).points;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "map of the papers" });
    lines = el("g", { class: "lines" });
    const dots = el("g", { class: "dots" });
    svg.append(lines, dots);
    // The stored layout fills the unit square; spread it over the whole (wider) box, as
    // only neighbourhoods, not absolute distances, carry meaning in it.
    points.forEach((p) => {
      p.sx = (PAD + p.x * (W - 2 * PAD)).toFixed(1);
      p.sy = (PAD + p.y * (H - 2 * PAD)).toFixed(1);
      byId.set(p.id, p);
      const c = el("circle", { cx: p.sx, cy: p.sy, r: 6, "data-id": p.id });
      const t = el("title", {});
      t.textContent = p.title;
      c.append(t);
      c.addEventListener("mouseenter", () => focus(p.id));
      c.addEventListener("click", () => { location.href = "/paper/" + encodeURIComponent(p.id); });
      if (p.id === selected) c.classList.add("selected");
      circles.set(p.id, c);
      dots.append(c);
    });
    box.replaceChildren(svg);
    colour(select.value);
    select.addEventListener("change", () => colour(select.value));
    if (selected) await focus(selected);
    box.dataset.drawn = String(points.length);
  }

  draw();
})();
