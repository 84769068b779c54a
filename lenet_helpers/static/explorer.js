// Front end of lenet_helpers.widgets: the convolution and pooling explorers.
//
// Everything the reader sees is computed here, in the browser, so the explorers
// stay interactive on the static website where no Python kernel runs. When a
// kernel is there (Jupyter, Colab), the settings are synced both ways with the
// Python widget, so a notebook can read what the reader chose.

const SVG = "http://www.w3.org/2000/svg";

// The same pseudo-random grid of digits 0..9 as widgets._grid_values in Python.
function gridValue(i, j, seed) {
  let x = (Math.imul(i + 1, 73856093) ^ Math.imul(j + 1, 19349663) ^ Math.imul(seed + 1, 83492791)) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 2654435761) >>> 0;
  return (x >>> 16) % 10;
}

function outputLength(n, k, p, s, d) {
  const span = n + 2 * p - d * (k - 1);
  return span < 1 ? 0 : Math.floor((span - 1) / s) + 1;
}

function svg(tag, attrs, parent) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function html(tag, attrs, parent, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

const SETTINGS = {
  conv: [
    ["n", "input size n", 1, 32],
    ["kernel_size", "kernel size k", 1, 7],
    ["padding", "padding p", 0, 4],
    ["stride", "stride s", 1, 4],
    ["dilation", "dilation d", 1, 3],
  ],
  pool: [
    ["n", "input size n", 1, 12],
    ["pool_size", "window k", 1, 4],
    ["padding", "padding p", 0, 2],
    ["stride", "stride s", 1, 4],
  ],
};

function render({ model, el }) {
  const kind = model.get("kind");
  const settings = SETTINGS[kind];
  const keys = settings.map((s) => s[0]).concat(kind === "pool" ? ["mode", "seed", "position"] : ["position"]);
  const state = {};
  for (const key of keys) state[key] = model.get(key);

  // Write a value to the model and, when a kernel is connected, to Python.
  // On a static page there is no kernel: the local state is all there is.
  function put(name, value) {
    state[name] = value;
    try {
      model.set(name, value);
      model.save_changes();
    } catch (error) {
      /* no kernel: nothing to sync with */
    }
  }

  const root = html("div", { class: `lenet-explorer lenet-explorer-${kind}` }, el);
  const controls = html("div", { class: "lenet-controls" }, root);
  const inputs = {};
  for (const [key, label, lo, hi] of settings) {
    const row = html("label", { class: "lenet-control" }, controls);
    html("span", { class: "lenet-label" }, row, label);
    const input = html("input", { type: "range", min: lo, max: hi, step: 1, name: key, "aria-label": label }, row);
    input.value = state[key];
    const shown = html("output", { class: "lenet-value" }, row, String(state[key]));
    input.addEventListener("input", () => {
      shown.textContent = input.value;
      put(key, Number(input.value));
      if (kind === "pool" && key === "pool_size") {
        // keep the padding legal (at most half the window), as PyTorch requires
        const maxPad = Math.floor(Number(input.value) / 2);
        if (state.padding > maxPad) setControl("padding", maxPad);
      }
      put("position", 0);
      draw();
    });
    inputs[key] = { input, shown };
  }
  function setControl(key, value) {
    inputs[key].input.value = value;
    inputs[key].shown.textContent = String(value);
    put(key, value);
  }
  let modeSelect = null;
  if (kind === "pool") {
    const row = html("label", { class: "lenet-control" }, controls);
    html("span", { class: "lenet-label" }, row, "mode");
    modeSelect = html("select", { name: "mode", "aria-label": "mode" }, row);
    for (const m of ["max", "avg"]) html("option", { value: m }, modeSelect, m);
    modeSelect.value = state.mode;
    modeSelect.addEventListener("change", () => {
      put("mode", modeSelect.value);
      draw();
    });
  }
  const buttons = html("div", { class: "lenet-buttons" }, controls);
  const prev = html("button", { type: "button", name: "previous", title: "previous output position" }, buttons, "◀");
  const play = html("button", { type: "button", name: "play", title: "slide the window" }, buttons, "▶ play");
  const next = html("button", { type: "button", name: "next", title: "next output position" }, buttons, "▶");

  const picture = svg("svg", { class: "lenet-picture", role: "img" }, root);
  const formula = html("div", { class: "lenet-formula" }, root);
  const note = html("div", { class: "lenet-note" }, root);

  let timer = null;
  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "▶ play";
  }
  function step(delta) {
    const out = geometry().out;
    const count = out * out;
    if (count === 0) return;
    put("position", (((state.position + delta) % count) + count) % count);
    draw();
  }
  prev.addEventListener("click", () => { stop(); step(-1); });
  next.addEventListener("click", () => { stop(); step(1); });
  play.addEventListener("click", () => {
    if (timer !== null) return stop();
    play.textContent = "⏸ pause";
    timer = setInterval(() => {
      if (!root.isConnected) return stop();
      step(1);
    }, 700);
  });

  function geometry() {
    const n = state.n;
    const k = kind === "conv" ? state.kernel_size : state.pool_size;
    const p = state.padding;
    const s = state.stride;
    const d = kind === "conv" ? state.dilation : 1;
    const legalPad = kind === "conv" || p <= Math.floor(k / 2);
    const out = legalPad ? outputLength(n, k, p, s, d) : 0;
    return { n, k, p, s, d, out, legalPad, size: n + 2 * p };
  }

  function value(i, j, g) {
    // value at padded coordinates (i, j); null in the padding
    const r = i - g.p, c = j - g.p;
    if (r < 0 || c < 0 || r >= g.n || c >= g.n) return null;
    return gridValue(r, c, state.seed);
  }

  function pooled(oi, oj, g) {
    const vals = [];
    let count = 0;
    for (let a = 0; a < g.k; a++)
      for (let b = 0; b < g.k; b++) {
        const v = value(oi * g.s + a, oj * g.s + b, g);
        count += 1;
        if (v !== null) vals.push(v);
      }
    if (state.mode === "max") return vals.length ? Math.max(...vals) : -Infinity;
    return vals.reduce((x, y) => x + y, 0) / count; // padded zeros count, as in PyTorch
  }

  function draw() {
    const g = geometry();
    root.dataset.outputSize = String(g.out);
    if (state.position >= g.out * g.out) put("position", 0);
    try {
      model.set("output_size", g.out);
      model.save_changes();
    } catch (error) { /* static page */ }
    while (picture.firstChild) picture.removeChild(picture.firstChild);

    const cell = Math.max(7, Math.min(26, Math.floor(300 / Math.max(g.size, 1))));
    const gap = 48;
    const inW = g.size * cell;
    const outCell = cell;
    const outW = g.out * outCell;
    const top = 22;
    const width = inW + gap + Math.max(outW, 60) + 8;
    const height = top + Math.max(inW, outW) + 8;
    picture.setAttribute("width", width);
    picture.setAttribute("height", height);
    picture.setAttribute("viewBox", `0 0 ${width} ${height}`);
    picture.setAttribute("aria-label", `input ${g.n}×${g.n}, output ${g.out}×${g.out}`);

    svg("text", { x: 0, y: 14, class: "lenet-caption" }, picture).textContent =
      g.p ? `input ${g.n}×${g.n}, padded to ${g.size}×${g.size}` : `input ${g.n}×${g.n}`;
    const ox = inW + gap;
    svg("text", { x: ox, y: 14, class: "lenet-caption" }, picture).textContent = `output ${g.out}×${g.out}`;

    const oi = g.out ? Math.floor(state.position / g.out) : 0;
    const oj = g.out ? state.position % g.out : 0;
    const taps = new Set();
    const seen = new Set();
    if (g.out) {
      for (let a = 0; a < g.k; a++)
        for (let b = 0; b < g.k; b++) taps.add(`${oi * g.s + a * g.d},${oj * g.s + b * g.d}`);
      for (let i = 0; i < g.out; i++)
        for (let j = 0; j < g.out; j++)
          for (let a = 0; a < g.k; a++)
            for (let b = 0; b < g.k; b++) seen.add(`${i * g.s + a * g.d},${j * g.s + b * g.d}`);
    }
    let best = null;
    if (kind === "pool" && state.mode === "max" && g.out) best = pooled(oi, oj, g);

    const inputGroup = svg("g", { class: "lenet-input" }, picture);
    for (let i = 0; i < g.size; i++)
      for (let j = 0; j < g.size; j++) {
        const pad = i < g.p || j < g.p || i >= g.p + g.n || j >= g.p + g.n;
        const key = `${i},${j}`;
        let cls = pad ? "lenet-cell lenet-pad" : "lenet-cell";
        if (g.out && !seen.has(key) && !pad) cls += " lenet-unseen";
        if (taps.has(key)) cls += " lenet-tap";
        svg("rect", { x: j * cell, y: top + i * cell, width: cell, height: cell, class: cls }, inputGroup);
        if (kind === "pool" && cell >= 16) {
          const v = value(i, j, g);
          const label = v === null ? (state.mode === "max" ? "" : "0") : String(v);
          const strong = taps.has(key) && v !== null && v === best;
          svg("text", {
            x: j * cell + cell / 2, y: top + i * cell + cell / 2 + 4,
            class: strong ? "lenet-num lenet-best" : "lenet-num",
          }, inputGroup).textContent = label;
        }
      }
    if (g.out) {
      const span = g.d * (g.k - 1) + 1;
      svg("rect", {
        x: oj * g.s * cell, y: top + oi * g.s * cell, width: span * cell, height: span * cell, class: "lenet-window",
      }, picture);
    }

    const outputGroup = svg("g", { class: "lenet-output" }, picture);
    for (let i = 0; i < g.out; i++)
      for (let j = 0; j < g.out; j++) {
        const current = i === oi && j === oj;
        const rect = svg("rect", {
          x: ox + j * outCell, y: top + i * outCell, width: outCell, height: outCell,
          class: current ? "lenet-cell lenet-current" : "lenet-cell",
          "data-position": i * g.out + j,
        }, outputGroup);
        rect.addEventListener("click", () => { stop(); put("position", i * g.out + j); draw(); });
        if (kind === "pool" && outCell >= 16) {
          svg("text", { x: ox + j * outCell + outCell / 2, y: top + i * outCell + outCell / 2 + 4, class: "lenet-num" },
            outputGroup).textContent = fmt(pooled(i, j, g));
        }
      }
    if (g.out) {
      // a line from the window to the output cell it produces
      const span = g.d * (g.k - 1) + 1;
      svg("line", {
        x1: (oj * g.s + span) * cell, y1: top + (oi * g.s + span / 2) * cell,
        x2: ox + oj * outCell, y2: top + (oi + 0.5) * outCell, class: "lenet-link",
      }, picture);
    }

    // The formula, with the numbers filled in
    const { n, k, p, s, d } = g;
    const inner = n + 2 * p - d * (k - 1) - 1;
    let text;
    if (kind === "conv") {
      text = `output = ⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1 = ⌊(${n} + 2·${p} − ${d}·(${k} − 1) − 1) / ${s}⌋ + 1`;
    } else {
      text = `output = ⌊(n + 2p − k) / s⌋ + 1 = ⌊(${n} + 2·${p} − ${k}) / ${s}⌋ + 1`;
    }
    if (!g.legalPad) {
      formula.textContent = text;
      note.textContent = `PyTorch allows padding of at most half the window (here ${Math.floor(k / 2)}): lower the padding or widen the window.`;
      return;
    }
    if (inner < 0) {
      formula.textContent = `${text}: the window (${d * (k - 1) + 1} cells wide) does not fit in ${n + 2 * p} cells.`;
      note.textContent = "No output: make the input larger, the kernel smaller, or add padding.";
      return;
    }
    text += ` = ⌊${inner} / ${s}⌋ + 1 = ${Math.floor(inner / s)} + 1 = ${g.out}`;
    formula.textContent = text;
    const lost = inner % s;
    const parts = [];
    if (lost) parts.push(`${inner} is not a multiple of ${s}: the floor drops the last ${lost} row${lost > 1 ? "s" : ""} and column${lost > 1 ? "s" : ""} (shaded red), which no window reaches.`);
    if (kind === "conv" && d > 1) parts.push(`With dilation ${d}, the ${k}×${k} kernel spans ${d * (k - 1) + 1}×${d * (k - 1) + 1} cells.`);
    if (kind === "conv" && s === 1 && g.out === n) parts.push("“Same” padding: the output is as large as the input.");
    if (kind === "pool" && g.out) {
      parts.push(`Selected output (${oi}, ${oj}) = ${state.mode === "max" ? "max" : "mean"} of its window = ${fmt(pooled(oi, oj, g))}` +
        (state.mode === "avg" && p ? " (padded zeros count in the mean, as in PyTorch)." : "."));
    } else if (g.out) {
      parts.push(`Output (${oi}, ${oj}) is computed from the ${k * k} shaded input cells. Click an output cell, or press play.`);
    }
    note.textContent = parts.join(" ");
  }

  for (const key of keys) {
    model.on(`change:${key}`, () => {
      const v = model.get(key);
      if (v === state[key]) return;
      state[key] = v;
      if (inputs[key]) { inputs[key].input.value = v; inputs[key].shown.textContent = String(v); }
      if (key === "mode" && modeSelect) modeSelect.value = v;
      draw();
    });
  }
  draw();
  return () => stop();
}

export default { render };
