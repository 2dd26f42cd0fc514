// Robust Video Matting (MobileNetV3, TensorFlow.js graph model) over raw RGB frames, in order,
// its recurrent state carried from frame to frame; called by benchmarks/rvm_masks.py.
//   node benchmarks/rvm_masks.js MODEL_DIR FRAMES.rgb COUNT HEIGHT WIDTH DOWNSAMPLE ALPHA.gray
// FRAMES.rgb: COUNT x HEIGHT x WIDTH x 3 uint8; ALPHA.gray: COUNT x HEIGHT x WIDTH uint8 (255 = person).
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const wasm = require('@tensorflow/tfjs-backend-wasm');

async function main() {
  const [modelDir, framesPath, count, height, width, downsample, alphaPath] = process.argv.slice(2);
  const [n, h, w] = [+count, +height, +width];
  wasm.setWasmPaths(require.resolve('@tensorflow/tfjs-backend-wasm').replace(/[^/]*$/, ''));
  await tf.setBackend('wasm');
  const topology = JSON.parse(fs.readFileSync(`${modelDir}/rvm.json`));
  const weights = fs.readFileSync(`${modelDir}/rvm.bin`);
  const model = await tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: topology.modelTopology, signature: topology.signature, weightSpecs: topology.weightsManifest[0].weights,
    weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
  }));
  const input = fs.openSync(framesPath, 'r');
  const output = fs.openSync(alphaPath, 'w');
  const frame = Buffer.alloc(h * w * 3);
  const ratio = tf.scalar(+downsample);
  let state = [0, 1, 2, 3].map(() => tf.scalar(0));
  for (let i = 0; i < n; i++) {
    fs.readSync(input, frame, 0, frame.length, i * frame.length);
    const src = tf.tidy(() => tf.tensor(new Uint8Array(frame), [1, h, w, 3], 'int32').toFloat().div(255));
    const [fgr, pha, ...next] = await model.executeAsync(
      {src, r1i: state[0], r2i: state[1], r3i: state[2], r4i: state[3], downsample_ratio: ratio},
      ['fgr', 'pha', 'r1o', 'r2o', 'r3o', 'r4o']);
    const alpha = tf.tidy(() => pha.mul(255).round().clipByValue(0, 255).toInt());
    fs.writeSync(output, Buffer.from(Uint8Array.from(await alpha.data())));
    [src, fgr, pha, alpha, ...state].forEach((t) => t.dispose());
    state = next;
  }
  fs.closeSync(output);
}

main().catch((error) => { console.error(`rvm_masks.js: ${error.message}`); process.exit(1); });
