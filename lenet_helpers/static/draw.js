// Front end of lenet_helpers.widgets.DrawDigit: draw a digit and watch LeNet-5 read it.
//
// Everything runs here, in the browser: the MNIST-style preprocessing of the
// drawing and the forward pass of the network, with the weights the Python
// side exported (widgets.export_model). So the widget works on the static
// website, where no Python kernel runs; in Jupyter and Colab the drawn digit,
// the scores and the prediction are also sent back to Python.
//
// The pure functions (boundingBox, resizeArea, mnistStyle, toInput, forward,
// forwardTrace, decodeWeights) are exported by name so tests can run them in Node
// and in the page and compare them with the Python implementation; train.js
// trains the same networks with this forward pass and its own backward pass.

const A = 1.7159; // LeNet-5's squashing function f(a) = A tanh(S a), Sec. II-A and Appendix A
const S = 2 / 3;
export const BOX = 20; // MNIST: the digit's bounding box is scaled to fit in 20×20 ...
export const FIELD = 28; // ... then placed in a 28×28 field ...
export const CENTRE = 14; // ... with its centre of mass at pixel (14, 14)
const PAD_SIZE = 280; // the drawing pad's resolution (10 pad pixels per MNIST pixel)
const STROKE = 22; // pen width on the pad: about 2 MNIST pixels once the digit is scaled to 20×20

// ---------------------------------------------------------------------------
// MNIST-style preprocessing (the same arithmetic as lenet_helpers.data.mnist_style)
// ---------------------------------------------------------------------------

// The smallest rectangle holding every pixel with ink > 0, or null for an empty image.
export function boundingBox(ink, height, width) {
  let top = height, bottom = -1, left = width, right = -1;
  for (let i = 0; i < height; i++) {
    for (let j = 0; j < width; j++) {
      if (ink[i * width + j] > 0) {
        if (i < top) top = i;
        if (i > bottom) bottom = i;
        if (j < left) left = j;
        if (j > right) right = j;
      }
    }
  }
  return bottom < 0 ? null : { top, left, height: bottom - top + 1, width: right - left + 1 };
}

// coverage(n, m)[i][k]: the share of target cell i (out of m) covered by source cell k (out of n).
function coverage(n, m) {
  const step = n / m;
  const rows = [];
  for (let i = 0; i < m; i++) {
    const row = new Float64Array(n);
    const a = i * step, b = (i + 1) * step;
    for (let k = Math.floor(a); k < Math.min(n, Math.ceil(b)); k++) {
      const overlap = Math.min(b, k + 1) - Math.max(a, k);
      if (overlap > 0) row[k] = overlap / step;
    }
    rows.push(row);
  }
  return rows;
}

// Resample an h×w image to th×tw by area averaging: each target pixel is the mean of the source area it covers.
export function resizeArea(image, h, w, th, tw) {
  const V = coverage(h, th), H = coverage(w, tw);
  const rows = new Float64Array(th * w);
  for (let i = 0; i < th; i++) {
    for (let k = 0; k < h; k++) {
      const v = V[i][k];
      if (v === 0) continue;
      for (let j = 0; j < w; j++) rows[i * w + j] += v * image[k * w + j];
    }
  }
  const out = new Float64Array(th * tw);
  for (let i = 0; i < th; i++) {
    for (let j = 0; j < tw; j++) {
      let s = 0;
      for (let k = 0; k < w; k++) s += H[j][k] * rows[i * w + k];
      out[i * tw + j] = s;
    }
  }
  return out;
}

const roundHalfUp = (x) => Math.floor(x + 0.5);

// The drawing (ink in [0, 1], row-major height×width) made into an MNIST digit: bounding box scaled to fit
// 20×20 keeping the aspect ratio, then placed in 28×28 with its centre of mass at (14, 14). Null when empty.
export function mnistStyle(ink, height, width) {
  const box = boundingBox(ink, height, width);
  if (box === null) return null;
  const crop = new Float64Array(box.height * box.width);
  for (let i = 0; i < box.height; i++) {
    for (let j = 0; j < box.width; j++) crop[i * box.width + j] = ink[(box.top + i) * width + box.left + j];
  }
  const scale = BOX / Math.max(box.height, box.width);
  const fh = Math.max(1, roundHalfUp(box.height * scale)), fw = Math.max(1, roundHalfUp(box.width * scale));
  const fitted = resizeArea(crop, box.height, box.width, fh, fw);
  let mass = 0, cy = 0, cx = 0;
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) {
      const v = fitted[i * fw + j];
      mass += v;
      cy += v * i;
      cx += v * j;
    }
  }
  cy /= mass;
  cx /= mass;
  const top = Math.min(Math.max(roundHalfUp(CENTRE - cy), 0), FIELD - fh);
  const left = Math.min(Math.max(roundHalfUp(CENTRE - cx), 0), FIELD - fw);
  const digit = new Float64Array(FIELD * FIELD);
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) digit[(top + i) * FIELD + left + j] = Math.min(1, Math.max(0, fitted[i * fw + j]));
  }
  return { box, crop, fitted, fittedHeight: fh, fittedWidth: fw, top, left, centre: [top + cy, left + cx], digit };
}

// A 28×28 digit (ink in [0, 1]) padded with background to the model's input size and normalised: (x − mean) / std.
export function toInput(digit, input) {
  const n = input.size, pad = (n - FIELD) / 2;
  const out = new Float64Array(n * n).fill((0 - input.mean) / input.std);
  for (let i = 0; i < FIELD; i++) {
    for (let j = 0; j < FIELD; j++) out[(i + pad) * n + j + pad] = (digit[i * FIELD + j] - input.mean) / input.std;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The forward pass, layer by layer, from the exported description (widgets.export_model)
// ---------------------------------------------------------------------------

// The weights arrive base64-encoded (float32, little-endian) from Python; a typed array (weights trained in the
// page, by train.js) is used as it is.
export function decodeWeights(text) {
  if (typeof text !== "string") return text;
  const bytes = typeof atob === "function" ? Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
    : new Uint8Array(Buffer.from(text, "base64"));
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

// One tensor of the model (a state_dict key of spec.tensors): a view into the concatenated weights.
export function tensor(spec, weights, key) {
  const t = spec.tensors[key];
  return weights.subarray(t.offset, t.offset + t.size);
}

// The output size of a window of k taps sliding with a stride over n inputs padded by p on each side.
export function outputLength(n, k, stride, padding) {
  return Math.floor((n + 2 * padding - k) / stride) + 1;
}

// The input patches a convolution multiplies its kernels with ("im2col"): row p is output position p (row-major),
// column (c·k + u)·k + v holds input map c at tap (u, v) of that position's window, 0 where the window lies on
// the padding. The convolution is then one dot product of k×k numbers per kernel and output position, and the
// backward pass (train.js) reuses the same patches for the kernels' gradients. (The loops take plain numbers and
// typed arrays only, so that the JavaScript engine compiles them once for every layer.)
export function patches(data, c, h, w, k, stride, padding, oh, ow, cols) {
  const kk = k * k, width = c * kk;
  for (let y = 0; y < oh; y++) {
    for (let xx = 0; xx < ow; xx++) {
      const row = (y * ow + xx) * width;
      for (let m = 0; m < c; m++) {
        for (let u = 0; u < k; u++) {
          const iy = y * stride + u - padding;
          const to = row + (m * k + u) * k;
          if (iy < 0 || iy >= h) {
            for (let v = 0; v < k; v++) cols[to + v] = 0;
            continue;
          }
          const from = (m * h + iy) * w;
          for (let v = 0; v < k; v++) {
            const ix = xx * stride + v - padding;
            cols[to + v] = ix >= 0 && ix < w ? data[from + ix] : 0;
          }
        }
      }
    }
  }
  return cols;
}

// out[o, p] = b[o] + Σ over the kernels n of map o: W[n] · (input map inIndex[n] of patch p). Four positions at a
// time: four independent sums, so that the processor need not wait for each addition before the next (a plain
// dot product of 25 numbers is one long chain of dependent additions), and each weight is read once for four.
function convolve(W, b, cols, out, outIndex, inIndex, kk, width, area, maps) {
  for (let o = 0; o < maps; o++) out.fill(b[o], o * area, (o + 1) * area);
  for (let n = 0; n < outIndex.length; n++) {
    const o = outIndex[n] * area, first = inIndex[n] * kk, kernel = n * kk;
    let p = 0;
    for (; p + 4 <= area; p += 4) {
      const r0 = p * width + first, r1 = r0 + width, r2 = r1 + width, r3 = r2 + width;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let j = 0; j < kk; j++) {
        const w = W[kernel + j];
        s0 += w * cols[r0 + j];
        s1 += w * cols[r1 + j];
        s2 += w * cols[r2 + j];
        s3 += w * cols[r3 + j];
      }
      out[o + p] += s0;
      out[o + p + 1] += s1;
      out[o + p + 2] += s2;
      out[o + p + 3] += s3;
    }
    for (; p < area; p++) out[o + p] += dot(W, kernel, cols, p * width + first, kk);
  }
  return out;
}

// Σ_j a[i + j] b[k + j], j < n, in four independent sums.
export function dot(a, i, b, k, n) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, j = 0;
  for (; j + 4 <= n; j += 4) {
    s0 += a[i + j] * b[k + j];
    s1 += a[i + j + 1] * b[k + j + 1];
    s2 += a[i + j + 2] * b[k + j + 2];
    s3 += a[i + j + 3] * b[k + j + 3];
  }
  for (; j < n; j++) s0 += a[i + j] * b[k + j];
  return s0 + s1 + s2 + s3;
}

// (Each operation writes into `into`, the output it gave for the previous image, when there is one: a training
// step runs hundreds of images through the same layers, and allocating typed arrays costs more than filling them.)
function conv(op, x, spec, weights, into) {
  const { k, stride, padding } = op;
  const oh = outputLength(x.h, k, stride, padding), ow = outputLength(x.w, k, stride, padding);
  const kk = k * k, width = x.c * kk, area = oh * ow;
  const cols = patches(x.data, x.c, x.h, x.w, k, stride, padding, oh, ow,
    into ? into.cols : new Float64Array(area * width));
  const out = convolve(tensor(spec, weights, op.weight), tensor(spec, weights, op.bias), cols,
    into ? into.data : new Float64Array(op.out * area), op.outIndex, op.inIndex, kk, width, area, op.out);
  return { c: op.out, h: oh, w: ow, data: out, cols };
}

// Max and average pooling, and LeNet-5's trainable subsampling (coefficient × window sum + bias).
function pool(op, x, spec, weights, into) {
  const { k, stride } = op;
  const oh = outputLength(x.h, k, stride, 0), ow = outputLength(x.w, k, stride, 0);
  const out = into ? into.data : new Float64Array(x.c * oh * ow);
  const coef = op.op === "subsample" ? tensor(spec, weights, op.weight) : null;
  const bias = op.op === "subsample" ? tensor(spec, weights, op.bias) : null;
  for (let c = 0; c < x.c; c++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        let s = 0, m = -Infinity;
        for (let u = 0; u < k; u++) {
          const row = (c * x.h + y * stride + u) * x.w + xx * stride;
          for (let v = 0; v < k; v++) {
            const value = x.data[row + v];
            s += value;
            if (value > m) m = value;
          }
        }
        let r;
        if (op.op === "max") r = m;
        else if (op.op === "avg") r = s / (k * k);
        else r = coef[c] * s + bias[c];
        out[(c * oh + y) * ow + xx] = r;
      }
    }
  }
  return { c: x.c, h: oh, w: ow, data: out };
}

function linear(op, x, spec, weights, into) {
  const W = tensor(spec, weights, op.weight), b = tensor(spec, weights, op.bias);
  const n = x.data.length, out = into ? into.data : new Float64Array(op.out);
  for (let o = 0; o < op.out; o++) out[o] = b[o] + dot(W, o * n, x.data, 0, n);
  return { c: op.out, h: 1, w: 1, data: out };
}

function rbf(op, x, spec, weights, into) {
  const centres = tensor(spec, weights, op.centers);
  const n = x.data.length, out = into ? into.data : new Float64Array(op.out);
  for (let i = 0; i < op.out; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) {
      const d = x.data[j] - centres[i * n + j];
      s += d * d;
    }
    out[i] = s;
  }
  return { c: op.out, h: 1, w: 1, data: out };
}

export const SQUASH = { A, S };
const ELEMENTWISE = {
  squash: (a) => A * Math.tanh(S * a),
  relu: (a) => (a > 0 ? a : 0),
  tanh: (a) => Math.tanh(a),
  sigmoid: (a) => 1 / (1 + Math.exp(-a)),
};

// One operation of the forward pass (an entry of a layer's ops) on one image's maps {c, h, w, data}; `into`, if
// given, is its output for another image, whose arrays are reused.
export function runOp(op, x, spec, weights, into) {
  if (op.op in ELEMENTWISE) {
    const f = ELEMENTWISE[op.op], data = into ? into.data : new Float64Array(x.data.length);
    for (let i = 0; i < data.length; i++) data[i] = f(x.data[i]);
    return { c: x.c, h: x.h, w: x.w, data };
  }
  switch (op.op) {
    case "conv": return conv(op, x, spec, weights, into);
    case "subsample": case "max": case "avg": return pool(op, x, spec, weights, into);
    case "linear": return linear(op, x, spec, weights, into);
    case "rbf": return rbf(op, x, spec, weights, into);
    case "flatten": return { c: x.data.length, h: 1, w: 1, data: x.data };
    case "identity": return x;
    default: throw new Error(`unknown layer operation ${op.op}`);
  }
}

// The forward pass of one image (Float64Array, C×H×W of spec.input), keeping what every operation took and gave:
// [{op, layer, x, y}], in order. A backward pass (train.js) walks it from the end. Given the trace of another
// image through the same network (`reuse`), it overwrites that trace's arrays and returns it.
export function forwardTrace(spec, weights, image, reuse = null) {
  let x = { c: 1, h: spec.input.size, w: spec.input.size, data: image };
  const trace = reuse || [];
  let i = 0;
  for (const layer of spec.layers) {
    for (const op of layer.ops) {
      const y = runOp(op, x, spec, weights, reuse ? reuse[i].y : undefined);
      trace[i++] = { op, layer: layer.name, x, y };
      x = y;
    }
  }
  return trace;
}

// The index of the largest score (the first, on a tie).
export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

// Run one image (Float64Array, C×H×W of spec.input) through the model; every named layer's output is kept.
export function forward(spec, weights, image) {
  const trace = forwardTrace(spec, weights, image);
  const layers = [];
  for (const layer of spec.layers) {
    const last = trace.filter((t) => t.layer === layer.name).pop();
    layers.push({ name: layer.name, what: layer.what, c: last.y.c, h: last.y.h, w: last.y.w, data: last.y.data });
  }
  const output = Array.from(trace[trace.length - 1].y.data);
  const scores = spec.output === "penalties" ? output.map((y) => -y) : output.slice(); // higher = more likely
  return { layers, output, scores, prediction: argmax(scores) };
}

// Softmax of the scores: for the RBF output this is the MAP criterion's p_i without the "rubbish" class.
function softmax(scores) {
  const m = Math.max(...scores);
  const e = scores.map((s) => Math.exp(s - m));
  const total = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / total);
}

// ---------------------------------------------------------------------------
// The widget
// ---------------------------------------------------------------------------

// Every word the reader sees or hears, in one place, per language: the page's language (<html lang>) picks one,
// so the Chinese edition of the site shows Chinese labels. {name} is filled in by text(). (The layers'
// descriptions come from Python: widgets._describe.)
const TEXTS = {
  en: {
    network: "network",
    clear: "Clear",
    testDigit: "Show me a test digit",
    pad: "drawing pad",
    padRole: "drawing pad",
    hint: "Draw a digit here, with the mouse or a finger.",
    keys: "Keyboard: the arrow keys move the pen (with Shift, faster), Space or Enter puts it down or lifts it, " +
      "Delete clears.",
    preprocessing: "Preprocessing, as MNIST was made",
    crop: "1. bounding box of the ink",
    fitted: "2. scaled to fit 20×20",
    digit: "3. centred by mass in 28×28",
    input: "4. padded to 32×32, normalised",
    cropDone: "1. bounding box of the ink: {width}×{height} pad pixels",
    fittedDone: "2. scaled to {width}×{height} (longer side 20)",
    byMnist: "1.–2. done by MNIST for its test digits",
    digitDone: "3. in 28×28, centre of mass at ({x}, {y})",
    inputDone: "4. {size}×{size}, background {background}, ink {ink}",
    maps: "{c} maps {h}×{w}",
    values: "{c} values",
    heading: "{name}: {what}",
    headingShape: "{name}: {what} → {shape}",
    code: "← F6, and the RBF code of {digit} it is compared with",
    start: "Draw a digit, or press “Show me a test digit”.",
    reads: "{model} reads a {digit}",
    readsTest: "{model} reads a {digit} (the test digit is a {label})",
    penalties: "numbers: RBF penalties y_i (smallest wins); bars: softmax of −y",
    logits: "numbers: logits (largest wins); bars: softmax probabilities",
  },
  zh: {
    network: "网络",
    clear: "清除",
    testDigit: "给我一个测试数字",
    pad: "绘图板",
    padRole: "绘图板",
    hint: "用鼠标或手指在这里写一个数字。",
    keys: "键盘：方向键移动笔（按住 Shift 更快），空格或回车落笔、抬笔，Delete 清除。",
    preprocessing: "预处理，与 MNIST 的制作方式相同",
    crop: "1. 笔迹的外接矩形",
    fitted: "2. 缩放到 20×20 以内",
    digit: "3. 在 28×28 中按质心居中",
    input: "4. 填充到 32×32 并归一化",
    cropDone: "1. 笔迹的外接矩形：{width}×{height} 个绘图板像素",
    fittedDone: "2. 缩放到 {width}×{height}（长边为 20）",
    byMnist: "1.–2. 对测试数字，MNIST 已经做过",
    digitDone: "3. 在 28×28 中，质心位于 ({x}, {y})",
    inputDone: "4. {size}×{size}，背景 {background}，笔迹 {ink}",
    maps: "{c} 个 {h}×{w} 特征映射",
    values: "{c} 个值",
    heading: "{name}：{what}",
    headingShape: "{name}：{what} → {shape}",
    code: "← F6，以及与之比较的数字 {digit} 的 RBF 编码",
    start: "写一个数字，或者按“给我一个测试数字”。",
    reads: "{model} 认为这是 {digit}",
    readsTest: "{model} 认为这是 {digit}（这个测试数字是 {label}）",
    penalties: "数字：RBF 惩罚值 y_i（最小者胜出）；条形：−y 的 softmax",
    logits: "数字：logit（最大者胜出）；条形：softmax 概率",
  },
};
const TEXT = TEXTS[pageLanguage()];

// "zh" on a page whose <html lang> is Chinese (the site's Chinese edition), else "en" (English pages, notebooks).
function pageLanguage() {
  const lang = (typeof document !== "undefined" && document.documentElement.lang) || "";
  return lang.toLowerCase().startsWith("zh") ? "zh" : "en";
}

function text(key, values = {}) {
  return TEXT[key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

const PEN_STEP = 10; // pad pixels the keyboard's pen moves per arrow key (one MNIST pixel before scaling) ...
const PEN_FAST = 3; // ... times this with Shift

export function html(tag, attrs, parent, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

// Paint values on a small canvas, one canvas pixel per value, scaled up by CSS.
// mode "ink": 0 → white, 1 → black (how MNIST digits are printed); "signed": blue < 0 < orange, |value| ≤ range.
export function paint(canvas, values, h, w, mode, range, offset = 0) {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    const v = values[offset + p];
    let r, g, b;
    if (mode === "ink") {
      const t = Math.round(255 * (1 - Math.min(1, Math.max(0, (v - range[0]) / (range[1] - range[0])))));
      r = g = b = t;
    } else {
      const t = Math.min(1, Math.abs(v) / (range || 1));
      const [R, G, B] = v >= 0 ? [230, 120, 20] : [30, 100, 220];
      r = Math.round(255 + (R - 255) * t);
      g = Math.round(255 + (G - 255) * t);
      b = Math.round(255 + (B - 255) * t);
    }
    image.data.set([r, g, b, 255], 4 * p);
  }
  ctx.putImageData(image, 0, 0);
}

function decodeDigits(text) {
  if (!text) return new Uint8Array(0);
  if (typeof text !== "string") return text; // uint8 digits from the page (train.js)
  return typeof atob === "function" ? Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
    : new Uint8Array(Buffer.from(text, "base64"));
}

function render({ model, el }) {
  let specs = model.get("specs");
  let weights = decodeWeights(model.get("weights"));
  let digits = decodeDigits(model.get("digits"));
  let labels = model.get("digit_labels");
  let spec = specs.find((s) => s.name === model.get("model_name")) || specs[0];
  let source = { kind: "empty" }; // "empty", "drawn", or {kind: "test", index}
  let nextTest = 0;
  let result = null;

  function put(values) { // to Python, when a kernel is there
    try {
      for (const [k, v] of Object.entries(values)) model.set(k, v);
      model.save_changes();
    } catch (error) {
      /* no kernel on the static page: nothing to sync with */
    }
  }

  const root = html("div", { class: "lenet-draw" }, el);
  const controls = html("div", { class: "lenet-draw-controls" }, root);
  const modelLabel = html("label", {}, controls);
  html("span", {}, modelLabel, `${TEXT.network} `);
  const select = html("select", { name: "model", "aria-label": TEXT.network }, modelLabel);
  function fillMenu() {
    select.replaceChildren(...specs.map((s) => html("option", { value: s.name }, null, s.name)));
    select.value = spec.name;
  }
  fillMenu();
  const clearButton = html("button", { type: "button", name: "clear" }, controls, TEXT.clear);
  const testButton = html("button", { type: "button", name: "test-digit" }, controls, TEXT.testDigit);
  if (!labels.length) testButton.disabled = true;

  const top = html("div", { class: "lenet-draw-top" }, root);
  const padColumn = html("div", { class: "lenet-draw-padcolumn" }, top);
  const padBox = html("div", { class: "lenet-draw-padbox" }, padColumn);
  const keysId = `lenet-draw-keys-${Math.random().toString(36).slice(2)}`;
  const pad = html("canvas", {
    class: "lenet-draw-pad", width: PAD_SIZE, height: PAD_SIZE, tabindex: 0, role: "application",
    "aria-roledescription": TEXT.padRole, "aria-label": TEXT.pad, "aria-describedby": keysId,
  }, padBox);
  const padCtx = pad.getContext("2d", { willReadFrequently: true });
  const hint = html("div", { class: "lenet-draw-hint" }, padBox, TEXT.hint);
  const penMark = html("div", { class: "lenet-draw-pen", "aria-hidden": "true" }, padBox);
  penMark.hidden = true;
  html("div", { class: "lenet-draw-keys", id: keysId }, padColumn, TEXT.keys);

  const verdict = html("div", { class: "lenet-draw-verdict" }, top);
  const predicted = html("div", { class: "lenet-draw-predicted", "aria-hidden": "true" }, verdict, "?");
  const verdictText = html("div", { class: "lenet-draw-verdict-text", role: "status" }, verdict, "");
  const bars = html("div", { class: "lenet-draw-bars" }, verdict);
  const barRows = [];
  for (let d = 0; d < 10; d++) {
    const row = html("div", { class: "lenet-draw-bar" }, bars);
    html("span", { class: "lenet-draw-digit" }, row, String(d));
    const track = html("span", { class: "lenet-draw-track" }, row);
    const fill = html("span", { class: "lenet-draw-fill" }, track);
    const value = html("span", { class: "lenet-draw-score" }, row, "");
    barRows.push({ row, fill, value });
  }
  const scoreNote = html("div", { class: "lenet-draw-note" }, verdict, "");

  // The preprocessing, step by step
  const stepsBox = html("div", { class: "lenet-draw-section" }, root);
  html("div", { class: "lenet-draw-heading" }, stepsBox, TEXT.preprocessing);
  const steps = html("div", { class: "lenet-draw-row" }, stepsBox);
  const stepCanvas = {};
  for (const key of ["crop", "fitted", "digit", "input"]) {
    const figure = html("figure", { class: `lenet-draw-step lenet-draw-step-${key}` }, steps);
    stepCanvas[key] = html("canvas", { class: "lenet-draw-map", width: 1, height: 1, "aria-hidden": "true" }, figure);
    stepCanvas[key + "Caption"] = html("figcaption", {}, figure, TEXT[key]);
  }

  // The layers
  const layersBox = html("div", { class: "lenet-draw-section" }, root);
  const layerViews = {};

  function buildLayers() {
    layersBox.replaceChildren();
    for (const name of Object.keys(layerViews)) delete layerViews[name];
    for (const layer of spec.layers) {
      const box = html("div", { class: `lenet-draw-layer lenet-draw-layer-${layer.name}`, "data-layer": layer.name },
        layersBox);
      const heading = html("div", { class: "lenet-draw-heading" }, box, "");
      const maps = html("div", { class: "lenet-draw-row" }, box);
      layerViews[layer.name] = { box, heading, maps, canvases: [] };
    }
  }
  buildLayers();

  function showSteps(steps_) {
    const blank = (c) => paint(c, [0], 1, 1, "ink", [0, 1]);
    if (!steps_) {
      for (const key of ["crop", "fitted", "digit", "input"]) blank(stepCanvas[key]);
      return;
    }
    if (steps_.crop) {
      paint(stepCanvas.crop, steps_.crop, steps_.box.height, steps_.box.width, "ink", [0, 1]);
      paint(stepCanvas.fitted, steps_.fitted, steps_.fittedHeight, steps_.fittedWidth, "ink", [0, 1]);
      stepCanvas.cropCaption.textContent = text("cropDone", steps_.box);
      stepCanvas.fittedCaption.textContent = text("fittedDone", { width: steps_.fittedWidth, height: steps_.fittedHeight });
    } else {
      blank(stepCanvas.crop);
      blank(stepCanvas.fitted);
      stepCanvas.cropCaption.textContent = TEXT.byMnist;
      stepCanvas.fittedCaption.textContent = "";
    }
    paint(stepCanvas.digit, steps_.digit, FIELD, FIELD, "ink", [0, 1]);
    const [cy, cx] = steps_.centre;
    stepCanvas.digitCaption.textContent = text("digitDone", { x: cx.toFixed(1), y: cy.toFixed(1) });
    const { size, mean, std } = spec.input;
    paint(stepCanvas.input, steps_.input, size, size, "ink", [(0 - mean) / std, (1 - mean) / std]);
    stepCanvas.inputCaption.textContent = text("inputDone",
      { size, background: ((0 - mean) / std).toFixed(3), ink: ((1 - mean) / std).toFixed(3) });
  }

  function showLayers(res) {
    for (const layer of spec.layers) {
      const view = layerViews[layer.name];
      const out = res ? res.layers.find((l) => l.name === layer.name) : null;
      const shape = out ? text(out.h > 1 ? "maps" : "values", out) : "";
      const what = pageLanguage() === "zh" && layer.what_zh ? layer.what_zh : layer.what;
      view.heading.textContent = text(shape ? "headingShape" : "heading", { name: layer.name, what, shape });
      if (!out) {
        view.maps.replaceChildren();
        view.canvases = [];
        continue;
      }
      let range = 0;
      for (const v of out.data) range = Math.max(range, Math.abs(v));
      if (layer.name === spec.layers[spec.layers.length - 1].name) {
        view.box.hidden = true; // the output is shown as bars
        continue;
      }
      if (out.h > 1) {
        while (view.canvases.length < out.c) view.canvases.push(html("canvas", { class: "lenet-draw-map" }, view.maps));
        view.canvases.forEach((c, m) => paint(c, out.data, out.h, out.w, "signed", range, m * out.h * out.w));
      } else if (out.c === 84) { // F6 has 84 units: the paper draws them as a 7×12 bitmap (Fig. 3)
        if (!view.canvases.length) {
          view.canvases.push(html("canvas", { class: "lenet-draw-map lenet-draw-bitmap" }, view.maps));
          if (spec.codes) {
            view.canvases.push(html("canvas", { class: "lenet-draw-map lenet-draw-bitmap lenet-draw-code" }, view.maps));
            view.codeCaption = html("span", { class: "lenet-draw-note" }, view.maps, "");
          }
        }
        paint(view.canvases[0], out.data, 12, 7, "signed", A);
        if (spec.codes) {
          const codes = tensor(spec, weights, spec.codes);
          paint(view.canvases[1], codes, 12, 7, "signed", 1, res.prediction * 84);
          view.codeCaption.textContent = text("code", { digit: res.prediction });
        }
      } else { // C5: a strip of values
        if (!view.canvases.length) view.canvases.push(html("canvas", { class: "lenet-draw-map lenet-draw-strip" }, view.maps));
        paint(view.canvases[0], out.data, Math.ceil(out.c / 20), 20, "signed", range);
      }
    }
  }

  function showOutput(res) {
    if (!res) {
      predicted.textContent = "?";
      verdictText.textContent = TEXT.start;
      barRows.forEach((r) => { r.fill.style.width = "0%"; r.value.textContent = ""; r.row.classList.remove("lenet-draw-best"); });
      scoreNote.textContent = "";
      return;
    }
    const p = softmax(res.scores);
    predicted.textContent = String(res.prediction);
    verdictText.textContent = source.kind === "test"
      ? text("readsTest", { model: spec.name, digit: res.prediction, label: labels[source.index] })
      : text("reads", { model: spec.name, digit: res.prediction });
    barRows.forEach((r, d) => {
      r.fill.style.width = `${(100 * p[d]).toFixed(1)}%`;
      r.value.textContent = res.output[d].toFixed(2);
      r.row.classList.toggle("lenet-draw-best", d === res.prediction);
    });
    scoreNote.textContent = spec.output === "penalties" ? TEXT.penalties : TEXT.logits;
  }

  function readPad() {
    const pixels = padCtx.getImageData(0, 0, PAD_SIZE, PAD_SIZE).data;
    const ink = new Float64Array(PAD_SIZE * PAD_SIZE);
    for (let p = 0; p < ink.length; p++) ink[p] = pixels[4 * p + 3] / 255;
    return ink;
  }

  // Recompute everything from the current source and model.
  function update() {
    let steps_ = null;
    if (source.kind === "test") {
      const digit = new Float64Array(FIELD * FIELD);
      for (let p = 0; p < digit.length; p++) digit[p] = digits[source.index * FIELD * FIELD + p] / 255;
      let mass = 0, cy = 0, cx = 0;
      digit.forEach((v, p) => { mass += v; cy += v * Math.floor(p / FIELD); cx += v * (p % FIELD); });
      steps_ = { digit, centre: [cy / mass, cx / mass] };
    } else if (source.kind === "drawn") {
      steps_ = mnistStyle(readPad(), PAD_SIZE, PAD_SIZE);
    }
    if (steps_) {
      steps_.input = toInput(steps_.digit, spec.input);
      result = forward(spec, weights, steps_.input);
    } else {
      result = null;
    }
    hint.hidden = source.kind !== "empty";
    showSteps(steps_);
    showLayers(result);
    showOutput(result);
    root.dataset.prediction = result ? String(result.prediction) : "";
    root.dataset.source = source.kind === "test" ? `test ${source.index}` : source.kind;
    return steps_;
  }

  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      update();
    });
  }

  function sync() {
    put({
      model_name: spec.name,
      prediction: result ? result.prediction : -1,
      scores: result ? result.output : [],
      digit: result && lastDigit ? Array.from(lastDigit) : [],
    });
  }
  let lastDigit = null;
  function updateAndSync() {
    const steps_ = update();
    lastDigit = steps_ ? steps_.digit : null;
    sync();
  }

  // Drawing with pointer events: mouse, pen and touch alike.
  pad.style.touchAction = "none";
  let last = null;
  function position(event) {
    const rect = pad.getBoundingClientRect();
    return [(event.clientX - rect.left) * PAD_SIZE / rect.width, (event.clientY - rect.top) * PAD_SIZE / rect.height];
  }
  function stroke(from, to) {
    padCtx.strokeStyle = "#000";
    padCtx.fillStyle = "#000";
    padCtx.lineWidth = STROKE;
    padCtx.lineCap = "round";
    padCtx.lineJoin = "round";
    padCtx.beginPath();
    padCtx.moveTo(from[0], from[1]);
    padCtx.lineTo(to[0], to[1]);
    padCtx.stroke();
  }
  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    try {
      pad.setPointerCapture(event.pointerId);
    } catch (error) {
      /* synthesized events have no capturable pointer */
    }
    source = { kind: "drawn" };
    last = position(event);
    stroke(last, [last[0] + 0.01, last[1]]);
    schedule();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!last) return;
    event.preventDefault();
    const here = position(event);
    stroke(last, here);
    last = here;
    schedule();
  });
  const finish = () => {
    if (!last) return;
    last = null;
    updateAndSync();
  };
  pad.addEventListener("pointerup", finish);
  pad.addEventListener("pointercancel", finish);

  // Drawing from the keyboard: a pen the arrow keys move, put down and lifted with Space or Enter.
  const pen = { x: PAD_SIZE / 2, y: PAD_SIZE / 2, down: false };
  function showPen() {
    penMark.style.left = `${(100 * pen.x) / PAD_SIZE}%`;
    penMark.style.top = `${(100 * pen.y) / PAD_SIZE}%`;
    penMark.dataset.down = String(pen.down);
    penMark.hidden = false;
  }
  function lift() {
    if (!pen.down) return;
    pen.down = false;
    updateAndSync();
  }
  const MOVES = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  pad.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key in MOVES) {
      const [dx, dy] = MOVES[event.key];
      const step = PEN_STEP * (event.shiftKey ? PEN_FAST : 1);
      const from = [pen.x, pen.y];
      pen.x = Math.min(PAD_SIZE - 1, Math.max(0, pen.x + dx * step));
      pen.y = Math.min(PAD_SIZE - 1, Math.max(0, pen.y + dy * step));
      if (pen.down) {
        stroke(from, [pen.x, pen.y]);
        schedule();
      }
    } else if (event.key === " " || event.key === "Enter") {
      if (pen.down) {
        lift();
      } else {
        pen.down = true;
        source = { kind: "drawn" };
        stroke([pen.x, pen.y], [pen.x + 0.01, pen.y]);
        schedule();
      }
    } else if (event.key === "Delete" || event.key === "Backspace") {
      pen.down = false;
      clear();
    } else {
      return;
    }
    event.preventDefault();
    showPen();
  });
  pad.addEventListener("focus", () => { if (pad.matches(":focus-visible")) showPen(); });
  pad.addEventListener("blur", () => { lift(); penMark.hidden = true; });
  pad.addEventListener("pointerdown", () => { penMark.hidden = true; });

  function clear() {
    padCtx.clearRect(0, 0, PAD_SIZE, PAD_SIZE);
    source = { kind: "empty" };
    updateAndSync();
  }
  function showTestDigit(index) {
    const i = index === undefined ? nextTest : index;
    nextTest = (i + 1) % labels.length;
    padCtx.clearRect(0, 0, PAD_SIZE, PAD_SIZE);
    const cell = PAD_SIZE / FIELD;
    for (let p = 0; p < FIELD * FIELD; p++) {
      const v = digits[i * FIELD * FIELD + p];
      if (!v) continue;
      padCtx.fillStyle = `rgba(0, 0, 0, ${v / 255})`;
      padCtx.fillRect((p % FIELD) * cell, Math.floor(p / FIELD) * cell, cell, cell);
    }
    source = { kind: "test", index: i };
    updateAndSync();
  }
  clearButton.addEventListener("click", clear);
  testButton.addEventListener("click", () => showTestDigit());
  select.addEventListener("change", () => {
    spec = specs.find((s) => s.name === select.value);
    buildLayers();
    updateAndSync();
  });
  model.on("change:model_name", () => {
    const wanted = specs.find((s) => s.name === model.get("model_name"));
    if (wanted && wanted !== spec) {
      spec = wanted;
      select.value = spec.name;
      buildLayers();
      update();
    }
  });
  // New weights or networks from Python, or from the page (train.js's trainer shows the network it trains here,
  // as it learns): the pad reads the current digit again with them.
  function refresh() {
    const names = specs.map((s) => s.name).join("\n");
    specs = model.get("specs");
    weights = decodeWeights(model.get("weights"));
    const same = specs.find((s) => s.name === spec.name);
    const layout = same && JSON.stringify(same.layers) === JSON.stringify(spec.layers);
    spec = same || specs[0];
    if (specs.map((s) => s.name).join("\n") !== names) fillMenu();
    if (!layout) buildLayers();
    updateAndSync();
  }
  model.on("change:weights", refresh);
  model.on("change:specs", refresh);
  model.on("change:digit_labels", () => {
    digits = decodeDigits(model.get("digits"));
    labels = model.get("digit_labels");
    nextTest = 0;
    testButton.disabled = !labels.length;
  });

  // For tests and curious readers: the widget's own functions, on its element.
  root.lenet = {
    get specs() { return specs; },
    get weights() { return weights; },
    get labels() { return labels; },
    run(name, digit) {
      const s = specs.find((x) => x.name === name);
      return forward(s, weights, toInput(digit, s.input));
    },
    testDigit(i) {
      return Array.from(digits.subarray(i * FIELD * FIELD, (i + 1) * FIELD * FIELD), (v) => v / 255);
    },
    showTestDigit, clear,
    pen: () => ({ ...pen }),
    state: () => ({
      model: spec.name, source: root.dataset.source, prediction: result ? result.prediction : null,
      output: result ? result.output : null,
      layers: result ? Object.fromEntries(result.layers.map((l) => [l.name, l.data.reduce((a, v) => a + Math.abs(v), 0)])) : null,
    }),
  };
  update();
}

export default { render };
