// Front end of lenet_helpers.widgets.TrainInBrowser: train LeNet-5 in the reader's browser, and watch it learn.
//
// The forward pass is draw.js's (forwardTrace keeps what every operation took and gave); this file adds the
// backward pass of every operation draw.js knows, the two losses (the paper's MAP criterion, eq. 9, for the RBF
// output; cross-entropy for logits), SGD with momentum as torch.optim.SGD does it, and the initialisations
// (the paper's uniform ±2.4/F_i, Appendix A, or PyTorch's default uniform ±1/√F_i). Training runs in a Web
// Worker, started from this same file, so the page stays responsive.
//
// The pure functions (initialWeights, lossGradient, backward, batchGradients, sgdStep, evaluate, …) are
// exported by name: the tests run them in Node and compare them with torch.autograd and torch.optim.SGD.

import drawWidget, { forwardTrace, tensor, argmax, html, paint, SQUASH, FIELD } from "./draw.js";

const { A, S } = SQUASH;
export const MAP_J = 0.1; // the constant j of eq. (9), the "rubbish" class (lenet_helpers.layers.map_loss)

// ---------------------------------------------------------------------------
// Random numbers: a small seeded generator, so that a run can be repeated
// ---------------------------------------------------------------------------

// mulberry32: uniform numbers in [0, 1) from a 32-bit seed.
export function randomGenerator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------
// A fresh network: every parameter uniform in ±bound, bound from the unit's fan-in F_i
// ---------------------------------------------------------------------------

// The bound of every parameter of the model, one number per weight (layout of the weights):
// rule "paper": 2.4 / F_i (LeNet-5, Appendix A); "pytorch": 1 / √F_i (nn.Conv2d's and nn.Linear's default).
export function initBounds(spec, rule) {
  const total = Object.values(spec.tensors).reduce((n, t) => Math.max(n, t.offset + t.size), 0);
  const bounds = new Float64Array(total);
  const bound = (fanIn) => (rule === "paper" ? 2.4 / fanIn : 1 / Math.sqrt(fanIn));
  for (const layer of spec.layers) {
    for (const op of layer.ops) {
      if (op.op === "conv") {
        const kk = op.k * op.k, fed = new Array(op.out).fill(0); // kernels feeding each output map
        for (const o of op.outIndex) fed[o] += 1;
        const w = spec.tensors[op.weight], b = spec.tensors[op.bias];
        op.outIndex.forEach((o, n) => bounds.fill(bound(fed[o] * kk), w.offset + n * kk, w.offset + (n + 1) * kk));
        for (let o = 0; o < op.out; o++) bounds[b.offset + o] = bound(fed[o] * kk);
      } else if (op.op === "subsample") {
        for (const key of [op.weight, op.bias]) {
          const t = spec.tensors[key];
          bounds.fill(bound(op.k * op.k), t.offset, t.offset + t.size);
        }
      } else if (op.op === "linear") {
        const w = spec.tensors[op.weight], b = spec.tensors[op.bias], fanIn = w.size / op.out;
        bounds.fill(bound(fanIn), w.offset, w.offset + w.size);
        bounds.fill(bound(fanIn), b.offset, b.offset + b.size);
      }
    }
  }
  return bounds;
}

// A fresh network for spec: parameters uniform in ±initBounds, buffers (the RBF codes) as given, {key: values}.
export function initialWeights(spec, rule, seed, buffers = {}) {
  const random = randomGenerator(seed);
  const bounds = initBounds(spec, rule);
  const weights = new Float64Array(bounds.length);
  for (const [key, t] of Object.entries(spec.tensors)) {
    if (t.parameter === false) {
      weights.set(buffers[key], t.offset);
      continue;
    }
    for (let i = t.offset; i < t.offset + t.size; i++) weights[i] = (2 * random() - 1) * bounds[i];
  }
  return weights;
}

// ---------------------------------------------------------------------------
// The losses: value, gradient with respect to the ten outputs, and the prediction
// ---------------------------------------------------------------------------

// For the RBF penalties y (output "penalties"), the MAP criterion of eq. (9):
//   L = y_D + log(e^−j + Σ_i e^−y_i),   ∂L/∂y_i = [i = D] − e^−y_i / (e^−j + Σ_k e^−y_k);
// for logits z (output "logits"), cross-entropy:
//   L = log Σ_i e^z_i − z_D,            ∂L/∂z_i = softmax(z)_i − [i = D].
export function lossGradient(kind, output, label, j = MAP_J) {
  const n = output.length, grad = new Float64Array(n);
  let loss;
  if (kind === "penalties") {
    let m = -j;
    for (let i = 0; i < n; i++) m = Math.max(m, -output[i]);
    let z = Math.exp(-j - m);
    for (let i = 0; i < n; i++) z += Math.exp(-output[i] - m);
    loss = output[label] + m + Math.log(z);
    for (let i = 0; i < n; i++) grad[i] = -Math.exp(-output[i] - m) / z;
    grad[label] += 1;
    let best = 0;
    for (let i = 1; i < n; i++) if (output[i] < output[best]) best = i;
    return { loss, grad, prediction: best };
  }
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, output[i]);
  let z = 0;
  for (let i = 0; i < n; i++) z += Math.exp(output[i] - m);
  loss = m + Math.log(z) - output[label];
  for (let i = 0; i < n; i++) grad[i] = Math.exp(output[i] - m) / z;
  grad[label] -= 1;
  return { loss, grad, prediction: argmax(output) };
}

// ---------------------------------------------------------------------------
// The backward pass: each operation's, from the gradient of its output dy to its input's (returned) and its
// parameters' (added into grads, laid out as the weights)
// ---------------------------------------------------------------------------

// The derivative of each activation, written with its output y: f = A tanh(S a) has f' = S (A − y²/A).
const DERIVATIVE = {
  squash: (y) => S * (A - (y * y) / A),
  relu: (y) => (y > 0 ? 1 : 0),
  tanh: (y) => 1 - y * y,
  sigmoid: (y) => y * (1 - y),
};

// A convolution, y = b + Σ W·patch: ∂W = Σ_p dy_p · patch_p, ∂b = Σ_p dy_p, ∂patch_p = W dy_p; the patches'
// gradients are then added back onto the input maps they were cut from ("col2im").
function backConv(op, t, dy, spec, weights, grads, needInput, scratch) {
  const { x, y } = t;
  const { k, stride, padding } = op;
  const kk = k * k, width = x.c * kk, area = y.h * y.w, cols = y.cols;
  const W = tensor(spec, weights, op.weight), dW = tensor(spec, grads, op.weight), db = tensor(spec, grads, op.bias);
  for (let o = 0; o < op.out; o++) {
    let s = 0;
    for (let p = 0; p < area; p++) s += dy[o * area + p];
    db[o] += s;
  }
  const dcols = needInput ? zeros(scratch, "dcols", cols.length) : null;
  kernelGradients(dW, dcols, W, cols, dy, op.outIndex, op.inIndex, kk, width, area);
  if (!needInput) return null;
  const dx = zeros(scratch, "dx", x.c * x.h * x.w);
  for (let yy = 0; yy < y.h; yy++) {
    for (let xx = 0; xx < y.w; xx++) {
      const row = (yy * y.w + xx) * width;
      for (let c = 0; c < x.c; c++) {
        for (let u = 0; u < k; u++) {
          const iy = yy * stride + u - padding;
          if (iy < 0 || iy >= x.h) continue;
          const to = (c * x.h + iy) * x.w, from = row + (c * k + u) * k;
          for (let v = 0; v < k; v++) {
            const ix = xx * stride + v - padding;
            if (ix >= 0 && ix < x.w) dx[to + ix] += dcols[from + v];
          }
        }
      }
    }
  }
  return dx;
}

// ∂W[n] += Σ_p dy[o, p] · patch_p (four positions at a time: one update of ∂W for four products), and, when the
// input's gradient is wanted, ∂patch_p += dy[o, p] · W[n]. ReLU's zeros are skipped.
function kernelGradients(dW, dcols, W, cols, dy, outIndex, inIndex, kk, width, area) {
  for (let n = 0; n < outIndex.length; n++) {
    const o = outIndex[n] * area, first = inIndex[n] * kk, kernel = n * kk;
    let p = 0;
    for (; p + 4 <= area; p += 4) {
      const g0 = dy[o + p], g1 = dy[o + p + 1], g2 = dy[o + p + 2], g3 = dy[o + p + 3];
      if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0) continue;
      const r0 = p * width + first, r1 = r0 + width, r2 = r1 + width, r3 = r2 + width;
      for (let j = 0; j < kk; j++) {
        dW[kernel + j] += g0 * cols[r0 + j] + g1 * cols[r1 + j] + g2 * cols[r2 + j] + g3 * cols[r3 + j];
      }
      if (dcols) {
        for (let j = 0; j < kk; j++) {
          const w = W[kernel + j];
          dcols[r0 + j] += g0 * w;
          dcols[r1 + j] += g1 * w;
          dcols[r2 + j] += g2 * w;
          dcols[r3 + j] += g3 * w;
        }
      }
    }
    for (; p < area; p++) {
      const g = dy[o + p];
      if (g === 0) continue;
      const row = p * width + first;
      for (let j = 0; j < kk; j++) dW[kernel + j] += g * cols[row + j];
      if (dcols) for (let j = 0; j < kk; j++) dcols[row + j] += g * W[kernel + j];
    }
  }
}

// Max pooling sends each gradient to the input that won its window (the first largest, as the forward pass
// picks it); average pooling shares it equally; LeNet-5's subsampling, y = coefficient × window sum + bias,
// has ∂coefficient = Σ dy · window sum, ∂bias = Σ dy, and gives each input of the window coefficient × dy.
function backPool(op, t, dy, spec, weights, grads, scratch) {
  const { x, y } = t;
  const { k, stride } = op;
  const dx = zeros(scratch, "dx", x.data.length);
  const sub = op.op === "subsample";
  const coef = sub ? tensor(spec, weights, op.weight) : null;
  const dcoef = sub ? tensor(spec, grads, op.weight) : null, dbias = sub ? tensor(spec, grads, op.bias) : null;
  for (let c = 0; c < x.c; c++) {
    for (let yy = 0; yy < y.h; yy++) {
      for (let xx = 0; xx < y.w; xx++) {
        const g = dy[(c * y.h + yy) * y.w + xx];
        if (op.op === "max") {
          let m = -Infinity, at = 0;
          for (let u = 0; u < k; u++) {
            const row = (c * x.h + yy * stride + u) * x.w + xx * stride;
            for (let v = 0; v < k; v++) if (x.data[row + v] > m) { m = x.data[row + v]; at = row + v; }
          }
          dx[at] += g;
          continue;
        }
        const share = sub ? coef[c] * g : g / (k * k);
        let s = 0;
        for (let u = 0; u < k; u++) {
          const row = (c * x.h + yy * stride + u) * x.w + xx * stride;
          for (let v = 0; v < k; v++) {
            s += x.data[row + v];
            dx[row + v] += share;
          }
        }
        if (sub) {
          dcoef[c] += g * s;
          dbias[c] += g;
        }
      }
    }
  }
  return dx;
}

// A fully connected layer, y = W x + b: ∂W = dy xᵀ, ∂b = dy, ∂x = Wᵀ dy.
function backLinear(op, t, dy, spec, weights, grads, needInput, scratch) {
  const x = t.x.data, n = x.length;
  const W = tensor(spec, weights, op.weight), dW = tensor(spec, grads, op.weight), db = tensor(spec, grads, op.bias);
  const dx = needInput ? zeros(scratch, "dx", n) : null;
  for (let o = 0; o < op.out; o++) {
    const g = dy[o];
    if (g === 0) continue;
    db[o] += g;
    const row = o * n;
    for (let j = 0; j < n; j++) dW[row + j] += g * x[j];
    if (dx) for (let j = 0; j < n; j++) dx[j] += g * W[row + j];
  }
  return dx;
}

// The RBF units, y_i = Σ_j (x_j − w_ij)²: ∂x_j = Σ_i 2 (x_j − w_ij) dy_i. Their centres are fixed (no gradient).
function backRbf(op, t, dy, spec, weights, scratch) {
  const x = t.x.data, n = x.length, centres = tensor(spec, weights, op.centers);
  const dx = zeros(scratch, "dx", n);
  for (let i = 0; i < op.out; i++) {
    const g = 2 * dy[i];
    for (let j = 0; j < n; j++) dx[j] += g * (x[j] - centres[i * n + j]);
  }
  return dx;
}

// A zeroed array of n numbers, kept in scratch[key] to be used again for the next image.
function zeros(scratch, key, n) {
  let a = scratch[key];
  if (!a || a.length !== n) a = scratch[key] = new Float64Array(n);
  else a.fill(0);
  return a;
}

function backOp(op, t, dy, spec, weights, grads, needInput, scratch) {
  if (op.op in DERIVATIVE) {
    const f = DERIVATIVE[op.op], out = t.y.data;
    let dx = scratch.dx;
    if (!dx || dx.length !== dy.length) dx = scratch.dx = new Float64Array(dy.length);
    for (let i = 0; i < dx.length; i++) dx[i] = dy[i] * f(out[i]);
    return dx;
  }
  switch (op.op) {
    case "conv": return backConv(op, t, dy, spec, weights, grads, needInput, scratch);
    case "subsample": case "max": case "avg": return backPool(op, t, dy, spec, weights, grads, scratch);
    case "linear": return backLinear(op, t, dy, spec, weights, grads, needInput, scratch);
    case "rbf": return backRbf(op, t, dy, spec, weights, scratch);
    case "flatten": case "identity": return dy;
    default: throw new Error(`no backward pass for ${op.op}`);
  }
}

// Back-propagate dOut (the gradient of the loss with respect to the network's output) through a forward trace
// (draw.js's forwardTrace), adding every parameter's gradient into grads. Returns the gradient of the input image
// (when needInput). `scratch` (one object per operation) keeps the gradients' arrays from one image to the next.
export function backward(spec, weights, trace, dOut, grads, needInput = false, scratch = []) {
  let dy = dOut;
  for (let i = trace.length - 1; i >= 0 && dy !== null; i--) {
    if (!scratch[i]) scratch[i] = {};
    dy = backOp(trace[i].op, trace[i], dy, spec, weights, grads, needInput || i > 0, scratch[i]);
  }
  return dy;
}

// The network's input for a 28×28 digit of uint8 grey levels: padded with background to spec.input.size and
// normalised, (x/255 − mean) / std, like draw.js's toInput and lenet_helpers.export.model_input.
export function inputOf(spec, images, index, into) {
  const { size, mean, std } = spec.input, pad = (size - FIELD) / 2;
  const x = into || new Float64Array(size * size);
  x.fill((0 - mean) / std);
  const start = index * FIELD * FIELD;
  for (let i = 0; i < FIELD; i++) {
    const row = (i + pad) * size + pad, from = start + i * FIELD;
    for (let j = 0; j < FIELD; j++) x[row + j] = (images[from + j] / 255 - mean) / std;
  }
  return x;
}

// The mean loss of a batch and its gradient with respect to every parameter (grads is overwritten), as
// loss.backward() computes it: {loss, wrong}. images: uint8, N×28×28; the batch is indices.
export function batchGradients(spec, weights, images, labels, indices, grads, workspace = {}) {
  grads.fill(0);
  const scale = 1 / indices.length;
  let loss = 0, wrong = 0;
  const x = workspace.x || (workspace.x = new Float64Array(spec.input.size * spec.input.size));
  const scratch = workspace.scratch || (workspace.scratch = []);
  for (const i of indices) {
    const trace = workspace.trace = forwardTrace(spec, weights, inputOf(spec, images, i, x), workspace.trace);
    const r = lossGradient(spec.output, trace[trace.length - 1].y.data, labels[i]);
    loss += r.loss;
    if (r.prediction !== labels[i]) wrong += 1;
    for (let o = 0; o < r.grad.length; o++) r.grad[o] *= scale;
    backward(spec, weights, trace, r.grad, grads, false, scratch);
  }
  return { loss: loss * scale, wrong };
}

// One step of SGD with momentum, as torch.optim.SGD (dampening 0, no Nesterov, no weight decay) takes it:
// v ← μ v + g, w ← w − lr v, for the parameters only (not the RBF codes).
export function sgdStep(spec, weights, grads, velocity, lr, momentum) {
  for (const t of Object.values(spec.tensors)) {
    if (t.parameter === false) continue;
    for (let i = t.offset; i < t.offset + t.size; i++) {
      velocity[i] = momentum * velocity[i] + grads[i];
      weights[i] -= lr * velocity[i];
    }
  }
}

// How many of the digits (indices, default all) the network reads wrong.
export function evaluate(spec, weights, images, labels, count = labels.length) {
  const x = new Float64Array(spec.input.size * spec.input.size);
  let wrong = 0, trace = null;
  for (let i = 0; i < count; i++) {
    trace = forwardTrace(spec, weights, inputOf(spec, images, i, x), trace);
    const out = trace[trace.length - 1].y.data;
    let best = 0;
    for (let o = 1; o < out.length; o++) {
      if (spec.output === "penalties" ? out[o] < out[best] : out[o] > out[best]) best = o;
    }
    if (best !== labels[i]) wrong += 1;
  }
  return wrong;
}

// ---------------------------------------------------------------------------
// A training run: the network, its momentum, the shuffled digits, the counts
// ---------------------------------------------------------------------------

export class Run {
  // arch: {spec, init ("paper" or "pytorch"), buffers}; digits: {trainImages, trainLabels, testImages, testLabels}
  constructor(arch, digits, { seed = 0, lr = 0.01, batch = 16, momentum = 0.9 } = {}) {
    Object.assign(this, { arch, digits, seed, lr, batch, momentum });
    this.spec = arch.spec;
    this.weights = initialWeights(this.spec, arch.init, seed, arch.buffers);
    this.grads = new Float64Array(this.weights.length);
    this.workspace = {}; // arrays reused from one image to the next
    this.velocity = new Float64Array(this.weights.length);
    this.random = randomGenerator(seed ^ 0x5bd1e995);
    this.order = null;
    this.next = 0;
    this.steps = 0;
    this.seen = 0;
    this.seconds = 0; // time spent training (evaluations excluded)
  }

  // The next batch of training digits: a fresh random order on every pass.
  nextBatch() {
    const n = this.digits.trainLabels.length, batch = new Array(this.batch);
    for (let b = 0; b < this.batch; b++) {
      if (this.order === null || this.next >= n) {
        this.order = Array.from({ length: n }, (_, i) => i);
        for (let i = n - 1; i > 0; i--) {
          const j = Math.floor(this.random() * (i + 1));
          [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
        }
        this.next = 0;
      }
      batch[b] = this.order[this.next++];
    }
    return batch;
  }

  step() {
    const start = now();
    const batch = this.nextBatch();
    const { trainImages, trainLabels } = this.digits;
    const r = batchGradients(this.spec, this.weights, trainImages, trainLabels, batch, this.grads, this.workspace);
    sgdStep(this.spec, this.weights, this.grads, this.velocity, this.lr, this.momentum);
    this.steps += 1;
    this.seen += batch.length;
    this.seconds += (now() - start) / 1000;
    return r;
  }

  // The weights as the draw pad and Python read them: float32. The held-out error is counted with these.
  exported() {
    return new Float32Array(this.weights);
  }

  testError(weights = this.exported()) {
    const { testImages, testLabels } = this.digits;
    return evaluate(this.spec, weights, testImages, testLabels) / testLabels.length;
  }

  firstKernels() {
    return firstKernels(this.spec, this.weights);
  }
}

const now = () => (typeof performance !== "undefined" ? performance.now() : Date.now());

// C1's kernels (the first convolution's weights), to draw them.
export function firstKernels(spec, weights) {
  const op = spec.layers[0].ops.find((o) => o.op === "conv");
  return Float32Array.from(tensor(spec, weights, op.weight));
}

// ---------------------------------------------------------------------------
// The worker: this same file, started as a module worker by the widget. It trains in slices of about 100 ms,
// reading messages between slices, and reports progress.
// ---------------------------------------------------------------------------

const SLICE_MS = 100; // train this long between two looks at the messages
const REPORT_MS = 250; // report progress at most this often

export function workerMain(scope) {
  let run = null, digits = null, running = false, until = Infinity, evalEvery = 0, nextEval = 0;
  let lossSum = 0, lossCount = 0, lastReport = 0, lastEvaluated = -1, generation = 0;
  const channel = new MessageChannel(); // a zero-delay "continue" that lets messages in between slices
  channel.port1.onmessage = () => slice();

  function post(type, extra = {}) {
    scope.postMessage({ type, generation, steps: run.steps, seen: run.seen, seconds: run.seconds, running, ...extra });
  }
  function report(force) {
    const t = now();
    if (!force && t - lastReport < REPORT_MS) return;
    lastReport = t;
    post("progress", { loss: lossCount ? lossSum / lossCount : null, kernels: run.firstKernels() });
    lossSum = 0;
    lossCount = 0;
  }
  function evaluateNow() {
    const weights = run.exported();
    const error = run.testError(weights);
    lastEvaluated = run.seen;
    post("evaluated", { error, weights, kernels: run.firstKernels() }); // (the weights are copied, not moved)
  }
  function stop() {
    running = false;
    report(true);
    if (lastEvaluated !== run.seen) evaluateNow();
    post("paused");
  }
  function slice() {
    if (!running) return;
    const start = now();
    while (running && now() - start < SLICE_MS) {
      const r = run.step();
      lossSum += r.loss;
      lossCount += 1;
      if (run.seen >= nextEval) {
        report(true);
        evaluateNow();
        nextEval += evalEvery;
      }
      if (run.seen >= until) {
        stop();
        return;
      }
    }
    report(false);
    channel.port2.postMessage(null);
  }

  scope.postMessage({ type: "hello" });
  scope.onmessage = ({ data: m }) => {
    if (m.type === "reset") {
      running = false;
      generation = m.generation; // every message says which reset it belongs to
      run = new Run(m.arch, digits, m.settings);
      evalEvery = m.evalEvery;
      nextEval = evalEvery;
      lastEvaluated = -1;
      lossSum = lossCount = 0;
      post("reset");
      if (digits) evaluateNow();
    } else if (m.type === "digits") {
      digits = m.digits;
      if (run) {
        run.digits = digits;
        evaluateNow();
      }
    } else if (m.type === "settings") {
      if (run) Object.assign(run, m.settings);
    } else if (m.type === "start") {
      if (!run || !digits || running) return;
      until = m.until ?? Infinity;
      running = true;
      post("started");
      slice();
    } else if (m.type === "pause") {
      if (running) stop();
    }
  };
}

// ---------------------------------------------------------------------------
// The training digits: a subset of MNIST shipped with the site (lenet_helpers.export.digits_script writes it
// into the site at build time), or, in Jupyter, sent by the kernel
// ---------------------------------------------------------------------------

const DIGITS_GLOBAL = "lenetTrainingDigits"; // what the site's script defines
const FIELD_AREA = FIELD * FIELD;

function base64Bytes(text) {
  return typeof atob === "function" ? Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
    : new Uint8Array(Buffer.from(text, "base64"));
}

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The digits of a pack (its header and its gzip-compressed payload): uint8 images N×28×28 and labels.
export async function unpackDigits(header, compressed) {
  const bytes = await gunzip(compressed);
  const nTrain = header.train, nTest = header.test;
  const expected = (nTrain + nTest) * (FIELD_AREA + 1);
  if (bytes.length !== expected) throw new Error(`the digit pack holds ${bytes.length} bytes, expected ${expected}`);
  let at = 0;
  const take = (n) => bytes.subarray(at, (at += n));
  return {
    trainImages: take(nTrain * FIELD_AREA), trainLabels: take(nTrain),
    testImages: take(nTest * FIELD_AREA), testLabels: take(nTest), header,
  };
}

function loadScript(url) {
  const cache = (window.__lenetScripts = window.__lenetScripts || {});
  if (!cache[url]) {
    cache[url] = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`could not load ${url}`));
      document.head.appendChild(script);
    });
  }
  return cache[url];
}

// On the course's website a <meta name="lenet-training-digits"> names the script that holds the digits; elsewhere
// (JupyterLab, Colab, VS Code) the kernel sends them. Null when neither is there (a notebook shown without a
// kernel, outside the website).
async function fetchDigits(model) {
  const meta = document.querySelector('meta[name="lenet-training-digits"]');
  if (meta) {
    await loadScript(new URL(meta.content, document.baseURI).href);
    const pack = window[DIGITS_GLOBAL];
    return unpackDigits(pack, base64Bytes(pack.gzip));
  }
  const reply = new Promise((resolve) => {
    model.on("msg:custom", (message, buffers) => {
      if (message && message.digits && buffers && buffers.length) {
        const b = buffers[0];
        resolve({ header: message.digits, bytes: new Uint8Array(b.buffer || b, b.byteOffset || 0, b.byteLength) });
      }
    });
    setTimeout(() => resolve(null), 15000);
  });
  try {
    model.send({ request: "digits" });
  } catch (error) {
    return null; // no kernel
  }
  const got = await reply;
  return got ? unpackDigits(got.header, got.bytes) : null;
}

// ---------------------------------------------------------------------------
// The widget
// ---------------------------------------------------------------------------

// Every word the reader sees or hears, per language: the page's language (<html lang>) picks one. {name} is
// filled in by text().
const TEXTS = {
  en: {
    network: "network",
    learningRate: "learning rate",
    batch: "batch size",
    start: "Start",
    pause: "Pause",
    reset: "Reset",
    loading: "Loading the training digits…",
    unavailable: "The training digits are not here: open this page on the course's website, or run the notebook " +
      "with a kernel.",
    noWorker: "This browser cannot train in the background (it has no module workers).",
    ready: "Ready to train on {train} MNIST digits; the error is counted on {test} test digits it never trains on.",
    started: "Training.",
    paused: "Paused after {seen} digits: held-out error {error}%.",
    resetDone: "A fresh network, with random weights.",
    seen: "digits seen",
    passes: "passes",
    steps: "steps",
    speed: "digits/s",
    error: "held-out error",
    lossChart: "training loss",
    errorChart: "held-out error (%)",
    digitsAxis: "digits seen",
    chartEmpty: "{title}: no points yet.",
    chartSummary: "{title}: {count} points, from {first} to {last}, after {seen} digits.",
    kernels: "C1's six 5×5 kernels (orange positive, blue negative)",
    padHeading: "Draw a digit for your network, or for the course's trained ones",
    yours: "your {name}",
  },
  zh: {
    network: "网络",
    learningRate: "学习率",
    batch: "批量大小",
    start: "开始",
    pause: "暂停",
    reset: "重置",
    loading: "正在加载训练数字……",
    unavailable: "这里没有训练数字：请在课程网站上打开本页，或者在有内核的环境中运行这个笔记本。",
    noWorker: "这个浏览器无法在后台训练（它不支持模块 Worker）。",
    ready: "准备就绪：在 {train} 个 MNIST 数字上训练，错误率在从不参与训练的 {test} 个测试数字上统计。",
    started: "正在训练。",
    paused: "已在 {seen} 个数字后暂停：留出集错误率 {error}%。",
    resetDone: "一个新网络，权重是随机的。",
    seen: "已见数字",
    passes: "遍",
    steps: "步",
    speed: "数字/秒",
    error: "留出集错误率",
    lossChart: "训练损失",
    errorChart: "留出集错误率（%）",
    digitsAxis: "已见数字",
    chartEmpty: "{title}：还没有数据点。",
    chartSummary: "{title}：{count} 个数据点，从 {first} 到 {last}，共见过 {seen} 个数字。",
    kernels: "C1 的六个 5×5 卷积核（橙色为正，蓝色为负）",
    padHeading: "为你的网络写一个数字，或者交给课程训练好的网络",
    yours: "你的 {name}",
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

const number = (x, digits = 0) => x.toLocaleString(pageLanguage() === "zh" ? "zh-CN" : "en-US",
  { minimumFractionDigits: digits, maximumFractionDigits: digits });

// A chart of one series against the digits seen, on a logarithmic scale (loss and error both fall by decades).
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, parent, content) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (content !== undefined) node.textContent = content;
  if (parent) parent.appendChild(node);
  return node;
}

function makeChart(parent, title, kind) {
  const W = 300, H = 170, left = 44, right = 10, top = 22, bottom = 30;
  const box = html("figure", { class: "lenet-train-chart" }, parent);
  const picture = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: `lenet-train-plot lenet-train-${kind}` }, box);
  svg("text", { x: left, y: 14, class: "lenet-train-title" }, picture, title);
  const grid = svg("g", { class: "lenet-train-grid" }, picture);
  const line = svg("polyline", { class: "lenet-train-line", fill: "none" }, picture);
  const dots = svg("g", { class: "lenet-train-dots" }, picture);
  svg("text", { x: left + (W - left - right) / 2, y: H - 4, "text-anchor": "middle", class: "lenet-train-axis" },
    picture, TEXT.digitsAxis);
  let points = [];

  function draw(xmax) {
    grid.replaceChildren();
    dots.replaceChildren();
    const values = points.map((p) => p[1]).filter((v) => v > 0);
    const summary = points.length
      ? text("chartSummary", { title, count: points.length, first: format(points[0][1]), last: format(points[points.length - 1][1]),
        seen: number(points[points.length - 1][0]) })
      : text("chartEmpty", { title });
    picture.setAttribute("aria-label", summary);
    let lo = values.length ? Math.min(...values) : 0.1, hi = values.length ? Math.max(...values) : 10;
    let d0 = Math.floor(Math.log10(lo)), d1 = Math.ceil(Math.log10(hi));
    if (d1 <= d0) d1 = d0 + 1;
    const X = (x) => left + ((W - left - right) * x) / xmax;
    const Y = (y) => top + ((H - top - bottom) * (d1 - Math.log10(Math.max(y, 10 ** d0)))) / (d1 - d0);
    for (let d = d0; d <= d1; d++) {
      for (const m of d1 - d0 <= 2 ? [1, 2, 5] : [1]) {
        const v = m * 10 ** d;
        if (v > 10 ** d1 * 1.0001) continue;
        svg("line", { x1: left, x2: W - right, y1: Y(v), y2: Y(v), class: m === 1 ? "lenet-train-rule" : "lenet-train-rule-minor" }, grid);
        svg("text", { x: left - 4, y: Y(v) + 4, "text-anchor": "end", class: "lenet-train-tick" }, grid,
          number(v, Math.max(0, -d)));
      }
    }
    svg("line", { x1: left, x2: left, y1: top, y2: H - bottom, class: "lenet-train-rule" }, grid);
    for (const f of [0, 0.5, 1]) {
      svg("text", { x: X(f * xmax), y: H - bottom + 12, "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle",
        class: "lenet-train-tick" }, grid, number(f * xmax));
    }
    line.setAttribute("points", points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" "));
    if (kind === "error") for (const [x, y] of points) svg("circle", { cx: X(x), cy: Y(y), r: 2.5 }, dots);
  }
  function format(v) {
    if (kind === "error") return v >= 10 ? number(v) : v >= 1 ? number(v, 1) : number(v, 2);
    return v >= 100 ? number(v) : v >= 10 ? number(v, 1) : v >= 1 ? number(v, 2) : number(v, 3);
  }
  return {
    add(x, y) { points.push([x, y]); },
    clear() { points = []; },
    draw,
    get points() { return points.slice(); },
  };
}

// A model object like a Jupyter widget's, kept in the page: the trainer hands it to draw.js's pad.
function localModel(values) {
  const handlers = {};
  return {
    get: (key) => values[key],
    set: (key, value) => { values[key] = value; },
    save_changes() {},
    send() {},
    on(event, f) { (handlers[event] = handlers[event] || []).push(f); },
    update(changes) {
      Object.assign(values, changes);
      for (const key of Object.keys(changes)) (handlers[`change:${key}`] || []).forEach((f) => f());
    },
  };
}

// The worker, from this very module. In a page, the module is a data: URL (the widget's code is inlined): a
// worker started from it works in pages served over HTTP and opened from file://; browsers that refuse data:
// workers get a blob: one. Resolves to a worker that has said hello, or null.
function startWorker() {
  const url = import.meta.url;
  const candidates = [url];
  if (url.startsWith("data:")) {
    const comma = url.indexOf(",");
    const body = url.slice(comma + 1), isBase64 = url.slice(0, comma).endsWith(";base64");
    const bytes = isBase64 ? base64Bytes(body) : new TextEncoder().encode(decodeURIComponent(body));
    candidates.push(URL.createObjectURL(new Blob([bytes], { type: "text/javascript" })));
  }
  const attempt = (i) => new Promise((resolve) => {
    if (i >= candidates.length) return resolve(null);
    let worker;
    try {
      worker = new Worker(candidates[i], { type: "module" });
    } catch (error) {
      return resolve(attempt(i + 1));
    }
    worker.onmessage = ({ data }) => { if (data && data.type === "hello") resolve(worker); };
    worker.onerror = (event) => {
      event.preventDefault(); // not an error the reader should see: the next way is tried
      worker.terminate();
      resolve(attempt(i + 1));
    };
  });
  return attempt(0);
}

function render({ model, el }) {
  const networks = model.get("networks"); // [{name, spec, init, buffers, lr, batch, lrs, batches}]
  const compare = model.get("specs"); // the course's trained networks, for the pad
  const compareWeights = decodeCompare(model.get("weights"));
  const evalEvery = model.get("eval_every");
  let network = networks.find((n) => n.name === model.get("network")) || networks[0];
  let seed = model.get("seed");
  let digits = null, worker = null, status = "loading", running = false;
  let latest = { steps: 0, seen: 0, seconds: 0, error: null, weights: null };
  let speed = null, speedMark = null, generation = 0;

  function put(values) { // to Python, when a kernel is there
    try {
      for (const [k, v] of Object.entries(values)) model.set(k, v);
      model.save_changes();
    } catch (error) {
      /* no kernel on the static page */
    }
  }

  const root = html("div", { class: "lenet-train" }, el);
  const controls = html("div", { class: "lenet-train-controls" }, root);
  const menu = (name, label, options, value) => {
    const wrap = html("label", {}, controls);
    html("span", {}, wrap, `${label} `);
    const select = html("select", { name }, wrap);
    fill(select, options, value);
    return select;
  };
  const fill = (select, options, value) => {
    select.replaceChildren(...options.map((o) => html("option", { value: String(o) }, null, String(o))));
    select.value = String(value);
  };
  const networkMenu = menu("network", TEXT.network, networks.map((n) => n.name), network.name);
  const lrMenu = menu("lr", TEXT.learningRate, network.lrs, network.lr);
  const batchMenu = menu("batch", TEXT.batch, network.batches, network.batch);
  const runButton = html("button", { type: "button", name: "run", disabled: "" }, controls, TEXT.start);
  const resetButton = html("button", { type: "button", name: "reset", disabled: "" }, controls, TEXT.reset);

  const figures = html("dl", { class: "lenet-train-figures" }, root);
  const figure = (key) => {
    const box = html("div", {}, figures);
    html("dt", {}, box, TEXT[key]);
    return html("dd", { "data-figure": key }, box, "–");
  };
  const shown = { seen: figure("seen"), passes: figure("passes"), steps: figure("steps"), speed: figure("speed"),
    error: figure("error") };
  const announce = html("div", { class: "lenet-train-status", role: "status" }, root, TEXT.loading);

  const charts = html("div", { class: "lenet-train-charts" }, root);
  const lossChart = makeChart(charts, TEXT.lossChart, "loss");
  const errorChart = makeChart(charts, TEXT.errorChart, "error");
  const kernelBox = html("figure", { class: "lenet-train-kernels" }, charts);
  const kernelRow = html("div", { class: "lenet-train-kernel-row" }, kernelBox);
  const kernelCanvases = Array.from({ length: 6 }, () => html("canvas", { class: "lenet-train-kernel", width: 5, height: 5,
    "aria-hidden": "true" }, kernelRow));
  html("figcaption", {}, kernelBox, TEXT.kernels);

  html("div", { class: "lenet-train-heading" }, root, TEXT.padHeading);
  const padHost = html("div", { class: "lenet-train-pad" }, root);
  let pad = null, padModel = null;

  function yourSpec() {
    return { ...network.spec, name: text("yours", { name: network.name }) };
  }
  // The pad's networks: yours first, then the course's; one weights array, yours at the front.
  function padValues(weights) {
    const mine = yourSpec(), size = Object.values(mine.tensors).reduce((n, t) => Math.max(n, t.offset + t.size), 0);
    const all = new Float32Array(size + compareWeights.length);
    all.set(weights.subarray(0, size));
    all.set(compareWeights, size);
    const shifted = compare.map((s) => ({ ...s, tensors: Object.fromEntries(Object.entries(s.tensors)
      .map(([key, t]) => [key, { ...t, offset: t.offset + size }])) }));
    return { specs: [mine, ...shifted], weights: all };
  }
  function showWeights(weights) {
    latest.weights = weights;
    const values = padValues(weights);
    if (!pad) {
      padModel = localModel({ ...values, model_name: values.specs[0].name, digits: new Uint8Array(0), digit_labels: [] });
      drawWidget.render({ model: padModel, el: padHost });
      pad = padHost.querySelector(".lenet-draw");
    } else {
      padModel.update(values);
    }
    if (digits) padModel.update({ digits: digits.testImages.subarray(0, 100 * FIELD_AREA),
      digit_labels: Array.from(digits.testLabels.subarray(0, 100)) });
  }
  function showKernels(kernels) {
    let range = 0;
    for (const v of kernels) range = Math.max(range, Math.abs(v));
    kernelCanvases.forEach((c, i) => paint(c, kernels, 5, 5, "signed", range, i * 25));
  }
  function showFigures() {
    const n = digits ? digits.trainLabels.length : 0;
    shown.seen.textContent = number(latest.seen);
    shown.passes.textContent = n ? number(latest.seen / n, 1) : "–";
    shown.steps.textContent = number(latest.steps);
    shown.speed.textContent = speed === null ? "–" : number(speed);
    shown.error.textContent = latest.error === null ? "–" : `${number(100 * latest.error, 1)}%`;
    root.dataset.status = status;
    root.dataset.steps = String(latest.steps);
    root.dataset.seen = String(latest.seen);
    const xmax = Math.max(evalEvery, latest.seen);
    lossChart.draw(xmax);
    errorChart.draw(xmax);
  }
  function setRunning(on) {
    running = on;
    runButton.textContent = on ? TEXT.pause : TEXT.start;
    runButton.setAttribute("aria-pressed", String(on));
    status = on ? "running" : status === "running" ? "paused" : status;
  }

  function reset() {
    lossChart.clear();
    errorChart.clear();
    latest = { steps: 0, seen: 0, seconds: 0, error: null, weights: latest.weights };
    speed = null;
    speedMark = null;
    setRunning(false);
    if (digits) status = "ready";
    // the fresh network at once (the worker draws the very same one from the same seed)
    const fresh = Float32Array.from(initialWeights(network.spec, network.init, seed, network.buffers));
    showWeights(fresh);
    showKernels(firstKernels(network.spec, fresh));
    if (!worker) return;
    generation += 1;
    worker.postMessage({ type: "reset", generation, arch: network, evalEvery, settings: { seed, lr: Number(lrMenu.value),
      batch: Number(batchMenu.value), momentum: network.momentum } });
  }

  function onMessage({ data: m }) {
    if (m.generation !== generation) return; // from a network since reset
    latest.steps = m.steps;
    latest.seen = m.seen;
    latest.seconds = m.seconds;
    if (m.type === "progress" || m.type === "evaluated") {
      if (m.loss !== null && m.loss !== undefined) lossChart.add(m.seen, m.loss);
      if (m.kernels) showKernels(m.kernels);
      const t = m.seconds;
      if (speedMark && t - speedMark.seconds >= 1) {
        speed = (m.seen - speedMark.seen) / (t - speedMark.seconds);
        speedMark = { seen: m.seen, seconds: t };
      } else if (!speedMark) {
        speedMark = { seen: m.seen, seconds: t };
      }
    }
    if (m.type === "evaluated") {
      latest.error = m.error;
      errorChart.add(m.seen, 100 * m.error);
      showWeights(m.weights);
      put({ steps: m.steps, digits_seen: m.seen, test_error: m.error,
        trained: bytesToBase64(new Uint8Array(m.weights.buffer, m.weights.byteOffset, m.weights.byteLength)) });
    } else if (m.type === "reset") {
      announce.textContent = digits ? TEXT.resetDone : TEXT.loading;
    } else if (m.type === "started") {
      announce.textContent = TEXT.started;
    } else if (m.type === "paused") {
      setRunning(false);
      announce.textContent = text("paused", { seen: number(m.seen), error: number(100 * latest.error, 1) });
    }
    showFigures();
  }

  reset(); // the first network, shown at once; the worker gets it when it has started
  const started = startWorker().then((w) => {
    if (!w) throw new Error("no worker");
    worker = w;
    worker.onmessage = onMessage;
    worker.onerror = (event) => { console.error("lenet train worker:", event.message || event); };
    reset();
  });
  started.catch(() => {
    status = "unavailable";
    announce.textContent = TEXT.noWorker;
    showFigures();
  });

  Promise.all([fetchDigits(model), started]).then(([found]) => {
    if (!found) {
      status = "unavailable";
      announce.textContent = TEXT.unavailable;
      showFigures();
      return;
    }
    digits = found;
    worker.postMessage({ type: "digits", digits: { trainImages: digits.trainImages, trainLabels: digits.trainLabels,
      testImages: digits.testImages, testLabels: digits.testLabels } });
    status = "ready";
    runButton.disabled = false;
    resetButton.disabled = false;
    announce.textContent = text("ready", { train: number(digits.trainLabels.length), test: number(digits.testLabels.length) });
    if (latest.weights) showWeights(latest.weights);
    showFigures();
  }).catch((error) => {
    if (!worker) return; // said already
    status = "unavailable";
    announce.textContent = TEXT.unavailable;
    showFigures();
    console.error("lenet training digits:", error);
  });

  function start(options = {}) {
    if (!digits || running) return;
    setRunning(true);
    worker.postMessage({ type: "start", until: options.until });
    showFigures();
  }
  function pause() {
    if (running) worker.postMessage({ type: "pause" });
  }
  runButton.addEventListener("click", () => (running ? pause() : start()));
  resetButton.addEventListener("click", () => {
    seed += 1; // a fresh network: the next random initialisation
    reset();
    showFigures();
  });
  networkMenu.addEventListener("change", () => {
    network = networks.find((n) => n.name === networkMenu.value);
    fill(lrMenu, network.lrs, network.lr);
    fill(batchMenu, network.batches, network.batch);
    put({ network: network.name });
    reset();
    showFigures();
  });
  const settings = () => worker && worker.postMessage({ type: "settings", settings: { lr: Number(lrMenu.value), batch: Number(batchMenu.value) } });
  lrMenu.addEventListener("change", settings);
  batchMenu.addEventListener("change", settings);

  // For tests and curious readers: the widget's state and controls, on its element.
  root.lenet = {
    state: () => ({ status, running, network: network.name, lr: Number(lrMenu.value), batch: Number(batchMenu.value),
      seed, ...latest, weights: undefined, speed, losses: lossChart.points, errors: errorChart.points,
      digits: digits ? { train: digits.trainLabels.length, test: digits.testLabels.length, header: digits.header } : null }),
    weights: () => latest.weights, // the float32 weights of the reader's network the error was counted with
    spec: () => network.spec,
    testDigits: () => digits && { images: Array.from(digits.testImages), labels: Array.from(digits.testLabels) },
    start, pause,
    reset: (options = {}) => { // a fresh network: the next seed, or the one given
      seed = options.seed ?? seed + 1;
      reset();
      showFigures();
    },
    pad: () => pad,
  };
  showFigures();
}

function decodeCompare(text) {
  if (!text) return new Float32Array(0);
  const bytes = base64Bytes(text);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
}

function bytesToBase64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export default { render };

if (typeof WorkerGlobalScope !== "undefined" && typeof self !== "undefined" && self instanceof WorkerGlobalScope) {
  workerMain(self);
}
