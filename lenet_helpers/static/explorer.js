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

// "zh" on a page whose <html lang> is Chinese (the site's Chinese edition), else "en" (English pages, notebooks).
function pageLanguage() {
  const lang = (typeof document !== "undefined" && document.documentElement.lang) || "";
  return lang.toLowerCase().startsWith("zh") ? "zh" : "en";
}

function fmt(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

// Every word the reader sees or hears, in one place, per language: the page's language (<html lang>) picks one,
// so the Chinese edition of the site shows Chinese labels. {name} is filled in by text(); keys ending in One/Many
// are the singular and the plural.
const TEXTS = {
  en: {
    n: "input size n",
    kernel_size: "kernel size k",
    pool_size: "window k",
    padding: "padding p",
    stride: "stride s",
    dilation: "dilation d",
    mode: "mode",
    max: "max",
    avg: "avg",
    previous: "previous output cell",
    next: "next output cell",
    play: "play",
    pause: "pause",
    playTitle: "slide the window over the input",
    picture: "output cell",
    pictureKeys: "arrow keys: move the selected output cell; Home, End: the first and the last",
    cellText: "row {row}, column {column} of the {out}×{out} output; input {n}×{n}",
    noCell: "no output; input {n}×{n}",
    input: "input {n}×{n}",
    inputPadded: "input {n}×{n}, padded to {size}×{size}",
    output: "output {out}×{out}",
    convFormula: "output = ⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1 = ⌊({n} + 2·{p} − {d}·({k} − 1) − 1) / {s}⌋ + 1",
    poolFormula: "output = ⌊(n + 2p − k) / s⌋ + 1 = ⌊({n} + 2·{p} − {k}) / {s}⌋ + 1",
    formulaEnd: " = ⌊{inner} / {s}⌋ + 1 = {quotient} + 1 = {out}",
    tooMuchPadding: "PyTorch allows padding of at most half the window (here {half}): lower the padding or widen the window.",
    doesNotFit: ": the window ({span} cells wide) does not fit in {size} cells.",
    noOutput: "No output: make the input larger, the kernel smaller, or add padding.",
    lostOne: "{inner} is not a multiple of {s}: the floor drops the last {lost} row and column (shaded red), which no window reaches.",
    lostMany: "{inner} is not a multiple of {s}: the floor drops the last {lost} rows and columns (shaded red), which no window reaches.",
    dilated: "With dilation {d}, the {k}×{k} kernel spans {span}×{span} cells.",
    same: "“Same” padding: the output is as large as the input.",
    pooledMax: "Selected output ({i}, {j}) = max of its window = {value}.",
    pooledAvg: "Selected output ({i}, {j}) = mean of its window = {value}.",
    pooledAvgPadded: "Selected output ({i}, {j}) = mean of its window = {value} (padded zeros count in the mean, as in PyTorch).",
    convCell: "Output ({i}, {j}) is computed from the {taps} shaded input cells. Click an output cell, press play, or use the arrow keys on the picture.",
  },
  zh: {
    n: "输入大小 n",
    kernel_size: "核大小 k",
    pool_size: "窗口 k",
    padding: "填充 p",
    stride: "步幅 s",
    dilation: "膨胀 d",
    mode: "模式",
    max: "最大",
    avg: "平均",
    previous: "上一个输出单元",
    next: "下一个输出单元",
    play: "播放",
    pause: "暂停",
    playTitle: "让窗口在输入上滑动",
    picture: "输出单元",
    pictureKeys: "方向键：移动所选的输出单元；Home、End：第一个和最后一个",
    cellText: "{out}×{out} 输出的第 {row} 行、第 {column} 列；输入 {n}×{n}",
    noCell: "没有输出；输入 {n}×{n}",
    input: "输入 {n}×{n}",
    inputPadded: "输入 {n}×{n}，填充到 {size}×{size}",
    output: "输出 {out}×{out}",
    convFormula: "输出 = ⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1 = ⌊({n} + 2·{p} − {d}·({k} − 1) − 1) / {s}⌋ + 1",
    poolFormula: "输出 = ⌊(n + 2p − k) / s⌋ + 1 = ⌊({n} + 2·{p} − {k}) / {s}⌋ + 1",
    formulaEnd: " = ⌊{inner} / {s}⌋ + 1 = {quotient} + 1 = {out}",
    tooMuchPadding: "PyTorch 允许的填充最多为窗口的一半（这里是 {half}）：请减小填充或加大窗口。",
    doesNotFit: "：窗口（宽 {span} 个单元）放不进 {size} 个单元。",
    noOutput: "没有输出：请加大输入、减小核，或者加上填充。",
    lostOne: "{inner} 不是 {s} 的倍数：向下取整丢掉了最后 {lost} 行和 {lost} 列（红色阴影），没有窗口到达那里。",
    lostMany: "{inner} 不是 {s} 的倍数：向下取整丢掉了最后 {lost} 行和 {lost} 列（红色阴影），没有窗口到达那里。",
    dilated: "膨胀为 {d} 时，{k}×{k} 的核覆盖 {span}×{span} 个单元。",
    same: "“same”填充：输出与输入一样大。",
    pooledMax: "所选输出 ({i}, {j}) = 其窗口的最大值 = {value}。",
    pooledAvg: "所选输出 ({i}, {j}) = 其窗口的平均值 = {value}。",
    pooledAvgPadded: "所选输出 ({i}, {j}) = 其窗口的平均值 = {value}（与 PyTorch 一样，填充的零也计入平均）。",
    convCell: "输出 ({i}, {j}) 由阴影标出的 {taps} 个输入单元计算得到。点击一个输出单元、按播放，或在图上使用方向键。",
  },
};
const TEXT = TEXTS[pageLanguage()];

function text(key, values = {}) {
  return TEXT[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

// The buttons' icons, drawn as SVG (no icon font, no symbol a reader's fonts may lack), 16×16, in the text colour.
const ICONS = {
  previous: "M12 3v10L4 8z",
  next: "M4 3v10l8-5z",
  play: "M4 3v10l8-5z",
  pause: "M4 3h3v10H4zM9 3h3v10H9z",
};

function icon(name) {
  const node = svg("svg", { class: "lenet-icon", viewBox: "0 0 16 16", width: 12, height: 12, "aria-hidden": "true",
    focusable: "false" });
  svg("path", { d: ICONS[name], fill: "currentColor" }, node);
  return node;
}

const SETTINGS = {
  conv: [["n", 1, 32], ["kernel_size", 1, 7], ["padding", 0, 4], ["stride", 1, 4], ["dilation", 1, 3]],
  pool: [["n", 1, 12], ["pool_size", 1, 4], ["padding", 0, 2], ["stride", 1, 4]],
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
  for (const [key, lo, hi] of settings) {
    const row = html("label", { class: "lenet-control" }, controls);
    html("span", { class: "lenet-label" }, row, TEXT[key]);
    const input = html("input", { type: "range", min: lo, max: hi, step: 1, name: key, "aria-label": TEXT[key] }, row);
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
    html("span", { class: "lenet-label" }, row, TEXT.mode);
    modeSelect = html("select", { name: "mode", "aria-label": TEXT.mode }, row);
    for (const m of ["max", "avg"]) html("option", { value: m }, modeSelect, TEXT[m]);
    modeSelect.value = state.mode;
    modeSelect.addEventListener("change", () => {
      put("mode", modeSelect.value);
      draw();
    });
  }
  const buttons = html("div", { class: "lenet-buttons" }, controls);
  const prev = html("button", { type: "button", name: "previous", title: TEXT.previous, "aria-label": TEXT.previous },
    buttons);
  prev.appendChild(icon("previous"));
  const play = html("button", { type: "button", name: "play", title: TEXT.playTitle }, buttons);
  const next = html("button", { type: "button", name: "next", title: TEXT.next, "aria-label": TEXT.next }, buttons);
  next.appendChild(icon("next"));
  function showPlay(playing) {
    play.replaceChildren(icon(playing ? "pause" : "play"), document.createTextNode(` ${playing ? TEXT.pause : TEXT.play}`));
    play.dataset.playing = String(playing); // the label says what a press does: play, or pause
  }
  showPlay(false);

  // The picture is also the control that selects the output cell: click a cell, or focus it and use the arrow keys.
  const keysHelp = html("span", { class: "lenet-hidden", id: `lenet-keys-${Math.random().toString(36).slice(2)}` },
    root, TEXT.pictureKeys);
  const picture = svg("svg", {
    class: "lenet-picture", role: "slider", tabindex: 0, "aria-label": TEXT.picture, "aria-valuemin": 0,
    "aria-describedby": keysHelp.id,
  }, root);
  const formula = html("div", { class: "lenet-formula" }, root);
  const note = html("div", { class: "lenet-note" }, root);

  let timer = null;
  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    showPlay(false);
  }
  function select(position) {
    const out = geometry().out;
    const count = out * out;
    if (count === 0) return;
    put("position", ((position % count) + count) % count);
    draw();
  }
  function step(delta) {
    select(state.position + delta);
  }
  picture.addEventListener("keydown", (event) => {
    const out = geometry().out;
    const moves = {
      ArrowLeft: -1, ArrowRight: 1, ArrowUp: -out, ArrowDown: out,
      Home: -state.position, End: out * out - 1 - state.position,
    };
    if (!(event.key in moves) || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    stop();
    if (out) select(Math.min(out * out - 1, Math.max(0, state.position + moves[event.key])));
  });
  prev.addEventListener("click", () => { stop(); step(-1); });
  next.addEventListener("click", () => { stop(); step(1); });
  play.addEventListener("click", () => {
    if (timer !== null) return stop();
    showPlay(true);
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

    svg("text", { x: 0, y: 14, class: "lenet-caption" }, picture).textContent =
      g.p ? text("inputPadded", g) : text("input", g);
    const ox = inW + gap;
    svg("text", { x: ox, y: 14, class: "lenet-caption" }, picture).textContent = text("output", g);

    const oi = g.out ? Math.floor(state.position / g.out) : 0;
    const oj = g.out ? state.position % g.out : 0;
    picture.setAttribute("aria-valuemax", Math.max(0, g.out * g.out - 1));
    picture.setAttribute("aria-valuenow", g.out ? state.position : 0);
    picture.setAttribute("aria-valuetext", g.out ? text("cellText", { ...g, row: oi + 1, column: oj + 1 }) : text("noCell", g));
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
    const span = d * (k - 1) + 1;
    const values = { n, k, p, s, d, inner, span, size: n + 2 * p, out: g.out, quotient: Math.floor(inner / s) };
    let line = text(kind === "conv" ? "convFormula" : "poolFormula", values);
    if (!g.legalPad) {
      formula.textContent = line;
      note.textContent = text("tooMuchPadding", { half: Math.floor(k / 2) });
      return;
    }
    if (inner < 0) {
      formula.textContent = line + text("doesNotFit", values);
      note.textContent = text("noOutput");
      return;
    }
    formula.textContent = line + text("formulaEnd", values);
    const lost = inner % s;
    const parts = [];
    if (lost) parts.push(text(lost > 1 ? "lostMany" : "lostOne", { ...values, lost }));
    if (kind === "conv" && d > 1) parts.push(text("dilated", values));
    if (kind === "conv" && s === 1 && g.out === n) parts.push(text("same"));
    if (kind === "pool" && g.out) {
      const key = state.mode === "max" ? "pooledMax" : (p ? "pooledAvgPadded" : "pooledAvg");
      parts.push(text(key, { i: oi, j: oj, value: fmt(pooled(oi, oj, g)) }));
    } else if (g.out) {
      parts.push(text("convCell", { i: oi, j: oj, taps: k * k }));
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
